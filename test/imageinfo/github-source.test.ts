/** GitHubContentsSource against the fake GitHub: read, write, reads at a resolved commit, history. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { publishImageInfo } from '../../src/commands/publish-image-info.js';
import { InputError } from '../../src/core/errors.js';
import { silentLogger } from '../../src/core/ports.js';
import { gitBlobId } from '../../src/imageinfo/git-blob.js';
import { GitHubContentsSource } from '../../src/imageinfo/github-source.js';
import { ABSENT_FINGERPRINT, ImageInfoNotFoundError } from '../../src/imageinfo/source.js';
import { systemClock } from '../../src/util/clock.js';
import { HttpStatusError } from '../../src/util/http.js';
import { FakeGitHub, type GitHubContentsStore } from '../support/fake-github.js';
import { FAST_RETRY } from '../support/doubles.js';
import { rejection } from '../support/errors.js';

const WRITE_TOKEN = 'ghs_writeTOKEN123';
const READ_TOKEN = 'ghs_readONLYtoken456';
const PATH = 'eng/image-info.json';
const T0 = Date.parse('2026-01-01T00:00:00Z');
const BIG = readFileSync(
  join(import.meta.dirname, '../fixtures/image-info/dotnet-docker-main.json'),
  'utf8',
); // 1.2 MB

let server: FakeGitHub;
let store: GitHubContentsStore;
/** The branch `source` reads by default: main, or a branch of its own per test. */
let branch: string;
let n = 0;

beforeAll(async () => {
  server = await new FakeGitHub({ token: WRITE_TOKEN }).start();
  server.tokens.set(READ_TOKEN, { contents: 'read', actions: 'none' });
  store = server.contents;
});
afterAll(() => server.close());

beforeEach(() => {
  server.reset();
  branch = 'main';
  store.setFile('org', 'images', 'main', PATH, '{"v":1}\n');
  store.addBranch('org', 'images', 'release/8.0');
});

const source = (path = PATH, ref = branch, token = WRITE_TOKEN) =>
  new GitHubContentsSource(
    { owner: 'org', repo: 'images', path, branch: ref },
    { apiUrl: server.apiUrl, token, retry: FAST_RETRY },
  );

