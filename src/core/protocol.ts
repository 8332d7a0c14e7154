import {
  type GroupRun,
  type JobStatus,
  type ParticipantIdentity,
  type RawMarker,
  type RunStatus,
} from './runs.js';
import { formatDuration } from './duration.js';
import { InputError } from './errors.js';

export type { JobStatus, RawMarker, RunStatus } from './runs.js';

// Group names become build tags and git ref components: no leading dot, no `..`, no `.lock`.
const GROUP = /^(?!\.)(?!.*\.\.)(?!.*\.lock$)(?!.*\.$)[A-Za-z0-9._-]{1,64}$/;

declare const groupNameBrand: unique symbol;
/** A group name that passed `assertGroupName`: parsed once from the input, trusted after. */
export type GroupName = string & { readonly [groupNameBrand]: true };

export function assertGroupName(group: string, name = 'group'): GroupName {
  if (!GROUP.test(group))
    throw new InputError(
      `${name}: expected 1-64 characters of [A-Za-z0-9._-] (not starting or ending with a dot, no "..", no ".lock" ending), got ${JSON.stringify(group)}`,
    );
  return group as GroupName;
}

/** Participants are told apart by repository, run, attempt and job. */
export function participantKey(p: ParticipantIdentity): string {
  return `${p.repository ?? ''}|${p.runId}|${p.attempt}|${p.jobId ?? ''}`;
}

export function runKey(p: { repository?: string; runId: string }): string {
  return `${p.repository ?? ''}|${p.runId}`;
}

/** Never blocks itself. Without a job id (`signal --scope run`) it is the whole run attempt. */
export function isSelf(self: ParticipantIdentity | undefined, p: ParticipantIdentity): boolean {
  return (
    !!self &&
    runKey(self) === runKey(p) &&
    self.attempt === p.attempt &&
    (self.jobId ?? '') === (p.jobId ?? '')
  );
}

function latestPublishing(markers: RawMarker[]): RawMarker[] {
  const latest = new Map<string, RawMarker>();
  for (const m of markers) {
    if (m.state !== 'publishing') continue;
    const key = participantKey(m);
    const seen = latest.get(key);
    if (!seen || m.stamp > seen.stamp) latest.set(key, m);
  }
  return [...latest.values()];
}

/** The CI service's record of a marker's job; undefined for a participant without a CI job id. */
function jobOf(m: { jobId?: string }, run: RunStatus | undefined): JobStatus | undefined {
  return m.jobId === undefined ? undefined : run?.jobs?.get(m.jobId);
}

/**
 * Whether a later `image-info-updated` covers `publishing` p (docs/design.md §2).
 * - The same participant's own, written after it: one machine wrote both, so its clock orders them.
 * - A run-scoped one of the same run, only if the CI service reports p's job completed no later
 *   than the covering job started (both times from the service's clock). A record job starts after
 *   the jobs it `needs:`; a job still queued or running, or one the service cannot name (no job
 *   id), is never covered by another job's claim. Writers' clocks never order two jobs.
 */
export function isCovered(p: RawMarker, markers: RawMarker[], run?: RunStatus): boolean {
  const job = jobOf(p, run);
  return markers.some((u) => {
    if (u.state !== 'image-info-updated' || runKey(u) !== runKey(p)) return false;
    if (participantKey(u) === participantKey(p)) return u.stamp > p.stamp;
    if (u.scope !== 'run' || !job?.completed || job.completedAt === undefined) return false;
    const writer = jobOf(u, run);
    return writer?.startedAt !== undefined && job.completedAt <= writer.startedAt;
  });
}

// Ended without success (docs/design.md, jobs API): GitHub's failure, cancelled, timed_out;
// Azure's failed, canceled, abandoned.
const FAILED = new Set(['failure', 'failed', 'cancelled', 'canceled', 'timed_out', 'abandoned']);

function endedWithoutSuccess(job: JobStatus | undefined): boolean {
  return !!job?.completed && FAILED.has((job.conclusion ?? '').toLowerCase());
}

/**
 * A failed or cancelled job stops blocking once no other job of its run can still record what it
 * pushed (an `always()` / `succeededOrFailed()` record job may): every other job has completed or
 * is past recording (its latest marker is `image-info-updated`: a job records others' pushes only
 * before its run-scope cover, and signals `publishing` before recording again). Without the second
 * clause two runs each waiting on the other's failed job would deadlock. An annotator in that run
 * waits neither for its own job nor for unstarted ones (the API does not say what they `need`).
 */
