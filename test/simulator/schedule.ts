/**
 * The race simulator: several pipelines publish to one registry and one image-info, then
 * annotate. One schedule = one seed: pipeline count, timing, cancellations and retries all
 * come from it. `naive` annotates with the `none` store; `gated` follows the protocol.
 * Ground truth is kept outside the system under test, and every annotation is judged against it.
 */
import { annotate, type AnnotateOptions } from '../../src/commands/annotate.js';
import type {
  CoordinationStore,
  CoverScope,
  GroupRun,
  MarkerState,
  ParticipantIdentity,
} from '../../src/coordination/port.js';
import { NoneStore } from '../../src/coordination/none.js';
import { EOL_DATE_ANNOTATION, LIFECYCLE_ARTIFACT_TYPE } from '../../src/core/lifecycle.js';
import type { Descriptor, ManifestRecord } from '../../src/core/oci.js';
import { silentLogger, type Clock } from '../../src/core/ports.js';
import { withPrefix } from '../../src/core/supported.js';
import type { ImageInfoSource, SourceSnapshot } from '../../src/imageinfo/source.js';
import type { ReferrerManifest, Registry } from '../../src/registry/port.js';
import type { SimClock } from './clocks.js';
import { duplicateMarks, groupBy, markdownTable, sumOf } from './report.js';
import { between, chance, rng } from '../support/rng.js';
import {
  digestsOf,
  entriesOf,
  imageInfoText,
  SharedImageInfo,
  type PipelineEntry,
} from './shared-image-info.js';

export type Mode = 'naive' | 'gated';

/** What a schedule needs from its world: time, a registry, and a CI system with a store. */
export interface Backend {
  readonly name: string;
  readonly clock: SimClock;
  readonly registry: Registry;
  /** Registry repository for image-info's `app` is withPrefix(repoPrefix, 'app'). */
  readonly repoPrefix: string;
  pushImage(repository: string, seed: string, tag?: string): Promise<Descriptor>;
  pushIndex(repository: string, children: Descriptor[], tag?: string): Promise<Descriptor>;
  /** Lifecycle referrers of a subject, read after the schedule (outside simulated time). */
  lifecycleReferrers(repository: string, subject: string): Promise<Descriptor[]>;
  newRun(pipeline: string): Promise<string>;
  /** Marks the run alive in the CI system and returns the attempt number it runs as. */
  startAttempt(runId: string): Promise<number>;
  /** Marks the run finished in the CI system (after its task stopped). */
  endAttempt(runId: string): Promise<void>;
  /** The CI system's job of one attempt: running, then completed with its conclusion. */
  startJob(who: ParticipantIdentity): Promise<void>;
  endJob(who: ParticipantIdentity, conclusion: 'success' | 'cancelled'): Promise<void>;
  store(who: ParticipantIdentity): CoordinationStore;
  /** Latency of image-info reads and writes. */
  sourceLatency(): number;
}

export interface SimParams {
  pipelines: [number, number];
  pushes: [number, number];
  pushDelayMs: [number, number];
  startSpreadMs: number;
  slowProbability: number;
  slowFactor: number;
  cancelProbability: number;
  retryProbability: number;
  rerunProbability: number;
  maxAttempts: number;
  pollIntervalMs: number;
  timeoutMs: number;
}

export const DEFAULT_PARAMS: SimParams = {
  pipelines: [3, 6],
  pushes: [1, 3],
  pushDelayMs: [500, 10_000],
  startSpreadMs: 20_000,
  slowProbability: 0.2,
  slowFactor: 5,
  cancelProbability: 0.2,
  retryProbability: 0.6,
  rerunProbability: 0.1,
  maxAttempts: 3,
  pollIntervalMs: 2_000,
  timeoutMs: 4 * 3600_000,
};

export interface Wrongful {
  repository: string;
  digest: string;
  at: string;
  kind: 'supported-at-end' | 'annotated-before-recorded';
  pusher?: string;
}

export interface ScheduleResult {
  seed: number;
  mode: Mode;
  backend: string;
  pipelines: number;
  annotations: number;
  wrongful: Wrongful[];
  duplicates: number;
  restarts: number;
  waits: number;
  cancellations: number;
  retries: number;
  errors: string[];
  virtualMs: number;
}

class Cancelled extends Error {
  override readonly name = 'Cancelled';
}

/** Cancellation of one attempt: it dies at its next I/O or sleep after `at`. */
class Attempt {
  constructor(
    private readonly clock: Clock,
    private readonly cancelAt: number | undefined,
  ) {}

  check(): void {
    if (this.cancelAt !== undefined && this.clock.now().getTime() >= this.cancelAt)
      throw new Cancelled('cancelled');
  }

  async guard<T>(fn: () => Promise<T>): Promise<T> {
    this.check();
    const r = await fn();
    this.check();
    return r;
  }

