import { httpErrorOf, rejection } from '../support/errors.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/core/errors.js';
import { AzureReposSource } from '../../src/imageinfo/azure-repos-source.js';
import { gitBlobId } from '../../src/imageinfo/git-blob.js';
import { ABSENT_FINGERPRINT, ImageInfoNotFoundError } from '../../src/imageinfo/source.js';
import { HttpStatusError } from '../../src/util/http.js';
import { startFakeAzureRepos, type FakeAzureRepos } from '../support/fake-azure-repos.js';
import { FAST_RETRY } from '../support/doubles.js';

const WRITE_TOKEN = 'ado-write-SECRET-1';
const READ_TOKEN = 'ado-read-SECRET-2';

let server: FakeAzureRepos;
let branch: string;
let n = 0;

beforeAll(async () => {
  server = await startFakeAzureRepos({ tokens: { [WRITE_TOKEN]: 'write', [READ_TOKEN]: 'read' } });
});
afterAll(() => server.close());

beforeEach(() => {
  branch = `main-${++n}`;
  server.store.commit('Docker Images', 'image-info', branch, {
    'build/image-info.json': '{"v":1}\n',
    'README.md': 'hi',
  });
});

const source = (path = 'build/image-info.json', token = WRITE_TOKEN, b = branch) =>
  new AzureReposSource(
    { project: 'Docker Images', repo: 'image-info', path, branch: b },
    { collectionUri: server.url, token, retry: FAST_RETRY },
  );
const file = (path = 'build/image-info.json') =>
  server.store.getFile('Docker Images', 'image-info', branch, path);

