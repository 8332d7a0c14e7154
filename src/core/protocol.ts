import type { GroupRun, RunIdentity } from '../coordination/port.js';
import { InputError } from './errors.js';

const GROUP = /^[A-Za-z0-9._-]{1,64}$/;

export function assertGroupName(group: string, name = 'group'): string {
  if (!GROUP.test(group)) {
    throw new InputError(`${name}: expected 1-64 characters of [A-Za-z0-9._-], got ${JSON.stringify(group)}`);
  }
  return group;
}

/**
 * Step 1 / step 5 of the protocol: the runs that block this one. A run blocks while it is alive
 * (per the CI system), is not this run (any attempt of it: a run that annotates has recorded
 * its pushes), and holds `publishing` without `image-info-updated`.
 */
export function blockingRuns(self: RunIdentity | undefined, runs: GroupRun[]): GroupRun[] {
  return runs.filter(
    (run) =>
      run.alive &&
      run.runId !== self?.runId &&
      run.states.includes('publishing') &&
      !run.states.includes('image-info-updated'),
  );
}

export type Validation =
  | { verdict: 'proceed' }
  | { verdict: 'restart'; reason: string; blockers: GroupRun[] };

/**
 * Step 5: after the inventory is complete, the store was polled again (first) and then the
 * image-info fingerprint re-read (second). Proceed only if nobody blocks and nothing moved.
 */
export function validate(
  self: RunIdentity | undefined,
  runsAfterInventory: GroupRun[],
  plannedFingerprint: string,
  fingerprintAfterPoll: string,
): Validation {
  const blockers = blockingRuns(self, runsAfterInventory);
  if (blockers.length > 0) {
    return { verdict: 'restart', reason: `${blockers.length} run(s) started publishing during the inventory`, blockers };
  }
  if (plannedFingerprint !== fingerprintAfterPoll) {
    return { verdict: 'restart', reason: 'image-info changed since it was read', blockers: [] };
  }
  return { verdict: 'proceed' };
}

/** Jittered poll interval in [0.75, 1.25) × interval, so pollers do not synchronise. */
export function jitteredInterval(intervalMs: number, random: number): number {
  return Math.round(intervalMs * (0.75 + random * 0.5));
}

/** Markers of finished runs can be deleted by whoever sees them. */
export function finishedRuns(runs: GroupRun[]): GroupRun[] {
  return runs.filter((r) => !r.alive);
}
