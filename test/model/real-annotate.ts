/**
 * The randomised explorer: the same CI model (test/model/ci-model.ts), with every eol-gate step
 * run by the product's real commands — `annotate` (src/commands/annotate.ts: barrier, inventory,
 * planner, validation, apply, reconcile, cleanup) and `signal` — against in-memory ports that the
 * model drives. Each port call of a command is a point where the schedule may let the CI, the
 * pipelines or another annotator move first; a schedule is a list of choices, which fast-check
 * generates and shrinks to a minimal counterexample.
 */
import { annotate } from '../../src/commands/annotate.js';
import { signal } from '../../src/commands/signal.js';
import type {
  CoordinationStore,
  CoverScope,
  GroupRun,
  MarkerState,
} from '../../src/coordination/port.js';
import {
  LIFECYCLE_ARTIFACT_TYPE,
  EOL_DATE_ANNOTATION,
  lifecycleManifestJson,
} from '../../src/core/lifecycle.js';
import { MediaType, type Descriptor, type ManifestRecord } from '../../src/core/oci.js';
import { silentLogger, type Clock } from '../../src/core/ports.js';
import type { GroupName } from '../../src/core/protocol.js';
import type { ImageInfoSource } from '../../src/imageinfo/source.js';
import type { PushOutcome, ReferrerManifest, Registry } from '../../src/registry/port.js';
import { sha256Digest } from '../../src/util/hash.js';
import {
  cleanup,
  convergence,
  currentJobs,
  initialWorld,
  jobSpec,
  jobStamp,
  lastAnnotator,
  listRuns,
  participantOf,
  pendingPush,
  visiblyPending,
  recorded,
  STEP_MS,
  T0,
  type ModelConfig,
  type Rules,
  type World,
} from './ci-model.js';
import { applyCi, ciActions, describeAction, settle, type Action } from './engine.js';
import type { Violation } from './annotator-machine.js';

const GROUP = 'model' as GroupName;
const EOL_DATE = '2026-06-01';
const SIZE = 321;
const POLL_MS = 5_000;
const TIMEOUT_MS = 30 * 60_000;

/** A model digest name (`app/linux-A`) as a real digest, and back. */
const realDigest = (name: string) => sha256Digest(name);

interface Parked {
  label: string;
  resume: () => void;
}

/** Lets one command run at a time: each port call parks it until the schedule picks it. */
class Scheduler {
  readonly parked = new Map<number, Parked>();
  private wake?: () => void;

  park(actor: number, label: string): Promise<void> {
    return new Promise((resolve) => {
      this.parked.set(actor, { label, resume: resolve });
      this.notify();
    });
  }

  notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  /** Runs `start` (or resumes `actor`) until that command parks again or ends. */
  async run(actor: number, start?: () => void): Promise<void> {
    const settled = new Promise<void>((resolve) => (this.wake = resolve));
    if (start) start();
    else {
      const p = this.parked.get(actor)!;
      this.parked.delete(actor);
      p.resume();
    }
    await settled;
  }
}

/** What the explorer keeps per annotator to judge its marks (I1) against the store polls it made. */
interface Watch {
  /** Digests a run could still record at this annotator's last store poll. */
  pendingAtPoll: Map<string, string>;
  /** The image-info version this annotator last read. */
  versionRead: number;
  placed: string[];
  recheck?: string[];
}

export interface ScheduleResult {
  violations: Violation[];
  trace: string[];
  steps: number;
  marks: number;
  hiddenMarks: number;
  /** Candidates annotators left for later as younger than minAge. */
  tooYoung: number;
  outcomes: string[];
}