  get cancelled(): boolean {
    return this.cancelAt !== undefined;
  }
}

interface AnnotationEvent {
  repository: string;
  digest: string;
  date: string;
  at: number;
}

/** Ground truth, recorded by the simulator itself (never by the code under test). */
class Truth {
  readonly pushedBy = new Map<string, string>();
  readonly recordedAt = new Map<string, number>();
  readonly lifetimes = new Map<string, { start: number; end?: number }>();
  readonly annotations: AnnotationEvent[] = [];

  recorded(text: string, at: number): void {
    for (const d of digestsOf(text)) if (!this.recordedAt.has(d)) this.recordedAt.set(d, at);
  }

  judge(finalText: string, repoOf: (d: string) => string): Wrongful[] {
    const supported = digestsOf(finalText);
    const out: Wrongful[] = [];
    for (const a of this.annotations) {
      const at = new Date(a.at).toISOString();
      if (supported.has(a.digest)) {
        out.push({ repository: repoOf(a.digest), digest: a.digest, at, kind: 'supported-at-end' });
        continue;
      }
      const pusher = this.pushedBy.get(a.digest);
      if (!pusher) continue;
      const life = this.lifetimes.get(pusher)!;
      const pusherAlive = life.start <= a.at && (life.end === undefined || life.end > a.at);
      const recorded = (this.recordedAt.get(a.digest) ?? Infinity) <= a.at;
      // A pusher that died before recording left an orphan: marking it is correct (DESIGN §2).
      if (pusherAlive && !recorded)
        out.push({
          repository: repoOf(a.digest),
          digest: a.digest,
          at,
          kind: 'annotated-before-recorded',
          pusher,
        });
    }
    return out;
  }
}

/** The registry annotate sees: records every lifecycle push (time of the call) and dies with the attempt. */
class AttemptRegistry implements Registry {
  readonly displayName: string;

  constructor(
    private readonly inner: Registry,
    private readonly attempt: Attempt,
    private readonly clock: Clock,
    private readonly truth: Truth,
  ) {
    this.displayName = inner.displayName;
  }

  listRepositories() {
    return this.attempt.guard(() => this.inner.listRepositories());
  }
  listManifests(repository: string): Promise<ManifestRecord[]> {
    return this.attempt.guard(() => this.inner.listManifests(repository));
  }
  describeManifest(repository: string, digest: string) {
    return this.attempt.guard(() => this.inner.describeManifest(repository, digest));
  }
  imageCreated(repository: string, digest: string) {
    return this.attempt.guard(() => this.inner.imageCreated(repository, digest));
  }
  listReferrers(repository: string, subject: string, artifactType?: string) {
    return this.attempt.guard(() => this.inner.listReferrers(repository, subject, artifactType));
  }
  pushReferrer(repository: string, subject: Descriptor, manifest: ReferrerManifest) {
    this.attempt.check();
    if (manifest.artifactType === LIFECYCLE_ARTIFACT_TYPE) {
      this.truth.annotations.push({
        repository,
        digest: subject.digest,
        date: manifest.annotations[EOL_DATE_ANNOTATION],
        at: this.clock.now().getTime(),
      });
    }
    return this.attempt.guard(() => this.inner.pushReferrer(repository, subject, manifest));
  }
  deleteReferrer(repository: string, subject: string, referrer: string) {
    return this.attempt.guard(() => this.inner.deleteReferrer(repository, subject, referrer));
  }
}

class AttemptStore implements CoordinationStore {
  readonly kind: CoordinationStore['kind'];
  readonly self: CoordinationStore['self'];
  waits = 0;

  constructor(
    private readonly inner: CoordinationStore,
    private readonly attempt: Attempt,
  ) {
    this.kind = inner.kind;
    this.self = inner.self;
  }

  signal(group: string, state: MarkerState, scope?: CoverScope) {
    return this.attempt.guard(() => this.inner.signal(group, state, scope));
  }
  listRuns(group: string): Promise<GroupRun[]> {
    return this.attempt.guard(() => this.inner.listRuns(group));
  }
  cleanup(group: string) {
    return this.attempt.guard(() => this.inner.cleanup(group));
  }
}

function attemptClock(clock: Clock, attempt: Attempt): Clock {
  return {
    now: () => clock.now(),
    random: () => clock.random(),
    sleep: (ms) => attempt.guard(() => clock.sleep(ms)),
  };
}

function attemptSource(source: ImageInfoSource, attempt: Attempt): ImageInfoSource {
  return {
    name: source.name,
    read: (): Promise<SourceSnapshot> => attempt.guard(() => source.read()),
  };
}

const GROUP = 'sim';
const EOL_DATE = '2026-03-01';

