/**
 * Schedules of everyday CI operations (docs/design.md §2, issue "Protocol II"): matrix legs of
 * one run, "re-run failed jobs", a runs API that lags behind a new attempt, a rollback that
 * records an old image again, and a validation restart while a peer pushes a new index. Each
 * kind is run under the current rules and under the first protocol's rules (`legacy`: whole-run
 * markers, older attempts dropped, stale refs deleted while listing, one inventory reused across
 * restarts, no reconcile, no unmarks), so the simulator shows both the hole and its fix.
 * Ground truth is kept by the simulator itself and every mark is judged against it.
 */
import { annotate, type AnnotateOptions } from '../../src/commands/annotate.js';
import type { ParticipantIdentity } from '../../src/coordination/port.js';
import { LIFECYCLE_ARTIFACT_TYPE } from '../../src/core/lifecycle.js';
import type { Descriptor, ManifestRecord } from '../../src/core/oci.js';
import { silentLogger } from '../../src/core/ports.js';
import type { ReferrerManifest } from '../../src/registry/port.js';
import { DelegatingRegistry } from '../support/delegating-registry.js';
import { between, chance, rng } from '../support/rng.js';
import { VirtualClock } from './clocks.js';
import { MemoryRegistry } from './memory-registry.js';
import { MemoryStore, SimulatedCi, type Rules } from './memory-store.js';
import { duplicateMarks, groupBy, markdownTable, sumOf } from './report.js';
import {
  entriesOf,
  imageInfoText,
  SharedImageInfo,
  type PipelineEntry,
} from './shared-image-info.js';

export const SCHEDULE_KINDS = [
  'matrix-legs',
  'rerun-failed-jobs',
  'lagging-attempt',
  'rollback-repush',
  'restart-new-index',
] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

const GROUP = 'sim';
const REPO = 'app';
const EOL_DATE = '2026-03-01';
const TIMEOUT_MS = 4 * 3600_000;

export interface CiWrongful {
  digest: string;
  at: string;
  kind: 'supported-when-marked' | 'annotated-before-recorded' | 'marked-at-end';
  by: string;
  pusher?: string;
}

export interface CiScheduleResult {
  seed: number;
  kind: ScheduleKind;
  rules: Rules;
  marks: number;
  wrongful: CiWrongful[];
  duplicates: number;
  /** Annotators that reached their timeout (a liveness failure: nobody should wait that long). */
  timeouts: number;
  /**
   * Marks made while a re-run was invisible: the runs API still reported the previous attempt
   * completed and the new attempt had written no marker yet. No protocol can see such a run; the
   * mark is an orphan's as far as the CI system can tell, and the re-run's own annotate removes it
   * once it records the image (counted here, and `marked-at-end` must stay 0).
   */
  hiddenRerunMarks: number;
  restarts: number;
  reconciled: number;
  unmarked: number;
  errors: string[];
}

interface JobLife {
  start: number;
  end?: number;
  outcome?: 'success' | 'failure' | 'cancelled';
}

/** What really happened, recorded by the simulator (never by the code under test). */
class Truth {
  readonly writes: Array<{ at: number; digests: Set<string> }> = [];
  readonly pushes: Array<{ digest: string; at: number; job: string; runId: string }> = [];
  readonly jobs = new Map<string, JobLife>();
  readonly runAlive = new Map<string, Array<{ start: number; end?: number }>>();
  readonly childrenOf = new Map<string, string[]>();
  readonly marks: Array<{ digest: string; at: number; by: string; endOfCall?: number }> = [];
  /** Windows in which a run's new attempt was invisible to the protocol (API lag, no marker yet). */
  readonly hidden: Array<{ runId: string; attempt: number; from: number; to?: number }> = [];
  hiddenRerunMarks = 0;

  private hiddenAt(runId: string, t: number): boolean {
    return this.hidden.some(
      (h) => h.runId === runId && h.from <= t && (h.to === undefined || h.to > t),
    );
  }

  recorded(text: string, at: number): void {
    this.writes.push({
      at,
      digests: new Set(entriesOf(text).flatMap((e) => [e.index, ...e.platforms])),
    });
  }

