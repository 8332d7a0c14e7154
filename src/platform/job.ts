import { InputError, RuntimeError } from '../core/errors.js';
import type { Clock, Logger } from '../core/ports.js';
import { systemClock } from '../util/clock.js';
import { redactSecrets } from '../util/redact.js';
import { configureProcessThrottle } from '../util/throttle.js';
import type { BuildAgent } from './agent.js';
import type { CommandName } from './inputs.js';
import { runAnnotate } from './job-annotate.js';
import {
  requestCounts,
  runPublish,
  runSignal,
  runUnannotate,
  runVerify,
  type Runner,
} from './job-commands.js';
import { readOptions } from './options.js';

export interface JobResult {
  /** 0 success, 1 runtime failure or verify findings, 2 bad input. */
  exitCode: 0 | 1 | 2;
  /** JSON-able; printed by `--json`. */
  result: Record<string, unknown>;
}

const RUNNERS: { [C in CommandName]: Runner<C> } = {
  annotate: runAnnotate,
  signal: runSignal,
  verify: runVerify,
  unannotate: runUnannotate,
  'publish-image-info': runPublish,
};

/** Runs the selected command for any host. Never throws: failures become exit codes. */
export async function runJob(host: BuildAgent, clock: Clock = systemClock): Promise<JobResult> {
  const agent = redacting(host);
  // Each job counts its own registry requests (createRegistry configures the budgets).
  configureProcessThrottle({});
  try {
    const options = readOptions(agent, clock.now());
    // Each member of JobOptions goes to its own command's runner.
    const run = RUNNERS[options.command] as Runner<typeof options.command>;
    const { exitCode, result } = await run(options as never, agent, clock);
    const job: JobResult = { exitCode, result: { command: options.command, ...result } };
    // The `--json` object as an output, for a later step to read with fromJSON.
    agent.setOutput('result', resultOutput(job.result));
    return job;
  } catch (e) {
    const error = e as Error;
    // Any layer's message may quote a URL with credentials or a server's echo of our request.
    const message = redactSecrets(error.message);
    agent.logger.error(message);
    const input = e instanceof InputError;
    if (!input && !(e instanceof RuntimeError)) agent.logger.debug(error.stack ?? '');
    const result = { error: message, kind: input ? 'input' : 'runtime', ...requestCounts() };
    return { exitCode: input ? 2 : 1, result };
  }
}

/** Outputs are capped (GitHub: 1 MB); past that, long lists keep their first items and say so. */
const RESULT_OUTPUT_LIMIT = 900_000;

export function resultOutput(result: Record<string, unknown>): string {
  const text = JSON.stringify(result);
  if (text.length <= RESULT_OUTPUT_LIMIT) return text;
  let truncated = false;
  const short = JSON.stringify(result, (_key, value: unknown) => {
    if (!Array.isArray(value) || value.length <= 200) return value;
    truncated = true;
    return value.slice(0, 200);
  });
  return truncated ? `${short.slice(0, -1)},"truncated":true}` : short;
}

/** Redacts secret-shaped text on every platform; the hosts mask the secret values they know. */
function redacting(agent: BuildAgent): BuildAgent {
  const log = agent.logger;
  const logger: Logger = {
    info: (m) => log.info(redactSecrets(m)),
    warning: (m) => log.warning(redactSecrets(m)),
    error: (m) => log.error(redactSecrets(m)),
    debug: (m) => log.debug(redactSecrets(m)),
    group: (title, fn) => log.group(redactSecrets(title), fn),
    progress: log.progress ? (percent, m) => log.progress!(percent, redactSecrets(m)) : undefined,
  };
  return new Proxy(agent, {
    get: (target, key) => (key === 'logger' ? logger : Reflect.get(target, key, target)),
  });
}
