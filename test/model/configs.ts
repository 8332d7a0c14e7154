/**
 * Small configurations for the explorers, one per hole the outside review reproduced (issue
 * "Protocol III") and the layouts the examples recommend. Each is a workflow as a user writes it.
 */
import type { JobSpec, ModelConfig, RunSpec, StepSpec } from './ci-model.js';

const publishing: StepSpec = { kind: 'signal', state: 'publishing' };
const recorded: StepSpec = { kind: 'signal', state: 'image-info-updated' };
const recordedRun: StepSpec = { kind: 'signal', state: 'image-info-updated', scope: 'run' };
const push = (platform: string, recorder: string, extra: Partial<StepSpec> = {}): StepSpec =>
  ({ kind: 'push', platform, recorder, ...extra }) as StepSpec;

/** A run of its own whose one job annotates (another pipeline's annotate step). */
function annotator(id: string, repositories?: string[]): RunSpec {
  return { id, jobs: [{ name: 'annotate', steps: [{ kind: 'annotate', repositories }] }] };
}

const initial = { linux: 'app/linux-0', windows: 'app/windows-0' };

/** A leg that may fail after pushing, and an `always()` record job that records it (scope run). */
function failingLegWithAlwaysRecord(): JobSpec[] {
  return [
    { name: 'linux', mayFail: true, steps: [publishing, push('linux', 'record')] },
    {
      name: 'record',
      needs: ['linux'],
      always: true,
      steps: [{ kind: 'record', of: ['linux'] }, recordedRun],
    },
  ];
}

/** A leg that only pushes, and a record job that needs it and signals with scope run. */
function legWithRecordJob(name: string): JobSpec[] {
  return [
    { name, steps: [publishing, push(name, `record-${name}`)] },
    { name: `record-${name}`, needs: [name], steps: [{ kind: 'record', of: [name] }, recordedRun] },
  ];
}

/** A build job that pushes linux, and a record job (scope run) that needs it and may fail. */
function buildAndFailingRecord(recordSteps: StepSpec[] = []): JobSpec[] {
  return [
    { name: 'build', steps: [publishing, push('linux', 'record')] },
    {
      name: 'record',
      needs: ['build'],
      mayFail: true,
      steps: [...recordSteps, { kind: 'record', of: ['build'] }, recordedRun],
    },
  ];
}

/** A job that re-pushes `image` (already in the registry) as linux, records it and says so. */
function rollbackJob(image: string): JobSpec {
  return {
    name: 'rollback',
    steps: [
      publishing,
      push('linux', 'rollback', { reuse: image } as Partial<StepSpec>),
      { kind: 'record', of: ['rollback'] },
      recorded,
    ],
  };
}

/** A leg that pushes, records its own image and says so (job scope). */
function selfRecordingLeg(name: string, extra: Partial<JobSpec> = {}): JobSpec {
  return {
    name,
    steps: [publishing, push(name, name), { kind: 'record', of: [name] }, recorded],
    ...extra,
  };
}

export const HOLE_CONFIGS: Array<{ hole: number; config: ModelConfig }> = [
  {
    // 1: a run-scope cover of a record job that `needs` linux only, while windows records itself.
    hole: 1,
    config: {
      name: 'run-scope cover and a leg it does not need',
      flavor: 'github',
      initial,
      runs: [
        { id: 'A', jobs: [...legWithRecordJob('linux'), selfRecordingLeg('windows')] },
        annotator('B'),
      ],
    },
  },
  {
    // 2: GitHub Enterprise Server: no job.check_run_id; two legs that record themselves.
    hole: 2,
    config: {
      name: 'matrix legs without a job id (GHES)',
      flavor: 'ghes',
      initial,
      runs: [
        { id: 'A', jobs: [selfRecordingLeg('linux'), selfRecordingLeg('windows')] },
        annotator('B'),
      ],
    },
  },
  {
    // 3: the record job fails, cleanup runs (annotator of another repository), re-run failed jobs.
    hole: 3,
    config: {
      name: 're-run failed jobs after a cleanup',
      flavor: 'github',
      initial,
      runs: [
        { id: 'A', reruns: 1, jobs: buildAndFailingRecord() },
        { id: 'B', jobs: [{ name: 'other-annotate', steps: [{ kind: 'cleanup' }] }] },
        annotator('C'),
      ],
    },
  },
  {
    // 4: a leg fails after pushing; an always() record job records what it pushed.
    hole: 4,
    config: {
      name: 'failed leg recorded by an always() job',
      flavor: 'github',
      initial,
      runs: [{ id: 'A', jobs: failingLegWithAlwaysRecord() }, annotator('B')],
    },
  },
  {
    // 5: a failed run with an uncovered marker is deleted.
    hole: 5,
    config: {
      name: 'deleted run',
      flavor: 'github',
      initial,
      runs: [{ id: 'A', deletable: true, jobs: buildAndFailingRecord() }, annotator('B')],
    },
  },
];