describe('AzureReposSource', () => {
  it('reads the file at the branch head; the fingerprint is its blob id; Bearer token; api-version 7.1', async () => {
    const snap = await source().read();
    expect(snap).toEqual({ text: '{"v":1}\n', fingerprint: gitBlobId('{"v":1}\n') });
    const last = server.store.requests.at(-1)!;
    expect(last.path).toBe('/Docker%20Images/_apis/git/repositories/image-info/items');
    expect(last.headers.authorization).toBe(`Bearer ${WRITE_TOKEN}`);
  });

  it('a file without inline content is read through its blob id', async () => {
    const big = await startFakeAzureRepos({ maxInlineContentBytes: 1024 });
    try {
      const text = JSON.stringify({ pad: 'x'.repeat(5000) });
      big.store.commit('P', 'r', 'main', { 'image-info.json': text });
      const s = new AzureReposSource(
        { project: 'P', repo: 'r', path: 'image-info.json', branch: 'main' },
        { collectionUri: big.url, retry: FAST_RETRY },
      );
      expect(await s.read()).toEqual({ text, fingerprint: gitBlobId(text) });
      expect(big.store.requests.at(-1)?.path).toBe(
        `/P/_apis/git/repositories/r/blobs/${gitBlobId(text)}`,
      );
    } finally {
      await big.close();
    }
  });

  it('writes with a push on the commit it read', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    const head = server.store.head('Docker Images', 'image-info', branch);
    expect(await s.write('{"v":2}\n', fingerprint, 'publish')).toEqual({
      text: '{"v":2}\n',
      fingerprint: gitBlobId('{"v":2}\n'),
    });
    expect(file()).toBe('{"v":2}\n');
    const newHead = server.store.head('Docker Images', 'image-info', branch)!;
    expect(server.store.commitById('Docker Images', 'image-info', newHead)?.parent).toBe(head);
    expect(server.store.pushes.at(-1)?.comment).toBe('publish');
  });

  it('an unrelated commit in between (TF401028) is not a conflict: the push is redone on the new head', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    server.store.commit('Docker Images', 'image-info', branch, { 'README.md': 'changed' });
    expect(await s.write('{"v":2}\n', fingerprint, 'publish')).not.toBe('conflict');
    expect(file()).toBe('{"v":2}\n');
    expect(file('README.md')).toBe('changed');
  });

  it('conflict when the file itself changed; nothing written', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    server.store.commit('Docker Images', 'image-info', branch, {
      'build/image-info.json': '{"v":"other"}\n',
    });
    expect(await s.write('{"v":2}\n', fingerprint, 'publish')).toBe('conflict');
    expect(file()).toBe('{"v":"other"}\n');
  });

  it('create: an add push when absent, conflict when the file appeared', async () => {
    const s = source('new/image-info.json');
    await expect(s.read()).rejects.toBeInstanceOf(ImageInfoNotFoundError);
    expect(await s.write('{}\n', ABSENT_FINGERPRINT, 'create')).not.toBe('conflict');
    expect(file('new/image-info.json')).toBe('{}\n');
    expect(
      await source('new/image-info.json').write('{"x":1}\n', ABSENT_FINGERPRINT, 'create'),
    ).toBe('conflict');
  });

  it('a read-only token gets a 403 naming the source and the permission, without the token', async () => {
    const s = source('build/image-info.json', READ_TOKEN);
    const { fingerprint } = await s.read();
    const err = httpErrorOf(await rejection(s.write('{"v":2}\n', fingerprint, 'msg')));
    expect(err).toMatchObject({ status: 403, method: 'POST', code: 'GitNeedsPermissionException' });
    expect(err.message).toContain(
      `azure-repos:Docker Images/image-info/build/image-info.json@${branch}`,
    );
    expect(err.message).toContain('Contribute');
    expect(err.message).not.toContain(READ_TOKEN);
    expect(file()).toBe('{"v":1}\n');
  });

  it('missing branch → not found; missing repository → 404; bad token → 401 with the System.AccessToken hint', async () => {
    await expect(source('build/image-info.json', WRITE_TOKEN, 'nope').read()).rejects.toThrow(
      /branch nope not found/,
    );
    const other = new AzureReposSource(
      { project: 'Docker Images', repo: 'missing', path: 'x.json', branch },
      { collectionUri: server.url, token: WRITE_TOKEN, retry: FAST_RETRY },
    );
    const missing = await rejection<HttpStatusError>(other.read());
    expect(missing).toMatchObject({ status: 404, code: 'GitRepositoryNotFoundException' });
    expect(missing.message).toMatch(/no such project or repository/);
    const bad = httpErrorOf(await rejection(source('build/image-info.json', 'bad-SECRET').read()));
    expect(bad.status).toBe(401);
    expect(bad.message).toMatch(/rejected the access token .*System\.AccessToken/);
    expect(bad.message).not.toContain('bad-SECRET');
  });

  it('a bad token answered with the 203 sign-in page is the System.AccessToken hint, not a JSON error', async () => {
    const signIn = await startFakeAzureRepos({
      tokens: { [WRITE_TOKEN]: 'write' },
      signInPageForBadToken: true,
    });
    try {
      signIn.store.commit('P', 'r', 'main', { 'image-info.json': '{}' });
      const s = new AzureReposSource(
        { project: 'P', repo: 'r', path: 'image-info.json', branch: 'main' },
        { collectionUri: signIn.url, token: 'expired-SECRET-3', retry: FAST_RETRY },
      );
      const err = httpErrorOf(await rejection(s.read()));
      expect(err.status).toBe(203);
      expect(err.message).toMatch(/sign-in page.*System\.AccessToken/);
      expect(err.message).not.toMatch(/JSON|expired-SECRET-3/);
      // Nothing past the first refused call.
      expect(signIn.store.requests).toHaveLength(1);
    } finally {
      await signIn.close();
    }
  });

  it('a push refused while neither branch nor file moved is an error naming the source, not a conflict loop', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    server.store.faults.push({
      method: 'POST',
      status: 400,
      times: 1,
      typeKey: 'InvalidArgumentValueException',
      message: 'TF400000: bad change',
    });
    const err = await rejection(s.write('{"v":2}\n', fingerprint, 'publish'));
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.message).toMatch(/refused the push \(HTTP 400 .*TF400000/);
    expect(file()).toBe('{"v":1}\n');
  });

  it('a deleted file is a conflict for an edit', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    server.store.commit('Docker Images', 'image-info', branch, { 'build/image-info.json': null });
    expect(await s.write('{"v":2}\n', fingerprint, 'publish')).toBe('conflict');
  });
});
