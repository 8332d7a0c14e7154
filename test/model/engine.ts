/**
 * The CI service's moves and the pipeline steps of the model (test/model/ci-model.ts): which
 * actions are enabled in a world, and what each does. eol-gate's own `annotate` steps are
 * driven by the explorers; everything else is here.
 */
import {
  cleanup,
  currentJobs,
  jobSpec,
  jobStamp,
  participantOf,
  runSpec,
  STEP_MS,
  type AnnotatorSlot,
  type JobState,
  type ModelConfig,
  type RunState,
  type Rules,
  type World,
} from './ci-model.js';

export type Action =
  | { kind: 'start' | 'step' | 'fail' | 'complete'; run: string; job: string }
  | { kind: 'rerun'; run: string; which: 'all' | 'failed'; lag: boolean }
  | { kind: 'catch-up' | 'delete'; run: string }
  | { kind: 'annotator'; index: number };

export function describeAction(a: Action, world?: World): string {
  switch (a.kind) {
    case 'annotator': {
      const slot = world?.annotators[a.index];
      const phase = (slot?.machine as { phase?: string } | undefined)?.phase ?? 'signal';
      return `${slot?.name ?? a.index}: annotate, ${phase}`;
    }
    case 'rerun':
      return `re-run ${a.which} jobs of ${a.run}${a.lag ? ' (runs API lags)' : ''}`;
    case 'catch-up':
      return `runs API catches up on ${a.run}`;
    case 'delete':
      return `delete run ${a.run}`;
    default:
      return `${a.run}/${a.job}: ${a.kind}`;
  }
}

function needsState(config: ModelConfig, run: RunState, job: JobState): 'wait' | 'go' | 'skip' {
  const spec = jobSpec(config, run.id, job.spec);
  const jobs = currentJobs(run);
  let failed = false;
  for (const need of spec.needs ?? []) {
    const j = jobs.find((x) => x.spec === need)!;
    if (j.status !== 'completed') return 'wait';
    if (j.conclusion !== 'success') failed = true;
  }
  return failed && !spec.always ? 'skip' : 'go';
}

function slotOf(world: World, run: RunState, job: JobState): AnnotatorSlot | undefined {
  return world.annotators.find((a) => a.name === slotName(run, job));
}

function slotName(run: RunState, job: JobState): string {
  return `${run.id}/${job.spec}#${job.attempt}.${job.pc}`;
}

/** Every action the CI and the pipelines can take now (annotators aside). */
export function ciActions(config: ModelConfig, world: World): Action[] {
  const out: Action[] = [];
  for (const run of world.runs) {
    const spec = runSpec(config, run.id);
    if (run.status === 'in_progress') {
      for (const job of currentJobs(run)) {
        if (job.status === 'queued') {
          if (needsState(config, run, job) === 'go')
            out.push({ kind: 'start', run: run.id, job: job.spec });
          continue;
        }
        if (job.status !== 'in_progress') continue;
        const js = jobSpec(config, run.id, job.spec);
        const step = js.steps[job.pc];
        const waiting = step?.kind === 'annotate' && slotOf(world, run, job) !== undefined;
        if (!step) out.push({ kind: 'complete', run: run.id, job: job.spec });
        else if (!waiting) out.push({ kind: 'step', run: run.id, job: job.spec });
        // A job may fail before any step, or after its last one.
        if (js.mayFail && !waiting) out.push({ kind: 'fail', run: run.id, job: job.spec });
      }
    } else if (run.status === 'completed' && run.reportedAttempt === run.attempt) {
      if (run.reruns < (spec.reruns ?? 0)) {
        const failed = currentJobs(run).some((j) => j.conclusion !== 'success');
        for (const which of failed ? (['all', 'failed'] as const) : (['all'] as const))
          for (const lag of spec.lag ? [false, true] : [false])
            out.push({ kind: 'rerun', run: run.id, which, lag });
      }
      if (spec.deletable) out.push({ kind: 'delete', run: run.id });
    }
    if (run.reportedAttempt < run.attempt) out.push({ kind: 'catch-up', run: run.id });
  }
  return out;
}