/** Runs one schedule to completion and judges it. */
export async function runSchedule(
  seed: number,
  mode: Mode,
  backend: Backend,
  params: SimParams = DEFAULT_PARAMS,
): Promise<ScheduleResult> {
  const plan = rng(seed * 7919 + 17);
  const clock = backend.clock;
  const truth = new Truth();
  const repository = withPrefix(backend.repoPrefix, 'app');
  const started = clock.now().getTime();
  const result: ScheduleResult = {
    seed,
    mode,
    backend: backend.name,
    pipelines: Math.floor(between(plan, params.pipelines[0], params.pipelines[1] + 1)),
    annotations: 0,
    wrongful: [],
    duplicates: 0,
    restarts: 0,
    waits: 0,
    cancellations: 0,
    retries: 0,
    errors: [],
    virtualMs: 0,
  };
  const names = Array.from(
    { length: result.pipelines },
    (_, i) => ['debian', 'fedora', 'alpine', 'ubuntu', 'mariner', 'windows'][i],
  );

  // Before the schedule: each pipeline's previous release is published and recorded, plus an
  // orphan nobody records. Those are the legitimate EOL candidates.
  const initial: PipelineEntry[] = [];
  await clock.run(
    (async () => {
      for (const name of names) {
        const platforms = [await backend.pushImage(repository, `${seed}:${name}:previous:0`)];
        const index = await backend.pushIndex(repository, platforms, `${name}-previous`);
        initial.push({
          pipeline: name,
          index: index.digest,
          platforms: platforms.map((p) => p.digest),
        });
      }
      await backend.pushImage(repository, `${seed}:orphan`, 'orphan');
    })(),
  );
  const shared = new SharedImageInfo(
    imageInfoText(initial),
    clock,
    () => backend.sourceLatency(),
    (text, at) => truth.recorded(text, at),
  );
  truth.recorded(shared.text, clock.now().getTime());
  const source = shared.source();

  const pipeline = async (name: string, index: number): Promise<void> => {
    const r = rng(seed * 104729 + index * 31 + 1);
    const runId = await backend.newRun(name);
    const slow = chance(r, params.slowProbability) ? params.slowFactor : 1;
    await clock.sleep(between(r, 0, params.startSpreadMs));
    for (let n = 1; n <= params.maxAttempts; n++) {
      const attemptNo = await backend.startAttempt(runId);
      const key = `${runId}.${attemptNo}`;
      truth.lifetimes.set(key, { start: clock.now().getTime() });
      const cancelAt = chance(r, params.cancelProbability)
        ? clock.now().getTime() + between(r, 0, 40_000 * slow)
        : undefined;
      const attempt = new Attempt(clock, cancelAt);
      // One job per attempt; its check-run-like id is new in every attempt.
      const who: ParticipantIdentity = {
        runId,
        attempt: attemptNo,
        jobId: `${runId}0${attemptNo}`,
      };
      await backend.startJob(who);
      const store = new AttemptStore(
        mode === 'gated' ? backend.store(who) : new NoneStore(),
        attempt,
      );
      let outcome: 'ok' | 'cancelled' = 'ok';
      try {
        await runAttempt(name, key, r, slow, attempt, store);
      } catch (e) {
        if (e instanceof Cancelled) outcome = 'cancelled';
        else result.errors.push(`${name} ${key}: ${(e as Error).message}`);
      }
      // The CI system reports the run finished only once its task has stopped.
      truth.lifetimes.get(key)!.end = clock.now().getTime();
      await backend.endJob(who, outcome === 'ok' ? 'success' : 'cancelled');
      await backend.endAttempt(runId);
      if (outcome === 'cancelled') result.cancellations++;
      const again =
        outcome === 'cancelled'
          ? chance(r, params.retryProbability)
          : chance(r, params.rerunProbability);
      if (!again || n === params.maxAttempts) return;
      result.retries++;
      await clock.sleep(between(r, 1_000, 30_000));
    }
  };

  const runAttempt = async (
    name: string,
    key: string,
    r: () => number,
    slow: number,
    attempt: Attempt,
    store: AttemptStore,
  ) => {
    const aClock = attemptClock(clock, attempt);
    await store.signal(GROUP, 'publishing');
    const pushed: Descriptor[] = [];
    const count = Math.floor(between(r, params.pushes[0], params.pushes[1] + 1));
    for (let i = 0; i < count; i++) {
      await aClock.sleep(between(r, params.pushDelayMs[0], params.pushDelayMs[1]) * slow);
      const seedText = `${seed}:${key}:${i}`;
      const d = await attempt.guard(() => backend.pushImage(repository, seedText, `${name}-${i}`));
      truth.pushedBy.set(d.digest, key);
      pushed.push(d);
    }
    const idx = await attempt.guard(() => backend.pushIndex(repository, pushed, name));
    truth.pushedBy.set(idx.digest, key);
    await aClock.sleep(between(r, 200, 5_000) * slow);

    // Read-modify-write with the fingerprint as precondition (a lost race re-reads).
    for (let tries = 0; ; tries++) {
      const snap = await attempt.guard(() => source.read());
      const entries = entriesOf(snap.text).filter((e) => e.pipeline !== name);
      entries.push({ pipeline: name, index: idx.digest, platforms: pushed.map((p) => p.digest) });
      const written = await attempt.guard(() =>
        source.write(imageInfoText(entries), snap.fingerprint, `${name} ${key}`),
      );
      if (written !== 'conflict') break;
      if (tries > 50) throw new Error('image-info: too many conflicts');
      await aClock.sleep(between(r, 50, 500));
    }
    await store.signal(GROUP, 'image-info-updated');
    await aClock.sleep(between(r, 200, 5_000) * slow);

    const options: AnnotateOptions = {
      repoPrefix: backend.repoPrefix,
      repositories: [],
      eolDate: EOL_DATE,
      minAgeMs: 0,
      group: GROUP,
      timeoutMs: params.timeoutMs,
      pollIntervalMs: params.pollIntervalMs,
      onTimeout: 'fail',
      concurrency: 4,
      dryRun: false,
    };
    const res = await annotate(options, {
      registry: new AttemptRegistry(backend.registry, attempt, clock, truth),
      store,
      sources: [attemptSource(source, attempt)],
      clock: aClock,
      logger: silentLogger,
    });
    result.restarts += res.restarts;
    if (res.waitedFor.length > 0) result.waits++;
  };

  await clock.run(Promise.all(names.map((n, i) => pipeline(n, i))));
  result.virtualMs = clock.now().getTime() - started;

  const repoOf = () => repository;
  result.wrongful = truth.judge(shared.text, repoOf);
  const subjects = new Set(truth.annotations.map((a) => a.digest));
  result.annotations = subjects.size;
  for (const subject of subjects)
    result.duplicates += duplicateMarks(await backend.lifecycleReferrers(repository, subject));
  return result;
}

