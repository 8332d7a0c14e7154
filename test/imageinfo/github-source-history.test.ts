/** The image-info's own git history, read through the GitHub commits and contents APIs. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { GitHubContentsSource } from '../../src/imageinfo/github-source.js';
import { ImageInfoNotFoundError } from '../../src/imageinfo/source.js';
import { HttpStatusError } from '../../src/util/http.js';
import { FakeGitHub, type GitHubContentsStore } from '../support/fake-github.js';
import { FAST_RETRY } from '../support/doubles.js';
import { rejection } from '../support/errors.js';

const TOKEN = 'ghs_historyTOKEN789';
const PATH = 'eng/image-info.json';
const T0 = Date.parse('2026-01-01T00:00:00Z');

let server: FakeGitHub;
let store: GitHubContentsStore;
let branch: string;
let n = 0;

beforeAll(async () => {
  server = await new FakeGitHub({ token: TOKEN }).start();
  server.permissions = { contents: 'read', actions: 'none' };
  store = server.contents;
});
afterAll(() => server.close());

beforeEach(() => {
  branch = `history-${++n}`; // a branch of its own per test
  server.clearFaults();
  server.requests.length = 0;
  let minute = 0;
  server.clock = () => T0 + ++minute * 60_000;
});

const source = (token = TOKEN, apiUrl = server.apiUrl) =>
  new GitHubContentsSource(
    { owner: 'org', repo: 'images', path: PATH, branch },
    { apiUrl, token, retry: FAST_RETRY },
  );

/** Commits versions 1..count of the file, an unrelated commit after each (minute 1 is the branch); their shas. */
function commitVersions(count: number): string[] {
  const shas: string[] = [];
  for (let v = 1; v <= count; v++) {
    store.setFile('org', 'images', branch, PATH, `{"v":${v}}\n`);
    shas.push(store.head('org', 'images', branch)!);
    store.setFile('org', 'images', branch, 'README.md', `readme ${v}`);
  }
  return shas;
}

const listings = () => server.requests.filter((r) => r.path.endsWith('/commits'));

describe('GitHubContentsSource.history', () => {
  it('returns the versions newest first, with commit sha and date, the current one included', async () => {
    const shas = commitVersions(3);
    const versions = await source().history(10);
    expect(versions).toEqual([
      { revision: shas[2], date: '2026-01-01T00:06:00Z', text: '{"v":3}\n' },
      { revision: shas[1], date: '2026-01-01T00:04:00Z', text: '{"v":2}\n' },
      { revision: shas[0], date: '2026-01-01T00:02:00Z', text: '{"v":1}\n' },
    ]);
    expect(versions[0].text).toBe((await source().read()).text);
    // Listed from the head commit resolved once (stable pages), then each version read at its sha.
    expect(server.requests.slice(0, 2).map((r) => r.path)).toEqual([
      `/repos/org/images/git/ref/heads/${branch}`,
      '/repos/org/images/commits',
    ]);
  });

  it('honours maxVersions: per_page is maxVersions up to 100', async () => {
    const shas = commitVersions(7);
    const versions = await source().history(5);
    expect(versions.map((v) => v.revision)).toEqual(shas.slice(2).reverse());
    expect(versions.map((v) => v.text)).toEqual([7, 6, 5, 4, 3].map((v) => `{"v":${v}}\n`));
    expect(listings()).toHaveLength(1);
  });

  it('follows rel="next" until it has maxVersions commits (over 100 per page)', async () => {
    const shas = commitVersions(103);
    server.requests.length = 0;
    const versions = await source().history(102);
    expect(versions).toHaveLength(102);
    expect(versions[0].revision).toBe(shas[102]);
    expect(versions.at(-1)!.revision).toBe(shas[1]);
    expect(listings()).toHaveLength(2);
  });

  it('follows Link URLs under a GHES base path', async () => {
    const ghes = await new FakeGitHub({ basePath: '/api/v3' }).start();
    try {
      for (let v = 1; v <= 101; v++) ghes.contents.setFile('org', 'images', 'main', PATH, `${v}`);
      const s = new GitHubContentsSource(
        { owner: 'org', repo: 'images', path: PATH, branch: 'main' },
        { apiUrl: ghes.apiUrl, token: ghes.token, retry: FAST_RETRY },
      );
      const versions = await s.history(101);
      expect(versions.map((v) => v.text)).toEqual(
        Array.from({ length: 101 }, (_, i) => `${101 - i}`),
      );
      expect(ghes.requests.filter((r) => r.path.endsWith('/commits'))).toHaveLength(2);
    } finally {
      await ghes.close();
    }
  });

  it('skips a commit where the file was deleted', async () => {
    commitVersions(2);
    const deleted = store.deleteFile('org', 'images', branch, PATH);
    store.setFile('org', 'images', branch, PATH, '{"v":3}\n');
    const versions = await source().history(10);
    expect(versions.map((v) => v.text)).toEqual(['{"v":3}\n', '{"v":2}\n', '{"v":1}\n']);
    expect(versions.map((v) => v.revision)).not.toContain(deleted);
    // It was listed, and read (404 at that sha), then dropped.
    const reads = server.requests.filter((r) => r.path === `/repos/org/images/contents/${PATH}`);
    expect(reads).toHaveLength(4);
  });

  it('sends the same Bearer token and API version on every request', async () => {
    commitVersions(2);
    await source().history(5);
    expect(server.requests.length).toBeGreaterThan(3);
    for (const req of server.requests) {
      expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
      expect(req.headers['x-github-api-version']).toBe('2022-11-28');
    }
  });

  it('a 500 on the listing that outlasts the retries throws', async () => {
    commitVersions(3);
    server.fail({ status: 500, times: 100, match: (_m, p) => p.endsWith('/commits') });
    const err = await rejection(source().history(3));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(500);
    expect((err as Error).message).toMatch(/GET .*\/repos\/org\/images\/commits failed: HTTP 500/);
    expect(listings()).toHaveLength(3); // tried 1 + 2 times
  });

  it('a 500 on one version read throws rather than returning the others', async () => {
    const shas = commitVersions(3);
    // The two newer versions read fine; the oldest fails on every try.
    server.fail({ status: 500, times: 100, match: (_m, _p, q) => q.includes(`ref=${shas[0]}`) });
    const err = await rejection(source().history(3));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(500);
  });

  it('a 500 that clears within the retries is retried by the one loop', async () => {
    const shas = commitVersions(2);
    server.fail({ status: 500, times: 2, match: (_m, _p, q) => q.includes(`ref=${shas[0]}`) });
    server.fail({ status: 502, match: (_m, p) => p.endsWith('/commits') });
    expect((await source().history(2)).map((v) => v.revision)).toEqual([shas[1], shas[0]]);
  });

  it('a rejected token (401) is an InputError naming the source', async () => {
    commitVersions(1);
    const err = await rejection(source('ghs_wrong').history(3));
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(
      /github:org\/images\/eng\/image-info\.json@.*rejected the token \(HTTP 401/,
    );
    expect((err as Error).message).not.toContain('ghs_wrong');
  });

  it('no such branch: ImageInfoNotFoundError, like read()', async () => {
    await expect(source().history(3)).rejects.toBeInstanceOf(ImageInfoNotFoundError);
  });

  it('maxVersions 0 asks nothing', async () => {
    expect(await source().history(0)).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });
});
