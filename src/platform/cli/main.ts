import { InputError } from '../../core/errors.js';
import { secretForms } from '../../util/redact.js';
import { runJob } from '../job.js';
import { helpText, parseCli } from './args.js';
import { CliAgent, safeText, SECRET_ENV } from './cli-agent.js';
import { VERSION } from './version.js';

/** Known secrets from the environment, for messages printed before the agent exists. */
function envSecrets(env: Record<string, string | undefined>): Set<string> {
  return new Set(SECRET_ENV.flatMap((name) => secretForms(env[name] ?? '')));
}

/** The CLI host: parse flags, run the job, print the summary or `--json`, set the exit code. */
export async function main(
  argv: string[],
  env: Record<string, string | undefined>,
): Promise<number> {
  let args;
  try {
    args = parseCli(argv);
  } catch (e) {
    // A misplaced value (`annotate $EOL_GATE_PASSWORD`) is echoed as an unexpected argument.
    const message = safeText((e as Error).message, envSecrets(env));
    process.stderr.write(
      `error: ${message}\n${e instanceof InputError ? 'Run `eol-gate --help` for usage.\n' : ''}`,
    );
    return 2;
  }
  if (args.version) {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  if (args.help || !args.command) {
    process.stdout.write(helpText(args.command));
    return args.help ? 0 : 2;
  }
  const agent = new CliAgent(args.values, env, (line) => process.stderr.write(`${line}\n`));
  const { exitCode, result } = await runJob(agent);
  if (args.json) process.stdout.write(`${agent.mask(JSON.stringify(result))}\n`);
  else for (const summary of agent.summaries) process.stdout.write(agent.mask(summary));
  return exitCode;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`error: ${safeText((e as Error).message, envSecrets(process.env))}\n`);
    process.exitCode = 1;
  },
);