describe('GitHubContentsSource', () => {
  it('reads content with the blob sha as fingerprint, sending the API version and a Bearer token', async () => {
    const snap = await source().read();
    expect(snap).toEqual({ text: '{"v":1}\n', fingerprint: gitBlobId('{"v":1}\n') });
    // The branch head first (fresh), then the file at that commit (Protocol III, hole 8).
    expect(server.requests.map((r) => r.path)).toEqual([
      '/repos/org/images/git/ref/heads/main',
      '/repos/org/images/contents/eng/image-info.json',
    ]);
    for (const req of server.requests) {
      expect(req.headers['x-github-api-version']).toBe('2022-11-28');
      expect(req.headers.authorization).toBe(`Bearer ${WRITE_TOKEN}`);
    }
  });

  it('reads a file over 1 MB (no inline content) through the blob its sha names', async () => {
    store.setFile('org', 'images', 'main', 'big/image-info.json', BIG);
    const snap = await source('big/image-info.json').read();
    expect(snap.text).toBe(BIG);
    expect(snap.fingerprint).toBe(gitBlobId(BIG));
    expect(server.requests.map((r) => r.path)).toEqual([
      '/repos/org/images/git/ref/heads/main',
      '/repos/org/images/contents/big/image-info.json',
      `/repos/org/images/git/blobs/${gitBlobId(BIG)}`,
    ]);
  });

  it('writes with the sha precondition and returns the new sha; a branch with a slash works', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    const result = await s.write('{"v":2}\n', fingerprint, 'publish image-info');
    expect(result).toEqual({ text: '{"v":2}\n', fingerprint: gitBlobId('{"v":2}\n') });
    expect(store.getFile('org', 'images', 'main', PATH)).toBe('{"v":2}\n');
    expect(store.commits.at(-1)?.message).toBe('publish image-info');

    const rel = source(PATH, 'release/8.0');
    expect(await rel.write('{"r":8}\n', ABSENT_FINGERPRINT, 'create')).not.toBe('conflict');
    expect(store.getFile('org', 'images', 'release/8.0', PATH)).toBe('{"r":8}\n');
  });

  it('conflict (409) when the file moved since the read; nothing written', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    store.setFile('org', 'images', 'main', PATH, '{"v":"other"}\n');
    expect(await s.write('{"v":2}\n', fingerprint, 'msg')).toBe('conflict');
    expect(store.getFile('org', 'images', 'main', PATH)).toBe('{"v":"other"}\n');
  });

  it('create: 201 when absent, conflict (422 "sha" wasn\'t supplied) when the file appeared', async () => {
    const s = source('new/image-info.json');
    await expect(s.read()).rejects.toBeInstanceOf(ImageInfoNotFoundError);
    expect(await s.write('{}\n', ABSENT_FINGERPRINT, 'create')).toEqual({
      text: '{}\n',
      fingerprint: gitBlobId('{}\n'),
    });
    expect(await s.write('{"again":1}\n', ABSENT_FINGERPRINT, 'create')).toBe('conflict');
  });

  it('a read-only token gets a clear 403 naming the source and `contents: write`, without the token', async () => {
    const s = source(PATH, 'main', READ_TOKEN);
    const { fingerprint } = await s.read();
    const err = await rejection(s.write('{"v":2}\n', fingerprint, 'msg'));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain('github:org/images/eng/image-info.json@main');
    expect(err.message).toContain('contents: write');
    expect(err.message).not.toContain(READ_TOKEN);
  });

  it('a bad token is a 401 InputError; a missing branch on write is a 404 InputError', async () => {
    await expect(source(PATH, 'main', 'nope').read()).rejects.toThrow(
      /rejected the token \(HTTP 401/,
    );
    const err = await rejection(
      source(PATH, 'no-such-branch').write('{}', ABSENT_FINGERPRINT, 'm'),
    );
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/HTTP 404 on write/);
  });

  it('retries 5xx and rate-limit 403s; a persistent 502 is an HttpStatusError, never "not found"', async () => {
    server.fail({ status: 502 });
    server.primaryRateLimit(0);
    expect((await source().read()).text).toBe('{"v":1}\n');
    server.fail({ status: 502, times: 5 });
    const err = await rejection(source().read());
    expect(err).toBeInstanceOf(HttpStatusError);
    expect(err).not.toBeInstanceOf(ImageInfoNotFoundError);
  });

  it('rejects a directory and non-loopback plain http', async () => {
    store.setFile('org', 'images', 'main', 'dir/a.json', '{}');
    // GitHub returns an array of entries for a directory.
    await expect(source('dir').read()).rejects.toThrow(
      /not a file \(GitHub returned a directory\)/,
    );
    const file = { owner: 'o', repo: 'r', path: 'p', branch: 'b' };
    expect(() => new GitHubContentsSource(file, { apiUrl: 'http://github.example.com' })).toThrow(
      InputError,
    );
  });
});

const V1 = '{"schemaVersion":"2.0","repos":[]}\n';
const V2 = '{"schemaVersion":"2.0","repos":[{"repo":"v2","images":[]}]}\n';

/** A GET of the fake's API for org/images, with its token. */
const get = (path: string, accept = 'application/vnd.github+json') =>
  fetch(`${server.apiUrl}/repos/org/images/${path}`, {
    headers: { accept, authorization: `Bearer ${server.token}` },
  });

const rawRead = async (ref: string) =>
  (await get(`contents/${PATH}?ref=${ref}`, 'application/vnd.github.raw+json')).text();

/**
 * Protocol III, hole 8: GitHub can answer a contents read by branch name from a cache for seconds
 * after an update, so a source that reads by branch name can re-read the image-info it read
 * before a re-record and miss the re-record (validation and reconcile compare fingerprints). The
 * fake's `nameReadCacheMs` serves by-name reads that way; ref and by-sha reads stay fresh.
 */
