import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { annotate } from '../commands/annotate.js';
import { describeLimit } from '../core/guard.js';
import { parsePlanFile, planFileChunks } from '../core/plan-file.js';
import { processThrottle } from '../util/throttle.js';
import { readInput, requestCounts, type Runner } from './job-commands.js';
import { annotateSummary, type PlanLocation } from './summary-annotate.js';
import { createRegistry, createSources, createStore } from './wiring.js';

export const runAnnotate: Runner<'annotate'> = async (o, agent, clock) => {
  const logger = agent.logger;
  // Everything is read and checked before the first write.
  const fromPlan = o.fromPlan
    ? parsePlanFile(await readInput(o.fromPlan, agent.label('fromPlan')), o.fromPlan, o.eolDate)
    : undefined;
  const registry = createRegistry(o, agent);
  const sources = createSources(o, agent, clock);
  const store = await createStore(o, agent, clock);
  const planFile = o.planFile || join(agent.tempDir, `eol-gate-plan-${clock.now().getTime()}.json`);

  const result = await annotate(
    { ...o, fromPlan, label: (name) => agent.label(name) },
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
  const waitedSeconds = Math.round(result.waitedMs / 1000);
  const { annotated, alreadyAnnotated, unmarked, skippedTooYoung, candidates } = c;
  const outputs = { annotated, alreadyAnnotated, unmarked, skippedTooYoung, candidates };
  for (const [name, value] of Object.entries({ ...outputs, waitedSeconds }))
    agent.setOutput(name, String(value));
  agent.setOutput('planFile', plan ? planFile : '');
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
      outcome: result.outcome,
      counts: c,
      waitedSeconds,
      waitedFor: result.waitedFor,
      restarts: result.restarts,
      restartReasons: result.restartReasons,
      unmarked: result.unmarked,
      reconciled: result.reconciled ?? null,
      ...(result.rollBack
        ? { rolledBack: { blockers: result.rollBack.blockers, marks: result.rollBack.removed } }
        : {}),
      planFile: plan ? planFile : null,
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
};

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
