/** AzureReposSource against the fake collection's Git API: read, write (pushes) and history. */
import { httpErrorOf, rejection } from '../support/errors.js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError, RuntimeError } from '../../src/core/errors.js';
import { AzureReposSource } from '../../src/imageinfo/azure-repos-source.js';
import { gitBlobId } from '../../src/imageinfo/git-blob.js';
import { ABSENT_FINGERPRINT, ImageInfoNotFoundError } from '../../src/imageinfo/source.js';
import { HttpStatusError } from '../../src/util/http.js';
import { FakeAzureDevOps } from '../support/fake-azure-devops.js';
import { FAST_RETRY } from '../support/doubles.js';

const TOKEN = 'ado-SECRET-1';
const PROJECT = 'Docker Images';
const REPO = 'image-info';
const PATH = 'build/image-info.json';
const BASE = '/org/Docker%20Images/_apis/git/repositories/image-info';
const T0 = Date.parse('2026-01-01T00:00:00Z');

const server = new FakeAzureDevOps({ token: TOKEN });
let branch: string;

beforeAll(() => server.start());
afterAll(() => server.close());
beforeEach(() => {
  server.reset();
  branch = 'main';
  // Each commit one minute after the one before.
  let minute = 0;
  server.clock = () => T0 + ++minute * 60_000;
});

const source = (path = PATH, token = TOKEN, b = branch, repo = REPO) =>
  new AzureReposSource(
    { project: PROJECT, repo, path, branch: b },
    { collectionUri: server.collectionUri, token, retry: FAST_RETRY },
  );
const file = (path = PATH) => server.repos.getFile(PROJECT, REPO, branch, path);

