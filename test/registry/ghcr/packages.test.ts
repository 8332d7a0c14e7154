import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lifecycleReferrer as lifecycle } from '../../../src/registry/lifecycle-referrer.js';
import { LIFECYCLE_ARTIFACT_TYPE } from '../../../src/core/lifecycle.js';
import { silentLogger } from '../../../src/core/ports.js';
import {
  GhcrPackages,
  packageOf,
  type GhcrPackagesOptions,
} from '../../../src/registry/ghcr/packages.js';
import { OciRegistry } from '../../../src/registry/oci/index.js';
import { DEFAULT_RETRY } from '../../../src/util/http.js';
import { startFakeGhcr, type FakeGhcr } from '../../support/fake-ghcr.js';
import { lifecycleMarksByHttp } from '../../support/registry-http.js';
import { ociRegistry, pushImage } from '../../support/seed.js';

const TOKEN = 'ghs_test-token';
const retry = { ...DEFAULT_RETRY, retries: 0 };

describe('GhcrPackages: the GitHub Packages API for GHCR (fake GHCR over docker-registry)', () => {
  let ghcr: FakeGhcr;
  let oci: OciRegistry;
  const api = (options: Partial<GhcrPackagesOptions> = {}) =>
    new GhcrPackages({
      apiUrl: ghcr.apiUrl,
      token: TOKEN,
      retry,
      logger: silentLogger,
      ...options,
    });

  beforeAll(async () => {
    ghcr = await startFakeGhcr({ orgs: ['acme'], token: TOKEN });
    oci = ociRegistry(ghcr.url);
  });
  afterAll(async () => {
    await ghcr?.close();
  });

  it('owner/a/b is package a/b of owner, URL-encoded', () => {
    expect(packageOf('acme/team/app')).toEqual({ owner: 'acme', pkg: 'team/app' });
    expect(() => packageOf('app')).toThrow(/<owner>\/<package>/);
  });

  it('lists every version across pages (Link rel="next"), untagged ones too', async () => {
    const repo = 'acme/team/paged';
    const pushed: string[] = [];
    for (let i = 0; i < 5; i++)
      pushed.push((await pushImage(oci, repo, { seed: `p${i}`, tag: 'latest' })).digest);
    ghcr.requests.length = 0;
    const versions = await api({ perPage: 2 }).listVersions(repo);
    expect(versions.map((v) => v.digest).sort()).toEqual([...pushed].sort());
    // The tag moved to the last push; the others are untagged versions.
    expect(versions.find((v) => v.digest === pushed[4])?.tags).toEqual(['latest']);
    expect(versions.filter((v) => v.tags.length === 0)).toHaveLength(4);
    for (const v of versions) expect(Date.parse(v.createdAt)).not.toBeNaN();
    const pages = ghcr.requests.filter((r) => r.includes('/versions'));
    expect(pages).toHaveLength(3);
    expect(pages[0]).toBe(
      'GET /orgs/acme/packages/container/team%2Fpaged/versions?per_page=2&state=active',
    );
  });

  it('a user-owned package: the org path answers 404, the user path is used and remembered', async () => {
    const repo = 'octocat/tool';
    const image = await pushImage(oci, repo, { seed: 'user', tag: 'v1' });
    const client = api();
    ghcr.requests.length = 0;
    expect((await client.listVersions(repo)).map((v) => v.digest)).toEqual([image.digest]);
    expect(await client.listVersions(repo)).toHaveLength(1);
    expect(ghcr.requests).toEqual([
      'GET /orgs/octocat/packages/container/tool/versions?per_page=100&state=active',
      'GET /users/octocat/packages/container/tool/versions?per_page=100&state=active',
      'GET /users/octocat/packages/container/tool/versions?per_page=100&state=active',
    ]);
  });

  it('a package that exists for neither path lists as []', async () => {
    expect(await api().listVersions('acme/nothing-here')).toEqual([]);
  });

  it('a 401 names what the token needs', async () => {
    await expect(api({ token: 'wrong' }).listVersions('acme/team/paged')).rejects.toThrow(
      /packages: read/,
    );
  });

  it('deleteVersion deletes the version (and the manifest); a second time it is refused', async () => {
    const repo = 'acme/team/deletes';
    const image = await pushImage(oci, repo, { seed: 'd', tag: 'v1' });
    const client = api();
    expect(await client.deleteVersion(repo, image.digest)).toEqual({ deleted: true });
    expect(ghcr.version(repo, image.digest)).toBeUndefined();
    expect(await oci.getManifest(repo, image.digest)).toBeUndefined();
    const again = await client.deleteVersion(repo, image.digest);
    expect(again.deleted).toBe(false);
  });

  it('without admin on the package a version DELETE is a refusal naming packages: write', async () => {
    const refusing = await startFakeGhcr({ orgs: ['acme'], refuseVersionDeletes: true });
    try {
      const reg = ociRegistry(refusing.url);
      const image = await pushImage(reg, 'acme/app', { seed: 'r', tag: 'v1' });
      const client = new GhcrPackages({ apiUrl: refusing.apiUrl, retry, logger: silentLogger });
      const out = await client.deleteVersion('acme/app', image.digest);
      expect(out.deleted).toBe(false);
      expect(!out.deleted && out.reason).toMatch(/HTTP 403.*packages: write/);
    } finally {
      await refusing.close();
    }
  });
});

