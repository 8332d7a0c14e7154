/**
 * A model of the CI services eol-gate coordinates through, written from their documentation,
 * as plain data and rules (issue "Protocol III", docs/design.md §7). Everything here is ground
 * truth that the product never sees directly: the product only sees the store view built by
 * `listRuns` / `cleanup` below, which runs the product's own protocol code.
 *
 * Rules and where they come from:
 * - [needs] A job starts when every job it `needs` completed successfully; a job whose need failed
 *   or was skipped is skipped, unless it runs `if: always()` (GitHub: "jobs.<job_id>.needs";
 *   Azure: `dependsOn` with `condition: succeededOrFailed()`), which starts once its needs ended.
 * - [run-end] A run attempt completes when all its jobs completed; it failed if any job failed.
 * - [rerun] "Re-run all jobs" starts a new attempt of every job; "Re-run failed jobs" re-runs the
 *   failed jobs and their dependents, and succeeded jobs keep their earlier results (GitHub:
 *   "Re-running workflows and jobs"; a run can be re-run for 30 days). Azure DevOps "Rerun failed
 *   jobs" puts the build back in progress with new job records.
 * - [job-id] A job's id is its check run id (`job.check_run_id`, github.com and GHE Cloud); GitHub
 *   Enterprise Server has none, so eol-gate makes a participant id per job (passed through
 *   `GITHUB_ENV`), which the jobs API does not know. Azure: `System.JobId` (attempt always 1 in
 *   markers: `System.JobAttempt` counts one job's retries).
 * - [jobs-api] The jobs API (`/actions/runs/{id}/jobs?filter=all`, the Azure timeline) reports each
 *   job's status, conclusion, `started_at` and `completed_at` on the service's clock.
 * - [lag] After a re-run starts, the runs API may report the previous attempt (completed) for a
 *   while; it catches up later (Protocol II's lagging-attempt schedule).
 * - [delete] A completed run can be deleted ("Delete workflow run", retention): the runs API then
 *   answers 404 while its repository answers 200. Azure: a deleted or completed build is not
 *   listed by Builds - List with the live status filter.
 * - [skew] Runners' clocks differ from the service's by a bounded skew; marker stamps are written
 *   on the runner's clock.
 * - [env] `GITHUB_ENV` lines become env vars of the job's later steps: one participant per job.
 */
import type { GroupRun, RawMarker, RunStatus, JobStatus } from '../../src/core/runs.js';
import * as current from '../../src/core/protocol.js';
import * as protocolII from './rules/protocol-ii.js';

export type Rules = 'current' | 'protocol-ii';
export type Flavor = 'github' | 'ghes' | 'azure';

export type StepSpec =
  | { kind: 'signal'; state: 'publishing' | 'image-info-updated'; scope?: 'job' | 'run' }
  /** Pushes the platform's image of this run; `recorder` names the job that records it. */
  | { kind: 'push'; platform: string; recorder: string; repository?: string; reuse?: string }
  /** Records (merges into the shared image-info) what the named jobs pushed, in any attempt. */
  | { kind: 'record'; of: string[] }
  | { kind: 'annotate'; repositories?: string[]; dryRun?: boolean; scope?: 'job' | 'run' }
  /** The last act of another repository's annotate in the group: the store's cleanup. */
  | { kind: 'cleanup' };

export interface JobSpec {
  name: string;
  needs?: string[];
  /** `if: always()` / `succeededOrFailed()`. */
  always?: boolean;
  /** The model tries a failure of this job before each of its steps. */
  mayFail?: boolean;
  steps: StepSpec[];
}

export interface RunSpec {
  id: string;
  jobs: JobSpec[];
  /** Re-runs the model may start once the run completed ("all" and, when a job failed, "failed"). */
  reruns?: number;
  /** Whether a re-run may start with the runs API lagging behind it. */
  lag?: boolean;
  /** Whether the model may delete the run once it completed. */
  deletable?: boolean;
  /** Runner clock skew of each job, ms (default 0). */
  skew?: Record<string, number>;
}

