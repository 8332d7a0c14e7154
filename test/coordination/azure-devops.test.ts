import { rejection, httpErrorOf } from '../support/errors.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AzureDevOpsStore,
  groupTag,
  markerTag,
  markersOfBuild,
  type AzureDevOpsStoreOptions,
} from '../../src/coordination/azure-devops.js';
import type { CoverScope, MarkerState } from '../../src/coordination/port.js';
import { InputError, RuntimeError } from '../../src/core/errors.js';
import { blockingRuns } from '../../src/core/protocol.js';
import { instantClock } from '../support/doubles.js';
import { FakeAzureDevOps } from '../support/fake-azure-devops.js';

const fake = new FakeAzureDevOps();
const sleeps: number[] = [];
// Retries and read-backs sleep through this, so tests never wait for real.
const retry = { baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5_000 };
/** Store options that give up after `retries` retries. */
const retrying = (retries: number) => ({ retry: { ...retry, retries } });
const clock = { ...instantClock, sleep: async (ms: number) => void sleeps.push(ms) };

beforeAll(() => fake.start());
afterAll(() => fake.close());
beforeEach(() => {
  fake.reset();
  service = Date.parse('2026-03-01T10:00:00Z');
  fake.clock = () => service;
  sleeps.length = 0;
});

/** Writers' clocks: every marker is later than the one before. */
let stamp = 1_700_000_000_000;
/**
 * The service's clock: the start and finish times the timeline gives jobs (covers are judged by
 * these, never by the writers' stamps). `later()` moves it on.
 */
let service = 0;
const later = (ms = 60_000) => (service += ms);

function store(buildId: number, extra: Partial<AzureDevOpsStoreOptions> = {}): AzureDevOpsStore {
  return new AzureDevOpsStore({
    collectionUri: fake.collectionUri,
    project: 'proj',
    buildId,
    jobAttempt: 1,
    token: fake.token,
    retry,
    clock: { ...clock, now: () => new Date(stamp++) },
    ...extra,
  });
}

/**
 * Tags a build straight in the fake (truth and listing alike) as a job's signal would: the group
 * tag and a marker stamped `at` by its writer's clock (which may be skewed), by default later than
 * every one before.
 */
function mark(
  buildId: number,
  jobId: string | undefined,
  state: MarkerState,
  scope: CoverScope = 'job',
  { attempt = 1, at = stamp++ } = {},
): void {
  fake.addTags(buildId, [
    groupTag('g'),
    markerTag('g', { runId: String(buildId), attempt, jobId }, state, scope, at),
  ]);
}

/** A build's timeline path, and the timeline reads the store made. */
const timeline = (buildId: number) => `/org/proj/_apis/build/builds/${buildId}/timeline`;
const timelineReads = () => fake.requests.map((r) => r.path).filter((p) => p.includes('/timeline'));
const mutating = () => fake.requests.filter((r) => r.method !== 'GET');

describe('marker tags', () => {
  it('name group, build, attempt, job, state, scope and stamp', () => {
    const who = { runId: '77', attempt: 2, jobId: '5f1c2d3e-0000-4000-8000-000000000001' };
    const t = markerTag('g', who, 'image-info-updated', 'run', 123);
    expect(t).toBe(`eol-gate.g.77.2.${who.jobId}.image-info-updated-run.123`);
    expect(
      markersOfBuild('g', '77', [t, 'eol-gate.g', 'unrelated', 'eol-gate.other.publishing']),
    ).toEqual([
      { ...who, repository: undefined, state: 'image-info-updated', scope: 'run', stamp: 123 },
    ]);
    // State tags without a build are no markers: no release ever wrote them.
    expect(
      markersOfBuild('g', '77', ['eol-gate.g.publishing', 'eol-gate.g.image-info-updated']),
    ).toEqual([]);
    // A tag naming another build is not this build's marker.
    expect(markersOfBuild('g', '78', [t])).toEqual([]);
  });
});

