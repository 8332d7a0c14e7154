/** The image-info's own git history, read through the Azure Repos commits and items APIs. */
import { InputError } from '../../src/core/errors.js';
import { httpErrorOf, rejection } from '../support/errors.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AzureReposSource } from '../../src/imageinfo/azure-repos-source.js';
import { ImageInfoNotFoundError } from '../../src/imageinfo/source.js';
import { HttpStatusError } from '../../src/util/http.js';
import { startFakeAzureRepos, type FakeAzureRepos } from '../support/fake-azure-repos.js';
import { FAST_RETRY } from '../support/doubles.js';

const TOKEN = 'ado-history-SECRET-3';
const PROJECT = 'Docker Images';
const REPO = 'image-info';
const PATH = 'build/image-info.json';
const T0 = Date.parse('2026-01-01T00:00:00Z');

let server: FakeAzureRepos;
let branch: string;
let n = 0;

beforeAll(async () => {
  server = await startFakeAzureRepos({ tokens: { [TOKEN]: 'write' } });
});
afterAll(() => server.close());

beforeEach(() => {
  branch = `history-${++n}`;
  server.store.faults.length = 0;
  server.store.requests.length = 0;
  let minute = 0;
  server.store.now = () => T0 + ++minute * 60_000;
});

const source = (token = TOKEN) =>
  new AzureReposSource(
    { project: PROJECT, repo: REPO, path: PATH, branch },
    { collectionUri: server.url, token, retry: FAST_RETRY },
  );

/** Commits versions 1..count of the file, an unrelated commit after each; their commit ids. */
function commitVersions(count: number): string[] {
  const ids: string[] = [];
  for (let v = 1; v <= count; v++) {
    ids.push(server.store.commit(PROJECT, REPO, branch, { [PATH]: `{"v":${v}}\n` }));
    server.store.commit(PROJECT, REPO, branch, { 'README.md': `readme ${v}` });
  }
  return ids;
}

const BASE = '/Docker%20Images/_apis/git/repositories/image-info';
const listings = () => server.store.requests.filter((r) => r.path === `${BASE}/commits`);

describe('AzureReposSource.history', () => {
  it('returns the versions newest first, with commit id and date, the current one included', async () => {
    const ids = commitVersions(3);
    const versions = await source().history(10);
    expect(versions).toEqual([
      { revision: ids[2], date: '2026-01-01T00:05:00.000Z', text: '{"v":3}\n' },
      { revision: ids[1], date: '2026-01-01T00:03:00.000Z', text: '{"v":2}\n' },
      { revision: ids[0], date: '2026-01-01T00:01:00.000Z', text: '{"v":1}\n' },
    ]);
    expect(versions[0].text).toBe((await source().read()).text);
    expect(server.store.requests.slice(0, 2).map((r) => r.path)).toEqual([
      `${BASE}/refs`,
      `${BASE}/commits`,
    ]);
  });

  it('honours maxVersions', async () => {
    const ids = commitVersions(7);
    const versions = await source().history(5);
    expect(versions.map((v) => v.revision)).toEqual(ids.slice(2).reverse());
    expect(listings()).toHaveLength(1);
  });

  it('pages with $skip past 100 commits until it has maxVersions', async () => {
    const ids = commitVersions(103);
    server.store.requests.length = 0;
    const versions = await source().history(102);
    expect(versions).toHaveLength(102);
    expect(versions[0].revision).toBe(ids[102]);
    expect(versions.at(-1)!.revision).toBe(ids[1]);
    expect(listings()).toHaveLength(2);
  });

  it('stops at the end of the history', async () => {
    commitVersions(2);
    expect(await source().history(100)).toHaveLength(2);
    expect(listings()).toHaveLength(1);
  });

  it('skips a commit where the file was deleted', async () => {
    commitVersions(2);
    const deleted = server.store.commit(PROJECT, REPO, branch, { [PATH]: null });
    server.store.commit(PROJECT, REPO, branch, { [PATH]: '{"v":3}\n' });
    const versions = await source().history(10);
    expect(versions.map((v) => v.text)).toEqual(['{"v":3}\n', '{"v":2}\n', '{"v":1}\n']);
    expect(versions.map((v) => v.revision)).not.toContain(deleted);
    expect(server.store.requests.filter((r) => r.path === `${BASE}/items`)).toHaveLength(4);
  });

  it('sends the same Bearer token on every request', async () => {
    commitVersions(2);
    await source().history(5);
    expect(server.store.requests.length).toBeGreaterThan(3);
    for (const req of server.store.requests)
      expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('a 500 on the listing that outlasts the retries throws', async () => {
    commitVersions(3);
    server.store.faults.push({ status: 500, times: 100, url: /\/commits\?/ });
    const err = await rejection(source().history(3));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(500);
    expect(listings()).toHaveLength(3); // tried 1 + 2 times
  });

  it('a 500 on one version read throws rather than returning the others', async () => {
    const ids = commitVersions(3);
    server.store.faults.push({
      status: 500,
      times: 100,
      url: new RegExp(`/items\\?.*versionDescriptor\\.version=${ids[0]}`),
    });
    const err = await rejection(source().history(3));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(500);
  });

  it('a rejected token (401) names the source and System.AccessToken', async () => {
    commitVersions(1);
    const err = await rejection(source('ado-wrong').history(3));
    expect(err).toBeInstanceOf(InputError);
    expect(httpErrorOf(err).status).toBe(401);
    expect((err as Error).message).toMatch(
      /HTTP 401 Azure DevOps rejected the access token when trying to read azure-repos:Docker Images\/image-info\/build\/image-info\.json@history-\d+: .*System\.AccessToken/,
    );
    expect((err as Error).message).not.toContain('ado-wrong');
  });

  it('no such branch: ImageInfoNotFoundError, like read()', async () => {
    commitVersions(1);
    branch = 'no-such-branch';
    await expect(source().history(3)).rejects.toBeInstanceOf(ImageInfoNotFoundError);
  });

  it('reading old versions leaves the write precondition on the head commit', async () => {
    const write = new AzureReposSource(
      { project: PROJECT, repo: REPO, path: PATH, branch },
      { collectionUri: server.url, token: TOKEN, retry: FAST_RETRY },
    );
    commitVersions(2);
    server.store.commit(PROJECT, REPO, branch, { [PATH]: '{"v":1}\n' }); // a revert: v1's blob again
    const { fingerprint } = await write.read();
    expect((await write.history(3)).map((v) => v.text)).toEqual([
      '{"v":1}\n',
      '{"v":2}\n',
      '{"v":1}\n',
    ]);
    server.store.requests.length = 0;
    expect(await write.write('{"v":4}\n', fingerprint, 'next')).not.toBe('conflict');
    // One push, on the head: not a refused push on the old commit that also holds v1's blob.
    expect(server.store.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('maxVersions 0 asks nothing', async () => {
    expect(await source().history(0)).toEqual([]);
    expect(server.store.requests).toHaveLength(0);
  });
});
