import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  GitHubStore,
  markerRef,
  parseMarkerRef,
  type GitHubStoreOptions,
} from '../../src/coordination/github.js';
import { InputError, RuntimeError } from '../../src/core/errors.js';
import { blockingRuns } from '../../src/core/protocol.js';
import { FakeGitHub } from '../support/fake-github.js';

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const fake = new FakeGitHub();
const sleeps: number[] = [];
const retry = {
  baseDelayMs: 1,
  maxDelayMs: 5,
  timeoutMs: 5_000,
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
  fake.refs.clear();
  fake.runs.clear();
  fake.requests.length = 0;
  fake.clearFaults();
  fake.listLag = 0;
  fake.permissions = { contents: 'write', actions: 'read' };
  fake.rateLimit.remaining = 1000;
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
    ...extra,
  });
}

/** A run with markers written straight into the fake. */
function runWith(
  states: Array<'publishing' | 'image-info-updated'>,
  init: Parameters<FakeGitHub['createRun']>[0] = {},
) {
  const run = fake.createRun(init);
  for (const s of states)
    fake.refs.set(markerRef('g', String(run.id), run.run_attempt, s), fake.headSha);
  return run;
}

describe('marker refs', () => {
  it('round-trips and ignores foreign refs', () => {
    expect(markerRef('g', '12', 3, 'publishing')).toBe('refs/eol-gate/g/12.3.publishing');
    expect(parseMarkerRef('g', 'refs/eol-gate/g/12.3.image-info-updated')).toEqual({
      runId: '12',
      attempt: 3,
      state: 'image-info-updated',
    });
    expect(parseMarkerRef('g', 'refs/eol-gate/g2/12.3.publishing')).toBeUndefined();
    expect(parseMarkerRef('g', 'refs/eol-gate/g/x.3.publishing')).toBeUndefined();
    expect(parseMarkerRef('g', 'refs/eol-gate/g/12.3.done')).toBeUndefined();
  });
});

describe('GitHubStore', () => {
  it("signal creates this attempt's ref on GITHUB_SHA and reads it back with matching-refs", async () => {
    const run = fake.createRun({ run_attempt: 2 });
    await store(run.id).signal('g', 'publishing');
    expect([...fake.refs]).toEqual([[`refs/eol-gate/g/${run.id}.2.publishing`, fake.headSha]]);
    expect(
      fake.requests.map((r) => `${r.method} ${r.path.replace(/^\/repos\/octo\/images\//, '')}`),
    ).toEqual([
      `DELETE git/refs/eol-gate/g/${run.id}.2.image-info-updated`,
      'POST git/refs',
      `GET git/matching-refs/eol-gate/g/${run.id}.2.`,
    ]);
  });

  it("publishing deletes this run's image-info-updated ref (a retried stage), signalling twice is fine", async () => {
    const run = runWith(['publishing', 'image-info-updated']);
    await store(run.id).signal('g', 'publishing');
    await store(run.id).signal('g', 'publishing');
    expect([...fake.refs.keys()]).toEqual([`refs/eol-gate/g/${run.id}.1.publishing`]);
  });

  it('waits until matching-refs shows the write (eventual listing)', async () => {
    const run = fake.createRun();
    fake.listLag = 3;
    await store(run.id).signal('g', 'image-info-updated');
    expect(sleeps.length).toBeGreaterThanOrEqual(1);
    const peer = fake.createRun();
    expect((await store(peer.id).listRuns('g')).map((r) => r.states)).toEqual([
      ['image-info-updated'],
    ]);
  });

  it('fails when the write never shows', async () => {
    const run = fake.createRun();
    fake.listLag = 1000;
    await expect(
      store(run.id, { readBack: { attempts: 2, delayMs: 1 } }).signal('g', 'publishing'),
    ).rejects.toThrow(/did not show/);
  });

  it('listRuns: one matching-refs call, one run lookup per distinct run; liveness from the Actions API', async () => {
    const live = runWith(['publishing']);
    const recorded = runWith(['publishing', 'image-info-updated']);
    const done = runWith(['publishing'], { status: 'completed', conclusion: 'cancelled' });
    const me = fake.createRun();
    const runs = await store(me.id).listRuns('g');
    expect(runs.map((r) => [r.runId, r.alive, r.states])).toEqual([
      [String(live.id), true, ['publishing']],
      [String(recorded.id), true, ['publishing', 'image-info-updated']],
      [String(done.id), false, ['publishing']],
    ]);
    expect(runs[0].url).toBe(`https://github.com/octo/images/actions/runs/${live.id}`);
    expect(runs[0].since).toBe(live.run_started_at);
    expect(fake.requests.filter((r) => r.path.includes('matching-refs'))).toHaveLength(1);
    expect(fake.requests.filter((r) => r.path.includes('/actions/runs/'))).toHaveLength(3);
    expect(blockingRuns(store(me.id).self, runs).map((r) => r.runId)).toEqual([String(live.id)]);
  });

  it('ignores markers of an older attempt: a re-run does not inherit image-info-updated', async () => {
    const run = runWith(['publishing', 'image-info-updated']);
    fake.rerun(run.id);
    fake.refs.set(markerRef('g', String(run.id), 2, 'publishing'), fake.headSha);
    const runs = await store(1).listRuns('g');
    expect(runs).toMatchObject([
      { runId: String(run.id), attempt: 2, states: ['publishing'], alive: true },
    ]);
    expect(blockingRuns(undefined, runs)).toHaveLength(1);
  });

  it('a run GitHub no longer knows (404) is finished', async () => {
    fake.refs.set(markerRef('g', '777', 1, 'publishing'), fake.headSha);
    expect(await store(1).listRuns('g')).toMatchObject([{ runId: '777', alive: false }]);
  });

  it('cleanup deletes refs of finished runs, stale attempts and its own; keeps live peers', async () => {
    const live = runWith(['publishing']);
    const done = runWith(['publishing', 'image-info-updated'], { status: 'completed' });
    const rerun = runWith(['publishing']);
    fake.rerun(rerun.id);
    fake.refs.set(markerRef('g', String(rerun.id), 2, 'publishing'), fake.headSha);
    const me = runWith(['publishing', 'image-info-updated']);
    fake.refs.set('refs/eol-gate/g/not-a-marker', fake.headSha);
    await store(me.id).cleanup('g');
    expect([...fake.refs.keys()].sort()).toEqual(
      [
        markerRef('g', String(live.id), 1, 'publishing'),
        markerRef('g', String(rerun.id), 2, 'publishing'),
        'refs/eol-gate/g/not-a-marker',
      ].sort(),
    );
    expect(done.id).toBeGreaterThan(0);
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
    await store(run.id, { now: () => now }).listRuns('g');
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
    await expect(store(1, { retry: { ...retry, retries: 2 } }).listRuns('g')).rejects.toThrow(
      /502/,
    );
  });

  it('rejects a bad group name, bad ids and non-loopback http before any request', async () => {
    await expect(store(1).signal('no spaces', 'publishing')).rejects.toThrow(InputError);
    expect(() => store(1, { sha: 'main' })).toThrow(InputError);
    expect(() => store(1, { runAttempt: 0 })).toThrow(InputError);
    expect(() => store(1, { apiUrl: 'http://api.github.com' })).toThrow(/https/);
    expect(fake.requests).toHaveLength(0);
  });
});
