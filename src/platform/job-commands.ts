import { readFile } from 'node:fs/promises';
import { publishImageInfo } from '../commands/publish-image-info.js';
import { signal } from '../commands/signal.js';
import { unannotate } from '../commands/unannotate.js';
import { verify } from '../commands/verify.js';
import { sameRegistryHost } from '../core/digest.js';
import { InputError } from '../core/errors.js';
import { rawJson } from '../core/image-info-json.js';
import { parsePlanFile, type PlannedDigest } from '../core/plan-file.js';
import type { Clock } from '../core/ports.js';
import { createWritableImageInfoSource } from '../imageinfo/factory.js';
import { processThrottle, REQUEST_CLASSES, type RequestClass } from '../util/throttle.js';
import type { BuildAgent } from './agent.js';
import type { JobResult } from './job.js';
import type { CommandName } from './inputs.js';
import type { OptionsFor } from './options.js';
import { publishSummary, unannotateSummary, verifySummary } from './summary.js';
import { createRegistry, createSources, createStore, sourceOptions } from './wiring.js';

/** Runs command `C` with the options it takes; runJob puts `command` first in the result. */
export type Runner<C extends CommandName> = (
  o: OptionsFor<C>,
  agent: BuildAgent,
  clock: Clock,
) => Promise<JobResult>;

export const runSignal: Runner<'signal'> = async (o, agent, clock) => {
  await signal(
    { group: o.group, state: o.state!, scope: o.scope },
    { store: await createStore(o, agent, clock), logger: agent.logger },
  );
  return { exitCode: 0, result: { group: o.group, state: o.state, scope: o.scope } };
};

export const runVerify: Runner<'verify'> = async (o, agent, clock) => {
  const logger = agent.logger;
  const registry = createRegistry(o, agent);
  const result = await verify(o, { registry, sources: createSources(o, agent, clock), logger });
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
  return { exitCode: clean ? 0 : 1, result: { ...result, ...requestCounts() } };
};

export const runUnannotate: Runner<'unannotate'> = async (o, agent, clock) => {
  const registry = createRegistry(o, agent);
  // Everything is read and checked before the first delete.
  let fromPlan: PlannedDigest[] | undefined;
  if (o.fromPlan) {
    const text = await readInput(o.fromPlan, agent.label('fromPlan'));
    fromPlan = parsePlanFile(text, o.fromPlan, o.eolDate);
    // parsePlanFile read the JSON; an eol-gate plan names its registry (ImageBuilder's do not).
    const doc = rawJson(text);
    const planned = doc.tool === 'eol-gate' && typeof doc.registry === 'string' && doc.registry;
    if (planned && !sameRegistryHost(planned, registry.displayName))
      throw new InputError(
        `${agent.label('fromPlan')}: ${o.fromPlan} is a plan for ${planned}, not ${registry.displayName}; nothing was removed`,
      );
  }
  const result = await unannotate(
    { ...o, label: agent.label('digest'), fromPlan },
    {
      registry,
      logger: agent.logger,
      clock,
      sources: o.date && o.imageInfo.length > 0 ? createSources(o, agent, clock) : undefined,
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
  return { exitCode: 0, result: { ...result, ...requestCounts() } };
};

export const runPublish: Runner<'publish-image-info'> = async (o, agent, clock) => {
  const logger = agent.logger;
  const fragmentText = await readInput(o.fragment, agent.label('fragment'));
  const target = createWritableImageInfoSource(o.imageInfo[0], sourceOptions(agent, clock));
  const store = await createStore(o, agent, clock);
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
    publishSummary(result, target.name, o.fragment, o.onStale, agent.label('onStale')),
    'eol-gate publish-image-info',
  );
  if (result.stale.length === 0 || o.onStale !== 'fail')
    return { exitCode: 0, result: { ...result } };
  // The rest is merged and signalled (nobody waits on this run); only the step goes red.
  const error = `${o.fragment}: ${result.stale.length} entr${result.stale.length === 1 ? 'y is an older build' : 'ies are older builds'} than ${target.name} has (listed above); ${agent.label('onStale')} is fail`;
  logger.error(error);
  return { exitCode: 1, result: { ...result, error, kind: 'stale' } };
};

/** Registry requests and 429s per class, for `--json` and the result output; nothing if none. */
export function requestCounts(): {
  requests?: Record<RequestClass, { requests: number; throttled: number }>;
} {
  const stats = processThrottle().stats();
  if (REQUEST_CLASSES.every((c) => stats[c].requests === 0)) return {};
  const requests = Object.fromEntries(
    REQUEST_CLASSES.map((c) => [c, { requests: stats[c].requests, throttled: stats[c].throttled }]),
  ) as Record<RequestClass, { requests: number; throttled: number }>;
  return { requests };
}

export async function readInput(path: string, label: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new InputError(
      `${label}: cannot read ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}
