import { describe, expect, it } from 'vitest';
import type { ParticipantIdentity } from '../../src/coordination/port.js';
import { InputError } from '../../src/core/errors.js';
import { markerName, parseMarkerName } from '../../src/core/markers.js';
import {
  assertGroupName,
  blockingRuns,
  decideWait,
  deletableMarkers,
  RERUN_WINDOW_MS,
  describeRun,
  isCovered,
  jitteredInterval,
  joinParticipants,
  needsReconcile,
  uncoveredPublishing,
  validate,
  type JobStatus,
  type RawMarker,
  type RunStatus,
} from '../../src/core/protocol.js';

/** This participant: job 11 of run 100, attempt 2. */
const self: ParticipantIdentity = { runId: '100', attempt: 2, jobId: '11' };

function m(
  runId: string,
  attempt: number,
  jobId: string | undefined,
  state: RawMarker['state'],
  stamp: number,
  scope: RawMarker['scope'] = 'job',
): RawMarker {
  return { runId, attempt, jobId, state, scope, stamp };
}
const pub = (runId: string, attempt: number, jobId: string | undefined, stamp = 10) =>
  m(runId, attempt, jobId, 'publishing', stamp);
const rec = (runId: string, attempt: number, jobId: string | undefined, stamp = 20) =>
  m(runId, attempt, jobId, 'image-info-updated', stamp);
const recRun = (runId: string, attempt: number, jobId: string | undefined, stamp = 20) =>
  m(runId, attempt, jobId, 'image-info-updated', stamp, 'run');

const alive = (attempt?: number): RunStatus => ({ alive: true, attempt });
const done = (attempt?: number): RunStatus => ({ alive: false, attempt });
const job = (completed: boolean, conclusion?: string): JobStatus => ({ completed, conclusion });
/** A job as the jobs API reports it, times on the service's clock. */
const ran = (startedAt?: number, completedAt?: number, conclusion = 'success'): JobStatus => ({
  completed: completedAt !== undefined,
  conclusion: completedAt !== undefined ? conclusion : undefined,
  startedAt,
  completedAt,
});

type Runs = Record<string, RunStatus | undefined>;
/** Job statuses by `runId/jobId`. */
type Jobs = Record<string, JobStatus>;

/** Run statuses by run id, each with its `jobs`, as a store passes them to `joinParticipants`. */
function withJobs(runs: Runs, jobs: Jobs = {}): Map<string, RunStatus | undefined> {
  return new Map(
    Object.entries(runs).map(([id, s]) => {
      const own = Object.entries(jobs).filter(([key]) => key.startsWith(`${id}/`));
      const byJob = new Map(own.map(([key, st]) => [key.slice(id.length + 1), st]));
      return [`|${id}`, s && own.length > 0 ? { ...s, jobs: byJob } : s];
    }),
  );
}

function blocks(markers: RawMarker[], runs: Runs, jobs: Jobs = {}): string[] {
  const joined = joinParticipants(self, markers, withJobs(runs, jobs));
  return blockingRuns(self, joined).map((r) => `${r.runId}.${r.attempt}.${r.jobId ?? '-'}`);
}