/** Layouts that must be safe under the current rules (no hole of their own). */
export const SAFE_CONFIGS: ModelConfig[] = [
  {
    // examples/github/matrix.yml: legs push, one always() record job needs them all and annotates.
    name: 'matrix, one record job that annotates',
    flavor: 'github',
    initial,
    runs: [
      {
        id: 'A',
        skew: { linux: 1500, record: -1500 },
        jobs: [
          { name: 'linux', mayFail: true, steps: [publishing, push('linux', 'record')] },
          { name: 'windows', steps: [publishing, push('windows', 'record')] },
          {
            name: 'record',
            needs: ['linux', 'windows'],
            always: true,
            steps: [
              { kind: 'record', of: ['linux', 'windows'] },
              { kind: 'annotate', scope: 'run' },
            ],
          },
        ],
      },
      annotator('B'),
    ],
  },
  {
    // Legs that record and annotate themselves; one of them may fail (Protocol II's matrix sibling).
    name: 'matrix, legs that annotate',
    flavor: 'github',
    initial,
    runs: [
      {
        id: 'A',
        jobs: [
          {
            ...selfRecordingLeg('linux'),
            steps: [...selfRecordingLeg('linux').steps, { kind: 'annotate' }],
          },
          selfRecordingLeg('windows', { mayFail: true }),
        ],
      },
    ],
  },
  {
    // A rollback re-pushes and records an image the registry already holds.
    name: 'rollback re-push',
    flavor: 'github',
    initial: { linux: 'app/linux-1', windows: 'app/windows-0' },
    extra: ['app/linux-0'],
    runs: [{ id: 'A', jobs: [rollbackJob('app/linux-0')] }, annotator('B')],
  },
  {
    // Re-run failed jobs while the runs API lags: hidden marks are counted, and converge.
    name: 're-run failed jobs, lagging API',
    flavor: 'github',
    initial,
    runs: [
      { id: 'A', reruns: 1, lag: true, jobs: buildAndFailingRecord([publishing]) },
      annotator('B'),
    ],
  },
  {
    // Azure Pipelines: attempt 1 in every marker, timeline times, builds listed while live.
    name: 'Azure Pipelines: failed leg and a succeededOrFailed() record job',
    flavor: 'azure',
    initial,
    runs: [{ id: 'A', reruns: 1, jobs: failingLegWithAlwaysRecord() }, annotator('B')],
  },
];

/** Larger schedules for the randomised explorer: several layouts at once, re-runs, lag, deletion, a dry run. */
export const LARGE_CONFIGS: ModelConfig[] = (['github', 'ghes', 'azure'] as const).map(
  (flavor) => ({
    name: `everything at once (${flavor})`,
    flavor,
    // minAge 20 s; push times where the registry lists them (GHCR, ACR), none on GHES's registry.
    minAgeMs: 20_000,
    pushTimes: flavor !== 'ghes',
    initial: { ...initial, arm: 'app/arm-0' },
    extra: ['app/linux-old', 'other/tool-0'],
    runs: [
      {
        id: 'A',
        reruns: 1,
        lag: flavor !== 'azure',
        skew: { linux: 1500, record: -1500 },
        jobs: [
          { name: 'linux', mayFail: true, steps: [publishing, push('linux', 'record')] },
          { name: 'windows', mayFail: true, steps: [publishing, push('windows', 'record')] },
          {
            name: 'record',
            needs: ['linux', 'windows'],
            always: true,
            mayFail: true,
            // Without a job id the jobs API can name (GHES when the runner's job cannot be found),
            // a run-scope cover covers nobody else, so a record job that annotated would wait for
            // its own legs until its timeout: there the annotate runs in another run.
            steps: [
              publishing,
              { kind: 'record', of: ['linux', 'windows'] },
              ...(flavor === 'ghes'
                ? [recordedRun]
                : [{ kind: 'annotate', scope: 'run' } as StepSpec]),
            ],
          },
        ],
      },
      {
        id: 'B',
        reruns: 1,
        deletable: true,
        jobs: [{ ...selfRecordingLeg('arm'), mayFail: true }, rollbackJob('app/linux-old')],
      },
      {
        id: 'C',
        jobs: [
          { name: 'annotate', steps: [{ kind: 'annotate' }] },
          { name: 'preview', steps: [{ kind: 'annotate', dryRun: true }] },
          { name: 'tools', steps: [{ kind: 'annotate', repositories: ['other'] }] },
        ],
      },
    ],
  }),
);

/**
 * Outside the contract (docs/design.md §2, "Cover scopes and their order"): per-leg record jobs
 * that signal with scope `run`. A leg that finished before another leg's record job started is
 * covered by that record job, which did not record it. The model must find this, and the docs
 * and examples must not recommend it.
 */
export const MISUSE_CONFIG: ModelConfig = {
  name: 'per-leg record jobs with scope run',
  flavor: 'github',
  initial,
  runs: [
    { id: 'A', jobs: [...legWithRecordJob('linux'), ...legWithRecordJob('windows')] },
    annotator('B'),
  ],
};