  /** Image-info digests at `t`, with the children of its indexes (transitively). */
  supportedAt(t: number): Set<string> {
    let last: Set<string> = new Set();
    for (const w of this.writes) if (w.at <= t) last = w.digests;
    const out = new Set(last);
    const stack = [...out];
    while (stack.length > 0)
      for (const c of this.childrenOf.get(stack.pop()!) ?? [])
        if (!out.has(c)) {
          out.add(c);
          stack.push(c);
        }
    return out;
  }

  private recordedBetween(digest: string, from: number, to: number): boolean {
    return this.writes.some((w) => w.at >= from && w.at <= to && w.digests.has(digest));
  }

  private alive(runId: string, t: number): boolean {
    return (this.runAlive.get(runId) ?? []).some(
      (p) => p.start <= t && (p.end === undefined || p.end > t),
    );
  }

  judge(finalSupported: Set<string>, markedAtEnd: Set<string>): CiWrongful[] {
    const out: CiWrongful[] = [];
    for (const mark of this.marks) {
      const at = new Date(mark.at).toISOString();
      // A mark its own annotate removed before returning (step 7, reconcile) closed the window
      // validation cannot see (docs/design.md §2): it does not count.
      if (mark.endOfCall !== undefined && !this.stillMarked(mark)) continue;
      if (this.supportedAt(mark.at).has(mark.digest)) {
        out.push({ digest: mark.digest, at, kind: 'supported-when-marked', by: mark.by });
        continue;
      }
      const push = [...this.pushes]
        .reverse()
        .find((p) => p.digest === mark.digest && p.at <= mark.at);
      if (!push) continue;
      const job = this.jobs.get(push.job);
      if (!job) continue; // pushed before the schedule began
      const jobFailed = job.end !== undefined && job.end <= mark.at && job.outcome !== 'success';
      if (
        this.alive(push.runId, mark.at) &&
        !jobFailed &&
        !this.recordedBetween(mark.digest, push.at, mark.at)
      ) {
        if (this.hiddenAt(push.runId, mark.at)) {
          this.hiddenRerunMarks++;
          continue;
        }
        out.push({
          digest: mark.digest,
          at,
          kind: 'annotated-before-recorded',
          by: mark.by,
          pusher: push.job,
        });
      }
    }
    for (const d of markedAtEnd)
      if (finalSupported.has(d)) out.push({ digest: d, at: 'end', kind: 'marked-at-end', by: '-' });
    return out;
  }

  /** Filled in by the runner: subject digests with a mark when each annotate call returned. */
  readonly markedAfterCall = new Map<string, Set<string>>();
  private stillMarked(mark: { digest: string; by: string; endOfCall?: number }): boolean {
    return this.markedAfterCall.get(`${mark.by}@${mark.endOfCall}`)?.has(mark.digest) ?? true;
  }
}

/** The registry an annotator sees: records each lifecycle push as a mark by that annotator. */
class ObservedRegistry extends DelegatingRegistry {
  constructor(
    inner: MemoryRegistry,
    private readonly truth: Truth,
    private readonly clock: VirtualClock,
    private readonly by: string,
  ) {
    super(inner);
  }
  override async pushReferrer(repository: string, subject: Descriptor, manifest: ReferrerManifest) {
    const outcome = await this.inner.pushReferrer(repository, subject, manifest);
    if (manifest.artifactType === LIFECYCLE_ARTIFACT_TYPE)
      this.truth.marks.push({ digest: subject.digest, at: this.clock.nowMs(), by: this.by });
    return outcome;
  }
}

/**
 * The first protocol's inventory: one listing and one lookup per digest for the whole call,
 * reused across validation restarts.
 */
class ReusedInventory extends DelegatingRegistry {
  private readonly listings = new Map<string, Promise<ManifestRecord[]>>();
  private readonly referrers = new Map<string, Promise<Descriptor[]>>();
  override listManifests(repository: string): Promise<ManifestRecord[]> {
    if (!this.listings.has(repository))
      this.listings.set(repository, this.inner.listManifests(repository));
    return this.listings.get(repository)!;
  }
  override listReferrers(repository: string, subject: string, artifactType?: string) {
    const key = `${repository}@${subject}`;
    if (!this.referrers.has(key))
      this.referrers.set(key, this.inner.listReferrers(repository, subject, artifactType));
    return this.referrers.get(key)!;
  }
}

