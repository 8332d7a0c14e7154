import type { CoordinationStore, ParticipantIdentity } from '../../src/coordination/port.js';
import type { Descriptor } from '../../src/core/oci.js';
import { VirtualClock } from './clocks.js';
import { MemoryRegistry } from './memory-registry.js';
import { MemoryStore, SimulatedCi } from './memory-store.js';
import { between, rng } from '../support/rng.js';
import type { Backend } from './schedule.js';

/**
 * Everything in memory on a virtual clock: thousands of schedules in seconds. The CI flavor
 * decides whether markers belong to an attempt (GitHub refs) or to the run (Azure DevOps tags).
 */
export class MemoryBackend implements Backend {
  readonly name: string;
  readonly clock: VirtualClock;
  readonly registry: MemoryRegistry;
  readonly repoPrefix = '';
  private readonly ci: SimulatedCi;
  private readonly latencyRng: () => number;
  private nextRun = 100;

  constructor(
    seed: number,
    flavor: 'github' | 'azure-devops' = 'github',
    options: { unconfirmedWriteDelayMs?: number } = {},
  ) {
    this.name = `memory/${flavor}${options.unconfirmedWriteDelayMs ? '/no-read-back' : ''}`;
    this.latencyRng = rng(seed * 48271 + 3);
    this.clock = new VirtualClock(rng(seed * 16807 + 5));
    this.registry = new MemoryRegistry(this.clock, () => between(this.latencyRng, 5, 300));
    this.ci = new SimulatedCi(flavor, options.unconfirmedWriteDelayMs ?? 0);
  }

  pushImage(repository: string, seed: string, tag?: string): Promise<Descriptor> {
    return this.registry.pushImage(repository, seed, tag);
  }

  pushIndex(repository: string, children: Descriptor[], tag?: string): Promise<Descriptor> {
    return this.registry.pushIndex(repository, children, tag);
  }

  async lifecycleReferrers(repository: string, subject: string): Promise<Descriptor[]> {
    return this.registry.lifecycleReferrers(repository, subject);
  }

  async newRun(_pipeline: string): Promise<string> {
    return String(this.nextRun++);
  }

  async startAttempt(runId: string): Promise<number> {
    return this.ci.startAttempt(runId, this.clock.now(), false);
  }

  async endAttempt(runId: string): Promise<void> {
    this.ci.endAttempt(runId, this.clock.nowMs());
  }

  async startJob(who: ParticipantIdentity): Promise<void> {
    this.ci.startJob(who, this.clock.nowMs());
  }

  async endJob(who: ParticipantIdentity, conclusion: 'success' | 'cancelled'): Promise<void> {
    this.ci.endJob(who, conclusion, this.clock.nowMs());
  }

  store(who: ParticipantIdentity): CoordinationStore {
    return new MemoryStore(this.ci, who, this.clock, () => between(this.latencyRng, 20, 500));
  }

  sourceLatency(): number {
    return between(this.latencyRng, 20, 400);
  }
}