/** Runs one schedule of `config` under `rules`, choosing with `choices` (cycled), to the end. */
export async function runSchedule(
  config: ModelConfig,
  rules: Rules,
  choices: number[],
  maxSteps = 400,
): Promise<ScheduleResult> {
  const world = initialWorld(config);
  const names = new Map<string, string>();
  /** The model name of a real digest (the registry learns new ones as jobs push). */
  const nameOf = (digest: string): string | undefined => {
    if (!names.has(digest))
      for (const d of Object.keys(world.registry)) names.set(realDigest(d), d);
    return names.get(digest);
  };
  const sched = new Scheduler();
  const violations: Violation[] = [];
  const trace: string[] = [];
  const watches = new Map<number, Watch>();
  const started = new Set<number>();
  let pick = 0;
  let tooYoung = 0;

  /** The registry's push time of a manifest (undefined where the registry records none). */
  const pushedAt = (name: string): string | undefined => {
    if (!config.pushTimes) return undefined;
    const push = [...world.pushes].reverse().find((p) => p.digest === name && !p.existed);
    return new Date(push?.at ?? T0 - 24 * 3600_000).toISOString();
  };

  const clock = (actor: number): Clock => ({
    now: () => new Date(world.t),
    random: () => 0.5,
    sleep: async (ms) => {
      const until = world.t + ms;
      await sched.park(actor, 'sleep');
      world.t = Math.max(world.t, until);
    },
  });

  const portsFor = (index: number) => {
    const slot = world.annotators[index];
    const watch: Watch = { pendingAtPoll: new Map(), versionRead: -1, placed: [] };
    watches.set(index, watch);
    const store: CoordinationStore = {
      kind: config.flavor === 'azure' ? 'azure-devops' : 'github',
      self: slot.self,
      signal: async (_group: string, state: MarkerState, scope: CoverScope = 'job') => {
        await sched.park(index, `signal ${state}`);
        if (slot.dryRun)
          violations.push({ invariant: 'I4', message: `dry run ${slot.name} signalled` });
        world.markers.push({ ...slot.self, state, scope, stamp: world.t, at: world.t });
      },
      listRuns: async (): Promise<GroupRun[]> => {
        await sched.park(index, 'poll the store');
        watch.pendingAtPoll = new Map();
        for (const d of Object.keys(world.registry)) {
          const pending = pendingPush(world, d);
          if (pending && !pending.hidden) watch.pendingAtPoll.set(d, pending.reason);
        }
        // The first poll after marks were placed is reconcile's: what it can see to re-check.
        if (watch.placed.length > 0 && !watch.recheck)
          watch.recheck = watch.placed.filter(
            (d) => recorded(world, d) || visiblyPending(world, d),
          );
        return listRuns(config, rules, world, slot.self);
      },
      cleanup: async () => {
        await sched.park(index, 'cleanup');
        if (slot.dryRun)
          violations.push({ invariant: 'I4', message: `dry run ${slot.name} cleaned up` });
        cleanup(config, rules, world, slot.self);
      },
    };
    const describe = (name: string): Descriptor => ({
      mediaType: MediaType.ociManifest,
      digest: realDigest(name),
      size: SIZE,
    });
    const referrer = (subject: string): Descriptor => {
      const json = lifecycleManifestJson(describe(subject), EOL_DATE);
      return {
        mediaType: MediaType.ociManifest,
        digest: sha256Digest(json),
        size: json.length,
        artifactType: LIFECYCLE_ARTIFACT_TYPE,
        annotations: { [EOL_DATE_ANNOTATION]: EOL_DATE },
      };
    };
    const registry: Registry = {
      displayName: 'model',
      listRepositories: async () => [
        ...new Set(Object.keys(world.registry).map((d) => d.split('/')[0])),
      ],
      listManifests: async (repository): Promise<ManifestRecord[]> => {
        await sched.park(index, `list ${repository}`);
        const out: ManifestRecord[] = [];
        for (const [name, marked] of Object.entries(world.registry)) {
          if (name.split('/')[0] !== repository) continue;
          out.push({ repository, ...describe(name), tags: [], created: pushedAt(name) });
          if (marked) {
            const r = referrer(name);
            out.push({
              repository,
              digest: r.digest,
              mediaType: r.mediaType,
              size: r.size,
              tags: [],
              artifactType: r.artifactType,
              subject: realDigest(name),
            });
          }
        }
        return out;
      },
      describeManifest: async (_repository, digest) => {
        const name = nameOf(digest);
        return name && name in world.registry ? describe(name) : undefined;
      },
      imageCreated: async () => new Date(0).toISOString(),
      listReferrers: async (_repository, subject) => {
        const name = nameOf(subject);
        return name && world.registry[name] ? [referrer(name)] : [];
      },
      pushReferrer: async (
        _repository,
        subject: Descriptor,
        manifest: ReferrerManifest,
      ): Promise<PushOutcome> => {
        await sched.park(index, 'mark');
        const name = nameOf(subject.digest)!;
        if (slot.dryRun)
          violations.push({ invariant: 'I4', message: `dry run ${slot.name} marked ${name}` });
        if (
          manifest.artifactType !== LIFECYCLE_ARTIFACT_TYPE ||
          manifest.digest !== referrer(name).digest
        )
          violations.push({
            invariant: 'I1',
            message: `${slot.name} pushed an unexpected referrer on ${name}`,
          });
        world.registry[name] = true;
        watch.placed.push(name);
        const pending = pendingPush(world, name);
        world.marks.push({ digest: name, at: world.t, by: slot.name, hidden: pending?.hidden });
        if (recorded(world, name) && world.imageInfoVersion === watch.versionRead)
          violations.push({
            invariant: 'I1',
            message: `${slot.name} marked ${name}, recorded in the image-info it planned from`,
          });
        const reason = watch.pendingAtPoll.get(name);
        if (reason)
          violations.push({
            invariant: 'I1',
            message: `${slot.name} marked ${reason} (already so at validation)`,
          });
        return 'pushed';
      },
      deleteReferrer: async (_repository, subject) => {
        await sched.park(index, 'unmark');
        if (slot.dryRun)
          violations.push({ invariant: 'I4', message: `dry run ${slot.name} unmarked` });
        const name = nameOf(subject)!;
        world.registry[name] = false;
        world.unmarks.push({ digest: name, at: world.t, by: slot.name });
        return 'deleted';
      },
    };
    const source: ImageInfoSource = {
      name: 'model image-info',
      read: async () => {
        await sched.park(index, 'read the image-info');
        watch.versionRead = world.imageInfoVersion;
        const text = imageInfoJson(world);
        return { text, fingerprint: `${world.imageInfoVersion}:${sha256Digest(text)}` };
      },
    };
    return { store, registry, source, watch };
  };

  const startAnnotator = (index: number) => {
    const slot = world.annotators[index];
    const { store, registry, source, watch } = portsFor(index);
    started.add(index);
    return () => {
      annotate(
        {
          group: GROUP,
          timeoutMs: TIMEOUT_MS,
          pollIntervalMs: POLL_MS,
          onTimeout: 'skip',
          repoPrefix: '',
          repositories: slot.repositories ?? [],
          eolDate: EOL_DATE,
          minAgeMs: config.minAgeMs ?? 0,
          concurrency: 1,
          dryRun: !!slot.dryRun,
          scope: slot.scope,
        },
        { registry, store, sources: [source], clock: clock(index), logger: silentLogger },
      )
        .then((result) => {
          slot.outcome = result.outcome;
          tooYoung += result.counts.skippedTooYoung;
          for (const d of watch.recheck ?? [])
            if (world.registry[d] && recorded(world, d))
              violations.push({
                invariant: 'I1',
                message: `${slot.name} left its mark on ${d}, recorded again while it was being marked`,
              });
        })
        .catch((e: unknown) => {
          slot.outcome = `error: ${(e as Error).message}`;
          violations.push({
            invariant: 'I3',
            message: `${slot.name} failed: ${(e as Error).message}`,
          });
        })
        .finally(() => {
          slot.done = true;
          settle(config, world);
          sched.notify();
        });
    };
  };

  const signalStep = async (a: Action): Promise<boolean> => {
    if (a.kind !== 'step') return false;
    const run = world.runs.find((r) => r.id === a.run)!;
    const job = currentJobs(run).find((j) => j.spec === a.job)!;
    const step = jobSpec(config, run.id, job.spec).steps[job.pc];
    if (step.kind !== 'signal') return false;
    world.t += STEP_MS;
    const self = participantOf(config, rules, run, job);
    const stamp = jobStamp(config, world, run.id, job.spec);
    const jobStore: CoordinationStore = {
      kind: config.flavor === 'azure' ? 'azure-devops' : 'github',
      self,
      signal: async (_group, state, scope = 'job') => {
        world.markers.push({ ...self, state, scope, stamp, at: world.t });
      },
      listRuns: async () => [],
      cleanup: async () => {},
    };
    await signal(
      { group: GROUP, state: step.state, scope: step.scope },
      { store: jobStore, logger: silentLogger },
    );
    job.pc++;
    settle(config, world);
    return true;
  };

  let steps = 0;
  for (; steps < maxSteps; steps++) {
    const actions: Array<Action | { kind: 'resume'; index: number }> = ciActions(config, world);
    world.annotators.forEach((slot, index) => {
      if (!slot.done && (!started.has(index) || sched.parked.has(index)))
        actions.push({ kind: 'resume', index });
    });
    if (actions.length === 0) break;
    const a = actions[(choices[pick++ % Math.max(1, choices.length)] ?? 0) % actions.length];
    if (a.kind === 'resume') {
      const slot = world.annotators[a.index];
      trace.push(
        `${slot.name}: ${started.has(a.index) ? sched.parked.get(a.index)!.label : 'start annotate'}`,
      );
      await sched.run(a.index, started.has(a.index) ? undefined : startAnnotator(a.index));
      continue;
    }
    trace.push(describeAction(a, world));
    if (await signalStep(a)) continue;
    applyCi(config, rules, world, a);
  }
  if (steps >= maxSteps) {
    // The schedule ran out of choices: let everything finish in a fixed order.
    return runToEnd();
  }
  return finish();

  /** Past the schedule's length: the CI first, then each annotator in turn, to the end. */
  async function runToEnd(): Promise<ScheduleResult> {
    let turn = 0;
    for (let guard = 0; guard < 5000; guard++) {
      const ci = ciActions(config, world).filter((a) => a.kind !== 'rerun' && a.kind !== 'delete');
      const ready = world.annotators
        .map((s, i) => i)
        .filter((i) => !world.annotators[i].done && (!started.has(i) || sched.parked.has(i)));
      if (ci.length > 0) {
        const a = ci[0];
        trace.push(describeAction(a, world));
        if (!(await signalStep(a))) applyCi(config, rules, world, a);
      } else if (ready.length > 0) {
        const index = ready[turn++ % ready.length];
        await sched.run(index, started.has(index) ? undefined : startAnnotator(index));
      } else break;
    }
    return finish();
  }

  async function finish(): Promise<ScheduleResult> {
    // Long enough after everything for every orphan to be older than minAge.
    world.t += (config.minAgeMs ?? 0) + STEP_MS;
    // A last annotate after everything (I2, I3), by the real command, alone.
    const last = lastAnnotator();
    const stuck = world.annotators.filter((s) => !s.done || s.outcome === 'timed-out');
    for (const s of stuck)
      violations.push({
        invariant: 'I3',
        message: `${s.name} ${s.done ? 'timed out' : 'never finished'}`,
      });
    world.markers = world.markers.filter((m) => m.runId !== 'last');
    const index = world.annotators.push(last) - 1;
    const lastSlot = world.annotators[index];
    // The last annotate has its own run: give the store view one.
    world.runs.push({
      id: 'last',
      attempt: 1,
      status: 'in_progress',
      jobs: [],
      reportedAttempt: 1,
      reruns: 0,
    });
    for (let guard = 0; guard < 1000 && !lastSlot.done; guard++)
      await sched.run(index, started.has(index) ? undefined : startAnnotator(index));
    if (lastSlot.outcome !== 'applied')
      violations.push({
        invariant: 'I3',
        message: `the last annotate, after every run ended: ${lastSlot.outcome}`,
      });
    violations.push(...convergence(world));
    return {
      violations,
      trace,
      steps,
      marks: world.marks.length,
      hiddenMarks: world.marks.filter((m) => m.hidden).length,
      tooYoung,
      outcomes: world.annotators.map((s) => `${s.name}: ${s.outcome}`),
    };
  }
}

/** The shared image-info as a real image-info file: one image per platform, in repository `app`. */
function imageInfoJson(world: World): string {
  const repos = new Map<string, Array<{ platforms: unknown[] }>>();
  for (const [platform, name] of Object.entries(world.imageInfo).sort()) {
    const [repo] = name.split('/');
    const images = repos.get(repo) ?? [];
    images.push({
      platforms: [
        {
          digest: realDigest(name),
          dockerfile: `${platform}/Dockerfile`,
          osType: 'Linux',
          osVersion: platform,
          architecture: 'amd64',
          simpleTags: [platform],
        },
      ],
    });
    repos.set(repo, images);
  }
  return JSON.stringify({
    schemaVersion: '2.0',
    repos: [...repos].map(([repo, images]) => ({ repo, images })),
  });
}