function othersDone(
  p: RawMarker,
  run: RunStatus | undefined,
  self: ParticipantIdentity | undefined,
  markers: RawMarker[],
): boolean {
  if (!run?.jobs) return false;
  const inRun = !!self && runKey(self) === runKey(p);
  const latest = new Map<string, RawMarker>();
  for (const m of markers)
    if (runKey(m) === runKey(p) && m.jobId !== undefined) {
      const seen = latest.get(m.jobId);
      if (!seen || m.stamp > seen.stamp) latest.set(m.jobId, m);
    }
  for (const [id, job] of run.jobs) {
    if (id === p.jobId || job.completed) continue;
    if (latest.get(id)?.state === 'image-info-updated') continue;
    if (inRun && (id === self.jobId || job.startedAt === undefined)) continue;
    return false;
  }
  return true;
}

/**
 * Run liveness for one marker. A run the CI system cannot tell about counts as alive unless it
 * was deleted. A marker of an attempt newer than the API reports shows the API lagging behind a
 * re-run, so the run is alive whatever the API says, for every marker of it (`newestAttempt`).
 */
export function runAliveFor(
  m: RawMarker,
  status: RunStatus | undefined,
  newestAttempt = m.attempt,
): boolean {
  if (!status) return true;
  if (status.attempt !== undefined && Math.max(m.attempt, newestAttempt) > status.attempt)
    return true;
  if (status.deleted) return false;
  return status.alive;
}

export function newestAttempts(markers: RawMarker[]): Map<string, number> {
  const newest = new Map<string, number>();
  for (const m of markers) newest.set(runKey(m), Math.max(newest.get(runKey(m)) ?? 0, m.attempt));
  return newest;
}

/** Others' `publishing` not covered by their own participant: only their runs need asking. */
export function uncoveredPublishing(
  self: ParticipantIdentity | undefined,
  markers: RawMarker[],
): RawMarker[] {
  return latestPublishing(markers).filter((p) => !isSelf(self, p) && !isCovered(p, markers));
}

/**
 * Joins markers with the CI system's view of runs and their jobs: one entry per participant
 * that holds a `publishing` marker, saying whether it blocks (docs/design.md §2, "When a
 * `publishing` marker blocks").
 */
export function joinParticipants(
  self: ParticipantIdentity | undefined,
  markers: RawMarker[],
  runs: Map<string, RunStatus | undefined>,
): GroupRun[] {
  const out: GroupRun[] = [];
  const newest = newestAttempts(markers);
  for (const p of latestPublishing(markers)) {
    const run = runs.get(runKey(p));
    const job = jobOf(p, run);
    const covered = isCovered(p, markers, run);
    const alive = runAliveFor(p, run, newest.get(runKey(p)));
    const jobFailed = endedWithoutSuccess(job);
    const released = jobFailed && othersDone(p, run, self, markers);
    out.push({
      runId: p.runId,
      attempt: p.attempt,
      jobId: p.jobId,
      repository: p.repository,
      publishingSince: p.stamp,
      covered,
      alive,
      runUnknown: run === undefined && runs.has(runKey(p)) ? true : undefined,
      deleted: run?.deleted || undefined,
      jobFailed: jobFailed || undefined,
      siblingsRunning: (jobFailed && !released) || undefined,
      blocks: !isSelf(self, p) && alive && !covered && !released,
      since: p.stamp > 0 ? new Date(p.stamp).toISOString() : run?.since,
      url: job?.url ?? run?.url,
      runUrl: run?.url,
      name: run?.name,
      jobName: job?.name,
      jobUrl: job?.url,
    });
  }
  return out.sort(
    (a, b) =>
      a.runId.localeCompare(b.runId, 'en', { numeric: true }) ||
      a.attempt - b.attempt ||
      (a.jobId ?? '').localeCompare(b.jobId ?? '', 'en', { numeric: true }),
  );
}

/** GitHub lets a run be re-run for 30 days after it ran; after that its markers can never count again. */
export const RERUN_WINDOW_MS = 30 * 24 * 3600_000;

/**
 * Markers that may be deleted, whole runs at a time (a cover is never deleted before what it
 * covers): every marker of a deleted run; of a completed run (unless a marker of a newer attempt
 * shows the API lagging), once every `publishing` marker is covered, or once the run can no
 * longer be re-run. An uncovered marker of a run that can still be re-run stays: "re-run failed
 * jobs" makes it block again. Never on a run the CI system could not tell about.
 */