export interface ModelConfig {
  name: string;
  flavor: Flavor;
  runs: RunSpec[];
  /** The shared image-info at the start: platform → `repository/digest`. */
  initial: Record<string, string>;
  /** Extra manifests in the registry at the start (orphans, or images a rollback re-records). */
  extra?: string[];
  /** `minAge` of every annotate (the randomised explorer; default 0). */
  minAgeMs?: number;
  /**
   * Whether the registry records push times (ACR, GHCR); without them the only age is the image
   * config's `created`, which the model sets to 1970 (a reproducible build): always old enough.
   */
  pushTimes?: boolean;
}

export interface JobState {
  /** The CI's job id (check run id / timeline record id). */
  id: string;
  spec: string;
  attempt: number;
  status: 'queued' | 'in_progress' | 'completed';
  conclusion?: 'success' | 'failure' | 'skipped';
  startedAt?: number;
  completedAt?: number;
  pc: number;
}

export interface RunState {
  id: string;
  attempt: number;
  status: 'in_progress' | 'completed' | 'deleted';
  completedAt?: number;
  jobs: JobState[];
  reportedAttempt: number;
  reruns: number;
}

export interface Push {
  digest: string;
  platform: string;
  run: string;
  attempt: number;
  job: string;
  recorder: string;
  at: number;
  /** The manifest was already in the registry (a rollback or reproducible re-push). */
  existed: boolean;
  /** Its recorder recorded it (it may have been superseded in the image-info since). */
  recorded: boolean;
}

export interface Mark {
  digest: string;
  at: number;
  by: string;
  /** A mark no protocol could have prevented (see `pendingPush`). */
  hidden?: boolean;
}

/** The whole world, as plain data (cloned by the exhaustive explorer). */
export interface World {
  t: number;
  runs: RunState[];
  markers: Array<RawMarker & { at: number }>;
  /** `repository/digest` → whether it carries a lifecycle mark. */
  registry: Record<string, boolean>;
  /** platform → `repository/digest`: the shared image-info. */
  imageInfo: Record<string, string>;
  imageInfoVersion: number;
  pushes: Push[];
  marks: Mark[];
  unmarks: Array<{ digest: string; at: number; by: string }>;
  nextJobId: number;
  /** eol-gate `annotate` steps started so far; their progress is the explorer's business. */
  annotators: AnnotatorSlot[];
}

export interface AnnotatorSlot {
  /** `<run>/<job>#<attempt>`. */
  name: string;
  run: string;
  job: string;
  self: { runId: string; attempt: number; jobId?: string };
  repositories?: string[];
  dryRun?: boolean;
  scope?: 'job' | 'run';
  done: boolean;
  outcome?: string;
  /** The exhaustive explorer's annotator state (plain data). */
  machine?: unknown;
  /** Writes this annotator made (I4: none for a dry run). */
  writes: number;
}

export const STEP_MS = 1000;
export const T0 = Date.parse('2026-06-01T00:00:00Z');

export function initialWorld(config: ModelConfig): World {
  const world: World = {
    t: T0,
    runs: [],
    markers: [],
    registry: {},
    imageInfo: { ...config.initial },
    imageInfoVersion: 0,
    pushes: [],
    marks: [],
    unmarks: [],
    nextJobId: 100,
    annotators: [],
  };
  for (const d of [...Object.values(config.initial), ...(config.extra ?? [])])
    world.registry[d] = false;
  for (const spec of config.runs) startRun(world, spec);
  return world;
}

export function runSpec(config: ModelConfig, id: string): RunSpec {
  return config.runs.find((r) => r.id === id)!;
}

export function jobSpec(config: ModelConfig, run: string, job: string): JobSpec {
  return runSpec(config, run).jobs.find((j) => j.name === job)!;
}

/** The run attempt's jobs: the newest state of each job (re-run failed jobs keep the others). */
export function currentJobs(run: RunState, upToAttempt = run.attempt): JobState[] {
  const latest = new Map<string, JobState>();
  for (const j of run.jobs) if (j.attempt <= upToAttempt) latest.set(j.spec, j);
  return [...latest.values()];
}

/** Attempt 1 of a run: every job queued (re-runs: test/model/engine.ts). */
function startRun(world: World, spec: RunSpec): void {
  world.runs.push({
    id: spec.id,
    attempt: 1,
    status: 'in_progress',
    reportedAttempt: 1,
    reruns: 0,
    jobs: spec.jobs.map((j) => ({
      id: String(world.nextJobId++),
      spec: j.name,
      attempt: 1,
      status: 'queued' as const,
      pc: 0,
    })),
  });
}

