import { rejection } from '../support/errors.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  GitHubStore,
  markerRef,
  parseMarkerRef,
  type GitHubStoreOptions,
} from '../../src/coordination/github.js';
import {
  MAX_POLL_DELAY_FACTOR,
  pollDelayFactorFor,
} from '../../src/coordination/github-rate-limit.js';
import type { CoverScope, MarkerState } from '../../src/coordination/port.js';
import { InputError, RuntimeError } from '../../src/core/errors.js';
import type { Clock } from '../../src/core/ports.js';
import { blockingRuns, RERUN_WINDOW_MS } from '../../src/core/protocol.js';
import { instantClock } from '../support/doubles.js';
import { FakeGitHub } from '../support/fake-github.js';

const fake = new FakeGitHub();
const HOME = `${fake.owner}/${fake.repo}`;
const sleeps: number[] = [];
const retry = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 };
/** Store options that give up after `retries` retries. */
const retrying = (retries: number) => ({ retry: { ...retry, retries } });
/**
 * Writers' clocks: every marker written by `mark` is later than the one before. The fake's own
 * clock (job and run times) reads the same counter; `later()` moves both on.
 */
let stamp = 1_700_000_000_000;
const later = (ms = 60_000) => (stamp += ms);
/** The stores' clock: each reading is later than the one before; sleeps are recorded. */
const clock: Clock = {
  ...instantClock,
  now: () => new Date(stamp++),
  random: () => 0,
  sleep: async (ms: number) => void sleeps.push(ms),
};

beforeAll(async () => {
  await fake.start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  fake.clock = () => stamp;
  sleeps.length = 0;
});

function store(runId: number, extra: Partial<GitHubStoreOptions> = {}): GitHubStore {
  return new GitHubStore({
    apiUrl: fake.apiUrl,
    owner: fake.owner,
    repo: fake.repo,
    runId,
    runAttempt: fake.runs.get(runId)?.run_attempt ?? 1,
    sha: fake.headSha,
    token: fake.token,
    retry,
    clock,
    ...extra,
  });
}

interface Who {
  runId: number | string;
  attempt?: number;
  jobId?: number | string;
  repository?: string;
}

/** A marker ref written straight into the fake, later than every one before it. */
function mark(who: Who, state: MarkerState, scope: CoverScope = 'job'): string {
  const ref = markerRef(
    'g',
    {
      runId: String(who.runId),
      attempt: who.attempt ?? 1,
      jobId: who.jobId === undefined ? undefined : String(who.jobId),
      repository: who.repository ?? HOME,
    },
    state,
    scope,
    stamp++,
    HOME,
  );
  fake.refs.set(ref, fake.headSha);
  return ref;
}

/** A run with whole-run markers (no job id) written straight into the fake. */
function runWith(states: MarkerState[], init: Parameters<FakeGitHub['createRun']>[0] = {}) {
  const run = fake.createRun(init);
  for (const s of states) mark({ runId: run.id, attempt: run.run_attempt }, s);
  return run;
}

const mutating = () => fake.requests.filter((r) => r.method !== 'GET');
const path = (r: { method: string; path: string }) =>
  `${r.method} ${r.path.replace(`/repos/${HOME}/`, '')}`;
const actionsCalls = () => fake.requests.filter((r) => r.path.includes('/actions/')).map(path);

describe('marker refs', () => {
  it('round-trip per participant, with cover scope and stamp; foreign refs are ignored', () => {
    const who = { runId: '12', attempt: 3, jobId: '4567', repository: HOME };
    expect(markerRef('g', who, 'publishing', 'job', 99, HOME)).toBe(
      'refs/eol-gate/g/12.3.4567.publishing.99',
    );
    expect(markerRef('g', who, 'image-info-updated', 'run', 100, HOME)).toBe(
      'refs/eol-gate/g/12.3.4567.image-info-updated-run.100',
    );
    expect(parseMarkerRef('g', 'refs/eol-gate/g/12.3.4567.image-info-updated.100', HOME)).toEqual({
      runId: '12',
      attempt: 3,
      jobId: '4567',
      repository: undefined,
      state: 'image-info-updated',
      scope: 'job',
      stamp: 100,
    });
    expect(parseMarkerRef('g', 'refs/eol-gate/g/12.3.0.publishing.5', HOME)).toMatchObject({
      jobId: undefined,
      stamp: 5,
    });
    expect(parseMarkerRef('g', 'refs/eol-gate/g2/12.3.4567.publishing.1', HOME)).toBeUndefined();
    expect(parseMarkerRef('g', 'refs/eol-gate/g/x.3.4567.publishing.1', HOME)).toBeUndefined();
    expect(parseMarkerRef('g', 'refs/eol-gate/g/12.3.4567.done.1', HOME)).toBeUndefined();
    expect(parseMarkerRef('g', 'refs/eol-gate/g/12.3.4567.publishing', HOME)).toBeUndefined();
  });

  it('a name without a job or a stamp is not a marker', () => {
    expect(parseMarkerRef('g', 'refs/eol-gate/g/600.2.publishing', HOME)).toBeUndefined();
  });

  it("another repository's run names its repository in the ref", () => {
    const who = { runId: '12', attempt: 1, jobId: '9', repository: 'octo/app-b' };
    const ref = markerRef('g', who, 'publishing', 'job', 7, HOME);
    expect(ref).toBe('refs/eol-gate/g/octo/app-b/12.1.9.publishing.7');
    expect(parseMarkerRef('g', ref, HOME)).toMatchObject({ repository: 'octo/app-b', runId: '12' });
    expect(parseMarkerRef('g', 'refs/eol-gate/g/octo/12.1.9.publishing.7', HOME)).toBeUndefined();
    // A run of the coordination repository is named without it, however its ref spells it.
    expect(
      parseMarkerRef('g', `refs/eol-gate/g/${HOME}/12.1.9.publishing.7`, HOME)?.repository,
    ).toBeUndefined();
  });
});