describe('when a publishing marker blocks (docs/design.md §2)', () => {
  // Each row: markers, run statuses, job statuses, and who must block `self`.
  const table: Array<[string, RawMarker[], Runs, Jobs, string[]]> = [
    ['another live run publishing', [pub('7', 1, '70')], { 7: alive(1) }, {}, ['7.1.70']],
    [
      'covered by its own later image-info-updated',
      [pub('7', 1, '70'), rec('7', 1, '70')],
      { 7: alive(1) },
      {},
      [],
    ],
    [
      'an image-info-updated written before the publishing does not cover it (a second push)',
      [pub('7', 1, '70', 30), rec('7', 1, '70', 20)],
      { 7: alive(1) },
      {},
      ['7.1.70'],
    ],
    ['a completed run', [pub('7', 1, '70')], { 7: done(1) }, {}, []],
    [
      'a run the CI system cannot tell about still blocks',
      [pub('7', 1, '70')],
      { 7: undefined },
      {},
      ['7.1.70'],
    ],
    [
      'a deleted run (404 while its repository answers) never blocks',
      [pub('7', 1, '70')],
      { 7: { alive: false, deleted: true } },
      {},
      [],
    ],
    [
      'an attempt newer than the API reports (replica lag) blocks even if the API says completed',
      [pub('600', 2, undefined)],
      { 600: done(1) },
      {},
      ['600.2.-'],
    ],
    [
      'a deleted run whose markers show a newer attempt than reported still blocks',
      [pub('600', 2, '6')],
      { 600: { alive: false, attempt: 1, deleted: true } },
      {},
      ['600.2.6'],
    ],
    [
      're-run failed jobs: attempt 1 push job succeeded, its marker blocks while attempt 2 runs',
      [pub('700', 1, '71')],
      { 700: alive(2) },
      { '700/71': job(true, 'success') },
      ['700.1.71'],
    ],
    [
      'a failed job whose run has no other job left no longer blocks (its pushes are orphans)',
      [pub('700', 1, '71')],
      { 700: alive(2) },
      { '700/71': job(true, 'failure') },
      [],
    ],
    [
      'a cancelled job no longer blocks once the rest of its run ended',
      [pub('7', 1, '70')],
      { 7: alive(1) },
      { '7/70': job(true, 'cancelled'), '7/79': ran(5, 9) },
      [],
    ],
    [
      'a timed-out job (GitHub timed_out) no longer blocks once the rest of its run ended',
      [pub('7', 1, '70')],
      { 7: alive(1) },
      { '7/70': job(true, 'timed_out'), '7/79': ran(5, 9) },
      [],
    ],
    [
      'a failed job blocks while another job of its run may still record it (always())',
      [pub('7', 1, '70')],
      { 7: alive(1) },
      { '7/70': ran(1, 5, 'failure'), '7/79': ran() },
      ['7.1.70'],
    ],
    [
      'a job still running blocks',
      [pub('7', 1, '70')],
      { 7: alive(1) },
      { '7/70': job(false) },
      ['7.1.70'],
    ],
    [
      'hole 4: matrix legs: my own image-info-updated does not cover my sibling job',
      [pub('100', 2, '11', 10), pub('100', 2, '12', 15), rec('100', 2, '11', 20)],
      { 100: alive(2) },
      {},
      ['100.2.12'],
    ],
    ['a participant never blocks itself', [pub('100', 2, '11')], { 100: alive(2) }, {}, []],
    [
      'my own job of an earlier attempt is another participant',
      [pub('100', 1, '9')],
      { 100: alive(2) },
      {},
      ['100.1.9'],
    ],
    [
      'run scope: covers jobs of any attempt that completed before the record job started',
      [pub('7', 1, '70', 10), pub('7', 2, '72', 10), recRun('7', 2, '79', 20)],
      { 7: alive(2) },
      { '7/70': ran(1, 5), '7/72': ran(6, 9), '7/79': ran(9) },
      [],
    ],
    [
      "run scope: a job still running is not covered, whatever the writers' clocks say",
      [pub('7', 1, '72', 10), recRun('7', 1, '79', 99)],
      { 7: alive(1) },
      { '7/72': ran(1), '7/79': ran(5) },
      ['7.1.72'],
    ],
    [
      'run scope: a job that completed after the record job started is not covered',
      [pub('7', 2, '72', 10), recRun('7', 2, '79', 20)],
      { 7: alive(2) },
      { '7/72': ran(1, 30), '7/79': ran(20) },
      ['7.2.72'],
    ],
    [
      'run scope: a participant the jobs API does not know (no job id) is never covered by another',
      [pub('7', 1, 'pabcdefghijklmnopqrst', 10), recRun('7', 1, '79', 20)],
      { 7: alive(1) },
      { '7/79': ran(20) },
      ['7.1.pabcdefghijklmnopqrst'],
    ],
    [
      'run scope covers only its own run',
      [pub('8', 1, '80'), recRun('7', 1, '79', 99)],
      { 7: alive(1), 8: alive(1) },
      {},
      ['8.1.80'],
    ],
  ];
  for (const [name, markers, runs, jobs, expected] of table) {
    it(name, () => {
      expect(blocks(markers, runs, jobs)).toEqual(expected);
    });
  }

  it('decideWait: wait for the blockers, else proceed', () => {
    const joined = joinParticipants(self, [pub('7', 1, '70')], new Map([['|7', alive(1)]]));
    expect(decideWait(self, joined)).toMatchObject({ verdict: 'wait', blockers: [{ runId: '7' }] });
    expect(decideWait(self, [])).toEqual({ verdict: 'proceed' });
  });

  it('without an identity (store `none`) nothing is "self"', () => {
    const joined = joinParticipants(undefined, [pub('100', 2, '11')], new Map([['|100', alive()]]));
    expect(blockingRuns(undefined, joined)).toHaveLength(1);
  });

  it('uncoveredPublishing: only those whose liveness must be asked', () => {
    const markers = [pub('7', 1, '70'), rec('7', 1, '70'), pub('8', 1, '80'), pub('100', 2, '11')];
    expect(uncoveredPublishing(self, markers).map((p) => p.runId)).toEqual(['8']);
  });

  it("isCovered: same participant later, or run scope by the service's job times", () => {
    expect(isCovered(pub('7', 1, '70', 10), [rec('7', 1, '70', 11)])).toBe(true);
    expect(isCovered(pub('7', 1, '70', 10), [rec('7', 1, '70', 10)])).toBe(false);
    expect(isCovered(pub('7', 1, '70', 10), [rec('7', 1, '71', 11)])).toBe(false);
    // The cover's job started at 5: job 70 completed by then is covered; later, or still running, not.
    const cover = [recRun('7', 1, '71', 11)];
    expect(isCovered(pub('7', 1, '70', 10), cover)).toBe(false);
    const run = (completedAt?: number) =>
      withJobs({ 7: { alive: true } }, { '7/70': ran(1, completedAt), '7/71': ran(5) }).get('|7');
    expect(isCovered(pub('7', 1, '70', 10), cover, run(5))).toBe(true);
    expect(isCovered(pub('7', 1, '70', 10), cover, run(6))).toBe(false);
    expect(isCovered(pub('7', 1, '70', 10), cover, run())).toBe(false);
  });

  it('an annotator inside the run does not wait for its own job nor for jobs not started', () => {
    const me: ParticipantIdentity = { runId: '7', attempt: 1, jobId: '71' };
    const runs = withJobs(
      { 7: alive(1) },
      { '7/70': ran(1, 5, 'failure'), '7/71': ran(2), '7/72': ran() },
    );
    expect(blockingRuns(me, joinParticipants(me, [pub('7', 1, '70')], runs))).toEqual([]);
    // Another run's annotator waits for all of them.
    expect(blockingRuns(self, joinParticipants(self, [pub('7', 1, '70')], runs))).toHaveLength(1);
  });
});

