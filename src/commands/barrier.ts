import type { CoordinationStore, GroupRun } from '../coordination/port.js';
import { formatDuration } from '../core/duration.js';
import type { Clock, Logger } from '../core/ports.js';
import { decideWait, describeRun, jitteredInterval, participantKey } from '../core/protocol.js';

export interface BarrierOptions {
  group: string;
  /** Step 1's budget, counted from the start of the run. */
  timeoutMs: number;
  pollIntervalMs: number;
  onTimeout: 'fail' | 'skip';
}

export interface BarrierResult {
  timedOut: boolean;
  waitedMs: number;
  waitedFor: GroupRun[];
  /** Empty unless timed out. */
  blockers: GroupRun[];
}

/**
 * Polls until no other participant blocks (docs/design.md §2 steps 1, 7), for `budgetMs` (default
 * `options.timeoutMs`) from `since` (epoch ms): step 1 from the run's start, step 7 from apply's.
 */
export async function waitForBarrier(
  options: BarrierOptions,
  store: CoordinationStore,
  clock: Clock,
  logger: Logger,
  since: number,
  budgetMs: number = options.timeoutMs,
): Promise<BarrierResult> {
  const begin = clock.now().getTime();
  const waitedFor = new Map<string, GroupRun>();
  for (;;) {
    const decision = decideWait(store.self, await store.listRuns(options.group));
    const now = clock.now().getTime();
    const blockers = decision.verdict === 'wait' ? decision.blockers : [];
    for (const run of blockers) waitedFor.set(participantKey(run), run);
    const elapsed = now - since;
    const timedOut = blockers.length > 0 && elapsed >= budgetMs;
    if (blockers.length === 0 || timedOut)
      return { timedOut, waitedMs: now - begin, waitedFor: [...waitedFor.values()], blockers };
    for (const run of blockers) logger.info(`waiting: ${describeRun(run, clock.now())}`);
    const delay = Math.min(
      // A store whose rate-limit budget runs low stretches the interval (never shortens it).
      jitteredInterval(options.pollIntervalMs * stretch(store.pollDelayFactor?.()), clock.random()),
      budgetMs - elapsed,
    );
    logger.info(
      `${blockers.length} run(s) block; next poll in ${formatDuration(delay)} (${formatDuration(elapsed)} of ${formatDuration(budgetMs)} elapsed)`,
    );
    await clock.sleep(delay);
  }
}

function stretch(factor: number | undefined): number {
  return factor !== undefined && Number.isFinite(factor) && factor > 1 ? factor : 1;
}
