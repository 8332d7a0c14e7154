import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AzureDevOpsStore,
  type AzureDevOpsStoreOptions,
} from '../../src/coordination/azure-devops.js';
import { InputError, RuntimeError } from '../../src/core/errors.js';
import { blockingRuns } from '../../src/core/protocol.js';
import { FakeAzureDevOps } from '../support/fake-azure-devops.js';

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

const fake = new FakeAzureDevOps();
const sleeps: number[] = [];
// Retries and read-backs sleep through this, so tests never wait for real.
const retry = {
  baseDelayMs: 1,
  maxDelayMs: 5,
  timeoutMs: 5_000,
  sleep: async (ms: number) => void sleeps.push(ms),
};

beforeAll(async () => {
  await fake.start();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.builds.clear();
  fake.requests.length = 0;
  fake.forbidden.clear();
  fake.clearFaults();
  fake.listLag = 0;
  fake.pageSize = 100;
  fake.listIncludesTags = true;
  fake.signInPageForBadToken = false;
  sleeps.length = 0;
});

function store(buildId: number, extra: Partial<AzureDevOpsStoreOptions> = {}): AzureDevOpsStore {
  return new AzureDevOpsStore({
    collectionUri: fake.collectionUri,
    project: 'proj',
    buildId,
    jobAttempt: 1,
    token: fake.token,
    retry,
    ...extra,
  });
}