describe('deletableMarkers: whole runs, never while a re-run could still need them', () => {
  const now = Date.parse('2026-06-01T00:00:00Z');
  const day = 24 * 3600_000;
  it('completed and covered, expired or deleted → deletable; otherwise kept', () => {
    const markers = [
      pub('5', 1, 'a'),
      rec('5', 1, 'a'),
      pub('6', 1, 'b'),
      pub('7', 1, 'c'),
      pub('600', 2, 'd'),
      pub('8', 1, 'e'),
      pub('9', 1, 'f'),
      pub('10', 1, 'g'),
    ];
    const runs = new Map<string, RunStatus | undefined>([
      ['|5', { alive: false, attempt: 1, completedAt: now - day }],
      ['|6', alive(1)],
      ['|7', undefined],
      ['|600', done(1)],
      ['|8', { alive: false, attempt: 1, completedAt: now - day }],
      ['|9', { alive: false, attempt: 1, completedAt: now - RERUN_WINDOW_MS }],
      ['|10', { alive: false, deleted: true }],
    ]);
    expect(deletableMarkers(markers, runs, now).map((x) => `${x.runId}.${x.state}`)).toEqual([
      '5.publishing',
      '5.image-info-updated',
      '9.publishing',
      '10.publishing',
    ]);
  });
});

describe('marker names', () => {
  it('round-trip participant, state, scope and stamp', () => {
    const who = { runId: '123', attempt: 2, jobId: '987654' };
    const name = markerName(who, 'image-info-updated', 'run', 1_700_000_000_123);
    expect(name).toBe('123.2.987654.image-info-updated-run.1700000000123');
    expect(parseMarkerName(name)).toEqual({
      runId: '123',
      attempt: 2,
      jobId: '987654',
      repository: undefined,
      state: 'image-info-updated',
      scope: 'run',
      stamp: 1_700_000_000_123,
    });
    const noJob = markerName({ runId: '5', attempt: 1 }, 'publishing', 'job', 7);
    expect(parseMarkerName(noJob)).toMatchObject({ jobId: undefined, scope: 'job', stamp: 7 });
  });
  it('ignores names without a job or a stamp (no release wrote them)', () => {
    expect(parseMarkerName('600.2.publishing')).toBeUndefined();
    expect(parseMarkerName('600.2.7.publishing')).toBeUndefined();
  });
  it.each([
    'x.1.publishing',
    '1.2.3',
    '1.2.job.publishing',
    '1.2.image-info-updated-run',
    '1.2.a.b.publishing.3',
  ])('ignores %s', (name) => {
    expect(parseMarkerName(name)).toBeUndefined();
  });
});

