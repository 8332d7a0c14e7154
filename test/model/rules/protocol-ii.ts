import {
  type GroupRun,
  type JobStatus,
  type ParticipantIdentity,
  type RawMarker,
  type RunStatus,
} from '../../../src/core/runs.js';

/** Participants are told apart by repository, run, attempt and job. */
export function participantKey(p: {
  repository?: string;
  runId: string;
  attempt: number;
  jobId?: string;
}): string {
  return `${p.repository ?? ''}|${p.runId}|${p.attempt}|${p.jobId ?? ''}`;
}

export function runKey(p: { repository?: string; runId: string }): string {
  return `${p.repository ?? ''}|${p.runId}`;
}

/**
 * A participant never blocks itself. Without a job id (the CI system did not name the job)
 * the participant is the whole attempt of the run, as the first marker format was.
 */
export function isSelf(self: ParticipantIdentity | undefined, p: ParticipantIdentity): boolean {
  return (
    !!self &&
    runKey(self) === runKey(p) &&
    self.attempt === p.attempt &&
    (self.jobId ?? '') === (p.jobId ?? '')
  );
}

/** Latest `publishing` of each participant. */
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

/**
 * Whether a later `image-info-updated` covers `publishing` p: the same participant's own
 * (job scope), or a run-scoped one of the same run written after it. Attempts of a run are
 * sequential (a re-run starts after the previous attempt ended), so an older attempt's marker
 * is earlier than any newer attempt's; within one attempt the writers' stamps order them.
 */
export function isCovered(p: RawMarker, markers: RawMarker[]): boolean {
  return markers.some((u) => {
    if (u.state !== 'image-info-updated' || runKey(u) !== runKey(p)) return false;
    const later = u.attempt > p.attempt || (u.attempt === p.attempt && u.stamp > p.stamp);
    if (u.scope === 'run') return later;
    return participantKey(u) === participantKey(p) && (later || (p.stamp === 0 && u.stamp === 0));
  });
}

const FAILED_CONCLUSIONS = new Set(['failure', 'failed', 'cancelled', 'canceled', 'abandoned']);

/** A job the CI system reports completed as failed or cancelled no longer blocks (its pushes are orphans). */
function jobEndedWithoutSuccess(job: JobStatus | undefined): boolean {
  return !!job?.completed && FAILED_CONCLUSIONS.has((job.conclusion ?? '').toLowerCase());
}

/**
 * Run liveness for one marker. A run the CI system cannot tell about (404) counts as alive:
 * a 404 is not proof that it finished. A marker of an attempt newer than the API reports shows
 * the API lagging behind a re-run, so the run is alive whatever the API says, for every marker
 * of it (`newestAttempt`: the newest attempt among the run's markers).
 */
export function runAliveFor(
  m: RawMarker,
  status: RunStatus | undefined,
  newestAttempt = m.attempt,
): boolean {
  if (!status) return true;
  if (status.attempt !== undefined && Math.max(m.attempt, newestAttempt) > status.attempt)
    return true;
  return status.alive;
}

function newestAttempts(markers: RawMarker[]): Map<string, number> {
  const newest = new Map<string, number>();
  for (const m of markers) newest.set(runKey(m), Math.max(newest.get(runKey(m)) ?? 0, m.attempt));
  return newest;
}

/** The uncovered `publishing` markers of others: the only ones whose liveness needs asking. */
export function uncoveredPublishing(
  self: ParticipantIdentity | undefined,
  markers: RawMarker[],
): RawMarker[] {
  return latestPublishing(markers).filter((p) => !isSelf(self, p) && !isCovered(p, markers));
}

/** Of the uncovered `publishing` markers, those of live runs with a job id: whose job to ask about. */
export function jobsToAsk(
  pending: RawMarker[],
  markers: RawMarker[],
  runs: Map<string, RunStatus | undefined>,
): RawMarker[] {
  const newest = newestAttempts(markers);
  return pending.filter(
    (p) => p.jobId !== undefined && runAliveFor(p, runs.get(runKey(p)), newest.get(runKey(p))),
  );
}

/**
 * Joins markers with the CI system's view of runs and jobs: one entry per participant that
 * holds a `publishing` marker, saying whether it blocks (docs/design.md §2, "When a
 * `publishing` marker blocks").
 */
export function joinParticipants(
  self: ParticipantIdentity | undefined,
  markers: RawMarker[],
  runs: Map<string, RunStatus | undefined>,
  jobs: Map<string, JobStatus | undefined> = new Map(),
): GroupRun[] {
  const out: GroupRun[] = [];
  const newest = newestAttempts(markers);
  for (const p of latestPublishing(markers)) {
    const run = runs.get(runKey(p));
    const job = jobs.get(participantKey(p));
    const covered = isCovered(p, markers);
    const alive = runAliveFor(p, run, newest.get(runKey(p)));
    const jobFailed = jobEndedWithoutSuccess(job);
    out.push({
      runId: p.runId,
      attempt: p.attempt,
      jobId: p.jobId,
      repository: p.repository,
      publishingSince: p.stamp,
      covered,
      alive,
      runUnknown: run === undefined && runs.has(runKey(p)) ? true : undefined,
      jobFailed: jobFailed || undefined,
      blocks: !isSelf(self, p) && alive && !covered && !jobFailed,
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

/**
 * Markers that no longer count and may be deleted: every marker of a run the CI system reports
 * completed, unless a marker of a newer attempt shows the API lagging. Never on a 404 alone.
 */
export function deletableMarkers<M extends RawMarker>(
  markers: M[],
  runs: Map<string, RunStatus | undefined>,
): M[] {
  const newest = newestAttempts(markers);
  return markers.filter((m) => {
    const status = runs.get(runKey(m));
    if (!status || status.alive) return false;
    return status.attempt === undefined || (newest.get(runKey(m)) ?? 0) <= status.attempt;
  });
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
  if (blockers.length > 0) {
    return {
      verdict: 'restart',
      reason: `${blockers.length} participant(s) started publishing during the inventory`,
      blockers,
    };
  }
  if (plannedFingerprint !== fingerprintAfterPoll) {
    return { verdict: 'restart', reason: 'image-info changed since it was read', blockers: [] };
  }
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

/** Step 1 as a decision: proceed when nobody blocks, else wait for the blockers. */
export type WaitDecision = { verdict: 'proceed' } | { verdict: 'wait'; blockers: GroupRun[] };

export function decideWait(self: ParticipantIdentity | undefined, runs: GroupRun[]): WaitDecision {
  const blockers = blockingRuns(self, runs);
  return blockers.length > 0 ? { verdict: 'wait', blockers } : { verdict: 'proceed' };
}