export function deletableMarkers<M extends RawMarker>(
  markers: M[],
  runs: Map<string, RunStatus | undefined>,
  nowMs: number,
): M[] {
  const newest = newestAttempts(markers);
  const byRun = new Map<string, M[]>();
  for (const m of markers) byRun.set(runKey(m), [...(byRun.get(runKey(m)) ?? []), m]);
  const out: M[] = [];
  for (const [key, own] of byRun) {
    const status = runs.get(key);
    if (!status) continue;
    if (status.deleted) {
      out.push(...own);
      continue;
    }
    if (status.alive) continue;
    if (status.attempt !== undefined && (newest.get(key) ?? 0) > status.attempt) continue;
    const expired =
      status.completedAt !== undefined && nowMs - status.completedAt >= RERUN_WINDOW_MS;
    if (expired || latestPublishing(own).every((p) => isCovered(p, own, status))) out.push(...own);
  }
  return out;
}

/** Step 1 / step 5: the participants that block this one. */
export function blockingRuns(self: ParticipantIdentity | undefined, runs: GroupRun[]): GroupRun[] {
  return runs.filter((run) => run.blocks && !isSelf(self, run));
}

export type Validation =
  { verdict: 'proceed' } | { verdict: 'restart'; reason: string; blockers: GroupRun[] };

/**
 * Step 5: after the inventory is complete, the store was polled again (first) and then the
 * image-info fingerprint re-read (second). Proceed only if nobody blocks and nothing moved.
 */
export function validate(
  self: ParticipantIdentity | undefined,
  runsAfterInventory: GroupRun[],
  plannedFingerprint: string,
  fingerprintAfterPoll: string,
): Validation {
  const blockers = blockingRuns(self, runsAfterInventory);
  if (blockers.length > 0)
    return {
      verdict: 'restart',
      reason: `${blockers.length} participant(s) started publishing during the inventory`,
      blockers,
    };
  if (plannedFingerprint !== fingerprintAfterPoll)
    return { verdict: 'restart', reason: 'image-info changed since it was read', blockers: [] };
  return { verdict: 'proceed' };
}

/**
 * Step 7: after applying, the store was polled and the fingerprint re-read once more. Marks
 * must be reconciled when someone blocks now (they began publishing after validation) or
 * the image-info changed (an existing digest may have been recorded again).
 */
export function needsReconcile(
  self: ParticipantIdentity | undefined,
  runsAfterApply: GroupRun[],
  plannedFingerprint: string,
  fingerprintAfterApply: string,
): { reconcile: boolean; reason: string } {
  const blockers = blockingRuns(self, runsAfterApply);
  if (blockers.length > 0)
    return {
      reconcile: true,
      reason: `${blockers.length} participant(s) began publishing while marks were applied`,
    };
  if (plannedFingerprint !== fingerprintAfterApply)
    return { reconcile: true, reason: 'image-info changed while marks were applied' };
  return { reconcile: false, reason: '' };
}

/** Jittered poll interval in [0.75, 1.25) × interval, so pollers do not synchronise. */
export function jitteredInterval(intervalMs: number, random: number): number {
  return Math.round(intervalMs * (0.75 + random * 0.5));
}

/** Step 1: proceed when nobody blocks, else wait for the blockers. */
export type WaitDecision = { verdict: 'proceed' } | { verdict: 'wait'; blockers: GroupRun[] };

export function decideWait(self: ParticipantIdentity | undefined, runs: GroupRun[]): WaitDecision {
  const blockers = blockingRuns(self, runs);
  return blockers.length > 0 ? { verdict: 'wait', blockers } : { verdict: 'proceed' };
}

function describeParticipant(run: GroupRun): string {
  const repo = run.repository ? `${run.repository} ` : '';
  const attempt = run.attempt > 0 ? ` (attempt ${run.attempt})` : '';
  const job = run.jobId ? `, job ${run.jobName ? `"${run.jobName}" ` : ''}${run.jobId}` : '';
  return `${repo}run ${run.runId}${attempt}${run.name ? ` "${run.name}"` : ''}${job}`;
}

/** A line for the poll log: who blocks, since when (and how long), where to look. */
export function describeRun(run: GroupRun, now: Date): string {
  let since = '';
  if (run.since) {
    const ms = now.getTime() - Date.parse(run.since);
    since = Number.isNaN(ms)
      ? ` since ${run.since}`
      : ` since ${run.since} (${formatDuration(Math.max(0, ms))} ago)`;
  }
  const unknown = run.runUnknown
    ? ' (the CI system did not return this run; it counts as running)'
    : run.siblingsRunning
      ? ' (its job failed; it blocks until the other jobs of its run end, which may still record what it pushed)'
      : '';
  return `${describeParticipant(run)} is publishing${since}${unknown}${run.url ? `: ${run.url}` : ''}`;
}
