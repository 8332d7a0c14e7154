import type {
  CoordinationStore,
  GroupRun,
  MarkerState,
  RunIdentity,
} from '../../src/coordination/port.js';
import type { Clock } from '../../src/core/ports.js';
import {
  assertGroupName,
  joinMarkers,
  type RawMarker,
  type RunStatus,
} from '../../src/core/protocol.js';

/**
 * The CI system as the simulator models it: runs with an attempt number and a liveness the
 * simulator sets (a run is alive exactly while its attempt's task runs), and the markers.
 * `github` keeps markers per attempt (refs); `azure-devops` per run (build tags).
 */
export class SimulatedCi {
  readonly runs = new Map<string, { attempt: number; alive: boolean; since: string }>();
  private readonly markers = new Set<string>();

  constructor(
    readonly flavor: 'github' | 'azure-devops',
    /** > 0 breaks the store on purpose: writes land this long after `signal` returned. */
    readonly unconfirmedWriteDelayMs = 0,
  ) {}

  private key(group: string, runId: string, attempt: number, state: MarkerState): string {
    return `${group}|${runId}|${this.flavor === 'github' ? attempt : 0}|${state}`;
  }

  write(group: string, runId: string, attempt: number, state: MarkerState): void {
    this.markers.add(this.key(group, runId, attempt, state));
    if (state === 'publishing')
      this.markers.delete(this.key(group, runId, attempt, 'image-info-updated'));
  }

  remove(group: string, runId: string, attempt: number, state: MarkerState): void {
    this.markers.delete(this.key(group, runId, attempt, state));
  }

  snapshot(group: string): GroupRun[] {
    const raw: RawMarker[] = [];
    for (const k of this.markers) {
      const [g, runId, attempt, state] = k.split('|');
      if (g === group) raw.push({ runId, attempt: Number(attempt), state: state as MarkerState });
    }
    const status = new Map<string, RunStatus | undefined>();
    for (const m of raw) {
      const r = this.runs.get(m.runId);
      status.set(
        m.runId,
        r && { alive: r.alive, attempt: this.flavor === 'github' ? r.attempt : 0, since: r.since },
      );
    }
    return joinMarkers(raw, status);
  }
}

/** A CoordinationStore over SimulatedCi; each call takes simulated time, then acts atomically. */
export class MemoryStore implements CoordinationStore {
  readonly kind: 'github' | 'azure-devops';
  readonly self: RunIdentity;

  constructor(
    private readonly ci: SimulatedCi,
    runId: string,
    attempt: number,
    private readonly clock: Clock,
    private readonly latency: () => number,
  ) {
    this.kind = ci.flavor;
    this.self = { runId, attempt };
  }

  async signal(group: string, state: MarkerState): Promise<void> {
    assertGroupName(group);
    await this.clock.sleep(this.latency());
    if (this.ci.unconfirmedWriteDelayMs > 0) {
      // A broken store for the power check: returns before its write is visible (no read-back).
      void this.clock
        .sleep(this.ci.unconfirmedWriteDelayMs)
        .then(() => this.ci.write(group, this.self.runId, this.self.attempt, state));
      return;
    }
    this.ci.write(group, this.self.runId, this.self.attempt, state);
    // The read-back of the real stores: the call returns a little later, the write visible.
    await this.clock.sleep(this.latency());
  }

  async listRuns(group: string): Promise<GroupRun[]> {
    assertGroupName(group);
    await this.clock.sleep(this.latency());
    return this.ci.snapshot(group);
  }

  async cleanup(group: string): Promise<void> {
    await this.clock.sleep(this.latency());
    for (const s of ['publishing', 'image-info-updated'] as const)
      this.ci.remove(group, this.self.runId, this.self.attempt, s);
  }
}