class JobFailed extends Error {}

/** One schedule's world: time, registry, CI, shared image-info, truth, and job helpers. */
class World {
  readonly clock: VirtualClock;
  readonly registry: MemoryRegistry;
  readonly ci: SimulatedCi;
  readonly truth = new Truth();
  readonly shared: SharedImageInfo;
  readonly r: () => number;
  readonly result: CiScheduleResult;
  private nextRun = 100;
  private nextJob = 1000;
  private readonly latency: () => number;

  constructor(
    readonly seed: number,
    readonly kind: ScheduleKind,
    readonly rules: Rules,
  ) {
    this.r = rng(seed * 7919 + SCHEDULE_KINDS.indexOf(kind) * 104729 + 11);
    this.latency = rng(seed * 48271 + 3);
    this.clock = new VirtualClock(rng(seed * 16807 + 5));
    this.registry = new MemoryRegistry(this.clock, () => between(this.latency, 5, 300));
    this.ci = new SimulatedCi('github', 0, rules);
    // A hidden re-run becomes visible with its first marker.
    const write = this.ci.write.bind(this.ci);
    this.ci.write = (group, who, state, scope, at) => {
      write(group, who, state, scope, at);
      this.reveal(who.runId, who.attempt);
    };
    this.shared = new SharedImageInfo(
      imageInfoText([]),
      this.clock,
      () => between(this.latency, 20, 400),
      (text, at) => this.truth.recorded(text, at),
    );
    this.truth.recorded(this.shared.text, this.clock.nowMs());
    this.result = {
      seed,
      kind,
      rules,
      marks: 0,
      wrongful: [],
      duplicates: 0,
      timeouts: 0,
      hiddenRerunMarks: 0,
      restarts: 0,
      reconciled: 0,
      unmarked: 0,
      errors: [],
    };
  }

  newRunId(): string {
    return String(this.nextRun++);
  }

  /** The protocol can now see the attempt (a marker of it, or the runs API caught up). */
  reveal(runId: string, attempt?: number): void {
    for (const h of this.truth.hidden)
      if (
        h.runId === runId &&
        (attempt === undefined || h.attempt === attempt) &&
        h.to === undefined
      )
        h.to = this.clock.nowMs();
  }

  startAttempt(runId: string, apiLag = false): number {
    const attempt = this.ci.startAttempt(runId, this.clock.now(), apiLag);
    if (apiLag && attempt > 1) this.truth.hidden.push({ runId, attempt, from: this.clock.nowMs() });
    const periods = this.truth.runAlive.get(runId) ?? [];
    periods.push({ start: this.clock.nowMs() });
    this.truth.runAlive.set(runId, periods);
    return attempt;
  }

  endAttempt(runId: string): void {
    this.ci.endAttempt(runId, this.clock.nowMs());
    const periods = this.truth.runAlive.get(runId)!;
    periods[periods.length - 1].end = this.clock.nowMs();
  }

  participant(runId: string, attempt: number): ParticipantIdentity {
    return { runId, attempt, jobId: String(this.nextJob++) };
  }

  /** Runs one job: alive while `body` runs, then completed with its outcome. */
  async job(
    who: ParticipantIdentity,
    body: (store: MemoryStore) => Promise<void>,
  ): Promise<'success' | 'failure'> {
    const key = `${who.runId}.${who.attempt}.${who.jobId}`;
    this.truth.jobs.set(key, { start: this.clock.nowMs() });
    // The service's times are the simulator's clock: a job that `needs` another starts after it.
    this.ci.startJob(who, this.clock.nowMs());
    const store = new MemoryStore(this.ci, who, this.clock, () => between(this.latency, 20, 500));
    let outcome: 'success' | 'failure' = 'success';
    try {
      await body(store);
    } catch (e) {
      outcome = 'failure';
      if (!(e instanceof JobFailed)) this.result.errors.push(`${key}: ${(e as Error).message}`);
    }
    Object.assign(this.truth.jobs.get(key)!, { end: this.clock.nowMs(), outcome });
    this.ci.endJob(who, outcome, this.clock.nowMs());
    return outcome;
  }