/** A participant as the product names it (docs/design.md §2; [job-id]). */
export function participantOf(
  config: ModelConfig,
  rules: Rules,
  run: RunState,
  job: JobState,
): { runId: string; attempt: number; jobId?: string } {
  const attempt = config.flavor === 'azure' ? 1 : run.attempt;
  if (config.flavor !== 'ghes') return { runId: run.id, attempt, jobId: job.id };
  // GHES: no check run id. Protocol II made the whole run one participant; now the first step
  // of each job makes an id and passes it on through GITHUB_ENV.
  return rules === 'current'
    ? { runId: run.id, attempt, jobId: `p${job.id}x` }
    : { runId: run.id, attempt };
}

export function jobStamp(config: ModelConfig, world: World, run: string, job: string): number {
  return world.t + (runSpec(config, run).skew?.[job] ?? 0);
}

// ---------------------------------------------------------------------------------------------
// The store view: what `listRuns` and `cleanup` of the product's stores compute, from the
// service's API answers ([jobs-api], [lag], [delete]) and the product's protocol code.

function apiJobs(run: RunState): Map<string, JobStatus> {
  const jobs = new Map<string, JobStatus>();
  for (const j of run.jobs)
    if (j.attempt <= run.reportedAttempt)
      jobs.set(j.id, {
        completed: j.status === 'completed',
        conclusion: j.conclusion,
        startedAt: j.startedAt,
        completedAt: j.completedAt,
      });
  return jobs;
}

/** The runs API's answer for a run, as the current GitHub and Azure DevOps stores read it. */
function apiRun(config: ModelConfig, run: RunState): RunStatus | undefined {
  if (run.status === 'deleted') return { alive: false, deleted: true };
  const lagging = run.reportedAttempt < run.attempt;
  const alive = !lagging && run.status === 'in_progress';
  return {
    alive,
    attempt: config.flavor === 'azure' ? undefined : run.reportedAttempt,
    completedAt: alive ? undefined : (run.completedAt ?? 0),
    jobs: apiJobs(run),
  };
}

/** Markers the store lists: refs on GitHub; tags of builds Builds - List returns on Azure. */
function visibleMarkers(config: ModelConfig, world: World): RawMarker[] {
  if (config.flavor !== 'azure') return world.markers;
  const live = new Set(
    world.runs
      .filter((r) => r.status === 'in_progress' && r.reportedAttempt === r.attempt)
      .map((r) => r.id),
  );
  return world.markers.filter((m) => live.has(m.runId));
}

export function listRuns(
  config: ModelConfig,
  rules: Rules,
  world: World,
  self: { runId: string; attempt: number; jobId?: string },
): GroupRun[] {
  const markers = visibleMarkers(config, world);
  const byId = new Map(world.runs.map((r) => [r.id, r]));
  if (rules === 'current') {
    const runs = new Map<string, RunStatus | undefined>();
    for (const m of markers) {
      const run = byId.get(m.runId)!;
      const status = apiRun(config, run);
      // The store knows its own run is alive without asking; its jobs it reads like any other's.
      runs.set(
        current.runKey(m),
        m.runId === self.runId ? { ...status, alive: true, deleted: false } : status,
      );
    }
    return current.joinParticipants(self, markers, runs);
  }
  // Protocol II: a 404 counted as alive; jobs asked one by one for uncovered markers of live runs.
  const runs = new Map<string, RunStatus | undefined>();
  for (const m of markers) {
    const run = byId.get(m.runId)!;
    if (m.runId === self.runId) runs.set(protocolII.runKey(m), { alive: true });
    else if (run.status === 'deleted') runs.set(protocolII.runKey(m), undefined);
    else {
      const s = apiRun(config, run)!;
      runs.set(protocolII.runKey(m), { alive: s.alive, attempt: s.attempt });
    }
  }
  const pending = protocolII.uncoveredPublishing(self, markers);
  const jobs = new Map<string, JobStatus | undefined>();
  for (const p of protocolII.jobsToAsk(pending, markers, runs)) {
    const run = byId.get(p.runId)!;
    jobs.set(
      protocolII.participantKey(p),
      run.status === 'deleted' ? undefined : apiJobs(run).get(p.jobId!),
    );
  }
  return protocolII.joinParticipants(self, markers, runs, jobs);
}