describe('validate (step 5) and needsReconcile (step 7)', () => {
  const fp = 'sha256:aaa';
  const joined = (markers: RawMarker[]) =>
    joinParticipants(self, markers, withJobs({ 7: alive(1), 8: alive(1) }));
  it('proceeds when nobody blocks and the fingerprint is unchanged', () => {
    expect(validate(self, joined([pub('7', 1, '70'), rec('7', 1, '70')]), fp, fp)).toEqual({
      verdict: 'proceed',
    });
  });
  it('restarts when a participant began publishing during the inventory', () => {
    const v = validate(self, joined([pub('8', 1, '80')]), fp, fp);
    expect(v).toMatchObject({ verdict: 'restart', blockers: [{ runId: '8' }] });
  });
  it('restarts when the fingerprint changed', () => {
    const v = validate(self, [], fp, 'sha256:bbb');
    expect(v).toMatchObject({ verdict: 'restart', blockers: [] });
    expect(v.verdict === 'restart' && v.reason).toMatch(/image-info changed/);
  });
  it('reconcile when someone blocks after apply, or the image-info changed; not otherwise', () => {
    expect(needsReconcile(self, joined([pub('8', 1, '80')]), fp, fp).reconcile).toBe(true);
    expect(needsReconcile(self, [], fp, 'sha256:bbb').reconcile).toBe(true);
    expect(needsReconcile(self, joined([pub('7', 1, '70'), rec('7', 1, '70')]), fp, fp)).toEqual({
      reconcile: false,
      reason: '',
    });
  });
});

describe('jitteredInterval', () => {
  it('stays within [0.75, 1.25) of the interval', () => {
    expect(jitteredInterval(1000, 0)).toBe(750);
    expect(jitteredInterval(1000, 0.5)).toBe(1000);
    expect(jitteredInterval(1000, 0.999999)).toBe(1250);
  });
});

describe('describeRun', () => {
  it('names the run, attempt, age and link', () => {
    const text = describeRun(
      {
        runId: '42',
        attempt: 2,
        publishingSince: 0,
        covered: false,
        blocks: true,
        alive: true,
        since: '2026-01-01T00:00:00Z',
        url: 'https://ci/42',
      },
      new Date('2026-01-01T00:05:00Z'),
    );
    expect(text).toBe(
      'run 42 (attempt 2) is publishing since 2026-01-01T00:00:00Z (5m ago): https://ci/42',
    );
  });

  it('names the job, the repository and the 404 caveat', () => {
    const text = describeRun(
      {
        runId: '42',
        attempt: 1,
        jobId: '777',
        jobName: 'build (debian)',
        repository: 'octo/b',
        publishingSince: 0,
        covered: false,
        blocks: true,
        alive: true,
        runUnknown: true,
      },
      new Date(),
    );
    expect(text).toBe(
      'octo/b run 42 (attempt 1), job "build (debian)" 777 is publishing (the CI system did not return this run; it counts as running)',
    );
  });
});

describe('group names are safe as build tags and git ref components', () => {
  const ok = ['a', 'dotnet-docker', 'A.b_c-1', 'linux', 'a.b', 'my-group_1', 'x'.repeat(64)];
  it.each(ok)('accepts %s', (group) => {
    expect(assertGroupName(group)).toBe(group);
  });
  const badLength = ['', 'x'.repeat(65)];
  const badCharacters = ['a/b', 'a b', 'ä', '../x', 'a*'];
  const badDots = ['.hidden', 'a..b', 'images.lock', 'trailing.'];
  it.each([...badLength, ...badCharacters, ...badDots])('rejects %j naming the input', (group) => {
    expect(() => assertGroupName(group)).toThrow(InputError);
    expect(() => assertGroupName(group)).toThrow(/^group: expected 1-64 characters/);
  });
});
