import type { GroupRun } from '../coordination/port.js';
import { refKey } from '../core/digest.js';
import { formatDuration } from '../core/duration.js';
import { classify } from '../core/planner.js';
import type { Clock, Logger } from '../core/ports.js';
import { describeRun, needsReconcile } from '../core/protocol.js';
import { supportedSet } from '../core/supported.js';
import { unmarkNote, type Registry } from '../registry/port.js';
import type { AnnotateDeps, AnnotateOptions, MarkRef, RollBack } from './annotate.js';
import { loadImageInfo, readFingerprint } from './image-info.js';
import { Inventory } from './inventory.js';
import { addTo } from './plan.js';

export interface Reconciled {
  reason?: string;
  rollBack?: RollBack;
}

/**
 * Step 7: someone who began publishing after validation, or a changed image-info, may have recorded
 * a digest just marked (an old image re-pushed). Wait for them (`reconcileTimeout` from the end of
 * apply), re-read, unmark what is now supported; on timeout remove every mark this run placed (none
 * can be shown safe) and report a roll-back.
 */
export async function reconcile(
  options: AnnotateOptions,
  deps: AnnotateDeps,
  plannedFingerprint: string,
  placed: MarkRef[],
  unmarked: MarkRef[],
  budget: {
    /** `reconcileTimeout`, counted from the end of apply. */
    budgetMs: number;
    wait: () => Promise<{ timedOut: boolean; blockers: GroupRun[] }>;
  },
): Promise<Reconciled> {
  const { registry, store, sources, clock, logger } = deps;
  if (placed.length === 0) return {};
  const runs = await store.listRuns(options.group);
  const fingerprint = await readFingerprint(sources);
  const check = needsReconcile(store.self, runs, plannedFingerprint, fingerprint);
  if (!check.reconcile) {
    logger.info('reconcile: nobody began publishing and the image-info is unchanged');
    return {};
  }
  logger.info(`reconcile: ${check.reason}; waiting, then re-reading the image-info`);
  const barrier = await budget.wait();
  if (barrier.timedOut) {
    const blockers = blockerNames(barrier.blockers, clock);
    const after = formatDuration(budget.budgetMs);
    logger.info(
      `reconcile: still blocked ${after} after apply by ${blockers}; rolling back: removing all ${placed.length} mark(s) this run placed`,
    );
    const removed: MarkRef[] = [];
    const why = 'rolled back: not shown safe in time';
    await removeMarks([...placed], registry, logger, removed, why);
    return {
      reason: `${check.reason}; timed out, rolled back`,
      rollBack: {
        message: `reconcile timed out after ${after} waiting for: ${blockers}. Rolled back: all ${removed.length} mark(s) this run placed were removed (a later run places them again)`,
        blockers: barrier.blockers,
        removed,
      },
    };
  }
  const loaded = await loadImageInfo(sources, options.repoPrefix);
  const supported = supportedSet(loaded.infos, options.repoPrefix);
  const scope = [...new Set(placed.map((m) => m.repository))].sort();
  // The marked subjects are asked of the registry even where no tag and no memory shows them.
  const known = new Map<string, Set<string>>();
  for (const m of placed) addTo(known, m.repository, m.subject);
  const records = await new Inventory(registry, options.concurrency).records(scope, known);
  const stillCandidates = new Set(
    classify(records, supported).candidates.map((c) => refKey(c.repository, c.digest)),
  );
  const now = placed.filter((m) => !stillCandidates.has(refKey(m.repository, m.subject)));
  await removeMarks(now, registry, logger, unmarked, 'recorded again while it was being marked');
  logger.info(`reconcile: ${now.length} of ${placed.length} mark(s) removed`);
  return { reason: check.reason };
}

export async function removeMarks(
  marks: MarkRef[],
  registry: Registry,
  logger: Logger,
  removed: MarkRef[],
  why: string,
): Promise<void> {
  for (const m of marks) {
    const how = await registry.deleteReferrer(m.repository, m.subject, m.referrer);
    removed.push({ ...m, how });
    logger.info(
      `${m.repository}@${m.subject}: lifecycle mark ${m.referrer} removed (${why})${unmarkNote(how)}`,
    );
  }
}

export function blockerNames(blockers: GroupRun[], clock: Clock): string {
  return blockers.map((run) => describeRun(run, clock.now())).join('; ');
}
