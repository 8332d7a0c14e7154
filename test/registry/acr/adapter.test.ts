import { lifecycleReferrer as lifecycle } from '../../../src/registry/lifecycle-referrer.js';
import { ClientSecretCredential } from '@azure/identity';
import { describe, expect, it } from 'vitest';
import { InputError, RuntimeError } from '../../../src/core/errors.js';
import { EOL_DATE_ANNOTATION, LIFECYCLE_ARTIFACT_TYPE } from '../../../src/core/lifecycle.js';
import { MediaType } from '../../../src/core/oci.js';
import { createAcrCredential, normalizeEndpoint } from '../../../src/registry/acr/index.js';
import { sha256Digest } from '../../../src/util/hash.js';
import { HttpStatusError } from '../../../src/util/http.js';
import { rejection } from '../../support/errors.js';
import { seedArtifact, seedImage, seedIndex } from '../../support/fake-acr/index.js';
import { acrFor, capturingLogger, fastRetry, OLD, pushLifecycle, useFakeAcr } from './helpers.js';

const { fresh } = useFakeAcr();

describe('AcrRegistry', () => {
  it('lists repositories and manifests across pages, with what the raw page holds', async () => {
    const fake = await fresh({ maxPageSize: 2 });
    const a = seedImage(fake, 'team/app', 'a', { tags: ['1.0', 'latest'], created: OLD });
    const b = seedImage(fake, 'team/app', 'b', { docker: true, created: OLD });
    const idx = seedIndex(fake, 'team/app', [a, b], { tags: ['multi'] });
    const sig = seedArtifact(fake, 'team/app', a, 'application/vnd.cncf.notary.signature', {
      k: 'v',
    });
    seedImage(fake, 'other', 'x');
    seedImage(fake, 'zeta/z', 'z');
    const registry = acrFor(fake, { pageSize: 50 });

    expect(await registry.listRepositories()).toEqual(['other', 'team/app', 'zeta/z']);
    const records = await registry.listManifests('team/app');
    expect(fake.counts['list-manifests']).toBeGreaterThanOrEqual(3); // 4 manifests, pages of 2 (ACR caps n)
    const byDigest = new Map(records.map((r) => [r.digest, r]));
    expect(byDigest.size).toBe(4);
    expect(byDigest.get(a.digest)).toMatchObject({
      mediaType: MediaType.ociManifest,
      configMediaType: 'application/vnd.oci.image.config.v1+json',
      tags: ['1.0', 'latest'],
      created: OLD.toISOString(),
    });
    expect(byDigest.get(b.digest)).toMatchObject({
      mediaType: MediaType.dockerManifest,
      configMediaType: 'application/vnd.docker.container.image.v1+json',
    });
    expect(byDigest.get(idx.digest)).toMatchObject({
      mediaType: MediaType.ociIndex,
      children: [a.digest, b.digest],
      tags: ['multi'],
    });
    expect(byDigest.get(sig)).toMatchObject({
      subject: a.digest,
      artifactType: 'application/vnd.cncf.notary.signature',
    });
    // Images are classified from the listing alone; only the artifact and the index were fetched.
    expect(fake.answered('manifest-get').sort()).toEqual(
      [`/v2/team/app/manifests/${idx.digest}`, `/v2/team/app/manifests/${sig}`].sort(),
    );
    expect(await registry.listManifests('missing/repo')).toEqual([]);
  });

  it('describes a manifest with one GET (the body tells a referrer), and says undefined only for a 404', async () => {
    const fake = await fresh();
    const a = seedImage(fake, 'team/app', 'a');
    const registry = acrFor(fake);
    expect(await registry.describeManifest('team/app', a.digest)).toEqual(a);
    expect(await registry.describeManifest('team/app', sha256Digest('nothing'))).toBeUndefined();
    expect(fake.answered('manifest-head')).toEqual([]);
    fake.addFault({ kind: '500', match: 'manifest-get', times: 100 });
    await expect(
      acrFor(fake, fastRetry({ retries: 2 })).describeManifest('team/app', a.digest),
    ).rejects.toThrow(RuntimeError);
  });

  it('pushes a lifecycle referrer (uploading the empty blob with a relative Location) and finds it by either source', async () => {
    const fake = await fresh({ referrersPageSize: 2 });
    const a = seedImage(fake, 'team/app', 'a');
    const registry = acrFor(fake);
    await registry.listManifests('team/app');
    const mark = lifecycle(a, '2026-06-01');
    await registry.pushReferrer('team/app', a, mark);
    await registry.pushReferrer('team/app', a, mark); // idempotent
    expect(fake.referrersOf('team/app', a.digest).map((m) => m.digest)).toEqual([mark.digest]);
    expect(fake.answered('blob-upload')).toHaveLength(2); // POST, PUT once: the blob is known afterwards

    const fromListing = await registry.listReferrers('team/app', a.digest, LIFECYCLE_ARTIFACT_TYPE);
    // Three more referrers, to page through the API (page size 2) and check the type filter.
    pushLifecycle(fake, 'team/app', a, '2026-07-01');
    pushLifecycle(fake, 'team/app', a, '2026-08-01');
    seedArtifact(fake, 'team/app', a, 'application/vnd.example.sbom');
    const api = acrFor(fake, { referrersSource: 'api' });
    const viaApi = await api.listReferrers('team/app', a.digest, LIFECYCLE_ARTIFACT_TYPE);
    expect(fromListing).toEqual([viaApi.find((d) => d.digest === mark.digest)]);
    expect(viaApi.map((d) => d.annotations?.[EOL_DATE_ANNOTATION]).sort()).toEqual([
      '2026-06-01',
      '2026-07-01',
      '2026-08-01',
    ]);
    expect(fake.counts.referrers).toBeGreaterThanOrEqual(2);
    expect(await api.listReferrers('team/app', a.digest)).toHaveLength(4);

    await registry.deleteReferrer('team/app', a.digest, mark.digest);
    await registry.deleteReferrer('team/app', a.digest, mark.digest);
    expect(await registry.listReferrers('team/app', a.digest, LIFECYCLE_ARTIFACT_TYPE)).toEqual([]);
    expect(fake.manifest('team/app', mark.digest)).toBeUndefined();
  });

  it('skips an artifact that was listed and then gone, with a warning', async () => {
    const fake = await fresh();
    const a = seedImage(fake, 'team/app', 'a');
    const sig = seedArtifact(fake, 'team/app', a, 'application/vnd.cncf.notary.signature');
    fake.vanishAfterListing('team/app', sig);
    const logger = capturingLogger();
    const records = await acrFor(fake, { logger }).listManifests('team/app');
    expect(records.map((r) => r.digest)).toEqual([a.digest]);
    expect(logger.lines.filter((l) => l.startsWith('warning:') && l.includes(sig))).toHaveLength(1);
  });

  it('reads anonymously where the registry allows it, and names the registry when a write is refused', async () => {
    const fake = await fresh({ anonymousPull: true });
    const a = seedImage(fake, 'team/app', 'a');
    const logger = capturingLogger();
    const registry = acrFor(fake, { credential: undefined, credentialName: undefined, logger });
    // The catalog needs more than pull: a 401 there narrows the scope, it does not fail.
    expect(await registry.listRepositories()).toBeUndefined();
    expect(
      logger.lines.some((l) => l.startsWith('warning:') && /cannot list the catalog/.test(l)),
    ).toBe(true);
    expect((await registry.listManifests('team/app')).map((r) => r.digest)).toEqual([a.digest]);
    expect(await registry.describeManifest('team/app', a.digest)).toEqual(a);
    const error = await rejection(registry.pushReferrer('team/app', a, lifecycle(a, '2026-06-01')));
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).toMatch(
      new RegExp(
        `^${fake.host.replace('.', '\\.')}: .*refused \\(HTTP 401\\) for the identity of anonymous access`,
      ),
    );
    // The one typed error of every non-2xx: status, method, URL and the registry's error code.
    expect(error).toBeInstanceOf(HttpStatusError);
    expect(error).toMatchObject({ status: 401, method: 'POST', code: 'UNAUTHORIZED' });
    expect((error as HttpStatusError).url).toMatch(
      new RegExp(`^${fake.url}/v2/team/app/blobs/uploads/`),
    );
  });

  it('fails clearly when the identity belongs to another tenant, without leaking a token', async () => {
    const fake = await fresh();
    fake.tenant = 'another-tenant';
    seedImage(fake, 'team/app', 'a');
    const error = await rejection(acrFor(fake).listManifests('team/app'));
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).toContain(fake.host);
    expect(error.message).toContain('DefaultAzureCredential');
    expect(error.message).not.toMatch(/eyJ/);
    expect(fake.counts['manifest-put'] ?? 0).toBe(0);
  });

  it('fails clearly when the credential cannot get a token', async () => {
    const fake = await fresh();
    // What createAcrCredential builds for a client secret, minus the identity library's own retries (speed).
    const credential = new ClientSecretCredential('not-a-tenant', 'id', 'top-secret-value', {
      authorityHost: 'https://127.0.0.1:1',
      retryOptions: { maxRetries: 0 },
    });
    const registry = acrFor(fake, { credential, credentialName: 'ClientSecretCredential' });
    const error = await rejection(registry.listManifests('team/app'));
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).toMatch(
      new RegExp(`^${fake.host.replace('.', '\\.')}: ClientSecretCredential could not get a token`),
    );
    expect(error.message).not.toContain('top-secret-value');
  });

  it('rejects a registry that is not a host before any request', () => {
    for (const bad of [
      '',
      'not a host',
      'http://myacr.azurecr.io',
      'https://myacr.azurecr.io/path',
      'https://user:pw@myacr.azurecr.io',
    ]) {
      expect(() => normalizeEndpoint(bad), bad).toThrow(InputError);
    }
    expect(normalizeEndpoint('myacr.azurecr.io')).toBe('https://myacr.azurecr.io');
    expect(normalizeEndpoint('https://127.0.0.1:8443/')).toBe('https://127.0.0.1:8443');
    expect(() =>
      createAcrCredential({
        kind: 'azure-pipelines',
        serviceConnectionId: 'sc',
        clientId: '',
        tenantId: 't',
        systemAccessToken: '',
      }),
    ).toThrow(/missing clientId, System.AccessToken/);
  });

  it('paces requests under maxRequestsPerMinute', async () => {
    const fake = await fresh();
    seedImage(fake, 'team/app', 'a');
    const { delays: waits, ...fast } = fastRetry();
    await acrFor(fake, { ...fast, maxRequestsPerMinute: 60 }).listManifests('team/app');
    // 401 challenge, exchange, token, listing: every request after the first waited its turn (~1 s each).
    expect(waits.length).toBeGreaterThanOrEqual(3);
    expect(Math.min(...waits)).toBeGreaterThan(500);
  });
});