describe('OciRegistry with packages: GHCR listing and unmarking where DELETE is refused', () => {
  let ghcr: FakeGhcr;
  beforeAll(async () => {
    ghcr = await startFakeGhcr({ orgs: ['acme'] });
  });
  afterAll(async () => {
    await ghcr?.close();
  });

  const registry = (packages = true) =>
    new OciRegistry({
      url: ghcr.url,
      retry,
      logger: silentLogger,
      ...(packages
        ? { packages: new GhcrPackages({ apiUrl: ghcr.apiUrl, retry, logger: silentLogger }) }
        : {}),
    });

  it('lists untagged versions with created_at; children of an index get descriptor-only records', async () => {
    const reg = registry();
    const repo = 'acme/listing';
    const v1 = await pushImage(reg, repo, { seed: 'v1', tag: 'latest' });
    const v2 = await pushImage(reg, repo, { seed: 'v2', tag: 'latest' });
    ghcr.setCreated(repo, v1.digest, '2020-01-02T03:04:05Z');
    const records = await reg.listManifests(repo);
    const byDigest = new Map(records.map((r) => [r.digest, r]));
    expect(byDigest.get(v1.digest)).toMatchObject({ tags: [], created: '2020-01-02T03:04:05Z' });
    expect(byDigest.get(v2.digest)?.tags).toEqual(['latest']);
    // The tag listing sees only the tagged one.
    expect((await registry(false).listManifests(repo)).map((r) => r.digest)).toEqual([v2.digest]);
  });

  it('deleteReferrer: the fallback index loses the mark, the package version goes (version-deleted)', async () => {
    const reg = registry();
    const repo = 'acme/unmark';
    const image = await pushImage(reg, repo, { seed: 'u', tag: 'v1' });
    const mark = lifecycle(image, '2026-01-01');
    await reg.listManifests(repo);
    expect(await reg.pushReferrer(repo, image, mark)).toBe('pushed');
    expect(await lifecycleMarksByHttp(ghcr.backend.url, repo, image.digest)).toHaveLength(1);
    await reg.listManifests(repo);
    expect(await reg.deleteReferrer(repo, image.digest, mark.digest)).toBe('version-deleted');
    expect(await lifecycleMarksByHttp(ghcr.url, repo, image.digest)).toEqual([]);
    expect(ghcr.version(repo, mark.digest)).toBeUndefined();
    // Idempotent.
    expect(await reg.deleteReferrer(repo, image.digest, mark.digest)).not.toBe('deleted');
    expect(await reg.listReferrers(repo, image.digest, LIFECYCLE_ARTIFACT_TYPE)).toEqual([]);
  });

  it('without packages: unlisted only, the lifecycle manifest stays', async () => {
    const reg = registry(false);
    const repo = 'acme/unlist';
    const image = await pushImage(reg, repo, { seed: 'n', tag: 'v1' });
    const mark = lifecycle(image, '2026-01-01');
    await reg.pushReferrer(repo, image, mark);
    expect(await reg.deleteReferrer(repo, image.digest, mark.digest)).toBe('unlisted');
    expect(await lifecycleMarksByHttp(ghcr.url, repo, image.digest)).toEqual([]);
    expect(ghcr.version(repo, mark.digest)).toBeDefined();
    expect(await reg.listReferrers(repo, image.digest, LIFECYCLE_ARTIFACT_TYPE)).toEqual([]);
  });

  it('a fallback index that lost its tag (DELETE refused) is not listed as an image', async () => {
    const reg = registry(false);
    const repo = 'acme/ghosts';
    const image = await pushImage(reg, repo, { seed: 'g', tag: 'v1' });
    await reg.pushReferrer(repo, image, lifecycle(image, '2026-01-01'));
    await reg.pushReferrer(repo, image, lifecycle(image, '2026-02-01'));
    // Two fallback indexes were written; the first is an untagged version now.
    const indexes = ghcr
      .versions(repo)
      .filter((v) => v.tags.length === 0 && v.digest !== image.digest);
    expect(indexes.length).toBeGreaterThanOrEqual(3);
    const records = await registry().listManifests(repo);
    const kinds = records.map((r) => (r.subject ? 'referrer' : r.tags.join(',') || 'untagged'));
    expect(kinds.sort()).toEqual(['referrer', 'referrer', `sha256-${image.digest.slice(7)}`, 'v1']);
  });
});