describe('GitHubContentsSource reads at a resolved commit (Protocol III, hole 8)', () => {
  beforeEach(() => {
    // A branch of its own per test: the cache outlives a test.
    branch = `cache-${++n}`;
    store.setFile('org', 'images', branch, PATH, V1);
    store.nameReadCacheMs = 60_000;
  });
  afterEach(() => void (store.nameReadCacheMs = 0));

  it('the fake serves a by-name read stale after an update, while ref and sha reads are fresh', async () => {
    expect(await rawRead(branch)).toBe(V1); // primes the cache
    store.setFile('org', 'images', branch, PATH, V2);
    expect(await rawRead(branch)).toBe(V1); // stale: what the old source saw
    const ref = await get(`git/ref/heads/${branch}`);
    const head = ((await ref.json()) as { object: { sha: string } }).object.sha;
    expect(head).toBe(store.head('org', 'images', branch));
    expect(await rawRead(head)).toBe(V2);
  });

  it('a re-read after a re-record sees the new content and fingerprint, not the cached one', async () => {
    const s = source();
    expect((await s.read()).fingerprint).toBe(gitBlobId(V1));
    // Another pipeline re-records the image-info (through the API, as publish-image-info does).
    expect(await source().write(V2, gitBlobId(V1), 're-record')).not.toBe('conflict');
    const again = await s.read();
    expect(again).toEqual({ text: V2, fingerprint: gitBlobId(V2) });
    const paths = server.requests.slice(-2).map((r) => r.path);
    expect(paths).toEqual([
      `/repos/org/images/git/ref/heads/${branch}`,
      `/repos/org/images/contents/${PATH}`,
    ]);
  });

  it('compare-and-swap publishes keep working under the cache (read, merge, PUT with the blob sha)', async () => {
    const clock = systemClock;
    for (const name of ['a', 'b', 'c']) {
      const fragment = JSON.stringify({
        schemaVersion: '2.0',
        repos: [
          { repo: name, images: [{ platforms: [{ digest: `${name}@sha256:${'0'.repeat(64)}` }] }] },
        ],
      });
      const result = await publishImageInfo(
        {
          target: source(),
          fragmentText: fragment,
          fragmentName: `${name}.json`,
          message: `publish ${name}`,
          maxAttempts: 3,
          baseDelayMs: 1,
          maxDelayMs: 2,
        },
        { clock, logger: silentLogger },
      );
      expect(result.attempts, `publish ${name}`).toBe(1);
    }
    const final = store.getFile('org', 'images', branch, PATH)!;
    expect(final).toMatch(/"a"[\s\S]*"b"[\s\S]*"c"/);
    expect((await source().read()).text).toBe(final);
  });

  it('a tag reads at the tagged commit; a 40-hex ref is a commit read as is', async () => {
    const tagged = store.head('org', 'images', branch)!;
    store.addTag('org', 'images', `v-${branch}`, tagged);
    store.setFile('org', 'images', branch, PATH, V2);
    expect((await source(PATH, `v-${branch}`).read()).text).toBe(V1);
    expect((await source(PATH, tagged).read()).text).toBe(V1);
    expect(server.requests.at(-1)?.path).toBe(`/repos/org/images/contents/${PATH}`);
    expect(server.requests.at(-2)?.path).not.toMatch(/git\/ref/);
    expect((await source().read()).text).toBe(V2);
  });

  it('an unknown branch or tag is "not found", naming it', async () => {
    const err = await rejection(source(PATH, 'no-such-branch').read());
    expect(err).toBeInstanceOf(ImageInfoNotFoundError);
    expect(err.message).toMatch(/no-such-branch/);
  });
});

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

