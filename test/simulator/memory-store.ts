import type {
  CoordinationStore,
  CoverScope,
  GroupRun,
  MarkerState,
  ParticipantIdentity,
} from '../../src/coordination/port.js';
import type { Clock } from '../../src/core/ports.js';
import {
  assertGroupName,
  deletableMarkers,
  joinParticipants,
  runKey,
  type JobStatus,
  type RawMarker,
  type RunStatus,
} from '../../src/core/protocol.js';
import { legacyListRuns } from './legacy-rules.js';

export type Rules = 'current' | 'legacy';

interface SimRun {
  attempt: number;
  alive: boolean;
  since: string;
  /** The attempt the runs API reports (lags behind `attempt` while > 0 ms of lag remain). */
  reportedAttempt: number;
  reportedAlive: boolean;
  /** When the latest attempt completed (the service's clock). */
  completedAt?: number;
  /** Every job of every attempt, by job id, as the jobs API / timeline reports them. */
  jobs: Map<string, { attempt: number; status: JobStatus }>;
}

/**
 * The CI system as the simulator models it: runs with attempts and jobs, each with a liveness
 * the simulator sets, the runs API's (possibly lagging) view of them, and the markers. Jobs carry
 * the service's start and completion times (the simulator's clock), as GitHub's jobs listing and
 * the Azure DevOps timeline do; a run's status lists every job of every attempt.
 * `github` reports run attempts; `azure-devops` does not (job attempts live in the timeline).
 * `legacy` answers with the first protocol's rules (whole-run markers, older attempts dropped,
 * stale refs deleted while listing), to show what the current rules fix.
 */
export class SimulatedCi {
  readonly runs = new Map<string, SimRun>();
  markers: Array<RawMarker & { group: string }> = [];

  constructor(
    readonly flavor: 'github' | 'azure-devops',
    /** > 0 breaks the store on purpose: writes land this long after `signal` returned. */
    readonly unconfirmedWriteDelayMs = 0,
    readonly rules: Rules = 'current',
  ) {}

  startAttempt(runId: string, now: Date, apiLag: boolean): number {
    let run = this.runs.get(runId);
    if (!run) {
      run = {
        attempt: 0,
        alive: false,
        since: '',
        reportedAttempt: 0,
        reportedAlive: false,
        jobs: new Map(),
      };
      this.runs.set(runId, run);
    }
    run.attempt++;
    run.alive = true;
    run.completedAt = undefined;
    run.since = now.toISOString();
    // A lagging replica still reports the previous attempt's end for a while.
    if (!apiLag || run.attempt === 1) {
      run.reportedAttempt = run.attempt;
      run.reportedAlive = true;
    }
    return run.attempt;
  }

  /** The runs API catches up (after its lag). */
  catchUp(runId: string): void {
    const run = this.runs.get(runId)!;
    run.reportedAttempt = run.attempt;
    run.reportedAlive = run.alive;
  }

  endAttempt(runId: string, at: number): void {
    const run = this.runs.get(runId)!;
    run.alive = false;
    run.completedAt = at;
    if (run.reportedAttempt === run.attempt) run.reportedAlive = false;
  }

  /** A job of the run's current attempt starts (`at`: the service's clock). */
  startJob(who: ParticipantIdentity, at: number): void {
    const run = this.runs.get(who.runId)!;
    run.jobs.set(who.jobId!, {
      attempt: run.attempt,
      status: { completed: false, startedAt: at },
    });
  }

  /** The job completes with its conclusion (`at`: the service's clock). */
  endJob(who: ParticipantIdentity, conclusion: string, at: number): void {
    const job = this.runs.get(who.runId)!.jobs.get(who.jobId!)!;
    job.status = { ...job.status, completed: true, conclusion, completedAt: at };
  }

