/**
 * Protocol III, hole 8: GitHub can answer a contents read by branch name from a cache for seconds
 * after an update, so a source that reads by branch name can re-read the image-info it read
 * before a re-record and miss the re-record (validation and reconcile compare fingerprints). The
 * fake's `nameReadCacheMs` serves by-name reads that way; ref and by-sha reads stay fresh.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { publishImageInfo } from '../../src/commands/publish-image-info.js';
import { silentLogger } from '../../src/core/ports.js';
import { gitBlobId } from '../../src/imageinfo/git-blob.js';
import { GitHubContentsSource } from '../../src/imageinfo/github-source.js';
import { ImageInfoNotFoundError } from '../../src/imageinfo/source.js';
import { FakeGitHub, type GitHubContentsStore } from '../support/fake-github.js';
import { FAST_RETRY } from '../support/doubles.js';
import { systemClock } from '../../src/util/clock.js';
import { rejection } from '../support/errors.js';

const PATH = 'eng/image-info.json';
const V1 = '{"schemaVersion":"2.0","repos":[]}\n';
const V2 = '{"schemaVersion":"2.0","repos":[{"repo":"v2","images":[]}]}\n';

let server: FakeGitHub;
let store: GitHubContentsStore;
let branch: string;
let n = 0;

beforeAll(async () => {
  server = await new FakeGitHub().start();
  store = server.contents;
});
afterAll(() => server.close());

beforeEach(() => {
  // A branch of its own per test: the cache outlives a test.
  branch = `cache-${++n}`;
  store.setFile('org', 'images', branch, PATH, V1);
  store.nameReadCacheMs = 60_000;
});

const source = (ref = branch) =>
  new GitHubContentsSource(
    { owner: 'org', repo: 'images', path: PATH, branch: ref },
    { apiUrl: server.apiUrl, token: server.token, retry: FAST_RETRY },
  );

/** A GET of the fake's API for org/images, with its token. */
const get = (path: string, accept = 'application/vnd.github+json') =>
  fetch(`${server.apiUrl}/repos/org/images/${path}`, {
    headers: { accept, authorization: `Bearer ${server.token}` },
  });

async function rawRead(ref: string): Promise<string> {
  return (await get(`contents/${PATH}?ref=${ref}`, 'application/vnd.github.raw+json')).text();
}

describe('GitHubContentsSource reads at a resolved commit (Protocol III, hole 8)', () => {
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
    expect((await source(`v-${branch}`).read()).text).toBe(V1);
    expect((await source(tagged).read()).text).toBe(V1);
    expect(server.requests.at(-1)?.path).toBe(`/repos/org/images/contents/${PATH}`);
    expect(server.requests.at(-2)?.path).not.toMatch(/git\/ref/);
    expect((await source().read()).text).toBe(V2);
  });

  it('an unknown branch or tag is "not found", naming it', async () => {
    const err = await rejection(source('no-such-branch').read());
    expect(err).toBeInstanceOf(ImageInfoNotFoundError);
    expect((err as Error).message).toMatch(/no-such-branch/);
  });
});
