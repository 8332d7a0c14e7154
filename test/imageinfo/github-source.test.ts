import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { gitBlobId } from '../../src/imageinfo/git-blob.js';
import { GitHubContentsSource } from '../../src/imageinfo/github-source.js';
import { ABSENT_FINGERPRINT, ImageInfoNotFoundError } from '../../src/imageinfo/source.js';
import { HttpStatusError } from '../../src/util/http.js';
import { FakeGitHub, type GitHubContentsStore } from '../support/fake-github.js';
import { FAST_RETRY } from '../support/doubles.js';
import { rejection } from '../support/errors.js';

const WRITE_TOKEN = 'ghs_writeTOKEN123';
const READ_TOKEN = 'ghs_readONLYtoken456';
const BIG = readFileSync(
  join(import.meta.dirname, '../fixtures/image-info/dotnet-docker-main.json'),
  'utf8',
); // 1.2 MB

let server: FakeGitHub;
let store: GitHubContentsStore;

beforeAll(async () => {
  server = await new FakeGitHub({ token: WRITE_TOKEN }).start();
  server.tokens.set(READ_TOKEN, { contents: 'read', actions: 'none' });
});
afterAll(() => server.close());

beforeEach(() => {
  store = server.contents;
  server.reset();
  store.setFile('org', 'images', 'main', 'eng/image-info.json', '{"v":1}\n');
  store.addBranch('org', 'images', 'release/8.0');
});

const source = (path = 'eng/image-info.json', branch = 'main', token = WRITE_TOKEN) =>
  new GitHubContentsSource(
    { owner: 'org', repo: 'images', path, branch },
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
    expect(store.getFile('org', 'images', 'main', 'eng/image-info.json')).toBe('{"v":2}\n');
    expect(store.commits.at(-1)?.message).toBe('publish image-info');

    const rel = source('eng/image-info.json', 'release/8.0');
    expect(await rel.write('{"r":8}\n', ABSENT_FINGERPRINT, 'create')).not.toBe('conflict');
    expect(store.getFile('org', 'images', 'release/8.0', 'eng/image-info.json')).toBe('{"r":8}\n');
  });

  it('conflict (409) when the file moved since the read; nothing written', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    store.setFile('org', 'images', 'main', 'eng/image-info.json', '{"v":"other"}\n');
    expect(await s.write('{"v":2}\n', fingerprint, 'msg')).toBe('conflict');
    expect(store.getFile('org', 'images', 'main', 'eng/image-info.json')).toBe('{"v":"other"}\n');
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
    const s = source('eng/image-info.json', 'main', READ_TOKEN);
    const { fingerprint } = await s.read();
    const err = await rejection(s.write('{"v":2}\n', fingerprint, 'msg'));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain('github:org/images/eng/image-info.json@main');
    expect(err.message).toContain('contents: write');
    expect(err.message).not.toContain(READ_TOKEN);
  });

  it('a bad token is a 401 InputError; a missing branch on write is a 404 InputError', async () => {
    await expect(source('eng/image-info.json', 'main', 'nope').read()).rejects.toThrow(
      /rejected the token \(HTTP 401/,
    );
    const err = await rejection(
      source('eng/image-info.json', 'no-such-branch').write('{}', ABSENT_FINGERPRINT, 'm'),
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
    expect(
      () =>
        new GitHubContentsSource(
          { owner: 'o', repo: 'r', path: 'p', branch: 'b' },
          { apiUrl: 'http://github.example.com' },
        ),
    ).toThrow(InputError);
  });
});