describe('pollDelayFactorFor', () => {
  const now = 1_000_000_000_000;
  const rate = (remaining: number, resetInMin?: number) => ({
    limit: 1000,
    remaining,
    resetMs: resetInMin === undefined ? undefined : now + resetInMin * 60_000,
  });
  it('is 1 while half the limit remains, or enough to last at the even pace until the reset', () => {
    expect(pollDelayFactorFor(undefined, now)).toBe(1);
    expect(pollDelayFactorFor(rate(500, 60), now)).toBe(1);
    expect(pollDelayFactorFor(rate(200, 10), now)).toBe(1);
  });
  it('grows as the remaining share falls behind the share of the window left, up to a cap', () => {
    expect(pollDelayFactorFor(rate(400, 60), now)).toBeCloseTo(2.5);
    expect(pollDelayFactorFor(rate(100, 60), now)).toBeCloseTo(10);
    expect(pollDelayFactorFor(rate(100, 30), now)).toBeCloseTo(5);
    expect(pollDelayFactorFor(rate(100), now)).toBeCloseTo(10);
    expect(pollDelayFactorFor(rate(0, 60), now)).toBe(MAX_POLL_DELAY_FACTOR);
    expect(pollDelayFactorFor(rate(0, 0), now)).toBe(1);
  });
});