/** `cleanup` of the GitHub store (Azure DevOps deletes nothing): removes what it may delete. */
export function cleanup(
  config: ModelConfig,
  rules: Rules,
  world: World,
  self: { runId: string },
): void {
  if (config.flavor === 'azure') return;
  const others = world.markers.filter((m) => m.runId !== self.runId);
  const byId = new Map(world.runs.map((r) => [r.id, r]));
  let gone: Set<RawMarker>;
  if (rules === 'current') {
    const runs = new Map<string, RunStatus | undefined>();
    for (const m of others) runs.set(current.runKey(m), apiRun(config, byId.get(m.runId)!));
    gone = new Set(current.deletableMarkers(others, runs, world.t));
  } else {
    const runs = new Map<string, RunStatus | undefined>();
    for (const m of others) {
      const run = byId.get(m.runId)!;
      const s = run.status === 'deleted' ? undefined : apiRun(config, run);
      runs.set(protocolII.runKey(m), s && { alive: s.alive, attempt: s.attempt });
    }
    gone = new Set(protocolII.deletableMarkers(others, runs));
  }
  world.markers = world.markers.filter((m) => !gone.has(m));
}

// ---------------------------------------------------------------------------------------------
// Ground truth for the invariants.

/** Whether a digest is recorded (supported) in the shared image-info now. */
export function recorded(world: World, digest: string): boolean {
  return Object.values(world.imageInfo).includes(digest);
}

/**
 * I1's ground truth at the moment of a mark on `digest`: a push of it that its run can still
 * record (the run alive, the job that records it in the current attempt not ended, no record
 * since). `hidden`: that run is a re-run the runs API does not show yet and that wrote no marker
 * (no protocol can see it). `existed`: the push re-pushed a manifest that was already there (a
 * rollback or a reproducible build), which validation cannot see move.
 */
export function pendingPush(
  world: World,
  digest: string,
): { reason: string; hidden: boolean; existed: boolean; index: number } | undefined {
  for (const [index, push] of world.pushes.entries()) {
    if (push.digest !== digest || push.recorded) continue;
    const run = world.runs.find((r) => r.id === push.run)!;
    if (run.status !== 'in_progress') continue;
    const recorder = currentJobs(run).find((j) => j.spec === push.recorder);
    if (!recorder || recorder.status === 'completed' || recorder.attempt < push.attempt) continue;
    return {
      reason: `${digest} while ${push.recorder} of run ${push.run} (attempt ${recorder.attempt}) had not recorded what ${push.job} pushed in attempt ${push.attempt}`,
      hidden:
        run.reportedAttempt < run.attempt &&
        !world.markers.some((m) => m.runId === run.id && m.attempt === run.attempt),
      existed: push.existed,
      index,
    };
  }
  return undefined;
}

/** A push its run can still record, and the protocol can see (not behind a hidden re-run). */
export function visiblyPending(world: World, digest: string): boolean {
  const pending = pendingPush(world, digest);
  return !!pending && !pending.hidden;
}

/** The last annotate every explorer runs once everything else ended (I2, I3): its own participant. */
export function lastAnnotator(machine?: unknown): AnnotatorSlot {
  return {
    name: 'last-annotate',
    run: 'last',
    job: 'last',
    self: { runId: 'last', attempt: 1, jobId: 'last' },
    done: false,
    writes: 0,
    machine,
  };
}

/** I2 after the last annotate: each recorded digest unmarked, each other digest marked once. */
export function convergence(world: World): Array<{ invariant: 'I2'; message: string }> {
  const out: Array<{ invariant: 'I2'; message: string }> = [];
  for (const [digest, marked] of Object.entries(world.registry)) {
    if (recorded(world, digest) && marked)
      out.push({ invariant: 'I2', message: `${digest} is recorded and still marked at the end` });
    if (!recorded(world, digest) && !marked)
      out.push({ invariant: 'I2', message: `${digest} is an orphan and not marked at the end` });
  }
  return out;
}