describe('AzureDevOpsStore', () => {
  it('signal publishing tags the build with one PATCH and reads it back', async () => {
    const b = fake.createBuild();
    await store(b.id).signal('g', 'publishing');
    expect(fake.build(b.id).tags).toEqual(['eol-gate.g.publishing']);
    const patches = fake.requests.filter((r) => r.method === 'PATCH');
    expect(patches).toHaveLength(1);
    expect(patches[0].path).toBe(`/org/proj/_apis/build/builds/${b.id}/tags`);
    expect(fake.requests.some((r) => r.method === 'GET' && r.path.endsWith('/tags'))).toBe(true);
  });

  it('publishing clears image-info-updated in the same PATCH (a retried stage)', async () => {
    const b = fake.createBuild({
      tags: ['eol-gate.g.publishing', 'eol-gate.g.image-info-updated', 'other'],
    });
    await store(b.id).signal('g', 'publishing');
    expect(fake.build(b.id).tags).toEqual(['eol-gate.g.publishing', 'other']);
    expect(fake.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
  });

  it('image-info-updated keeps publishing, so the run reads as "recorded"', async () => {
    const b = fake.createBuild();
    const s = store(b.id);
    await s.signal('g', 'publishing');
    await s.signal('g', 'image-info-updated');
    expect(fake.build(b.id).tags).toEqual([
      'eol-gate.g.image-info-updated',
      'eol-gate.g.publishing',
    ]);
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

  it('listRuns: live builds with the publishing tag, with states, link and since; not completed ones', async () => {
    const publishing = fake.createBuild({
      tags: ['eol-gate.g.publishing'],
      startTime: '2026-01-01T00:00:00.000Z',
    });
    const recorded = fake.createBuild({
      tags: ['eol-gate.g.publishing', 'eol-gate.g.image-info-updated'],
    });
    fake.createBuild({ tags: ['eol-gate.g.publishing'], status: 'completed' });
    fake.createBuild({ tags: ['eol-gate.other.publishing'] });
    const cancelling = fake.createBuild({ tags: ['eol-gate.g.publishing'], status: 'cancelling' });
    const runs = await store(1).listRuns('g');
    expect(runs.map((r) => r.runId)).toEqual(
      [publishing.id, recorded.id, cancelling.id].map(String),
    );
    expect(runs[0]).toMatchObject({
      alive: true,
      states: ['publishing'],
      since: '2026-01-01T00:00:00.000Z',
      url: `${fake.collectionUri}proj/_build/results?buildId=${publishing.id}`,
    });
    expect(runs[1].states).toEqual(['publishing', 'image-info-updated']);
    expect(blockingRuns(undefined, runs).map((r) => r.runId)).toEqual(
      [publishing.id, cancelling.id].map(String),
    );
  });

  it('pages with x-ms-continuationtoken across several projects', async () => {
    fake.pageSize = 2;
    for (let i = 0; i < 5; i++) fake.createBuild({ tags: ['eol-gate.g.publishing'] });
    for (let i = 0; i < 3; i++)
      fake.createBuild({ project: 'other proj', tags: ['eol-gate.g.publishing'] });
    const runs = await store(1, { projects: ['proj', 'other proj'] }).listRuns('g');
    expect(runs).toHaveLength(8);
    const lists = fake.requests.filter(
      (r) => r.method === 'GET' && r.path.endsWith('/_apis/build/builds'),
    );
    expect(lists).toHaveLength(3 + 2);
    expect(lists.filter((r) => r.query.includes('continuationToken='))).toHaveLength(3);
    expect(lists[0].query).toContain('tagFilters=eol-gate.g.publishing');
    expect(lists[0].query).toContain(
      'statusFilter=inProgress%2Ccancelling%2Cpostponed%2CnotStarted',
    );
  });

  it('reads tags per build when the list carries none', async () => {
    fake.listIncludesTags = false;
    const b = fake.createBuild({
      tags: ['eol-gate.g.publishing', 'eol-gate.g.image-info-updated'],
    });
    const runs = await store(1).listRuns('g');
    expect(runs).toMatchObject([
      { runId: String(b.id), states: ['publishing', 'image-info-updated'] },
    ]);
    expect(fake.requests.some((r) => r.path === `/org/proj/_apis/build/builds/${b.id}/tags`)).toBe(
      true,
    );
  });

  it('cleanup removes only its own tags, both in one PATCH', async () => {
    const me = fake.createBuild({
      tags: ['eol-gate.g.publishing', 'eol-gate.g.image-info-updated', 'keep'],
    });
    const other = fake.createBuild({ tags: ['eol-gate.g.publishing'], status: 'completed' });
    await store(me.id).cleanup('g');
    expect(fake.build(me.id).tags).toEqual(['keep']);
    expect(fake.build(other.id).tags).toEqual(['eol-gate.g.publishing']);
    expect(fake.requests.filter((r) => r.method === 'PATCH')).toHaveLength(1);
  });

  it('waits out a 429 with Retry-After, then succeeds', async () => {
    const b = fake.createBuild();
    fake.fail({
      status: 429,
      headers: { 'retry-after': '3', 'x-ratelimit-resource': 'ATCPU' },
      times: 2,
    });
    await store(b.id).signal('g', 'publishing');
    expect(fake.build(b.id).tags).toEqual(['eol-gate.g.publishing']);
    expect(sleeps.filter((ms) => ms >= 3000)).toHaveLength(2);
  });

  it('a persistent 429 fails the call (never read as "no runs")', async () => {
    fake.fail({ status: 429, headers: { 'retry-after': '1' }, times: 100 });
    await expect(store(1, { retry: { ...retry, retries: 2 } }).listRuns('g')).rejects.toThrow(
      RuntimeError,
    );
  });

  it('403 on the tag write names the missing permission, without the token', async () => {
    const b = fake.createBuild();
    fake.forbidden.add('write-tags');
    const err = await rejection(store(b.id).signal('g', 'publishing'));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/Edit build quality/);
    expect(err.message).not.toContain(fake.token);
    expect(fake.build(b.id).tags).toEqual([]);
  });

  it('403 on listing names "View builds"', async () => {
    fake.forbidden.add('list');
    await expect(store(1).listRuns('g')).rejects.toThrow(/View builds/);
  });

  it('a bad token (401, or the 203 sign-in page) is an InputError naming System.AccessToken', async () => {
    const b = fake.createBuild();
    const e1 = await rejection(store(b.id, { token: 'wrong' }).signal('g', 'publishing'));
    expect(e1).toBeInstanceOf(InputError);
    expect(e1.message).toMatch(/System\.AccessToken/);
    expect(e1.message).not.toContain('wrong');
    fake.signInPageForBadToken = true;
    await expect(store(b.id, { token: 'wrong' }).listRuns('g')).rejects.toThrow(
      /HTTP 203.*System\.AccessToken/,
    );
  });

  it('rejects a bad group name before any request', async () => {
    await expect(store(1).signal('a/b', 'publishing')).rejects.toThrow(InputError);
    await expect(store(1).listRuns('')).rejects.toThrow(InputError);
    expect(fake.requests).toHaveLength(0);
  });

  it('rejects plain http to a non-loopback host and a non-numeric build id', () => {
    expect(() => store(1, { collectionUri: 'http://dev.azure.com/org/' })).toThrow(/https/);
    expect(() => store(1, { buildId: 'abc' })).toThrow(InputError);
  });

  it('a build missing from the project is an InputError', async () => {
    await expect(store(424242).signal('g', 'publishing')).rejects.toThrow(
      /not found in project proj/,
    );
  });
});