/** The image-info's own git history, read through the GitHub commits and contents APIs. */
describe('GitHubContentsSource.history', () => {
  beforeEach(() => {
    branch = `history-${++n}`;
    let minute = 0;
    server.clock = () => T0 + ++minute * 60_000;
  });
  /** Reads need no more than `contents: read`. */
  const reader = (token = READ_TOKEN) => source(PATH, branch, token);

  it('returns the versions newest first, with commit sha and date, the current one included', async () => {
    const shas = commitVersions(3);
    const versions = await reader().history(10);
    expect(versions).toEqual([
      { revision: shas[2], date: '2026-01-01T00:06:00Z', text: '{"v":3}\n' },
      { revision: shas[1], date: '2026-01-01T00:04:00Z', text: '{"v":2}\n' },
      { revision: shas[0], date: '2026-01-01T00:02:00Z', text: '{"v":1}\n' },
    ]);
    expect(versions[0].text).toBe((await reader().read()).text);
    // Listed from the head commit resolved once (stable pages), then each version read at its sha.
    expect(server.requests.slice(0, 2).map((r) => r.path)).toEqual([
      `/repos/org/images/git/ref/heads/${branch}`,
      '/repos/org/images/commits',
    ]);
  });

  it('honours maxVersions: per_page is maxVersions up to 100', async () => {
    const shas = commitVersions(7);
    const versions = await reader().history(5);
    expect(versions.map((v) => v.revision)).toEqual(shas.slice(2).reverse());
    expect(versions.map((v) => v.text)).toEqual([7, 6, 5, 4, 3].map((v) => `{"v":${v}}\n`));
    expect(listings()).toHaveLength(1);
  });

  it('follows rel="next" until it has maxVersions commits (over 100 per page)', async () => {
    const shas = commitVersions(103);
    server.requests.length = 0;
    const versions = await reader().history(102);
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
    const versions = await reader().history(10);
    expect(versions.map((v) => v.text)).toEqual(['{"v":3}\n', '{"v":2}\n', '{"v":1}\n']);
    expect(versions.map((v) => v.revision)).not.toContain(deleted);
    // It was listed, and read (404 at that sha), then dropped.
    const reads = server.requests.filter((r) => r.path === `/repos/org/images/contents/${PATH}`);
    expect(reads).toHaveLength(4);
  });

  it('sends the same Bearer token and API version on every request', async () => {
    commitVersions(2);
    await reader().history(5);
    expect(server.requests.length).toBeGreaterThan(3);
    for (const req of server.requests) {
      expect(req.headers.authorization).toBe(`Bearer ${READ_TOKEN}`);
      expect(req.headers['x-github-api-version']).toBe('2022-11-28');
    }
  });

  it('a 500 on the listing that outlasts the retries throws', async () => {
    commitVersions(3);
    server.fail({ status: 500, times: 100, match: (_m, p) => p.endsWith('/commits') });
    const err = await rejection<HttpStatusError>(reader().history(3));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect(err.status).toBe(500);
    expect(err.message).toMatch(/GET .*\/repos\/org\/images\/commits failed: HTTP 500/);
    expect(listings()).toHaveLength(3); // tried 1 + 2 times
  });

  it('a 500 on one version read throws rather than returning the others', async () => {
    const shas = commitVersions(3);
    // The two newer versions read fine; the oldest fails on every try.
    server.fail({ status: 500, times: 100, match: (_m, _p, q) => q.includes(`ref=${shas[0]}`) });
    const err = await rejection<HttpStatusError>(reader().history(3));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect(err.status).toBe(500);
  });

  it('a 500 that clears within the retries is retried by the one loop', async () => {
    const shas = commitVersions(2);
    server.fail({ status: 500, times: 2, match: (_m, _p, q) => q.includes(`ref=${shas[0]}`) });
    server.fail({ status: 502, match: (_m, p) => p.endsWith('/commits') });
    expect((await reader().history(2)).map((v) => v.revision)).toEqual([shas[1], shas[0]]);
  });

  it('a rejected token (401) is an InputError naming the source', async () => {
    commitVersions(1);
    const err = await rejection(reader('ghs_wrong').history(3));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(
      /github:org\/images\/eng\/image-info\.json@.*rejected the token \(HTTP 401/,
    );
    expect(err.message).not.toContain('ghs_wrong');
  });

  it('no such branch: ImageInfoNotFoundError, like read()', async () => {
    await expect(reader().history(3)).rejects.toBeInstanceOf(ImageInfoNotFoundError);
  });

  it('maxVersions 0 asks nothing', async () => {
    expect(await reader().history(0)).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });
});