describe('GitHubStore', () => {
  it("signal creates this participant's ref on GITHUB_SHA and reads it back with matching-refs", async () => {
    const run = fake.createRun({ run_attempt: 2 });
    const s = store(run.id, { jobId: '31', clock: { ...clock, now: () => new Date(1234) } });
    await s.signal('g', 'publishing');
    expect([...fake.refs]).toEqual([
      [`refs/eol-gate/g/${run.id}.2.31.publishing.1234`, fake.headSha],
    ]);
    expect(fake.requests.map(path)).toEqual(['POST git/refs', `GET git/matching-refs/eol-gate/g/`]);
  });

  it('a retried step that publishes again blocks again; signalling twice is fine', async () => {
    const run = fake.createRun();
    const s = store(run.id, { jobId: '5' });
    await s.signal('g', 'publishing');
    await s.signal('g', 'image-info-updated');
    const peer = fake.createRun();
    expect(blockingRuns(store(peer.id).self, await store(peer.id).listRuns('g'))).toEqual([]);
    await s.signal('g', 'publishing');
    await s.signal('g', 'publishing');
    const runs = await store(peer.id).listRuns('g');
    expect(runs).toMatchObject([{ runId: String(run.id), jobId: '5', covered: false }]);
    expect(blockingRuns(store(peer.id).self, runs)).toHaveLength(1);
  });

  it('waits until matching-refs shows the write (eventual listing)', async () => {
    const run = fake.createRun();
    fake.listLag = 3;
    await store(run.id).signal('g', 'publishing');
    expect(sleeps.length).toBeGreaterThanOrEqual(1);
    const peer = fake.createRun();
    expect((await store(peer.id).listRuns('g')).map((r) => [r.runId, r.blocks])).toEqual([
      [String(run.id), true],
    ]);
  });

  it('fails when the write never shows', async () => {
    const run = fake.createRun();
    fake.listLag = 1000;
    await expect(
      store(run.id, { readBack: { attempts: 2, delayMs: 1 } }).signal('g', 'publishing'),
    ).rejects.toThrow(/did not show/);
  });

  it('listRuns: one matching-refs call; only runs of uncovered publishing, once each (jobs while alive)', async () => {
    const live = runWith(['publishing']);
    const recorded = runWith(['publishing', 'image-info-updated']);
    const done = runWith(['publishing'], { status: 'completed', conclusion: 'cancelled' });
    const me = fake.createRun();
    const runs = await store(me.id).listRuns('g');
    expect(runs.map((r) => [r.runId, r.alive, r.covered, r.blocks])).toEqual([
      [String(live.id), true, false, true],
      [String(recorded.id), true, true, false],
      [String(done.id), false, false, false],
    ]);
    expect(runs[0].url).toBe(`https://github.com/${HOME}/actions/runs/${live.id}`);
    expect(runs[0].name).toBe('publish');
    expect(fake.requests.filter((r) => r.path.includes('matching-refs'))).toHaveLength(1);
    // A completed run's jobs cannot make it block: only a live run's are listed, in one call.
    expect(actionsCalls()).toEqual([
      `GET actions/runs/${live.id}`,
      `GET actions/runs/${live.id}/jobs`,
      `GET actions/runs/${done.id}`,
    ]);
    expect(fake.requests.find((r) => r.path.endsWith('/jobs'))?.query).toBe(
      'filter=all&per_page=100',
    );
    expect(blockingRuns(store(me.id).self, runs).map((r) => r.runId)).toEqual([String(live.id)]);
  });

  it('listRuns never writes, even with markers of completed runs to clean up', async () => {
    runWith(['publishing'], { status: 'completed', conclusion: 'success' });
    runWith(['publishing', 'image-info-updated'], { status: 'completed', conclusion: 'success' });
    runWith(['publishing']);
    const before = fake.refs.size;
    await store(1).listRuns('g');
    await store(1).listRuns('g');
    expect(mutating()).toEqual([]);
    expect(fake.refs.size).toBe(before);
  });

  it("a newer attempt does not inherit the older attempt's job-scoped image-info-updated", async () => {
    const run = runWith(['publishing', 'image-info-updated']);
    fake.rerun(run.id);
    mark({ runId: run.id, attempt: 2 }, 'publishing');
    const runs = await store(1).listRuns('g');
    expect(runs).toMatchObject([
      { runId: String(run.id), attempt: 1, covered: true, blocks: false },
      { runId: String(run.id), attempt: 2, covered: false, alive: true, blocks: true },
    ]);
    expect(blockingRuns(undefined, runs)).toHaveLength(1);
  });

  it('matrix legs: job A never blocks itself, job B of the same run blocks A, A does not cover B', async () => {
    const run = fake.createRun();
    const a = fake.createJob({ run_id: run.id, name: 'build (debian)' });
    const b = fake.createJob({ run_id: run.id, name: 'build (fedora)' });
    const legA = store(run.id, { jobId: String(a.id) });
    const legB = store(run.id, { jobId: String(b.id) });
    await legA.signal('g', 'publishing');
    await legB.signal('g', 'publishing');
    await legA.signal('g', 'image-info-updated');
    fake.requests.length = 0;
    const seenByA = await legA.listRuns('g');
    expect(seenByA).toMatchObject([
      { runId: String(run.id), jobId: String(a.id), covered: true, blocks: false },
      {
        runId: String(run.id),
        jobId: String(b.id),
        covered: false,
        blocks: true,
        jobName: 'build (fedora)',
        url: `https://github.com/${HOME}/actions/runs/${run.id}/job/${b.id}`,
      },
    ]);
    expect(blockingRuns(legA.self, seenByA).map((r) => r.jobId)).toEqual([String(b.id)]);
    // Its own run is alive by definition: only its jobs are listed (for the sibling's job).
    expect(actionsCalls()).toEqual([`GET actions/runs/${run.id}/jobs`]);
    // B blocks nobody once it records; A never blocked B (A's publishing is covered).
    await legB.signal('g', 'image-info-updated');
    expect(blockingRuns(legA.self, await legA.listRuns('g'))).toEqual([]);
    expect(blockingRuns(legB.self, await legB.listRuns('g'))).toEqual([]);
  });

  it('run scope covers the jobs GitHub reports completed no later than the covering job started, in any attempt', async () => {
    const run = fake.createRun();
    const first = fake.createJob({ run_id: run.id, name: 'push (attempt 1)' });
    mark({ runId: run.id, attempt: 1, jobId: first.id }, 'publishing');
    later();
    fake.completeJob(first.id);
    fake.rerun(run.id).status = 'in_progress';
    const pushed = fake.createJob({ run_id: run.id, name: 'push' });
    mark({ runId: run.id, attempt: 2, jobId: pushed.id }, 'publishing');
    later();
    fake.completeJob(pushed.id);
    later();
    const record = fake.createJob({ run_id: run.id, name: 'record' });
    mark({ runId: run.id, attempt: 2, jobId: record.id }, 'image-info-updated', 'run');
    const after = fake.createJob({ run_id: run.id, name: 'late push' });
    mark({ runId: run.id, attempt: 2, jobId: after.id }, 'publishing');
    const runs = await store(1).listRuns('g');
    expect(runs.map((r) => [r.attempt, r.jobName, r.covered, r.blocks])).toEqual([
      [1, 'push (attempt 1)', true, false],
      [2, 'push', true, false],
      [2, 'late push', false, true],
    ]);
    // A job-scoped image-info-updated of another job covers nothing of its siblings.
    fake.refs.clear();
    mark({ runId: run.id, attempt: 2, jobId: pushed.id }, 'publishing');
    mark({ runId: run.id, attempt: 2, jobId: record.id }, 'image-info-updated');
    expect((await store(1).listRuns('g')).map((r) => [r.jobId, r.blocks])).toEqual([
      [String(pushed.id), true],
    ]);
  });

  it('hole 1: a run-scope cover does not cover a job still running, whatever the writers’ stamps say', async () => {
    // examples/github/matrix.yml: `windows` signals, pushes and keeps running; `record-linux`
    // (needs: linux only) records with --scope run while windows is still running.
    const run = fake.createRun();
    const windows = fake.createJob({ run_id: run.id, name: 'windows' });
    const linux = fake.createJob({ run_id: run.id, name: 'linux' });
    mark({ runId: run.id, jobId: windows.id }, 'publishing');
    mark({ runId: run.id, jobId: linux.id }, 'publishing');
    later();
    fake.completeJob(linux.id);
    later();
    const record = fake.createJob({ run_id: run.id, name: 'record-linux' });
    mark({ runId: run.id, jobId: record.id }, 'image-info-updated', 'run');
    const peer = fake.createRun();
    const s = store(peer.id, { jobId: '1' });
    expect((await s.listRuns('g')).map((r) => [r.jobName, r.covered, r.blocks])).toEqual([
      ['windows', false, true],
      ['linux', true, false],
    ]);
    // Windows completing later does not make the earlier cover cover it.
    later();
    fake.completeJob(windows.id);
    expect(blockingRuns(s.self, await s.listRuns('g')).map((r) => r.jobName)).toEqual(['windows']);
    // A job the CI cannot name (no job id) is never covered by another job's claim.
    fake.refs.clear();
    mark({ runId: run.id }, 'publishing');
    mark({ runId: run.id, jobId: record.id }, 'image-info-updated', 'run');
    expect(blockingRuns(s.self, await s.listRuns('g'))).toHaveLength(1);
  });

  it('a queued job reports a started_at too: it has not started until GitHub says in_progress', async () => {
    const run = fake.createRun();
    const push = fake.createJob({ run_id: run.id, name: 'push' });
    mark({ runId: run.id, jobId: push.id }, 'publishing');
    later();
    // Queued (its started_at is its creation time) before push completes, runs after.
    const record = fake.createJob({ run_id: run.id, name: 'record', status: 'queued' });
    mark({ runId: run.id, jobId: record.id }, 'image-info-updated', 'run');
    later();
    fake.completeJob(push.id);
    const s = store(1);
    expect(blockingRuns(s.self, await s.listRuns('g')).map((r) => r.jobName)).toEqual(['push']);
    later();
    fake.startJob(record.id);
    expect(blockingRuns(s.self, await s.listRuns('g'))).toEqual([]);
  });

  it('a job completed as failure or cancelled does not block once the other jobs of its run ended; one completed with success blocks while its run is alive', async () => {
    const run = fake.createRun();
    const failed = fake.createJob({ run_id: run.id, name: 'push (arm64)' });
    const cancelled = fake.createJob({ run_id: run.id, name: 'push (amd64)' });
    const succeeded = fake.createJob({ run_id: run.id, name: 'push (windows)' });
    for (const j of [failed, cancelled, succeeded])
      mark({ runId: run.id, jobId: j.id }, 'publishing');
    fake.completeJob(failed.id, 'failure');
    fake.completeJob(cancelled.id, 'cancelled');
    fake.completeJob(succeeded.id, 'success');
    const runs = await store(1).listRuns('g');
    expect(runs.map((r) => [r.jobId, r.jobFailed ?? false, r.blocks])).toEqual([
      [String(failed.id), true, false],
      [String(cancelled.id), true, false],
      [String(succeeded.id), false, true],
    ]);
    fake.complete(run.id, 'failure');
    expect(blockingRuns(undefined, await store(1).listRuns('g'))).toEqual([]);
  });

  it('hole 4: a failed job blocks while another job of its run (an always() record job) may still record it', async () => {
    const run = fake.createRun();
    const leg = fake.createJob({ run_id: run.id, name: 'push (arm64)' });
    mark({ runId: run.id, jobId: leg.id }, 'publishing');
    later();
    fake.completeJob(leg.id, 'failure');
    const record = fake.createJob({ run_id: run.id, name: 'record', status: 'queued' });
    const s = store(1);
    expect(await s.listRuns('g')).toMatchObject([
      { jobName: 'push (arm64)', jobFailed: true, siblingsRunning: true, blocks: true },
    ]);
    later();
    fake.startJob(record.id);
    expect(blockingRuns(s.self, await s.listRuns('g'))).toHaveLength(1);
    later();
    fake.completeJob(record.id, 'success');
    expect(blockingRuns(s.self, await s.listRuns('g'))).toEqual([]);
  });

  it("hole 4 inside the run: a leg's annotator waits for a failed sibling while a started job may record it, never for itself nor for a queued job", async () => {
    const run = fake.createRun();
    const a = fake.createJob({ run_id: run.id, name: 'build (debian)' });
    const b = fake.createJob({ run_id: run.id, name: 'build (fedora)' });
    const legA = store(run.id, { jobId: String(a.id) });
    mark({ runId: run.id, jobId: b.id }, 'publishing');
    later();
    fake.completeJob(b.id, 'failure');
    // A job that waits on the annotating leg (needs: build) is queued: it cannot hang it.
    const record = fake.createJob({ run_id: run.id, name: 'record', status: 'queued' });
    expect(blockingRuns(legA.self, await legA.listRuns('g'))).toEqual([]);
    // A job that runs now may still record what the failed leg pushed.
    fake.startJob(record.id);
    expect(blockingRuns(legA.self, await legA.listRuns('g')).map((r) => r.jobName)).toEqual([
      'build (fedora)',
    ]);
  });

  it('re-run failed jobs: attempt 1 publishing of a job that succeeded blocks attempt 2 until covered', async () => {
    const run = fake.createRun();
    const push = fake.createJob({ run_id: run.id, name: 'push' });
    const record = fake.createJob({ run_id: run.id, name: 'record' });
    mark({ runId: run.id, attempt: 1, jobId: push.id }, 'publishing');
    fake.completeJob(push.id, 'success');
    fake.completeJob(record.id, 'failure');
    later();
    fake.rerun(run.id);
    const retried = fake.createJob({ run_id: run.id, name: 'record' });
    const peer = fake.createRun();
    const runs = await store(peer.id).listRuns('g');
    expect(runs).toMatchObject([{ attempt: 1, jobId: String(push.id), alive: true, blocks: true }]);
    // The retried record job merges the push job's images and says so for the whole run.
    mark({ runId: run.id, attempt: 2, jobId: retried.id }, 'image-info-updated', 'run');
    expect(blockingRuns(undefined, await store(peer.id).listRuns('g'))).toEqual([]);
  });

  it('a marker of an attempt newer than the API reports blocks and is never deleted', async () => {
    const run = fake.createRun({ id: 600, run_attempt: 1 });
    mark({ runId: run.id, attempt: 2, jobId: 42 }, 'publishing');
    const refs = [...fake.refs.keys()];
    expect(await store(1).listRuns('g')).toMatchObject([
      { runId: '600', attempt: 2, alive: true, blocks: true },
    ]);
    // Even with the older attempt reported completed, the newer attempt's marker stands.
    fake.complete(run.id, 'failure');
    expect(blockingRuns(undefined, await store(1).listRuns('g'))).toHaveLength(1);
    await store(1).cleanup('g');
    expect([...fake.refs.keys()]).toEqual(refs);
    expect(fake.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
  });

  it('hole 5: a run that answers 404 while its repository answers 200 was deleted: it never blocks and cleanup removes its refs', async () => {
    const run = fake.createRun();
    const job = fake.createJob({ run_id: run.id });
    const ref = mark({ runId: run.id, jobId: job.id }, 'publishing');
    fake.complete(run.id, 'failure');
    fake.deleteRun(run.id); // "Delete workflow run", or retention
    const s = store(1);
    const runs = await s.listRuns('g');
    expect(runs).toMatchObject([
      { runId: String(run.id), alive: false, deleted: true, blocks: false },
    ]);
    // The repository is read once per listing; a listing never writes.
    expect(fake.requests.map(path)).toEqual([
      'GET git/matching-refs/eol-gate/g/',
      `GET actions/runs/${run.id}`,
      `GET /repos/${HOME}`,
    ]);
    expect(mutating()).toEqual([]);
    expect(fake.refs.has(ref)).toBe(true);
    await s.cleanup('g');
    expect(fake.refs.has(ref)).toBe(false);
  });

  it('a run that answers 404 while its repository answers 404 too blocks, is said to be unknown, and is never deleted', async () => {
    const ref = mark({ runId: 777, jobId: 8 }, 'publishing');
    const repoNotFound = () =>
      fake.fail({ status: 404, match: (m, p) => m === 'GET' && p === `/repos/${HOME}` });
    repoNotFound();
    const runs = await store(1).listRuns('g');
    expect(runs).toMatchObject([{ runId: '777', alive: true, runUnknown: true, blocks: true }]);
    repoNotFound();
    await store(1).cleanup('g');
    expect([...fake.refs.keys()]).toEqual([ref]);
    expect(mutating()).toEqual([]);
  });

  it('cleanup deletes the refs of completed runs whose markers are covered: keeps live peers, lagging attempts, its own run and foreign refs', async () => {
    const live = runWith(['publishing']);
    const done = runWith(['publishing', 'image-info-updated'], { status: 'completed' });
    const doneJobs = fake.createRun();
    const push = fake.createJob({ run_id: doneJobs.id, name: 'push' });
    const doneRefs = [mark({ runId: doneJobs.id, jobId: push.id }, 'publishing')];
    later();
    fake.completeJob(push.id);
    const record = fake.createJob({ run_id: doneJobs.id, name: 'record' });
    doneRefs.push(mark({ runId: doneJobs.id, jobId: record.id }, 'image-info-updated', 'run'));
    fake.completeJob(record.id, 'failure');
    fake.complete(doneJobs.id, 'failure');
    const rerun = runWith(['publishing']);
    fake.rerun(rerun.id);
    mark({ runId: rerun.id, attempt: 2 }, 'publishing');
    const me = runWith(['publishing', 'image-info-updated'], {
      status: 'completed',
      conclusion: 'success',
    });
    fake.refs.set('refs/eol-gate/g/not-a-marker', fake.headSha);
    const before = new Set(fake.refs.keys());
    await store(me.id).cleanup('g');
    const deleted = [...before].filter((r) => !fake.refs.has(r)).sort();
    expect(deleted).toEqual(
      [...[...before].filter((r) => r.includes(`/${done.id}.`)), ...doneRefs].sort(),
    );
    expect([...fake.refs.keys()].filter((r) => r.includes(`/${live.id}.`))).toHaveLength(1);
    expect([...fake.refs.keys()].filter((r) => r.includes(`/${rerun.id}.`))).toHaveLength(2);
    expect([...fake.refs.keys()].filter((r) => r.includes(`/${me.id}.`))).toHaveLength(2);
    expect(fake.refs.has('refs/eol-gate/g/not-a-marker')).toBe(true);
    // No status request for its own run: it is alive by definition.
    expect(fake.requests.some((r) => r.path.endsWith(`/actions/runs/${me.id}`))).toBe(false);
  });

  it('hole 3: cleanup keeps an uncovered marker of a completed run while it can be re-run; a re-run makes it block again', async () => {
    const run = fake.createRun();
    const push = fake.createJob({ run_id: run.id, name: 'push' });
    const ref = mark({ runId: run.id, jobId: push.id }, 'publishing');
    later();
    fake.completeJob(push.id, 'success');
    fake.completeJob(fake.createJob({ run_id: run.id, name: 'record' }).id, 'failure');
    fake.complete(run.id, 'failure');
    const me = fake.createRun();
    const s = store(me.id, { jobId: '1' });
    expect(blockingRuns(s.self, await s.listRuns('g'))).toEqual([]);
    await s.cleanup('g');
    expect(fake.refs.has(ref)).toBe(true);
    expect(mutating()).toEqual([]);
    // "Re-run failed jobs": the record job is queued again; the push job's marker blocks.
    fake.rerun(run.id);
    fake.createJob({ run_id: run.id, name: 'record', status: 'queued' });
    expect(blockingRuns(s.self, await s.listRuns('g')).map((r) => r.jobName)).toEqual(['push']);
    // Completed again, and past GitHub's re-run window: the marker can never count again.
    fake.complete(run.id, 'failure');
    later(RERUN_WINDOW_MS);
    await s.cleanup('g');
    expect(fake.refs.has(ref)).toBe(false);
  });

  it('hole 6: two 8-leg runs publishing cost at most 3 counted requests a poll once nothing changes (conditional requests)', async () => {
    const runs: Array<{ id: number; legs: number[] }> = [];
    for (let r = 0; r < 2; r++) {
      const run = { id: fake.createRun().id, legs: [] as number[] };
      runs.push(run);
      for (let l = 0; l < 8; l++) {
        const job = fake.createJob({ run_id: run.id, name: `build (${l})` });
        run.legs.push(job.id);
        mark({ runId: run.id, jobId: job.id }, 'publishing');
      }
    }
    const me = fake.createRun();
    const s = store(me.id, { jobId: String(fake.createJob({ run_id: me.id }).id) });
    const poll = async (blocking: number) => {
      fake.requests.length = 0;
      expect(blockingRuns(s.self, await s.listRuns('g'))).toHaveLength(blocking);
      return { counted: fake.counted().length, notModified: fake.notModified().length };
    };
    // First poll: one listing, then per run its status and one jobs listing (no call per job).
    expect(await poll(16)).toEqual({ counted: 5, notModified: 0 });
    expect(await poll(16)).toEqual({ counted: 0, notModified: 5 });
    expect(await poll(16)).toEqual({ counted: 0, notModified: 5 });
    // A leg records: only the listing changed.
    mark({ runId: runs[0].id, jobId: runs[0].legs[0] }, 'image-info-updated');
    expect(await poll(15)).toEqual({ counted: 1, notModified: 4 });
    // A leg completes: only its run's jobs listing changed.
    fake.completeJob(runs[1].legs[0]);
    expect(await poll(15)).toEqual({ counted: 1, notModified: 4 });
    expect(await poll(15)).toEqual({ counted: 0, notModified: 5 });
  });

  it('rate limit: GitHub counts only non-304 answers; the poll delay stretches as the budget falls', async () => {
    runWith(['publishing']);
    const s = store(1);
    fake.spendRateLimit = true;
    fake.rateLimit.remaining = 1000;
    await s.listRuns('g');
    await s.listRuns('g');
    expect(fake.rateLimit.remaining).toBe(1000 - fake.counted().length);
    expect(s.pollDelayFactor()).toBe(1);
    fake.rateLimit.remaining = 100;
    await s.listRuns('g'); // a 304 carries the rate-limit headers too
    expect(fake.requests.at(-1)?.status).toBe(304);
    expect(s.pollDelayFactor()).toBeGreaterThan(1);
    fake.rateLimit.remaining = 0;
    await s.listRuns('g');
    expect(s.pollDelayFactor()).toBe(MAX_POLL_DELAY_FACTOR);
  });

  it('a run with more than 100 jobs: every page of the listing, each page conditional', async () => {
    const run = fake.createRun();
    const jobs = Array.from({ length: 150 }, (_, i) =>
      fake.createJob({ run_id: run.id, name: `leg ${i}` }),
    );
    mark({ runId: run.id, jobId: jobs[140].id }, 'publishing');
    fake.completeJob(jobs[140].id, 'failure');
    const s = store(1);
    // Every other job of the run is still running: the failed leg blocks (page 2 was read).
    expect(await s.listRuns('g')).toMatchObject([{ jobName: 'leg 140', blocks: true }]);
    expect(fake.requests.filter((r) => r.path.endsWith('/jobs')).map((r) => r.query)).toEqual([
      'filter=all&per_page=100',
      'filter=all&per_page=100&page=2',
    ]);
    for (const j of jobs) if (j.status !== 'completed') fake.completeJob(j.id);
    fake.requests.length = 0;
    expect(blockingRuns(s.self, await s.listRuns('g'))).toEqual([]);
    fake.requests.length = 0;
    await s.listRuns('g');
    expect(fake.counted()).toEqual([]);
  });

  it('secondary rate limit (403 + retry-after) is waited out, then succeeds', async () => {
    const run = fake.createRun();
    fake.secondaryRateLimit(7, 2);
    await store(run.id).signal('g', 'publishing');
    expect(fake.refs.size).toBe(1);
    expect(sleeps.filter((ms) => ms >= 7000)).toHaveLength(2);
  });

  it('429 without retry-after waits the secondary default (a minute)', async () => {
    const run = fake.createRun();
    fake.secondaryRateLimit(undefined, 1, 429);
    await store(run.id).listRuns('g');
    expect(sleeps.some((ms) => ms >= 60_000)).toBe(true);
  });

  it('primary rate limit (remaining 0) waits until x-ratelimit-reset', async () => {
    const run = fake.createRun();
    fake.primaryRateLimit(120);
    const now = Date.now();
    await store(run.id, { clock: { ...clock, now: () => new Date(now) } }).listRuns('g');
    expect(sleeps.some((ms) => ms > 100_000 && ms <= 121_000)).toBe(true);
  });

  it('a reset too far ahead fails instead of hanging the pipeline', async () => {
    fake.primaryRateLimit(7200);
    await expect(store(1).listRuns('g')).rejects.toThrow(RuntimeError);
  });

  it('403 without rate limit names the permissions; nothing written', async () => {
    const run = fake.createRun();
    fake.permissions = { contents: 'read', actions: 'read' };
    const err = await rejection(store(run.id).signal('g', 'publishing'));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/contents: write.*actions: read/);
    expect(err.message).not.toContain(fake.token);
    expect(fake.refs.size).toBe(0);
    fake.permissions = { contents: 'write', actions: 'none' };
    runWith(['publishing']);
    await expect(store(run.id).listRuns('g')).rejects.toThrow(/actions: read/);
  });

  it('bad credentials (401) are an InputError without the token', async () => {
    const err = await rejection(store(1, { token: 'ghs_wrong' }).listRuns('g'));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).not.toContain('ghs_wrong');
  });

  it('5xx is retried; a persistent one fails (never "no runs")', async () => {
    fake.fail({ status: 502, times: 1 });
    expect(await store(1).listRuns('g')).toEqual([]);
    fake.fail({ status: 502, times: 100 });
    await expect(store(1, retrying(2)).listRuns('g')).rejects.toThrow(/502/);
  });

  it('a persistent 5xx on the jobs listing fails the listing (never "job ended")', async () => {
    const run = fake.createRun();
    const job = fake.createJob({ run_id: run.id });
    mark({ runId: run.id, jobId: job.id }, 'publishing');
    fake.fail({ status: 503, times: 100, match: (_m, p) => p.endsWith('/jobs') });
    await expect(store(1, retrying(1)).listRuns('g')).rejects.toThrow(/503/);
  });

  it('rejects a bad group name, bad ids and non-loopback http before any request', async () => {
    await expect(store(1).signal('no spaces', 'publishing')).rejects.toThrow(InputError);
    expect(() => store(1, { sha: 'main' })).toThrow(InputError);
    expect(() => store(1, { runAttempt: 0 })).toThrow(InputError);
    expect(() => store(1, { jobId: 'a.b' })).toThrow(/jobId/);
    expect(() => store(1, { jobId: '0' })).toThrow(/jobId/);
    expect(() => store(1, { coordination: { owner: 'octo', repo: 'a/b' } })).toThrow(
      /coordinationRepository/,
    );
    expect(() => store(1, { apiUrl: 'http://api.github.com' })).toThrow(/https/);
    expect(fake.requests).toHaveLength(0);
  });
});