  jobKey(who: ParticipantIdentity): string {
    return `${who.runId}.${who.attempt}.${who.jobId}`;
  }

  /** A run of its own with one job doing `body`, from its first attempt to its end. */
  async soloRun(
    body: (store: MemoryStore, who: ParticipantIdentity, runId: string) => Promise<void>,
  ): Promise<void> {
    const runId = this.newRunId();
    const who = this.participant(runId, this.startAttempt(runId));
    await this.job(who, (store) => body(store, who, runId));
    this.endAttempt(runId);
  }

  async sleep(min: number, max: number): Promise<void> {
    await this.clock.sleep(between(this.r, min, max));
  }

  /** Pushes `count` platform images and an index over them (and `extra` children first). */
  async pushEntry(
    who: ParticipantIdentity,
    name: string,
    seedText: string,
    count: number,
    extraChildren: Descriptor[] = [],
  ): Promise<PipelineEntry> {
    const platforms: Descriptor[] = [];
    for (let i = 0; i < count; i++) {
      await this.sleep(300, 6_000);
      const d = await this.registry.pushImage(REPO, `${seedText}:${i}`, `${name}-${i}`);
      this.truth.pushes.push({
        digest: d.digest,
        at: this.clock.nowMs(),
        job: this.jobKey(who),
        runId: who.runId,
      });
      platforms.push(d);
    }
    const children = [...extraChildren, ...platforms];
    const index = await this.registry.pushIndex(REPO, children, name);
    this.truth.childrenOf.set(
      index.digest,
      children.map((c) => c.digest),
    );
    this.truth.pushes.push({
      digest: index.digest,
      at: this.clock.nowMs(),
      job: this.jobKey(who),
      runId: who.runId,
    });
    return { pipeline: name, index: index.digest, platforms: platforms.map((p) => p.digest) };
  }

  /** Read-modify-write of the shared image-info with the fingerprint as precondition. */
  async record(entries: PipelineEntry[]): Promise<void> {
    const source = this.shared.source();
    for (let tries = 0; ; tries++) {
      const snap = await source.read();
      const names = new Set(entries.map((e) => e.pipeline));
      const next = [...entriesOf(snap.text).filter((e) => !names.has(e.pipeline)), ...entries];
      if ((await source.write(imageInfoText(next), snap.fingerprint, 'record')) !== 'conflict')
        return;
      if (tries > 50) throw new Error('image-info: too many conflicts');
      await this.sleep(50, 500);
    }
  }

  async annotate(
    store: MemoryStore,
    who: ParticipantIdentity,
    scope: 'job' | 'run' = 'job',
  ): Promise<void> {
    const by = this.jobKey(who);
    const observed = new ObservedRegistry(this.registry, this.truth, this.clock, by);
    const options: AnnotateOptions = {
      repoPrefix: '',
      repositories: [],
      eolDate: EOL_DATE,
      minAgeMs: 0,
      group: GROUP,
      timeoutMs: TIMEOUT_MS,
      pollIntervalMs: 2_000,
      onTimeout: 'skip',
      concurrency: 4,
      dryRun: false,
      scope,
      unmarkSupported: this.rules === 'current',
      reconcile: this.rules === 'current',
    };
    const res = await annotate(options, {
      registry: this.rules === 'legacy' ? new ReusedInventory(observed) : observed,
      store,
      sources: [this.shared.source()],
      clock: this.clock,
      logger: silentLogger,
    });
    const end = this.clock.nowMs();
    for (const m of this.truth.marks)
      if (m.by === by && m.endOfCall === undefined) m.endOfCall = end;
    this.truth.markedAfterCall.set(`${by}@${end}`, new Set(this.markedSubjects()));
    if (res.outcome === 'timed-out') this.result.timeouts++;
    this.result.restarts += res.restarts;
    if (res.reconciled) this.result.reconciled++;
    this.result.unmarked += res.counts.unmarked;
  }

