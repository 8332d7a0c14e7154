import { lifecycleReferrer as lifecycle } from '../../../src/registry/lifecycle-referrer.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fallbackTag } from '../../../src/core/digest.js';
import { EOL_DATE_ANNOTATION, LIFECYCLE_ARTIFACT_TYPE } from '../../../src/core/lifecycle.js';
import { MediaType, type Descriptor } from '../../../src/core/oci.js';
import { OciRegistry } from '../../../src/registry/oci/index.js';
import { sha256Digest } from '../../../src/util/hash.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { serveOnLoopback } from '../../support/loopback.js';
import { ociRegistry, pushImage } from '../../support/seed.js';

/** On OCI registries: the referrers probe, both lookup paths, ghost indexes. */

describe('referrers API probe and the fallback tag (registry stub with the API)', () => {
  const image = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256Digest('c'),
      size: 1,
    },
    layers: [],
  });
  const imageDigest = sha256Digest(image);
  const unknown = sha256Digest('not-pushed-yet');
  const viaApi = sha256Digest('marked-through-the-api');
  const mark = (n: string): Descriptor => ({
    mediaType: MediaType.ociManifest,
    digest: sha256Digest(`mark-${n}`),
    size: 500,
    artifactType: LIFECYCLE_ARTIFACT_TYPE,
    annotations: { [EOL_DATE_ANNOTATION]: '2025-01-01' },
  });
  const fallbackIndex = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: [mark('fallback')],
  });
  let stub: Awaited<ReturnType<typeof serveOnLoopback>>;
  let url: string;
  const seen: string[] = [];

  beforeAll(async () => {
    stub = await serveOnLoopback(async (req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      seen.push(`${req.method} ${u.pathname}`);
      const json = (status: number, body: unknown, type = 'application/json') => {
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        res.writeHead(status, {
          'Content-Type': type,
          'Content-Length': String(Buffer.byteLength(text)),
          ...(status === 200 && type !== 'application/json'
            ? { 'Docker-Content-Digest': sha256Digest(text) }
            : {}),
        });
        res.end(req.method === 'HEAD' ? undefined : text);
        return true;
      };
      const referrers = /^\/v2\/stub\/app\/referrers\/(sha256:[a-f0-9]{64})$/.exec(u.pathname);
      if (referrers) {
        // This registry has the API but answers MANIFEST_UNKNOWN for a subject it does not hold.
        if (referrers[1] === unknown)
          return json(404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
        const manifests = referrers[1] === viaApi ? [mark('api')] : [];
        return json(
          200,
          { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests },
          MediaType.ociIndex,
        );
      }
      if (u.pathname === '/v2/stub/app/tags/list')
        return json(200, { name: 'stub/app', tags: ['1.0', fallbackTag(imageDigest)] });
      if (
        u.pathname === '/v2/stub/app/manifests/1.0' ||
        u.pathname === `/v2/stub/app/manifests/${imageDigest}`
      )
        return json(200, image, MediaType.ociManifest);
      if (u.pathname === `/v2/stub/app/manifests/${fallbackTag(imageDigest)}`)
        return json(200, fallbackIndex, MediaType.ociIndex);
      return json(404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] });
    });
    url = stub.origin;
  });
  afterAll(() => stub.close());

  it('does not learn "no API" from a 404 that names an unknown manifest', async () => {
    const reg = ociRegistry(url);
    expect(await reg.listReferrers('stub/app', unknown, LIFECYCLE_ARTIFACT_TYPE)).toEqual([]);
    // The API is still asked: the mark it knows counts.
    expect(await reg.listReferrers('stub/app', viaApi, LIFECYCLE_ARTIFACT_TYPE)).toEqual([
      mark('api'),
    ]);
  });

  it('counts a mark held in the sha256-<hex> fallback tag even where the API answers', async () => {
    const reg = ociRegistry(url);
    const records = await reg.listManifests('stub/app');
    expect(records.map((r) => r.digest)).toContain(imageDigest);
    expect(await reg.listReferrers('stub/app', imageDigest, LIFECYCLE_ARTIFACT_TYPE)).toEqual([
      mark('fallback'),
    ]);
  });
});

describe('fallback indexes on distribution 2.8', () => {
  let registry: DockerRegistry;
  let reg: OciRegistry;
  beforeAll(async () => {
    registry = await startDockerRegistry();
    reg = ociRegistry(registry.url);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('deletes the superseded fallback index it wrote once the tag moves (no ghost manifests)', async () => {
    const repo = 'ghost/app';
    const image = await pushImage(reg, repo, { tag: '1.0', seed: 'ghost' });
    await reg.pushReferrer(repo, image, lifecycle(image, '2025-01-01'));
    const first = await reg.getManifest(repo, fallbackTag(image.digest));
    await reg.pushReferrer(repo, image, lifecycle(image, '2025-02-01'));
    const second = await reg.getManifest(repo, fallbackTag(image.digest));
    expect(second?.digest).not.toBe(first?.digest);
    expect(await reg.getManifest(repo, first!.digest)).toBeUndefined();
    // The tag and both entries are intact.
    expect((await reg.listReferrers(repo, image.digest, LIFECYCLE_ARTIFACT_TYPE)).length).toBe(2);
    // Removing an entry supersedes the index again: the previous one goes too.
    await reg.deleteReferrer(repo, image.digest, lifecycle(image, '2025-01-01').digest);
    expect(await reg.getManifest(repo, second!.digest)).toBeUndefined();
    expect((await reg.listReferrers(repo, image.digest, LIFECYCLE_ARTIFACT_TYPE)).length).toBe(1);
  });
});