describe("GitHubStore: this run attempt's jobs (a job that nothing names finds itself)", () => {
  it('attemptJobs lists the jobs of this attempt only, every page, with runner_name (null: unassigned)', async () => {
    const run = fake.createRun();
    const old = fake.createJob({ run_id: run.id, status: 'completed', runner_name: 'r-0' });
    fake.rerun(run.id);
    fake.run(run.id).status = 'in_progress';
    const jobs = Array.from({ length: 120 }, (_, i) =>
      fake.createJob({ run_id: run.id, name: `leg ${i}`, runner_name: i === 0 ? null : `r-${i}` }),
    );
    const s = store(run.id);
    const listed = await s.attemptJobs();
    expect(listed).toHaveLength(120);
    expect(listed.map((j) => j.id)).not.toContain(String(old.id));
    expect(listed[0]).toEqual({ id: String(jobs[0].id), status: 'in_progress', name: 'leg 0' });
    expect(listed[119]).toEqual({
      id: String(jobs[119].id),
      status: 'in_progress',
      runnerName: 'r-119',
      name: 'leg 119',
    });
    expect(actionsCalls()).toEqual([
      `GET actions/runs/${run.id}/attempts/2/jobs`,
      `GET actions/runs/${run.id}/attempts/2/jobs`,
    ]);
    expect(fake.requests.map((r) => r.query)).toEqual(['per_page=100', 'per_page=100&page=2']);
    // Read again: conditional, free while nothing changed.
    fake.requests.length = 0;
    await s.attemptJobs();
    expect(fake.requests.map((r) => r.status)).toEqual([304, 304]);
  });

  it('attemptJobs needs actions: read, and says so', async () => {
    const run = fake.createRun();
    fake.permissions.actions = 'none';
    const err = await rejection(store(run.id).attemptJobs());
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/actions: read/);
  });

  it('identifyJob names the participant before first use, never after, never twice', async () => {
    const run = fake.createRun();
    const s = store(run.id);
    expect(s.self.jobId).toBeUndefined();
    s.identifyJob('4711');
    expect(s.self).toEqual({ runId: String(run.id), attempt: 1, jobId: '4711' });
    expect(() => s.identifyJob('4712')).toThrow(/fixed/);
    await s.signal('g', 'publishing');
    expect([...fake.refs.keys()][0]).toMatch(new RegExp(`/${run.id}\\.1\\.4711\\.publishing\\.`));
    const used = store(run.id);
    await used.listRuns('g');
    expect(() => used.identifyJob('4713')).toThrow(/fixed/);
    expect(() => store(run.id).identifyJob('a.b')).toThrow(InputError);
  });
});