  markedSubjects(): string[] {
    return [...new Set(this.truth.marks.map((m) => m.digest))].filter(
      (d) => this.registry.lifecycleReferrers(REPO, d).length > 0,
    );
  }

  /** An unrelated pipeline of the group: publishes its own image, records it, annotates. */
  async otherPipeline(name: string, startDelay: [number, number]): Promise<void> {
    await this.sleep(startDelay[0], startDelay[1]);
    await this.soloRun(async (store, who, runId) => {
      await store.signal(GROUP, 'publishing');
      const entry = await this.pushEntry(
        who,
        name,
        `${this.seed}:${name}:${runId}`,
        1 + Math.floor(this.r() * 2),
      );
      await this.sleep(200, 3_000);
      await this.record([entry]);
      await store.signal(GROUP, 'image-info-updated');
      await this.sleep(200, 3_000);
      await this.annotate(store, who);
    });
  }

  /** An annotator that only annotates (a scheduled clean-up job), `times` times. */
  async cleanupJob(times: number, gap: [number, number]): Promise<void> {
    await this.soloRun(async (store, who) => {
      for (let i = 0; i < times; i++) {
        await this.sleep(gap[0], gap[1]);
        await this.annotate(store, who);
      }
    });
  }

  /** Before the schedule: each name's previous image, recorded, and an orphan nobody records. */
  async seedRegistry(names: string[]): Promise<Map<string, PipelineEntry>> {
    const previous = new Map<string, PipelineEntry>();
    const seeder = this.participant('1', 1);
    for (const name of names)
      previous.set(name, await this.pushEntry(seeder, name, `${this.seed}:${name}:previous`, 1));
    await this.record([...previous.values()]);
    await this.registry.pushImage(REPO, `${this.seed}:orphan`, 'orphan');
    return previous;
  }
}

/** Matrix legs of one run, each recording its own image and then annotating (scope job). */
async function matrixLegs(w: World): Promise<void> {
  const legs = 2 + Math.floor(w.r() * 3);
  const names = Array.from({ length: legs }, (_, i) => `leg${i}`);
  await w.seedRegistry([...names, 'other']);
  const runId = w.newRunId();
  const attempt = w.startAttempt(runId);
  const legJob = async (name: string) => {
    const who = w.participant(runId, attempt);
    await w.sleep(0, 15_000);
    await w.job(who, async (store) => {
      await store.signal(GROUP, 'publishing');
      const entry = await w.pushEntry(
        who,
        name,
        `${w.seed}:${name}:${runId}`,
        1 + Math.floor(w.r() * 3),
      );
      await w.sleep(200, 5_000);
      await w.record([entry]);
      await store.signal(GROUP, 'image-info-updated');
      await w.sleep(200, 3_000);
      await w.annotate(store, who);
    });
  };
  await Promise.all([...names.map(legJob), w.otherPipeline('other', [0, 30_000])]);
  w.endAttempt(runId);
}

/**
 * Push jobs then one record job that merges their images (scope run). The record job fails in
 * attempt 1 (sometimes a push job too); "re-run failed jobs" runs only the failed jobs again.
 * With `lag`, the runs API keeps reporting attempt 1 for a while after attempt 2 started.
 */
