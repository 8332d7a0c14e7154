import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { InputError, RuntimeError } from '../../../src/core/errors.js';
import { HttpStatusError } from '../../../src/util/http.js';
import { fastRetry } from '../../support/doubles.js';
import { rejection } from '../../support/errors.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { startFakeOciAuth, type FakeOciAuth } from '../../support/fake-oci-auth.js';
import { ociRegistry, pushImage } from '../../support/seed.js';

const USER = 'ci-bot';
const PASSWORD = 's3cret-Pa55word';

let registry: DockerRegistry;
const fronts: FakeOciAuth[] = [];
async function front(
  options: Omit<Parameters<typeof startFakeOciAuth>[0], 'upstream'> = {},
): Promise<FakeOciAuth> {
  const f = await startFakeOciAuth({ upstream: registry.url, ...options });
  fronts.push(f);
  return f;
}

beforeAll(async () => {
  registry = await startDockerRegistry();
  const direct = ociRegistry(registry.url);
  for (const tag of ['1', '2', '3'])
    await pushImage(direct, 'auth/app', { tag, seed: `auth-${tag}` });
});
afterEach(async () => {
  await Promise.all(fronts.splice(0).map((f) => f.stop()));
});
afterAll(async () => {
  await registry?.stop();
});

describe('URL validation', () => {
  it('rejects plain http to a non-loopback host, naming the registry input', () => {
    expect(() => ociRegistry('http://registry.example.com')).toThrow(InputError);
    expect(() => ociRegistry('http://registry.example.com')).toThrow(
      /^registry: http:\/\/registry\.example\.com/,
    );
  });

  it('accepts https and loopback http, and shows the host only', () => {
    expect(ociRegistry('https://registry.example.com/some/path').displayName).toBe(
      'registry.example.com',
    );
    expect(ociRegistry('http://localhost:5000').displayName).toBe('localhost:5000');
    expect(ociRegistry('http://[::1]:5000').displayName).toBe('[::1]:5000');
  });

  it('rejects bad repository names and digests before any request', async () => {
    const reg = ociRegistry(registry.url);
    await expect(reg.listManifests('../etc')).rejects.toThrow(InputError);
    await expect(reg.describeManifest('auth/app', 'sha256:nothex')).rejects.toThrow(InputError);
  });
});