describe('AcrRegistry against a misbehaving registry (invariant 5)', () => {
  it('fails on a referrers Link cycle instead of paging forever', async () => {
    const fake = await fresh();
    const a = seedImage(fake, 'team/app', 'a');
    const mark = pushLifecycle(fake, 'team/app', a, '2026-06-01');
    const base = `/v2/team/app/referrers/${a.digest}`;
    let served = 0;
    fake.answerOverride = ({ kind, url }) => {
      if (kind !== 'referrers') return undefined;
      served++;
      // page 1 → 2 → 3 → 2 …; after 30 pages (a regression) stop, so the test ends either way.
      const page = Number(url.searchParams.get('page') ?? '1');
      const next = page === 3 ? 2 : page + 1;
      const entry = {
        mediaType: MediaType.ociManifest,
        digest: mark,
        size: 1,
        artifactType: LIFECYCLE_ARTIFACT_TYPE,
      };
      const headers: Record<string, string> = {};
      if (served < 30) headers.link = `<${base}?page=${next}>; rel="next"`;
      return {
        headers,
        body: JSON.stringify({ schemaVersion: 2, manifests: [entry] }),
      };
    };
    const error = await rejection(
      acrFor(fake, { referrersSource: 'api' }).listReferrers('team/app', a.digest),
    );
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).toMatch(/referrers of team\/app@sha256:.*loop/);
    expect(served).toBe(3);
  });

  it('never reads a referrers answer without a body as "no referrers"', async () => {
    const fake = await fresh();
    const a = seedImage(fake, 'team/app', 'a');
    pushLifecycle(fake, 'team/app', a, '2026-06-01');
    for (const status of [200, 204]) {
      fake.answerOverride = ({ kind }) => (kind === 'referrers' ? { status, body: '' } : undefined);
      const error = await rejection(
        acrFor(fake, { referrersSource: 'api' }).listReferrers('team/app', a.digest),
      );
      expect(error, `HTTP ${status}`).toBeInstanceOf(RuntimeError);
      expect(error.message).toContain(fake.host);
    }
  });

  it('fails on a listing Link cycle longer than one page', async () => {
    const fake = await fresh();
    const a = seedImage(fake, 'team/app', 'a');
    const base = '/acr/v1/team/app/_manifests';
    let served = 0;
    fake.answerOverride = ({ kind, url }) => {
      if (kind !== 'list-manifests') return undefined;
      served++;
      const page = url.searchParams.get('p') === 'b' ? 'b' : 'a';
      const headers: Record<string, string> = {};
      if (served < 30) headers.link = `<${base}?p=${page === 'a' ? 'b' : 'a'}&n=10>; rel="next"`;
      return {
        headers,
        body: JSON.stringify({
          manifests: [
            {
              digest: a.digest,
              mediaType: a.mediaType,
              configMediaType: 'application/vnd.oci.image.config.v1+json',
              createdTime: OLD.toISOString(),
            },
          ],
        }),
      };
    };
    const error = await rejection(acrFor(fake).listManifests('team/app'));
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).toMatch(/list manifests of team\/app.*loop/);
    expect(served).toBeLessThanOrEqual(4);
  });

  it('adds jitter to Retry-After and refuses to sleep out an hour-long one', async () => {
    const fake = await fresh();
    const a = seedImage(fake, 'team/app', 'a');
    fake.addFault({ kind: '429-retry-after', match: 'manifest-get', retryAfterSeconds: 2 });
    const jittered = fastRetry({ baseDelayMs: 100 });
    await acrFor(fake, jittered).describeManifest('team/app', a.digest);
    // The class is held for Retry-After (its limiter paces what follows: no herd to jitter).
    expect(jittered.delays.some((d) => d > 1900 && d <= 2000)).toBe(true);

    fake.addFault({ kind: '429-retry-after', match: 'manifest-get', retryAfterSeconds: 3600 });
    const patient = fastRetry();
    const error = await rejection(acrFor(fake, patient).describeManifest('team/app', a.digest));
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).toContain(fake.host);
    expect(error.message).toContain('3600 s');
    expect(patient.delays).toEqual([]);
  });
});