export interface ModeSummary {
  mode: Mode;
  backend: string;
  schedules: number;
  schedulesWithWrongful: number;
  wrongfulAnnotations: number;
  wrongfulSupportedAtEnd: number;
  duplicateReferrers: number;
  annotations: number;
  restarts: number;
  schedulesThatWaited: number;
  cancellations: number;
  retries: number;
  errors: number;
  firstErrors: string[];
}

export function summarize(results: ScheduleResult[]): ModeSummary[] {
  return groupBy(results, (r) => `${r.backend}|${r.mode}`).map((rs) => ({
    mode: rs[0].mode,
    backend: rs[0].backend,
    schedules: rs.length,
    schedulesWithWrongful: rs.filter((r) => r.wrongful.length > 0).length,
    wrongfulAnnotations: sumOf(rs, (r) => r.wrongful.length),
    wrongfulSupportedAtEnd: sumOf(
      rs,
      (r) => r.wrongful.filter((w) => w.kind === 'supported-at-end').length,
    ),
    duplicateReferrers: sumOf(rs, (r) => r.duplicates),
    annotations: sumOf(rs, (r) => r.annotations),
    restarts: sumOf(rs, (r) => r.restarts),
    schedulesThatWaited: rs.filter((r) => r.waits > 0).length,
    cancellations: sumOf(rs, (r) => r.cancellations),
    retries: sumOf(rs, (r) => r.retries),
    errors: sumOf(rs, (r) => r.errors.length),
    firstErrors: rs.flatMap((r) => r.errors.map((e) => `seed ${r.seed}: ${e}`)).slice(0, 3),
  }));
}

export const formatTable = (summaries: ModeSummary[]): string =>
  markdownTable(summaries, [
    ['backend', (s) => s.backend],
    ['mode', (s) => s.mode],
    ['schedules', (s) => String(s.schedules)],
    ['with wrongful', (s) => String(s.schedulesWithWrongful)],
    ['share', (s) => `${((100 * s.schedulesWithWrongful) / Math.max(1, s.schedules)).toFixed(1)}%`],
    ['wrongful EOL', (s) => String(s.wrongfulAnnotations)],
    ['(supported at end)', (s) => String(s.wrongfulSupportedAtEnd)],
    ['duplicates', (s) => String(s.duplicateReferrers)],
    ['annotated', (s) => String(s.annotations)],
    ['restarts', (s) => String(s.restarts)],
    ['waited', (s) => String(s.schedulesThatWaited)],
    ['cancels', (s) => String(s.cancellations)],
    ['retries', (s) => String(s.retries)],
    ['errors', (s) => String(s.errors)],
  ]);