describe('AzureReposSource', () => {
  beforeEach(() => {
    server.repos.commit(PROJECT, REPO, branch, { [PATH]: '{"v":1}\n', 'README.md': 'hi' });
  });

  it('reads the file at the branch head; the fingerprint is its blob id; Bearer token; api-version 7.1', async () => {
    const snap = await source().read();
    expect(snap).toEqual({ text: '{"v":1}\n', fingerprint: gitBlobId('{"v":1}\n') });
    const last = server.requests.at(-1)!;
    expect(last.path).toBe(`${BASE}/items`);
    expect(last.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('a file without inline content is read through its blob id', async () => {
    server.maxInlineContentBytes = 1024;
    const text = JSON.stringify({ pad: 'x'.repeat(5000) });
    server.repos.commit(PROJECT, REPO, branch, { [PATH]: text });
    expect(await source().read()).toEqual({ text, fingerprint: gitBlobId(text) });
    expect(server.requests.at(-1)?.path).toBe(`${BASE}/blobs/${gitBlobId(text)}`);
  });

  it('writes with a push on the commit it read', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    const head = server.repos.head(PROJECT, REPO, branch);
    expect(await s.write('{"v":2}\n', fingerprint, 'publish')).toEqual({
      text: '{"v":2}\n',
      fingerprint: gitBlobId('{"v":2}\n'),
    });
    expect(file()).toBe('{"v":2}\n');
    const newHead = server.repos.head(PROJECT, REPO, branch)!;
    expect(server.repos.commitById(PROJECT, REPO, newHead)?.parent).toBe(head);
    expect(server.repos.pushes.at(-1)?.comment).toBe('publish');
  });

  it('an unrelated commit in between (TF401028) is not a conflict: the push is redone on the new head', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    server.repos.commit(PROJECT, REPO, branch, { 'README.md': 'changed' });
    expect(await s.write('{"v":2}\n', fingerprint, 'publish')).not.toBe('conflict');
    expect(file()).toBe('{"v":2}\n');
    expect(file('README.md')).toBe('changed');
  });

  it.each([
    ['changed', '{"v":"other"}\n'],
    ['was deleted', null],
  ])('conflict for an edit when the file itself %s; nothing written', async (_how, content) => {
    const s = source();
    const { fingerprint } = await s.read();
    server.repos.commit(PROJECT, REPO, branch, { [PATH]: content });
    expect(await s.write('{"v":2}\n', fingerprint, 'publish')).toBe('conflict');
    expect(file()).toBe(content ?? undefined);
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

  it('an identity that may read but not push gets a 403 naming the source and the permission, without the token', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    server.forbidden.add('push');
    const err = httpErrorOf(await rejection(s.write('{"v":2}\n', fingerprint, 'msg')));
    expect(err).toMatchObject({ status: 403, method: 'POST', code: 'GitNeedsPermissionException' });
    expect(err.message).toContain(
      `azure-repos:Docker Images/image-info/build/image-info.json@${branch}`,
    );
    expect(err.message).toContain('Contribute');
    expect(err.message).not.toContain(TOKEN);
    expect(file()).toBe('{"v":1}\n');
  });

  it('missing branch → not found; missing repository → 404; bad token → 401 with the System.AccessToken hint', async () => {
    await expect(source(PATH, TOKEN, 'nope').read()).rejects.toThrow(/branch nope not found/);
    const other = source('x.json', TOKEN, branch, 'missing');
    const missing = await rejection<HttpStatusError>(other.read());
    expect(missing).toMatchObject({ status: 404, code: 'GitRepositoryNotFoundException' });
    expect(missing.message).toMatch(/no such project or repository/);
    const bad = httpErrorOf(await rejection(source(PATH, 'bad-SECRET').read()));
    expect(bad.status).toBe(401);
    expect(bad.message).toMatch(/rejected the access token .*System\.AccessToken/);
    expect(bad.message).not.toContain('bad-SECRET');
  });

  it('a bad token answered with the 203 sign-in page is the System.AccessToken hint, not a JSON error', async () => {
    server.signInPageForBadToken = true;
    const err = httpErrorOf(await rejection(source(undefined, 'expired-SECRET-3').read()));
    expect(err.status).toBe(203);
    expect(err.message).toMatch(/sign-in page.*System\.AccessToken/);
    expect(err.message).not.toMatch(/JSON|expired-SECRET-3/);
    // Nothing past the first refused call.
    expect(server.requests).toHaveLength(1);
  });

  it('a push refused while neither branch nor file moved is an error naming the source, not a conflict loop', async () => {
    const s = source();
    const { fingerprint } = await s.read();
    server.fail({
      status: 400,
      typeKey: 'InvalidArgumentValueException',
      message: 'TF400000: bad change',
      match: (r) => r.method === 'POST',
    });
    const err = await rejection(s.write('{"v":2}\n', fingerprint, 'publish'));
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.message).toMatch(/refused the push \(HTTP 400 .*TF400000/);
    expect(file()).toBe('{"v":1}\n');
  });
});

/** Commits versions 1..count of the file, an unrelated commit after each; their commit ids. */
function commitVersions(count: number): string[] {
  const ids: string[] = [];
  for (let v = 1; v <= count; v++) {
    ids.push(server.repos.commit(PROJECT, REPO, branch, { [PATH]: `{"v":${v}}\n` }));
    server.repos.commit(PROJECT, REPO, branch, { 'README.md': `readme ${v}` });
  }
  return ids;
}

const listings = () => server.requests.filter((r) => r.path === `${BASE}/commits`);

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
    expect(server.requests.slice(0, 2).map((r) => r.path)).toEqual([
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
    server.requests.length = 0;
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
    const deleted = server.repos.commit(PROJECT, REPO, branch, { [PATH]: null });
    server.repos.commit(PROJECT, REPO, branch, { [PATH]: '{"v":3}\n' });
    const versions = await source().history(10);
    expect(versions.map((v) => v.text)).toEqual(['{"v":3}\n', '{"v":2}\n', '{"v":1}\n']);
    expect(versions.map((v) => v.revision)).not.toContain(deleted);
    expect(server.requests.filter((r) => r.path === `${BASE}/items`)).toHaveLength(4);
  });

  it('sends the same Bearer token on every request', async () => {
    commitVersions(2);
    await source().history(5);
    expect(server.requests.length).toBeGreaterThan(3);
    for (const req of server.requests) expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('a 500 on the listing that outlasts the retries throws', async () => {
    commitVersions(3);
    server.fail({ status: 500, times: 100, match: (r) => r.path.endsWith('/commits') });
    const err = await rejection<HttpStatusError>(source().history(3));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect(err.status).toBe(500);
    expect(listings()).toHaveLength(3); // tried 1 + 2 times
  });

  it('a 500 on one version read throws rather than returning the others', async () => {
    const ids = commitVersions(3);
    server.fail({
      status: 500,
      times: 100,
      match: (r) => r.query.includes(`versionDescriptor.version=${ids[0]}`),
    });
    const err = await rejection<HttpStatusError>(source().history(3));
    expect(err).toBeInstanceOf(HttpStatusError);
    expect(err.status).toBe(500);
  });

  it('a rejected token (401) names the source and System.AccessToken', async () => {
    commitVersions(1);
    const err = await rejection(source(PATH, 'ado-wrong').history(3));
    expect(err).toBeInstanceOf(InputError);
    expect(httpErrorOf(err).status).toBe(401);
    expect(err.message).toMatch(
      /HTTP 401 Azure DevOps rejected the access token when trying to read azure-repos:Docker Images\/image-info\/build\/image-info\.json@main: .*System\.AccessToken/,
    );
    expect(err.message).not.toContain('ado-wrong');
  });

  it('no such branch: ImageInfoNotFoundError, like read()', async () => {
    commitVersions(1);
    branch = 'no-such-branch';
    await expect(source().history(3)).rejects.toBeInstanceOf(ImageInfoNotFoundError);
  });

  it('reading old versions leaves the write precondition on the head commit', async () => {
    const write = source();
    commitVersions(2);
    server.repos.commit(PROJECT, REPO, branch, { [PATH]: '{"v":1}\n' }); // a revert: v1's blob again
    const { fingerprint } = await write.read();
    expect((await write.history(3)).map((v) => v.text)).toEqual([
      '{"v":1}\n',
      '{"v":2}\n',
      '{"v":1}\n',
    ]);
    server.requests.length = 0;
    expect(await write.write('{"v":4}\n', fingerprint, 'next')).not.toBe('conflict');
    // One push, on the head: not a refused push on the old commit that also holds v1's blob.
    expect(server.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
  });

  it('maxVersions 0 asks nothing', async () => {
    expect(await source().history(0)).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });
});
