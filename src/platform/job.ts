import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { annotate } from '../commands/annotate.js';
import { signal } from '../commands/signal.js';
import { unannotate } from '../commands/unannotate.js';
import { verify } from '../commands/verify.js';
import { publishImageInfo } from '../commands/publish-image-info.js';
import { createWritableImageInfoSource } from '../imageinfo/factory.js';
import { sameRegistryHost } from '../core/digest.js';
import { InputError, RuntimeError } from '../core/errors.js';
import { describeLimit } from '../core/guard.js';
import { parsePlanFile, planFileChunks, type PlannedDigest } from '../core/plan-file.js';
import type { Clock, Logger } from '../core/ports.js';
import { redactSecrets } from '../util/redact.js';
import {
  configureProcessThrottle,
  processThrottle,
  REQUEST_CLASSES,
  type RequestClass,
} from '../util/throttle.js';
import type { BuildAgent } from './agent.js';
import { readOptions, type JobOptions } from './options.js';
import {
  annotateSummary,
  publishSummary,
  unannotateSummary,
  verifySummary,
  type PlanLocation,
} from './summary.js';
import { createRegistry, createSources, createStore, sourceOptions } from './wiring.js';

export const systemClock: Clock = {
  now: () => new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random,
};

export interface JobResult {
  /** 0 success, 1 runtime failure or verify findings, 2 bad input. */
  exitCode: 0 | 1 | 2;
  /** One JSON-able object describing the outcome (printed by `--json`). */
  result: Record<string, unknown>;
}

/** Runs the selected command for any host. Never throws: failures become exit codes. */
export async function runJob(host: BuildAgent, clock: Clock = systemClock): Promise<JobResult> {
  const agent = redacting(host);
  // Each job counts its own registry requests (createRegistry configures the budgets).
  configureProcessThrottle({});
  try {
    const options = readOptions(agent, clock.now());
    const job = await dispatch(options, agent, clock);
    // The `--json` object as an output, for a later step to read with fromJSON.
    agent.setOutput('result', resultOutput(job.result));
    return job;
  } catch (e) {
    const error = e as Error;
    // Any layer's message may quote a URL with credentials or a server's echo of our request.
    const message = redactSecrets(error.message);
    agent.logger.error(message);
    if (!(e instanceof InputError) && !(e instanceof RuntimeError))
      agent.logger.debug(error.stack ?? '');
    return {
      exitCode: e instanceof InputError ? 2 : 1,
      result: {
        error: message,
        kind: e instanceof InputError ? 'input' : 'runtime',
        ...requestCounts(),
      },
    };
  }
}

/**
 * Registry requests and 429s per class (`{ requests: { read: { requests, throttled }, … } }`),
 * for `--json` and the result output; nothing when the job sent none.
 */