async function pushThenRecord(w: World, lag: boolean): Promise<void> {
  const pushJobs = 1 + Math.floor(w.r() * 3);
  const names = Array.from({ length: pushJobs }, (_, i) => `os${i}`);
  await w.seedRegistry([...names, 'other']);
  const runId = w.newRunId();
  const pushed = new Map<string, PipelineEntry>();
  let failedPushes = new Set(names.filter(() => chance(w.r, 0.3)));
  const runPush = async (name: string, attempt: number) => {
    const who = w.participant(runId, attempt);
    return w.job(who, async (store) => {
      await w.sleep(0, 5_000);
      await store.signal(GROUP, 'publishing');
      const entry = await w.pushEntry(
        who,
        name,
        `${w.seed}:${name}:${runId}:${attempt}`,
        1 + Math.floor(w.r() * 2),
      );
      if (failedPushes.has(name)) throw new JobFailed('push job failed after pushing');
      pushed.set(name, entry);
    });
  };
  const runRecord = async (attempt: number, fails: boolean) => {
    const who = w.participant(runId, attempt);
    return w.job(who, async (store) => {
      // The documented pattern: a record job signals publishing first (it is about to write
      // image-info), which also makes a re-run visible while the runs API still lags.
      await store.signal(GROUP, 'publishing');
      await w.sleep(500, 5_000);
      if (fails) throw new JobFailed('record job failed before recording');
      await w.record([...pushed.values()]);
      await store.signal(GROUP, 'image-info-updated', 'run');
      await w.sleep(200, 2_000);
      await w.annotate(store, who, 'run');
    });
  };
  const theRun = async () => {
    // Attempt 1: the push jobs, then the record job (needs: push) fails.
    let attempt = w.startAttempt(runId);
    await Promise.all(names.map((n) => runPush(n, attempt)));
    await runRecord(attempt, true);
    w.endAttempt(runId);
    // The user re-runs failed jobs a little later: failed push jobs and the record job.
    await w.sleep(2_000, 40_000);
    attempt = w.startAttempt(runId, lag);
    const again = [...failedPushes];
    failedPushes = new Set();
    if (lag)
      void w.clock.sleep(between(w.r, 20_000, 90_000)).then(() => {
        w.ci.catchUp(runId);
        w.reveal(runId);
      });
    await Promise.all(again.map((n) => runPush(n, attempt)));
    await runRecord(attempt, false);
    w.endAttempt(runId);
    w.ci.catchUp(runId);
  };
  await Promise.all([
    theRun(),
    w.otherPipeline('other', [5_000, 60_000]),
    w.cleanupJob(6, [5_000, 20_000]),
  ]);
}

/** A rollback re-publishes and records an old image (same bytes) while others annotate. */
async function rollbackRepush(w: World): Promise<void> {
  const names = ['app', 'other1', 'other2'];
  await w.seedRegistry(names);
  // The app's older image: superseded long ago, an orphan now (sometimes already marked).
  await w.pushEntry(w.participant('1', 1), 'app-old', `${w.seed}:app:old`, 1);
  if (chance(w.r, 0.5)) await w.soloRun((store, who) => w.annotate(store, who));
  const rollback = async () => {
    await w.sleep(0, 20_000);
    await w.soloRun(async (store, who) => {
      await store.signal(GROUP, 'publishing');
      // Identical bytes: the registry already holds these digests.
      const entry = await w.pushEntry(who, 'app', `${w.seed}:app:old`, 1);
      await w.sleep(0, 1_000);
      await w.record([{ ...entry, pipeline: 'app' }]);
      await store.signal(GROUP, 'image-info-updated');
      await w.sleep(200, 2_000);
      await w.annotate(store, who);
    });
  };
  await Promise.all([
    rollback(),
    w.otherPipeline('other1', [0, 20_000]),
    w.otherPipeline('other2', [0, 20_000]),
    w.cleanupJob(4, [1_000, 8_000]),
  ]);
}

/**
 * A peer pushes an attestation-like child C (never named in image-info), then, while an
 * annotator inventories and validates, a platform D and the index I = [C, D] it records.
 */
async function restartNewIndex(w: World): Promise<void> {
  await w.seedRegistry(['peer', 'other']);
  const peer = async () => {
    await w.sleep(0, 8_000);
    await w.soloRun(async (store, who, runId) => {
      await store.signal(GROUP, 'publishing');
      const child = await w.registry.pushImage(REPO, `${w.seed}:peer:attestation:${runId}`);
      w.truth.pushes.push({ digest: child.digest, at: w.clock.nowMs(), job: w.jobKey(who), runId });
      await w.sleep(500, 8_000);
      const entry = await w.pushEntry(who, 'peer', `${w.seed}:peer:${runId}`, 1, [child]);
      await w.sleep(200, 4_000);
      await w.record([entry]);
      await store.signal(GROUP, 'image-info-updated');
    });
  };
  // Annotators that poll often: some pass the barrier just before the peer signals.
  const peers = async () => {
    for (let i = 0; i < 4; i++) await peer();
  };
  await Promise.all([
    peers(),
    w.cleanupJob(10, [100, 2_000]),
    w.cleanupJob(10, [100, 2_000]),
    w.cleanupJob(10, [100, 2_000]),
  ]);
}