/** Applies a CI or pipeline action, then lets the service settle ([needs], [run-end]). */
export function applyCi(config: ModelConfig, rules: Rules, world: World, a: Action): void {
  world.t += STEP_MS;
  if (a.kind === 'annotator') throw new Error('annotator actions belong to the explorer');
  const run = world.runs.find((r) => r.id === a.run)!;
  switch (a.kind) {
    case 'start': {
      const job = currentJobs(run).find((j) => j.spec === a.job)!;
      job.status = 'in_progress';
      job.startedAt = world.t;
      break;
    }
    case 'fail':
    case 'complete': {
      const job = currentJobs(run).find((j) => j.spec === a.job)!;
      job.status = 'completed';
      job.conclusion = a.kind === 'fail' ? 'failure' : 'success';
      job.completedAt = world.t;
      break;
    }
    case 'step': {
      const job = currentJobs(run).find((j) => j.spec === a.job)!;
      runStep(config, rules, world, run, job);
      break;
    }
    case 'rerun': {
      run.reruns++;
      const reported = run.reportedAttempt;
      rerun(config, world, run, a.which);
      run.reportedAttempt = a.lag ? reported : run.attempt;
      break;
    }
    case 'catch-up':
      run.reportedAttempt = run.attempt;
      break;
    case 'delete':
      run.status = 'deleted';
      break;
  }
  settle(config, world);
}

function rerun(config: ModelConfig, world: World, run: RunState, which: 'all' | 'failed'): void {
  const spec = runSpec(config, run.id);
  const names = new Set<string>();
  const jobs = currentJobs(run);
  for (const j of spec.jobs)
    if (which === 'all' || jobs.find((x) => x.spec === j.name)?.conclusion !== 'success')
      names.add(j.name);
  for (let grew = true; grew;) {
    grew = false;
    for (const j of spec.jobs)
      if (!names.has(j.name) && (j.needs ?? []).some((n) => names.has(n))) {
        names.add(j.name);
        grew = true;
      }
  }
  run.attempt++;
  run.status = 'in_progress';
  run.completedAt = undefined;
  for (const name of names)
    run.jobs.push({
      id: String(world.nextJobId++),
      spec: name,
      attempt: run.attempt,
      status: 'queued',
      pc: 0,
    });
}

function runStep(
  config: ModelConfig,
  rules: Rules,
  world: World,
  run: RunState,
  job: JobState,
): void {
  const step = jobSpec(config, run.id, job.spec).steps[job.pc];
  const self = participantOf(config, rules, run, job);
  switch (step.kind) {
    case 'signal':
      world.markers.push({
        ...self,
        state: step.state,
        scope: step.state === 'image-info-updated' ? (step.scope ?? 'job') : 'job',
        stamp: jobStamp(config, world, run.id, job.spec),
        at: world.t,
      });
      break;
    case 'push': {
      const digest = step.reuse ?? `${step.repository ?? 'app'}/${step.platform}-${run.id}`;
      const existed = digest in world.registry;
      world.registry[digest] ??= false;
      world.pushes.push({
        digest,
        platform: step.platform,
        run: run.id,
        attempt: run.attempt,
        job: job.spec,
        recorder: step.recorder,
        at: world.t,
        existed,
        recorded: false,
      });
      break;
    }
    case 'record': {
      let changed = false;
      for (const of of step.of) {
        const push = [...world.pushes].reverse().find((p) => p.run === run.id && p.job === of);
        // Every push of that manifest by this run is recorded with it (a re-run re-pushes it).
        if (push)
          for (const q of world.pushes)
            if (q.run === run.id && q.digest === push.digest) q.recorded = true;
        if (push && world.imageInfo[push.platform] !== push.digest) {
          world.imageInfo[push.platform] = push.digest;
          changed = true;
        }
      }
      if (changed) world.imageInfoVersion++;
      break;
    }
    case 'cleanup':
      cleanup(config, rules, world, { runId: run.id });
      break;
    case 'annotate':
      world.annotators.push({
        name: slotName(run, job),
        run: run.id,
        job: job.spec,
        self,
        repositories: step.repositories,
        dryRun: step.dryRun,
        scope: step.scope,
        done: false,
        writes: 0,
      });
      return; // the job waits for its annotator (settle moves it on)
  }
  job.pc++;
}

/** [needs] skips, annotate steps that ended, [run-end]. */
export function settle(config: ModelConfig, world: World): void {
  for (const run of world.runs) {
    if (run.status !== 'in_progress') continue;
    for (let changed = true; changed;) {
      changed = false;
      for (const job of currentJobs(run)) {
        if (job.status === 'queued' && needsState(config, run, job) === 'skip') {
          job.status = 'completed';
          job.conclusion = 'skipped';
          job.completedAt = world.t;
          changed = true;
        }
        if (job.status === 'in_progress' && slotOf(world, run, job)?.done) {
          job.pc++;
          changed = true;
        }
      }
    }
    const jobs = currentJobs(run);
    if (jobs.every((j) => j.status === 'completed')) {
      run.status = 'completed';
      run.completedAt = world.t;
    }
  }
}
