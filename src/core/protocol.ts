import { MARKER_STATES, type GroupRun, type MarkerState, type RunIdentity } from './runs.js';
import { formatDuration } from './duration.js';
import { InputError } from './errors.js';

// Group names become build tags and git ref components: no leading dot, no `..`, no `.lock`.
const GROUP = /^(?!\.)(?!.*\.\.)(?!.*\.lock$)(?!.*\.$)[A-Za-z0-9._-]{1,64}$/;

export function assertGroupName(group: string, name = 'group'): string {
  if (!GROUP.test(group)) {
    throw new InputError(
      `${name}: expected 1-64 characters of [A-Za-z0-9._-] (not starting or ending with a dot, no "..", no ".lock" ending), got ${JSON.stringify(group)}`,
    );
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
  { verdict: 'proceed' } | { verdict: 'restart'; reason: string; blockers: GroupRun[] };

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
    return {
      verdict: 'restart',
      reason: `${blockers.length} run(s) started publishing during the inventory`,
      blockers,
    };
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

/** Step 1 as a decision: proceed when nobody blocks, else wait for the blockers. */
export type WaitDecision = { verdict: 'proceed' } | { verdict: 'wait'; blockers: GroupRun[] };

export function decideWait(self: RunIdentity | undefined, runs: GroupRun[]): WaitDecision {
  const blockers = blockingRuns(self, runs);
  return blockers.length > 0 ? { verdict: 'wait', blockers } : { verdict: 'proceed' };
}

/** One marker as a store holds it, before liveness is known. */
export interface RawMarker {
  runId: string;
  attempt: number;
  state: MarkerState;
}

/** What the CI system says about a run; undefined when it no longer knows the run (deleted). */
export interface RunStatus {
  alive: boolean;
  /** The run's current attempt; markers of older attempts are stale. */
  attempt: number;
  since?: string;
  url?: string;
  name?: string;
}

/**
 * Joins markers with the CI system's view of each run. Markers of an attempt older than the
 * run's current attempt are dropped (a re-run starts over: its old `publishing` must not block,
 * and its old `image-info-updated` must not unblock). A run the CI system no longer knows is
 * finished. Runs whose every marker is stale are reported dead with no states, so that
 * `cleanup` can delete their markers.
 */
export function joinMarkers(
  markers: RawMarker[],
  status: Map<string, RunStatus | undefined>,
): GroupRun[] {
  const byRun = new Map<string, RawMarker[]>();
  for (const m of markers) byRun.set(m.runId, [...(byRun.get(m.runId) ?? []), m]);
  const runs: GroupRun[] = [];
  for (const [runId, list] of byRun) {
    const s = status.get(runId);
    const attempt = s?.attempt ?? Math.max(...list.map((m) => m.attempt));
    const current = list.filter((m) => m.attempt === attempt);
    const states = MARKER_STATES.filter((state) => current.some((m) => m.state === state));
    runs.push({
      runId,
      attempt,
      states,
      alive: (s?.alive ?? false) && current.length > 0,
      since: s?.since,
      url: s?.url,
      name: s?.name,
    });
  }
  return runs.sort((a, b) => a.runId.localeCompare(b.runId, 'en', { numeric: true }));
}

/** A line for the poll log: who blocks, since when (and how long), where to look. */
export function describeRun(run: GroupRun, now: Date): string {
  const who = `run ${run.runId}${run.attempt > 0 ? ` (attempt ${run.attempt})` : ''}${run.name ? ` "${run.name}"` : ''}`;
  let since = '';
  if (run.since) {
    const ms = now.getTime() - Date.parse(run.since);
    since = Number.isNaN(ms)
      ? ` since ${run.since}`
      : ` since ${run.since} (${formatDuration(Math.max(0, ms))} ago)`;
  }
  return `${who} is publishing${since}${run.url ? `: ${run.url}` : ''}`;
}