describe('GitHubStore with a coordination repository shared by several repositories', () => {
  const A = 'octo/app-a';
  const B = 'octo/app-b';
  const storeOf = (
    repository: string,
    runId: number,
    jobId?: string,
    extra: Partial<GitHubStoreOptions> = {},
  ) => {
    const [owner, repo] = repository.split('/');
    return store(runId, {
      owner,
      repo,
      coordination: { owner: fake.owner, repo: fake.repo },
      runAttempt: fake.run(runId, repository).run_attempt,
      jobId,
      ...extra,
    });
  };
  beforeEach(() => {
    fake.addRepository(A);
    fake.addRepository(B);
  });

  it('markers live in the coordination repository and name their run’s repository', async () => {
    const run = fake.createRun({}, A);
    await storeOf(A, run.id, '3').signal('g', 'publishing');
    expect([...fake.refs.keys()]).toEqual([
      expect.stringMatching(
        new RegExp(`^refs/eol-gate/g/octo/app-a/${run.id}\\.1\\.3\\.publishing\\.\\d+$`),
      ),
    ]);
    expect(fake.requests.map(path)).toEqual([
      `GET /repos/${fake.owner}/${fake.repo}`,
      'GET commits/main',
      'POST git/refs',
      'GET git/matching-refs/eol-gate/g/octo/app-a/',
    ]);
  });

  it("marker refs point at the coordination repository's default-branch head: the run's own GITHUB_SHA does not exist there", async () => {
    const run = fake.createRun({}, A);
    // A commit of app-a, unknown to the coordination repository.
    const s = storeOf(A, run.id, '3', { sha: 'b'.repeat(40) });
    await s.signal('g', 'publishing');
    await s.signal('g', 'image-info-updated');
    expect([...fake.refs.values()]).toEqual([fake.headSha, fake.headSha]);
    // Resolved once, then reused.
    expect(fake.requests.map(path).filter((p) => !p.includes('refs'))).toEqual([
      `GET /repos/${fake.owner}/${fake.repo}`,
      'GET commits/main',
    ]);
  });

  it("a run of repository B blocks an annotator of repository A; liveness is read from B's Actions API", async () => {
    const mine = fake.createRun({}, A);
    const theirs = fake.createRun({ id: mine.id }, B); // run ids of two repositories may even coincide
    const job = fake.createJob({ run_id: theirs.id, name: 'push' }, B);
    await storeOf(B, theirs.id, String(job.id)).signal('g', 'publishing');
    const annotator = storeOf(A, mine.id, '1');
    fake.requests.length = 0;
    const runs = await annotator.listRuns('g');
    expect(runs).toMatchObject([
      { repository: B, runId: String(theirs.id), jobId: String(job.id), blocks: true },
    ]);
    expect(fake.requests.map(path)).toEqual([
      'GET git/matching-refs/eol-gate/g/',
      `GET /repos/${B}/actions/runs/${theirs.id}`,
      `GET /repos/${B}/actions/runs/${theirs.id}/jobs`,
    ]);
    fake.complete(theirs.id, 'success', B);
    expect(blockingRuns(annotator.self, await annotator.listRuns('g'))).toEqual([]);
  });

  it('a deleted run of repository B (404 while B answers 200) never blocks and is cleaned up', async () => {
    const mine = fake.createRun({}, A);
    const theirs = fake.createRun({}, B);
    const ref = mark({ runId: theirs.id, jobId: 5, repository: B }, 'publishing');
    fake.deleteRun(theirs.id, B);
    const annotator = storeOf(A, mine.id, '1');
    expect(await annotator.listRuns('g')).toMatchObject([
      { repository: B, deleted: true, blocks: false },
    ]);
    expect(fake.requests.map(path)).toContain(`GET /repos/${B}`);
    await annotator.cleanup('g');
    expect(fake.refs.has(ref)).toBe(false);
  });

  it.each([
    ['404', 'not-found' as const],
    ['403', 'forbidden' as const],
  ])(
    "a token that cannot read B's run (%s) fails loudly, naming the repository",
    async (_s, access) => {
      fake.addRepository(B, access);
      const mine = fake.createRun({}, A);
      mark({ runId: 4242, jobId: 5, repository: B }, 'publishing');
      const err = await rejection(storeOf(A, mine.id).listRuns('g'));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toContain(B);
      expect(err.message).toMatch(/actions: read/);
      expect(err.message).not.toContain(fake.token);
    },
  );
});