  write(
    group: string,
    who: ParticipantIdentity,
    state: MarkerState,
    scope: CoverScope,
    at: number,
  ): void {
    if (this.rules === 'legacy') {
      // First format: one marker per (run, attempt, state); publishing clears image-info-updated.
      const same = (m: RawMarker) => m.runId === who.runId && m.attempt === who.attempt;
      if (state === 'publishing')
        this.markers = this.markers.filter(
          (m) => !(m.group === group && same(m) && m.state === 'image-info-updated'),
        );
      if (!this.markers.some((m) => m.group === group && same(m) && m.state === state))
        this.markers.push({
          group,
          runId: who.runId,
          attempt: who.attempt,
          state,
          scope: 'job',
          stamp: 0,
        });
      return;
    }
    this.markers.push({ group, ...who, state, scope, stamp: at });
  }

  private runStatus(runId: string): RunStatus | undefined {
    const r = this.runs.get(runId);
    if (!r) return undefined;
    return {
      alive: r.reportedAlive,
      attempt: this.flavor === 'github' ? r.reportedAttempt : undefined,
      completedAt: r.reportedAlive ? undefined : r.completedAt,
      // A lagging replica does not show the new attempt's jobs either.
      jobs: new Map(
        [...r.jobs]
          .filter(([, job]) => job.attempt <= r.reportedAttempt)
          .map(([id, job]) => [id, { ...job.status }]),
      ),
      since: r.since,
    };
  }

  snapshot(group: string, self: ParticipantIdentity): GroupRun[] {
    const markers = this.markers.filter((m) => m.group === group);
    if (this.rules === 'legacy') {
      const { runs, deleted } = legacyListRuns(self, markers, (id) => this.runStatus(id));
      this.markers = this.markers.filter((m) => !(m.group === group && deleted.has(m)));
      return runs;
    }
    const runs = new Map<string, RunStatus | undefined>();
    for (const m of markers) runs.set(runKey(m), this.runStatus(m.runId));
    return joinParticipants(self, markers, runs);
  }

  cleanup(group: string, self: ParticipantIdentity, nowMs: number): void {
    if (this.rules === 'legacy') {
      this.markers = this.markers.filter(
        (m) => !(m.group === group && m.runId === self.runId && m.attempt === self.attempt),
      );
      return;
    }
    const others = this.markers.filter((m) => m.group === group && m.runId !== self.runId);
    const runs = new Map<string, RunStatus | undefined>();
    for (const m of others) runs.set(runKey(m), this.runStatus(m.runId));
    const gone = new Set(deletableMarkers(others, runs, nowMs));
    this.markers = this.markers.filter((m) => !gone.has(m));
  }
}

/** A CoordinationStore over SimulatedCi; each call takes simulated time, then acts atomically. */
export class MemoryStore implements CoordinationStore {
  readonly kind: 'github' | 'azure-devops';
  readonly self: ParticipantIdentity;

  constructor(
    private readonly ci: SimulatedCi,
    self: ParticipantIdentity,
    private readonly clock: Clock,
    private readonly latency: () => number,
  ) {
    this.kind = ci.flavor;
    this.self = self;
  }

  async signal(group: string, state: MarkerState, scope: CoverScope = 'job'): Promise<void> {
    assertGroupName(group);
    const stamp = this.clock.now().getTime();
    await this.clock.sleep(this.latency());
    if (this.ci.unconfirmedWriteDelayMs > 0) {
      // A broken store for the power check: returns before its write is visible (no read-back).
      void this.clock
        .sleep(this.ci.unconfirmedWriteDelayMs)
        .then(() => this.ci.write(group, this.self, state, scope, stamp));
      return;
    }
    this.ci.write(group, this.self, state, scope, stamp);
    // The read-back of the real stores: the call returns a little later, the write visible.
    await this.clock.sleep(this.latency());
  }

  async listRuns(group: string): Promise<GroupRun[]> {
    assertGroupName(group);
    await this.clock.sleep(this.latency());
    return this.ci.snapshot(group, this.self);
  }

  async cleanup(group: string): Promise<void> {
    await this.clock.sleep(this.latency());
    this.ci.cleanup(group, this.self, this.clock.now().getTime());
  }
}