const KINDS: Record<ScheduleKind, (w: World) => Promise<void>> = {
  'matrix-legs': matrixLegs,
  'rerun-failed-jobs': (w) => pushThenRecord(w, false),
  'lagging-attempt': (w) => pushThenRecord(w, true),
  'rollback-repush': rollbackRepush,
  'restart-new-index': restartNewIndex,
};

export async function runCiSchedule(
  seed: number,
  kind: ScheduleKind,
  rules: Rules,
): Promise<CiScheduleResult> {
  const w = new World(seed, kind, rules);
  await w.clock.run(KINDS[kind](w));
  const finalSupported = w.truth.supportedAt(Number.MAX_SAFE_INTEGER);
  const marked = new Set(w.markedSubjects());
  w.result.wrongful = w.truth.judge(finalSupported, marked);
  w.result.hiddenRerunMarks = w.truth.hiddenRerunMarks;
  w.result.marks = new Set(w.truth.marks.map((m) => m.digest)).size;
  for (const subject of new Set(w.truth.marks.map((m) => m.digest)))
    w.result.duplicates += duplicateMarks(w.registry.lifecycleReferrers(REPO, subject));
  return w.result;
}

export interface KindSummary {
  kind: ScheduleKind;
  rules: Rules;
  schedules: number;
  withWrongful: number;
  wrongful: number;
  markedAtEnd: number;
  duplicates: number;
  timeouts: number;
  hiddenRerunMarks: number;
  marks: number;
  restarts: number;
  reconciled: number;
  unmarked: number;
  errors: number;
  firstErrors: string[];
}

export function summarizeCi(results: CiScheduleResult[]): KindSummary[] {
  return groupBy(results, (r) => `${r.kind}|${r.rules}`).map((rs) => ({
    kind: rs[0].kind,
    rules: rs[0].rules,
    schedules: rs.length,
    withWrongful: rs.filter((r) => r.wrongful.length > 0).length,
    wrongful: sumOf(rs, (r) => r.wrongful.length),
    markedAtEnd: sumOf(rs, (r) => r.wrongful.filter((x) => x.kind === 'marked-at-end').length),
    duplicates: sumOf(rs, (r) => r.duplicates),
    timeouts: sumOf(rs, (r) => r.timeouts),
    hiddenRerunMarks: sumOf(rs, (r) => r.hiddenRerunMarks),
    marks: sumOf(rs, (r) => r.marks),
    restarts: sumOf(rs, (r) => r.restarts),
    reconciled: sumOf(rs, (r) => r.reconciled),
    unmarked: sumOf(rs, (r) => r.unmarked),
    errors: sumOf(rs, (r) => r.errors.length),
    firstErrors: rs.flatMap((r) => r.errors.map((e) => `seed ${r.seed}: ${e}`)).slice(0, 3),
  }));
}

export const formatCiTable = (rows: KindSummary[]): string =>
  markdownTable(rows, [
    ['kind', (s) => s.kind],
    ['rules', (s) => s.rules],
    ['schedules', (s) => String(s.schedules)],
    [
      'with wrongful',
      (s) =>
        `${s.withWrongful} (${((100 * s.withWrongful) / Math.max(1, s.schedules)).toFixed(0)}%)`,
    ],
    ['wrongful', (s) => String(s.wrongful)],
    ['marked at end', (s) => String(s.markedAtEnd)],
    ['dupes', (s) => String(s.duplicates)],
    ['timeouts', (s) => String(s.timeouts)],
    ['hidden re-run', (s) => String(s.hiddenRerunMarks)],
    ['marked', (s) => String(s.marks)],
    ['restarts', (s) => String(s.restarts)],
    ['reconciled', (s) => String(s.reconciled)],
    ['unmarked', (s) => String(s.unmarked)],
    ['errors', (s) => String(s.errors)],
  ]);