function requestCounts(): {
  requests?: Record<RequestClass, { requests: number; throttled: number }>;
} {
  const stats = processThrottle().stats();
  if (REQUEST_CLASSES.every((c) => stats[c].requests === 0)) return {};
  const requests = {} as Record<RequestClass, { requests: number; throttled: number }>;
  for (const c of REQUEST_CLASSES)
    requests[c] = { requests: stats[c].requests, throttled: stats[c].throttled };
  return { requests };
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

/**
 * The host with a logger that redacts secret-shaped text (credentials in URLs, authorization
 * values, token query parameters) on every platform; the hosts mask the secret values they know.
 */
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

async function dispatch(o: JobOptions, agent: BuildAgent, clock: Clock): Promise<JobResult> {
  const logger = agent.logger;
  switch (o.command) {
    case 'signal': {
      await signal(
        { group: o.group, state: o.state!, scope: o.scope },
        { store: await createStore(o, agent, logger), logger },
      );
      return {
        exitCode: 0,
        result: { command: 'signal', group: o.group, state: o.state, scope: o.scope },
      };
    }
    case 'annotate':
      return runAnnotate(o, agent, clock);
    case 'verify': {
      const registry = createRegistry(o, agent);
      const sources = createSources(o, agent);
      const result = await verify(
        {
          repoPrefix: o.repoPrefix,
          repositories: o.repositories,
          concurrency: o.concurrency,
          repair: o.repair,
        },
        { registry, sources, logger },
      );
      await agent.summary(verifySummary(result, registry.displayName), 'eol-gate verify');
      const clean = result.findings.length === 0 || result.repaired > 0;
      if (!clean)
        logger.error(
          `${result.findings.length} supported digest(s) are marked end-of-life; run verify with repair to remove the marks`,
        );
      else
        logger.info(
          result.findings.length === 0
            ? `verify: ${result.checked} supported digest(s), no lifecycle mark`
            : `verify: repaired ${result.repaired} mark(s)`,
        );
      return {
        exitCode: clean ? 0 : 1,
        result: { command: 'verify', ...result, ...requestCounts() },
      };
    }
    case 'unannotate':
      return runUnannotate(o, agent, clock);
    case 'publish-image-info':
      return runPublish(o, agent, clock);
  }
}

async function runPublish(o: JobOptions, agent: BuildAgent, clock: Clock): Promise<JobResult> {
  const logger = agent.logger;
  const fragmentText = await readInput(o.fragment, agent.label('fragment'));
  const target = createWritableImageInfoSource(o.imageInfo[0], sourceOptions(agent));
  const store = await createStore(o, agent, logger);
  const result = await publishImageInfo(
    { target, fragmentText, fragmentName: o.fragment, message: o.commitMessage, create: o.create },
    {
      clock,
      logger,
      // `image-info-updated` then means exactly "my merge is committed".
      signal:
        store.kind === 'none'
          ? undefined
          : () => store.signal(o.group, 'image-info-updated', o.scope),
    },
  );
  logger.info(
    `${target.name}: ${result.changed ? 'merged' : 'already up to date'} after ${result.attempts} attempt(s)`,
  );
  await agent.summary(
    publishSummary(result, target.name, o.fragment, o.onStale),
    'eol-gate publish-image-info',
  );
  if (result.stale.length > 0 && o.onStale === 'fail') {
    // The rest is merged and signalled (nobody waits on this run); only the step goes red.
    const error = `${o.fragment}: ${result.stale.length} entr${result.stale.length === 1 ? 'y is an older build' : 'ies are older builds'} than ${target.name} has (listed above); onStale is fail`;
    logger.error(error);
    return {
      exitCode: 1,
      result: { command: 'publish-image-info', ...result, error, kind: 'stale' },
    };
  }
  return { exitCode: 0, result: { command: 'publish-image-info', ...result } };
}

async function runAnnotate(o: JobOptions, agent: BuildAgent, clock: Clock): Promise<JobResult> {
  const logger = agent.logger;
  // Everything is read and checked before the first write.
  const fromPlan = o.fromPlan
    ? parsePlanFile(await readInput(o.fromPlan, agent.label('fromPlan')), o.fromPlan, o.eolDate)
    : undefined;
  const registry = createRegistry(o, agent);
  const sources = createSources(o, agent);
  const store = await createStore(o, agent, logger);
  const planFile = o.planFile || join(agent.tempDir, `eol-gate-plan-${clock.now().getTime()}.json`);

  const result = await annotate(
    {
      repoPrefix: o.repoPrefix,
      repositories: o.repositories,
      eolDate: o.eolDate,
      minAgeMs: o.minAgeMs,
      concurrency: o.concurrency,
      dryRun: o.dryRun,
      fromPlan,
      group: o.group,
      scope: o.scope,
      unmarkSupported: o.unmarkSupported,
      retiredRepositories: o.retiredRepositories,
      historyDepth: o.historyDepth,
      maxAnnotations: o.maxAnnotations,
      timeoutMs: o.timeoutMs,
      reconcileTimeoutMs: o.reconcileTimeoutMs,
      pollIntervalMs: o.pollIntervalMs,
      onTimeout: o.onTimeout,
    },
    {
      registry,
      store,
      sources,
      clock,
      logger,
      throttle: processThrottle(),
      // Written before apply: a run that fails half-way leaves its plan for `--from-plan`.
      onPlan: async (plan) => {
        await mkdir(dirname(planFile), { recursive: true });
        await writeChunks(
          planFile,
          planFileChunks(plan, { registry: registry.displayName, dryRun: o.dryRun }),
        );
        logger.info(`plan written to ${planFile}`);
      },
    },
  );
  // The registry-held cache is written after a run that wrote; a dry run writes nothing.
  if (result.outcome === 'applied' || result.outcome === 'rolled-back') await registry.flush?.();
  let plan: PlanLocation | undefined;
  if (result.plan) {
    plan = { file: planFile };
    if (o.uploadPlan && agent.publishArtifact)
      plan.artifact = await agent.publishArtifact(planFile, 'eol-gate-plan');
  }
  const c = result.counts;
  const outputs: Record<string, string> = {
    annotated: String(c.annotated),
    alreadyAnnotated: String(c.alreadyAnnotated),
    unmarked: String(c.unmarked),
    skippedTooYoung: String(c.skippedTooYoung),
    candidates: String(c.candidates),
    waitedSeconds: String(Math.round(result.waitedMs / 1000)),
    planFile: result.plan ? planFile : '',
  };
  for (const [name, value] of Object.entries(outputs)) agent.setOutput(name, value);
  await agent.summary(
    annotateSummary(result, {
      registry: registry.displayName,
      plan,
      now: clock.now(),
      label: (name) => agent.label(name),
      limit: o.maxAnnotations && describeLimit(o.maxAnnotations),
      requests: processThrottle().stats(),
    }),
    'eol-gate annotate',
  );
  const refused = result.outcome === 'refused';
  if (refused)
    logger.error(
      `the plan marks more than ${agent.label('maxAnnotations')} ${describeLimit(o.maxAnnotations!)} allows in ${result.overLimit!.map((v) => `${v.repository} (${v.planned} of ${v.manifests})`).join(', ')}; nothing was annotated. Review the plan ${planFile}; apply it with ${agent.label('fromPlan')}, or raise ${agent.label('maxAnnotations')}`,
    );
  // A roll-back follows onTimeout as a step-1 timeout does: fail is exit 1 (the command logged
  // the skip warning). It is not thrown, so the summary and the result say what was removed.
  const rolledBackError =
    result.rollBack && o.onTimeout === 'fail'
      ? `${result.rollBack.message}; ${agent.label('onTimeout')} is fail. Raise ${agent.label('reconcileTimeout')} if publishers that start during apply take longer`
      : undefined;
  if (rolledBackError) logger.error(rolledBackError);
  return {
    exitCode: refused || rolledBackError ? 1 : 0,
    result: {
      command: 'annotate',
      outcome: result.outcome,
      counts: c,
      waitedSeconds: Math.round(result.waitedMs / 1000),
      waitedFor: result.waitedFor,
      restarts: result.restarts,
      restartReasons: result.restartReasons,
      unmarked: result.unmarked,
      reconciled: result.reconciled ?? null,
      ...(result.rollBack
        ? { rolledBack: { blockers: result.rollBack.blockers, marks: result.rollBack.removed } }
        : {}),
      planFile: result.plan ? planFile : null,
      planArtifact: plan?.artifact ?? null,
      excluded: result.plan?.excluded,
      retired: result.plan?.retired ?? [],
      notes: result.plan?.notes ?? [],
      ...(result.overLimit ? { overLimit: result.overLimit } : {}),
      ...requestCounts(),
      ...(refused ? { kind: 'guard' } : {}),
      ...(rolledBackError ? { error: rolledBackError, kind: 'timeout' } : {}),
    },
  };
}

async function runUnannotate(o: JobOptions, agent: BuildAgent, clock: Clock): Promise<JobResult> {
  const logger = agent.logger;
  const registry = createRegistry(o, agent);
  // Everything is read and checked before the first delete.
  let fromPlan: PlannedDigest[] | undefined;
  if (o.fromPlan) {
    const text = await readInput(o.fromPlan, agent.label('fromPlan'));
    fromPlan = parsePlanFile(text, o.fromPlan, o.eolDate);
    const planned = planRegistry(text);
    if (planned && !sameRegistryHost(planned, registry.displayName))
      throw new InputError(
        `${agent.label('fromPlan')}: ${o.fromPlan} is a plan for ${planned}, not ${registry.displayName}; nothing was removed`,
      );
  }
  const result = await unannotate(
    {
      digests: o.digests,
      label: agent.label('digest'),
      fromPlan,
      date: o.date || undefined,
      repoPrefix: o.repoPrefix,
      repositories: o.repositories,
      concurrency: o.concurrency,
      dryRun: o.dryRun,
    },
    {
      registry,
      logger,
      clock,
      sources: o.date && o.imageInfo.length > 0 ? createSources(o, agent) : undefined,
    },
  );
  const selection = [
    o.digests.length > 0 ? `${o.digests.length} digest(s)` : '',
    o.fromPlan ? `the marks placed by the plan \`${o.fromPlan}\`` : '',
    o.date ? `every mark dated ${o.date}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  await agent.summary(
    unannotateSummary(result, registry.displayName, selection),
    'eol-gate unannotate',
  );
  return { exitCode: 0, result: { command: 'unannotate', ...result, ...requestCounts() } };
}

/** The registry an eol-gate plan file was made for (ImageBuilder files name none). */
function planRegistry(text: string): string | undefined {
  try {
    const doc = JSON.parse(text.replace(/^\uFEFF/, '')) as { tool?: unknown; registry?: unknown };
    return doc.tool === 'eol-gate' && typeof doc.registry === 'string' ? doc.registry : undefined;
  } catch {
    return undefined;
  }
}

/** Writes text made in pieces (a large plan) without holding all of it at once. */
async function writeChunks(path: string, chunks: Iterable<string>): Promise<void> {
  const file = await open(path, 'w');
  try {
    let pending: string[] = [];
    let length = 0;
    for (const chunk of chunks) {
      pending.push(chunk);
      length += chunk.length;
      if (length >= 1 << 20) {
        await file.writeFile(pending.join(''));
        pending = [];
        length = 0;
      }
    }
    await file.writeFile(pending.join(''));
  } finally {
    await file.close();
  }
}

async function readInput(path: string, label: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new InputError(
      `${label}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}