describe('authentication', () => {
  it('gets bearer tokens with basic credentials and caches them per scope', async () => {
    const f = await front({ username: USER, password: PASSWORD });
    const reg = ociRegistry(f.url, { username: USER, password: PASSWORD, concurrency: 3 });

    const records = await reg.listManifests('auth/app');
    expect(records.map((r) => r.tags[0]).sort()).toEqual(['1', '2', '3']);
    // One pull token served the tag list and all three manifest GETs.
    expect(f.issuedTokens).toHaveLength(1);
    const tokenRequest = f.requests.find((r) => r.path.startsWith('/token'))!;
    expect(tokenRequest.path).toContain(encodeURIComponent('repository:auth/app:pull'));
    expect(tokenRequest.authorization).toBe(
      `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
    );

    // Another repository, and pushing, need other scopes (pull, then pull,push); each is reused.
    await pushImage(reg, 'auth/pushed', { tag: '4', seed: 'auth-4' });
    expect(f.issuedTokens).toHaveLength(3);
    await pushImage(reg, 'auth/pushed', { tag: '5', seed: 'auth-5' });
    expect(await reg.listTags('auth/pushed')).toEqual(['4', '5']);
    expect(f.issuedTokens).toHaveLength(3);
    expect(await reg.listRepositories()).toContain('auth/app');
  });

  it('accepts access_token responses and anonymous tokens', async () => {
    const f = await front({ tokenField: 'access_token' });
    const reg = ociRegistry(f.url);
    expect(await reg.listTags('auth/app')).toEqual(expect.arrayContaining(['1', '2', '3']));
    expect(f.requests.find((r) => r.path.startsWith('/token'))?.authorization).toBeUndefined();
  });

  it('fails clearly on a wrong password without printing it', async () => {
    const f = await front({ username: USER, password: PASSWORD });
    const reg = ociRegistry(f.url, { username: USER, password: 'wrong-Pa55' });
    const error = await rejection(reg.listManifests('auth/app'));
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).toMatch(new RegExp(`^authentication failed for 127\\.0\\.0\\.1:\\d+`));
    expect(error.message).not.toContain('wrong-Pa55');
    expect(error.message).not.toContain(Buffer.from(`${USER}:wrong-Pa55`).toString('base64'));
  });

  it('uses basic auth when the registry challenges with Basic', async () => {
    const f = await front({ scheme: 'basic', username: USER, password: PASSWORD });
    expect(
      await ociRegistry(f.url, { username: USER, password: PASSWORD }).listTags('auth/app'),
    ).toHaveLength(3);
    const error = await rejection(
      ociRegistry(f.url, { username: USER, password: 'nope-nope' }).listTags('auth/app'),
    );
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).toMatch(/^authentication failed for 127\.0\.0\.1/);
    expect(error.message).not.toContain('nope-nope');
  });

  it('returns undefined from listRepositories when the catalog scope is refused', async () => {
    const f = await front({ username: USER, password: PASSWORD, denyCatalog: true });
    const reg = ociRegistry(f.url, { username: USER, password: PASSWORD });
    expect(await reg.listRepositories()).toBeUndefined();
    // The same credentials still work for repositories.
    expect(await reg.listTags('auth/app')).toHaveLength(3);
  });
});

describe('retries (invariant 5)', () => {
  it('honours Retry-After on 429 and then succeeds', async () => {
    const f = await front();
    f.inject({ status: 429, retryAfter: '3', times: 2, match: /^GET \/v2\/auth\/app\/tags\/list/ });
    const fast = fastRetry({ retries: 3 });
    const reg = ociRegistry(f.url, fast);
    expect(await reg.listTags('auth/app')).toHaveLength(3);
    expect(fast.delays).toHaveLength(2);
    for (const ms of fast.delays) expect(ms).toBeGreaterThanOrEqual(3000);
    expect(f.requests.filter((r) => r.status === 429)).toHaveLength(2);
  });

  it('backs off on 429 without Retry-After and on a connection reset', async () => {
    const f = await front();
    f.inject({ status: 429, times: 1, match: /manifests/ });
    f.inject({ reset: true, times: 1, match: /manifests/ });
    const fast = fastRetry({ retries: 3 });
    const reg = ociRegistry(f.url, { ...fast, concurrency: 1 });
    expect(await reg.listManifests('auth/app')).toHaveLength(3);
    expect(fast.delays).toHaveLength(2);
  });

  it('throws on a persistent 503 instead of reading it as absent', async () => {
    const f = await front();
    f.inject({ status: 503, times: Infinity, match: /tags\/list/ });
    const reg = ociRegistry(f.url, fastRetry({ retries: 2 }));
    const error = await rejection(reg.listManifests('auth/app'));
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).status).toBe(503);
    expect(f.requests.filter((r) => r.status === 503)).toHaveLength(3);
  });

  it('never reads a failing referrers lookup as "no referrers"', async () => {
    const direct = ociRegistry(registry.url);
    const image = await pushImage(direct, 'auth/referred', { tag: 'r', seed: 'auth-r' });
    const f = await front();
    const reg = ociRegistry(f.url, fastRetry({ retries: 1 }));

    f.inject({ status: 503, times: Infinity, match: /referrers/ });
    await expect(reg.listReferrers('auth/referred', image.digest)).rejects.toThrow(HttpStatusError);
    f.clearFaults();

    expect(await reg.listReferrers('auth/referred', image.digest)).toEqual([]); // learns: no API
    f.inject({ status: 502, times: Infinity, match: /manifests\/sha256-/ });
    await expect(reg.listReferrers('auth/referred', image.digest)).rejects.toThrow(HttpStatusError);
    f.clearFaults();
    f.inject({
      status: 500,
      times: Infinity,
      match: /^GET \/v2\/auth\/referred\/manifests\/sha256:/,
    });
    // describeManifest reads the body (it tells whether the manifest is a referrer): a failing
    // GET is an error, never "absent".
    await expect(reg.describeManifest('auth/referred', image.digest)).rejects.toThrow(
      HttpStatusError,
    );
    await expect(reg.imageCreated('auth/referred', image.digest)).rejects.toThrow(HttpStatusError);
  });

  it('throws a network error after the retries when the registry keeps resetting', async () => {
    const f = await front();
    f.inject({ reset: true, times: Infinity });
    const reg = ociRegistry(f.url, fastRetry({ retries: 2 }));
    await expect(reg.listRepositories()).rejects.toThrow(RuntimeError);
  });
});