describe('AzureDevOpsStore', () => {
  it('signal publishing adds the group tag and the marker with one PATCH and reads it back', async () => {
    const b = fake.createBuild();
    const s = store(b.id, { jobId: 'job-a', clock: { ...clock, now: () => new Date(42) } });
    await s.signal('g', 'publishing');
    expect(fake.build(b.id).tags).toEqual([
      'eol-gate.g',
      `eol-gate.g.${b.id}.1.job-a.publishing.42`,
    ]);
    const patches = fake.requests.filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0].path).toBe(`/org/proj/_apis/build/builds/${b.id}/tags`);
    expect(fake.requests.some((r) => r.method === 'GET' && r.path.endsWith('/tags'))).toBe(true);
  });

  it('a retried step that publishes again blocks again, one PATCH per signal, nothing removed', async () => {
    const b = fake.createBuild({ tags: ['other'] });
    const s = store(b.id, { jobId: 'job-a' });
    await s.signal('g', 'publishing');
    await s.signal('g', 'image-info-updated');
    expect(blockingRuns(undefined, await store(1).listRuns('g'))).toEqual([]);
    await s.signal('g', 'publishing');
    expect(fake.requests.filter((r) => r.method === 'PATCH')).toHaveLength(3);
    expect(fake.build(b.id).tags).toHaveLength(1 + 1 + 3);
    expect(fake.build(b.id).tags).toContain('other');
    expect(await store(1).listRuns('g')).toMatchObject([
      { runId: String(b.id), jobId: 'job-a', covered: false, blocks: true },
    ]);
  });

  it('image-info-updated keeps publishing, so the job reads as "recorded"', async () => {
    const b = fake.createBuild();
    const s = store(b.id, { jobId: 'job-a' });
    await s.signal('g', 'publishing');
    await s.signal('g', 'image-info-updated');
    expect(fake.build(b.id).tags.map((t) => t.replace(/\.\d+$/, ''))).toEqual([
      'eol-gate.g',
      `eol-gate.g.${b.id}.1.job-a.image-info-updated`,
      `eol-gate.g.${b.id}.1.job-a.publishing`,
    ]);
    expect(await store(1).listRuns('g')).toMatchObject([{ covered: true, blocks: false }]);
  });

  it('does not return until the build list (which peers read) shows the write', async () => {
    const b = fake.createBuild();
    const peer = fake.createBuild();
    fake.listLag = 3;
    await store(b.id).signal('g', 'publishing');
    expect(sleeps.length).toBeGreaterThanOrEqual(2);
    // Right after signal returns, a peer sees the run blocking.
    const runs = await store(peer.id).listRuns('g');
    expect(blockingRuns(store(peer.id).self, runs).map((r) => r.runId)).toEqual([String(b.id)]);
  });

  it('fails when the write never shows (bounded read-back)', async () => {
    const b = fake.createBuild();
    fake.listLag = 1000;
    await expect(
      store(b.id, { readBack: { attempts: 3, delayMs: 1 } }).signal('g', 'publishing'),
    ).rejects.toThrow(/did not show the change/);
  });

  it('listRuns: live builds with the group tag, with cover, link and since; not completed ones', async () => {
    const publishing = fake.createBuild({ startTime: '2026-01-01T00:00:00.000Z' });
    mark(publishing.id, undefined, 'publishing');
    const recorded = fake.createBuild();
    mark(recorded.id, undefined, 'publishing');
    mark(recorded.id, undefined, 'image-info-updated');
    const completed = fake.createBuild({ status: 'completed' });
    mark(completed.id, undefined, 'publishing');
    fake.createBuild({ tags: ['eol-gate.other', 'eol-gate.other.1.1.0.publishing.1'] });
    const cancelling = fake.createBuild({ status: 'cancelling' });
    mark(cancelling.id, undefined, 'publishing');
    const runs = await store(1).listRuns('g');
    expect(runs.map((r) => r.runId)).toEqual(
      [publishing.id, recorded.id, cancelling.id].map(String),
    );
    expect(runs[0]).toMatchObject({
      alive: true,
      covered: false,
      url: `${fake.collectionUri}proj/_build/results?buildId=${publishing.id}`,
      name: `publish 2026.${publishing.id}`,
    });
    // Since when: the marker's own stamp (the build may have run for long before it published).
    const stampOf = fake
      .build(publishing.id)
      .tags.find((t) => t.endsWith(`.publishing.${t.split('.').at(-1)}`))!;
    expect(runs[0].since).toBe(new Date(Number(stampOf.split('.').at(-1))).toISOString());
    expect(runs[1].covered).toBe(true);
    expect(blockingRuns(undefined, runs).map((r) => r.runId)).toEqual(
      [publishing.id, cancelling.id].map(String),
    );
  });

  it('listRuns never writes', async () => {
    const done = fake.createBuild({ status: 'completed' });
    mark(done.id, 'j', 'publishing');
    const live = fake.createBuild();
    mark(live.id, 'j', 'publishing');
    fake.addJob(live.id, { id: 'j' });
    await store(1).listRuns('g');
    expect(mutating()).toEqual([]);
  });

  it('matrix legs: a job never blocks itself, a sibling job blocks, and one job does not cover another', async () => {
    const b = fake.createBuild();
    const debian = fake.addJob(b.id, { name: 'Build debian' });
    const fedora = fake.addJob(b.id, { name: 'Build fedora' });
    const legA = store(b.id, { jobId: debian.id });
    const legB = store(b.id, { jobId: fedora.id });
    await legA.signal('g', 'publishing');
    await legB.signal('g', 'publishing');
    await legA.signal('g', 'image-info-updated');
    fake.requests.length = 0;
    const seenByA = await legA.listRuns('g');
    expect(seenByA.find((r) => r.jobId === debian.id)).toMatchObject({
      covered: true,
      blocks: false,
    });
    expect(seenByA.find((r) => r.jobId === fedora.id)).toMatchObject({
      covered: false,
      blocks: true,
      jobName: 'Build fedora',
    });
    expect(blockingRuns(legA.self, seenByA).map((r) => r.jobId)).toEqual([fedora.id]);
    expect(timelineReads()).toEqual([timeline(b.id)]);
    await legB.signal('g', 'image-info-updated');
    expect(blockingRuns(legA.self, await legA.listRuns('g'))).toEqual([]);
  });

  it('run scope covers the jobs the timeline shows finished no later than the covering job started, whatever the stamps', async () => {
    const b = fake.createBuild();
    const [x, y, z] = ['x', 'y', 'z'].map((name) => fake.addJob(b.id, { name }));
    mark(b.id, y.id, 'publishing', 'job', { at: 100 });
    mark(b.id, z.id, 'publishing', 'job', { at: 101 });
    // x's runner clock runs ahead: its publishing is stamped after the cover below.
    mark(b.id, x.id, 'publishing', 'job', { at: 300 });
    later();
    fake.completeJob(b.id, x.id);
    later();
    fake.completeJob(b.id, y.id);
    later();
    // The record job (dependsOn x and y) starts once they finished; z runs in a parallel stage.
    const rec = fake.addJob(b.id, { name: 'rec' });
    mark(b.id, rec.id, 'image-info-updated', 'run', { at: 200 });
    later();
    fake.completeJob(b.id, z.id);
    // The timeline's times, as the service writes them (seven fractional digits).
    expect(fake.job(b.id, rec.id).startTime).toBe('2026-03-01T10:03:00.0000000Z');
    fake.requests.length = 0;
    const runs = await store(1).listRuns('g');
    const byName = Object.fromEntries(runs.map((r) => [r.jobName, [r.covered, r.blocks]]));
    // x finished before the record job started (whatever its stamp): covered. z finished after
    // it started (though its stamp is earlier than the cover's): not covered.
    expect(byName).toEqual({ x: [true, false], y: [true, false], z: [false, true] });
    // One timeline read for the build gives every job's times.
    expect(timelineReads()).toEqual([timeline(b.id)]);
  });

  it("hole 1: a job still running (no finishTime) is not covered by another job's run-scope cover", async () => {
    // A matrix: `windows` and `linux` push; `record_linux` (dependsOn linux only) records with
    // --scope run while windows still runs.
    const b = fake.createBuild();
    const windows = fake.addJob(b.id, { name: 'windows' });
    const linux = fake.addJob(b.id, { name: 'linux' });
    mark(b.id, windows.id, 'publishing');
    mark(b.id, linux.id, 'publishing');
    later();
    fake.completeJob(b.id, linux.id);
    later();
    const record = fake.addJob(b.id, { name: 'record_linux' });
    mark(b.id, record.id, 'image-info-updated', 'run');
    expect(fake.job(b.id, windows.id).finishTime).toBeNull();
    const peer = store(1, { jobId: 'peer' });
    const runs = await peer.listRuns('g');
    expect(Object.fromEntries(runs.map((r) => [r.jobName, [r.covered, r.blocks]]))).toEqual({
      windows: [false, true],
      linux: [true, false],
    });
    // Windows finishing later does not make the earlier cover cover it: it blocks while the build runs.
    later();
    fake.completeJob(b.id, windows.id);
    expect(blockingRuns(peer.self, await peer.listRuns('g')).map((r) => r.jobName)).toEqual([
      'windows',
    ]);
    fake.setStatus(b.id, 'completed');
    expect(blockingRuns(peer.self, await peer.listRuns('g'))).toEqual([]);
  });

  it('hole 4: a failed job blocks while a succeededOrFailed() job of its build may still record it', async () => {
    const b = fake.createBuild();
    const push = fake.addJob(b.id, { name: 'push (arm64)' });
    mark(b.id, push.id, 'publishing');
    later();
    fake.completeJob(b.id, push.id, 'failed');
    // record: dependsOn push, condition succeededOrFailed(); waiting for an agent.
    const record = fake.addJob(b.id, { name: 'record', state: 'pending' });
    const peer = store(1, { jobId: 'peer' });
    expect(await peer.listRuns('g')).toMatchObject([
      { jobName: 'push (arm64)', jobFailed: true, siblingsRunning: true, blocks: true },
    ]);
    later();
    fake.startJob(b.id, record.id);
    expect(blockingRuns(peer.self, await peer.listRuns('g'))).toHaveLength(1);
    // The record job's own annotator does not wait for the job it may record.
    const inBuild = store(b.id, { jobId: record.id });
    expect(blockingRuns(inBuild.self, await inBuild.listRuns('g'))).toEqual([]);
    // Once every other job of the build finished, what the failed job pushed is an orphan.
    later();
    fake.completeJob(b.id, record.id);
    expect(await peer.listRuns('g')).toMatchObject([
      { jobName: 'push (arm64)', jobFailed: true, blocks: false },
    ]);
    expect(blockingRuns(peer.self, await peer.listRuns('g'))).toEqual([]);
  });

  it("System.JobAttempt counts one job's retries, so it never orders jobs: a push after a retried record job is not covered", async () => {
    const b = fake.createBuild();
    const [rec, push] = ['record', 'push'].map((name) => fake.addJob(b.id, { name }));
    // The record job is on its second attempt (a retried stage) and covers the run ...
    await store(b.id, { jobAttempt: 2, jobId: rec.id }).signal('g', 'image-info-updated', 'run');
    // ... while a parallel stage's push job, on its first attempt, starts publishing after it.
    await store(b.id, { jobAttempt: 1, jobId: push.id }).signal('g', 'publishing');
    const runs = await store(1).listRuns('g');
    expect(runs.map((r) => [r.jobId, r.covered, r.blocks])).toEqual([[push.id, false, true]]);
  });

  it('a job completed as failed or canceled does not block; one that succeeded blocks while the build runs', async () => {
    const b = fake.createBuild();
    const jobs = {
      failed: fake.addJob(b.id, { name: 'failed' }),
      canceled: fake.addJob(b.id, { name: 'canceled' }),
      succeeded: fake.addJob(b.id, { name: 'succeeded' }),
    };
    for (const j of Object.values(jobs)) mark(b.id, j.id, 'publishing');
    fake.completeJob(b.id, jobs.failed.id, 'failed');
    fake.completeJob(b.id, jobs.canceled.id, 'canceled');
    fake.completeJob(b.id, jobs.succeeded.id, 'succeeded');
    const runs = await store(1).listRuns('g');
    expect(
      Object.fromEntries(runs.map((r) => [r.jobName, [r.jobFailed ?? false, r.blocks]])),
    ).toEqual({ failed: [true, false], canceled: [true, false], succeeded: [false, true] });
    fake.setStatus(b.id, 'completed');
    expect(await store(1).listRuns('g')).toEqual([]);
  });

  it("a retried job's earlier attempt is found through previousAttempts and its own timeline", async () => {
    const b = fake.createBuild();
    const first = fake.addJob(b.id, { name: 'push' });
    mark(b.id, first.id, 'publishing', 'job', { attempt: 1 });
    later();
    fake.completeJob(b.id, first.id, 'failed');
    const second = fake.retryJob(b.id, first.id);
    later();
    fake.startJob(b.id, second.id);
    mark(b.id, second.id, 'publishing', 'job', { attempt: 2 });
    fake.requests.length = 0;
    const runs = await store(1).listRuns('g');
    // The failed attempt is known as failed (from its own timeline); it blocks while the retry,
    // another job of the build, runs.
    expect(
      runs.map((r) => [
        r.attempt,
        r.jobId,
        r.jobFailed ?? false,
        r.siblingsRunning ?? false,
        r.blocks,
      ]),
    ).toEqual([
      [1, first.id, true, true, true],
      [2, second.id, false, false, true],
    ]);
    const timelineId = second.previousAttempts[0].timelineId;
    expect(timelineReads()).toEqual([timeline(b.id), `${timeline(b.id)}/${timelineId}`]);
    // The retry succeeded: the failed attempt's pushes are orphans; the retry's block while the build runs.
    later();
    fake.completeJob(b.id, second.id);
    expect(
      (await store(1).listRuns('g')).map((r) => [r.attempt, r.jobFailed ?? false, r.blocks]),
    ).toEqual([
      [1, true, false],
      [2, false, true],
    ]);
  });

  it('a job the timeline does not show (yet) blocks', async () => {
    const b = fake.createBuild();
    mark(b.id, 'not-in-timeline', 'publishing');
    expect(await store(1).listRuns('g')).toMatchObject([
      { jobId: 'not-in-timeline', blocks: true },
    ]);
  });

  it('pages with x-ms-continuationtoken across several projects', async () => {
    fake.pageSize = 2;
    for (let i = 0; i < 5; i++) {
      const b = fake.createBuild();
      mark(b.id, undefined, 'publishing');
    }
    for (let i = 0; i < 3; i++) {
      const b = fake.createBuild({ project: 'other proj' });
      mark(b.id, undefined, 'publishing');
    }
    const runs = await store(1, { projects: ['proj', 'other proj'] }).listRuns('g');
    expect(runs).toHaveLength(8);
    const lists = fake.requests.filter(
      (r) => r.method === 'GET' && r.path.endsWith('/_apis/build/builds'),
    );
    // Per project, the group tag: 3 and 2 pages.
    expect(lists).toHaveLength(3 + 2);
    expect(lists.filter((r) => r.query.includes('continuationToken='))).toHaveLength(3);
    expect(lists.every((r) => r.query.includes('tagFilters=eol-gate.g&'))).toBe(true);
    expect(lists[0].query).toContain(
      'statusFilter=inProgress%2Ccancelling%2Cpostponed%2CnotStarted',
    );
  });

  it('reads tags per build when the list carries none', async () => {
    fake.listIncludesTags = false;
    const b = fake.createBuild();
    mark(b.id, undefined, 'publishing');
    mark(b.id, undefined, 'image-info-updated');
    const runs = await store(1).listRuns('g');
    expect(runs).toMatchObject([{ runId: String(b.id), covered: true, blocks: false }]);
    expect(fake.requests.some((r) => r.path === `/org/proj/_apis/build/builds/${b.id}/tags`)).toBe(
      true,
    );
  });

  it("cleanup writes nothing: a build's own tags stay while it runs, completed builds are never listed", async () => {
    const me = fake.createBuild({ tags: ['keep'] });
    mark(me.id, 'j', 'publishing');
    const other = fake.createBuild({ status: 'completed' });
    mark(other.id, 'j', 'publishing');
    const before = { me: [...fake.build(me.id).tags], other: [...fake.build(other.id).tags] };
    await store(me.id).cleanup('g');
    expect(fake.build(me.id).tags).toEqual(before.me);
    expect(fake.build(other.id).tags).toEqual(before.other);
    expect(fake.requests).toEqual([]);
  });

  it('waits out a 429 with Retry-After, then succeeds', async () => {
    const b = fake.createBuild();
    fake.fail({
      status: 429,
      headers: { 'retry-after': '3', 'x-ratelimit-resource': 'ATCPU' },
      times: 2,
    });
    await store(b.id).signal('g', 'publishing');
    expect(fake.build(b.id).tags).toHaveLength(2);
    expect(sleeps.filter((ms) => ms >= 3000)).toHaveLength(2);
  });

  it('a persistent 429 fails the call (never read as "no runs")', async () => {
    fake.fail({ status: 429, headers: { 'retry-after': '1' }, times: 100 });
    await expect(store(1, retrying(2)).listRuns('g')).rejects.toThrow(RuntimeError);
  });

  it('a persistent 5xx on the timeline fails the listing (never "job ended")', async () => {
    const b = fake.createBuild();
    mark(b.id, 'j', 'publishing');
    fake.fail({ status: 503, times: 100, match: (r) => r.path.endsWith('/timeline') });
    await expect(store(1, retrying(1)).listRuns('g')).rejects.toThrow(/503/);
  });

  it('403 on the tag write names the missing permission, without the token', async () => {
    const b = fake.createBuild();
    fake.forbidden.add('write-tags');
    const err = httpErrorOf(await rejection(store(b.id).signal('g', 'publishing')));
    expect(err).toMatchObject({ status: 403, method: 'PATCH', code: 'AccessDeniedException' });
    expect(err.message).toMatch(/Edit build quality/);
    expect(err.message).not.toContain(fake.token);
    expect(fake.build(b.id).tags).toEqual([]);
  });

  it('403 on listing names "View builds"', async () => {
    fake.forbidden.add('list');
    const err = httpErrorOf(await rejection(store(1).listRuns('g')));
    expect(err).toMatchObject({ status: 403, method: 'GET' });
    expect(err.message).toMatch(/View builds/);
  });

  it('a bad token (401, or the 203 sign-in page) is bad input naming System.AccessToken', async () => {
    const b = fake.createBuild();
    const e1 = await rejection(store(b.id, { token: 'wrong-SECRET' }).signal('g', 'publishing'));
    expect(e1).toBeInstanceOf(InputError);
    expect(httpErrorOf(e1)).toMatchObject({ status: 401 });
    expect(e1.message).toMatch(/System\.AccessToken/);
    expect(e1.message).not.toContain('wrong-SECRET');
    fake.signInPageForBadToken = true;
    const e2 = await rejection(store(b.id, { token: 'wrong-SECRET' }).listRuns('g'));
    expect(httpErrorOf(e2)).toMatchObject({ status: 203 });
    expect(e2.message).toMatch(/HTTP 203.*System\.AccessToken/);
    expect(e2.message).not.toContain('wrong-SECRET');
  });

  it('rejects a bad group name before any request', async () => {
    await expect(store(1).signal('a/b', 'publishing')).rejects.toThrow(InputError);
    await expect(store(1).listRuns('')).rejects.toThrow(InputError);
    await expect(store(1).cleanup('a b')).rejects.toThrow(InputError);
    expect(fake.requests).toHaveLength(0);
  });

  it('rejects plain http to a non-loopback host, a non-numeric build id and a bad job id', () => {
    expect(() => store(1, { collectionUri: 'http://dev.azure.com/org/' })).toThrow(/https/);
    expect(() => store(1, { buildId: 'abc' })).toThrow(InputError);
    expect(() => store(1, { jobId: 'a.b' })).toThrow(/System\.JobId/);
  });

  it('a build missing from the project is a 404 naming Build.BuildId and System.TeamProject', async () => {
    const err = await rejection(store(424242).signal('g', 'publishing'));
    expect(err).toMatchObject({ status: 404, method: 'PATCH' });
    expect(err.message).toMatch(
      /build 424242 in project proj.*check Build\.BuildId and System\.TeamProject/,
    );
  });
});
