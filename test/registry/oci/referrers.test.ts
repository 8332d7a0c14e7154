import { lifecycleReferrer as lifecycle } from '../../../src/registry/lifecycle-referrer.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fallbackTag } from '../../../src/core/digest.js';
import {
  EMPTY_DESCRIPTOR,
  LIFECYCLE_ARTIFACT_TYPE,
  EOL_DATE_ANNOTATION,
} from '../../../src/core/lifecycle.js';
import { MediaType, type Descriptor } from '../../../src/core/oci.js';
import { OciRegistry } from '../../../src/registry/oci/index.js';
import { sha256Digest } from '../../../src/util/hash.js';
import { HttpStatusError } from '../../../src/util/http.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { serveOnLoopback } from '../../support/loopback.js';
import { startFakeOciAuth } from '../../support/fake-oci-auth.js';
import {
  NOTATION_ARTIFACT_TYPE,
  ociRegistry,
  pushImage,
  pushNotationSignature,
} from '../../support/seed.js';

async function fallbackEntries(
  reg: OciRegistry,
  repo: string,
  subject: string,
): Promise<Descriptor[] | undefined> {
  const index = await reg.getManifest(repo, fallbackTag(subject));
  return (
    index &&
    (JSON.parse(new TextDecoder().decode(index.bytes)) as { manifests: Descriptor[] }).manifests
  );
}

describe('referrers on distribution 2.8 (tag fallback)', () => {
  let registry: DockerRegistry;
  let reg: OciRegistry;
  beforeAll(async () => {
    registry = await startDockerRegistry();
    reg = ociRegistry(registry.url);
  });
  afterAll(async () => {
    await registry?.stop();
  });

  it('writes the fallback index, lists, filters, never duplicates, and deletes', async () => {
    const repo = 'ref/app';
    const image = await pushImage(reg, repo, { tag: '1.0', seed: 'ref-app' });
    expect(await reg.listReferrers(repo, image.digest)).toEqual([]);

    const notation = await pushNotationSignature(reg, repo, image);
    const mark = lifecycle(image, '2025-01-31');
    await reg.pushReferrer(repo, image, mark);
    const markDescriptor = {
      mediaType: MediaType.ociManifest,
      digest: mark.digest,
      size: mark.bytes.length,
      artifactType: LIFECYCLE_ARTIFACT_TYPE,
      annotations: { [EOL_DATE_ANNOTATION]: '2025-01-31' },
    };
    expect(await reg.listReferrers(repo, image.digest)).toEqual([notation, markDescriptor]);
    expect(await reg.listReferrers(repo, image.digest, LIFECYCLE_ARTIFACT_TYPE)).toEqual([
      markDescriptor,
    ]);
    expect(await reg.listReferrers(repo, image.digest, NOTATION_ARTIFACT_TYPE)).toEqual([notation]);
    expect(await reg.listReferrers(repo, image.digest, 'application/x-none')).toEqual([]);

    // Re-push is a no-op: same index bytes (no write), one entry per referrer.
    const before = await reg.getManifest(repo, fallbackTag(image.digest));
    await reg.pushReferrer(repo, image, mark);
    await reg.pushReferrer(repo, image, mark);
    const after = await reg.getManifest(repo, fallbackTag(image.digest));
    expect(after?.digest).toBe(before?.digest);
    expect((await fallbackEntries(reg, repo, image.digest))?.map((d) => d.digest)).toEqual([
      notation.digest,
      mark.digest,
    ]);

    await reg.deleteReferrer(repo, image.digest, mark.digest);
    expect(await reg.getManifest(repo, mark.digest)).toBeUndefined();
    expect(await reg.listReferrers(repo, image.digest)).toEqual([notation]);
    // Idempotent: deleting again neither throws nor touches the remaining entry.
    await reg.deleteReferrer(repo, image.digest, mark.digest);
    expect(await reg.listReferrers(repo, image.digest)).toEqual([notation]);

    // Removing the last entry removes the fallback index tag itself.
    await reg.deleteReferrer(repo, image.digest, notation.digest);
    expect(await reg.getManifest(repo, fallbackTag(image.digest))).toBeUndefined();
    expect(await reg.listTags(repo)).toEqual(['1.0']);
    expect(await reg.listReferrers(repo, image.digest)).toEqual([]);
    // The subject is untouched.
    expect(await reg.describeManifest(repo, image.digest)).toEqual(image);
  });

  it('creates the empty blob in a repository that lacks it', async () => {
    const repo = 'ref/fresh';
    const image = await pushImage(reg, repo, { tag: 'x', seed: 'ref-fresh' });
    const blob = () =>
      fetch(`${registry.url}/v2/${repo}/blobs/${EMPTY_DESCRIPTOR.digest}`, { method: 'HEAD' });
    expect((await blob()).status).toBe(404);

    const mark = lifecycle(image, '2025-02-01');
    await reg.pushReferrer(repo, image, mark);
    expect((await blob()).status).toBe(200);
    expect((await reg.getManifest(repo, mark.digest))?.digest).toBe(mark.digest);
    expect(await reg.listReferrers(repo, image.digest, LIFECYCLE_ARTIFACT_TYPE)).toHaveLength(1);
  });

  it('keeps separate marks for separate dates and subjects', async () => {
    const repo = 'ref/many';
    const a = await pushImage(reg, repo, { tag: 'a', seed: 'many-a' });
    const b = await pushImage(reg, repo, { tag: 'b', seed: 'many-b' });
    await Promise.all([
      reg.pushReferrer(repo, a, lifecycle(a, '2025-03-01')),
      reg.pushReferrer(repo, b, lifecycle(b, '2025-03-01')),
    ]);
    await reg.pushReferrer(repo, a, lifecycle(a, '2025-04-01'));
    expect(
      (await reg.listReferrers(repo, a.digest)).map((d) => d.annotations?.[EOL_DATE_ANNOTATION]),
    ).toEqual(['2025-03-01', '2025-04-01']);
    expect(await reg.listReferrers(repo, b.digest)).toHaveLength(1);
  });

  it('keeps every referrer when one client pushes several for one subject at once', async () => {
    const repo = 'ref/concurrent';
    const image = await pushImage(reg, repo, { tag: 'x', seed: 'concurrent' });
    const marks = ['2025-06-01', '2025-06-02', '2025-06-03', '2025-06-04', '2025-06-05'].map(
      (date) => lifecycle(image, date),
    );
    await Promise.all(marks.map((m) => reg.pushReferrer(repo, image, m)));
    const listed = (await reg.listReferrers(repo, image.digest)).map((x) => x.digest).sort();
    expect(listed).toEqual(marks.map((m) => m.digest).sort());
  });

  it('remembers that the referrers API is missing', async () => {
    const front = await startFakeOciAuth({ upstream: registry.url });
    try {
      const viaFront = ociRegistry(front.url);
      const image = await pushImage(viaFront, 'ref/probe', { tag: 'x', seed: 'probe' });
      for (let i = 0; i < 3; i++)
        expect(await viaFront.listReferrers('ref/probe', image.digest)).toEqual([]);
      const probes = front.requests.filter(
        (r) => r.path.includes('/referrers/') && r.status === 404,
      );
      expect(probes).toHaveLength(1);
      expect(front.requests.filter((r) => r.path.includes(fallbackTag(image.digest)))).toHaveLength(
        3,
      );
    } finally {
      await front.stop();
    }
  });
});

describe('referrers API (OCI 1.1 registry stub)', () => {
  const subject: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: sha256Digest('subject'),
    size: 100,
  };
  const d = (n: number, artifactType: string): Descriptor => ({
    mediaType: MediaType.ociManifest,
    digest: sha256Digest(`referrer-${n}`),
    size: n,
    artifactType,
  });
  const all = [
    d(1, LIFECYCLE_ARTIFACT_TYPE),
    d(2, NOTATION_ARTIFACT_TYPE),
    d(3, LIFECYCLE_ARTIFACT_TYPE),
  ];
  const stubManifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: EMPTY_DESCRIPTOR,
    layers: [],
  });
  const stubManifestDigest = sha256Digest(stubManifest);
  let stub: Awaited<ReturnType<typeof serveOnLoopback>>;
  let url: string;
  let filtersApplied = false;
  const seen: string[] = [];

  beforeAll(async () => {
    stub = await serveOnLoopback(async (req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      seen.push(`${req.method} ${u.pathname}${u.search}`);
      if (u.pathname === `/v2/api/app/referrers/${subject.digest}`) {
        const type = u.searchParams.get('artifactType');
        const page = Number(u.searchParams.get('page') ?? '0');
        // When it claims to filter, it does; otherwise it returns everything (filter ignored).
        const list = filtersApplied && type ? all.filter((x) => x.artifactType === type) : all;
        const slice = list.slice(page * 2, page * 2 + 2);
        const headers: Record<string, string> = { 'Content-Type': MediaType.ociIndex };
        if (filtersApplied && type) headers['OCI-Filters-Applied'] = 'artifactType';
        if (page * 2 + 2 < list.length) {
          headers.Link = `</v2/api/app/referrers/${subject.digest}?page=${page + 1}${type ? `&artifactType=${encodeURIComponent(type)}` : ''}>; rel="next"`;
        }
        res.writeHead(200, headers);
        res.end(
          JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: slice }),
        );
        return true;
      }
      if (u.pathname === `/v2/api/app/manifests/${stubManifestDigest}`) {
        // HEAD without Docker-Content-Digest or a size, as some registries answer.
        res.writeHead(200, { 'Content-Type': MediaType.ociManifest });
        res.end(req.method === 'GET' ? stubManifest : undefined);
        return true;
      }
      if (req.method === 'HEAD' && u.pathname.startsWith('/v2/api/app/blobs/')) {
        res.writeHead(200, { 'Content-Length': '2' });
        res.end();
        return true;
      }
      if (req.method === 'PUT' && u.pathname.startsWith('/v2/api/app/manifests/sha256:')) {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          res.writeHead(201, {
            'Docker-Content-Digest': sha256Digest(Buffer.concat(chunks)),
            'OCI-Subject': subject.digest,
          });
          res.end();
        });
        return true;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      return true;
    });
    url = stub.origin;
  });
  afterAll(() => stub.close());

  it.each([
    ['pages through the referrers API', false, undefined, [0, 1, 2]],
    ['filters client-side without OCI-Filters-Applied', false, LIFECYCLE_ARTIFACT_TYPE, [0, 2]],
    [
      'trusts the server filter when OCI-Filters-Applied says so',
      true,
      NOTATION_ARTIFACT_TYPE,
      [1],
    ],
  ])('%s', async (_name, applied, artifactType, expected) => {
    filtersApplied = applied;
    const listed = await ociRegistry(url).listReferrers('api/app', subject.digest, artifactType);
    expect(listed).toEqual(expected.map((n) => all[n]));
  });

  it('writes no fallback index when the registry answers OCI-Subject', async () => {
    seen.length = 0;
    const reg = ociRegistry(url);
    await reg.pushReferrer('api/app', subject, lifecycle(subject, '2025-05-05'));
    expect(seen.filter((s) => s.startsWith('PUT'))).toEqual([
      `PUT /v2/api/app/manifests/${lifecycle(subject, '2025-05-05').digest}`,
    ]);
    expect(seen.some((s) => s.includes(fallbackTag(subject.digest)))).toBe(false);
  });

  it('describes a manifest with one GET (the body tells whether it is a referrer)', async () => {
    const reg = ociRegistry(url);
    expect(await reg.describeManifest('api/app', stubManifestDigest)).toEqual({
      mediaType: MediaType.ociManifest,
      digest: stubManifestDigest,
      size: Buffer.byteLength(stubManifest),
    });
    expect(seen.filter((s) => s.endsWith(stubManifestDigest)).map((s) => s.split(' ')[0])).toEqual([
      'GET',
    ]);
  });
});

describe('referrers API: a 404 after the API answered (invariants 4, 5)', () => {
  const subjects = ['a', 'b', 'c'].map((s) => sha256Digest(`subject-${s}`));
  const mark: Descriptor = {
    mediaType: MediaType.ociManifest,
    digest: sha256Digest('mark'),
    size: 1,
    artifactType: LIFECYCLE_ARTIFACT_TYPE,
    annotations: { [EOL_DATE_ANNOTATION]: '2025-01-01' },
  };
  let stub: Awaited<ReturnType<typeof serveOnLoopback>>;
  let url: string;
  /** Answers to the next referrers requests: 'ok', 'paged' (a Link to page 2), or '404'. */
  let script: ('ok' | 'paged' | '404')[] = [];
  const seen: string[] = [];

  beforeAll(async () => {
    stub = await serveOnLoopback(async (req, res) => {
      const u = new URL(req.url ?? '/', 'http://x');
      seen.push(`${req.method} ${u.pathname}${u.search}`);
      if (u.pathname.startsWith('/v2/stray/referrers/')) {
        const step = script.shift() ?? 'ok';
        if (step === '404') {
          // A proxy hiccup or a misrouted request: no registry error code.
          res.writeHead(404, { 'Content-Type': 'text/plain' });
          res.end('404 page not found');
          return true;
        }
        const headers: Record<string, string> = { 'Content-Type': MediaType.ociIndex };
        if (step === 'paged') headers.Link = `<${u.pathname}?page=2>; rel="next"`;
        res.writeHead(200, headers);
        res.end(
          JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [mark] }),
        );
        return true;
      }
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
      return true;
    });
    url = stub.origin;
  });
  afterAll(() => stub.close());

  it('throws on a stray 404 and keeps using the API, never the fallback tags', async () => {
    script = ['ok', '404', 'ok'];
    seen.length = 0;
    const reg = ociRegistry(url);
    expect(await reg.listReferrers('stray', subjects[0], LIFECYCLE_ARTIFACT_TYPE)).toEqual([mark]);
    await expect(
      reg.listReferrers('stray', subjects[1], LIFECYCLE_ARTIFACT_TYPE),
    ).rejects.toBeInstanceOf(HttpStatusError);
    // Still marked: the API is asked again. The (empty) sha256-<hex> tag is read only beside an
    // API answer (a mark through either path counts), never instead of the failed lookup.
    expect(await reg.listReferrers('stray', subjects[0], LIFECYCLE_ARTIFACT_TYPE)).toEqual([mark]);
    expect(seen.filter((s) => s.includes('/manifests/sha256-'))).toEqual([
      `GET /v2/stray/manifests/${subjects[0].replace(':', '-')}`,
      `GET /v2/stray/manifests/${subjects[0].replace(':', '-')}`,
    ]);
  });

  it('throws on a 404 for page 2 instead of dropping page 1 (even on the first lookup)', async () => {
    script = ['paged', '404'];
    seen.length = 0;
    const reg = ociRegistry(url);
    await expect(reg.listReferrers('stray', subjects[2])).rejects.toBeInstanceOf(HttpStatusError);
    expect(seen.filter((s) => s.includes('/manifests/sha256-'))).toEqual([]);
    script = ['ok'];
    expect(await reg.listReferrers('stray', subjects[2])).toEqual([mark]);
  });

  it('probes once for concurrent first lookups, so a 404 cannot race a 200', async () => {
    script = ['ok', '404', '404'];
    seen.length = 0;
    const reg = ociRegistry(url);
    const results = await Promise.allSettled(
      subjects.map((s) => reg.listReferrers('stray', s, LIFECYCLE_ARTIFACT_TYPE)),
    );
    // The first answer (200) settles it: the later 404s are failures, not "no API".
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
    expect(seen.filter((s) => s.includes('/manifests/sha256-'))).toEqual([
      `GET /v2/stray/manifests/${subjects[0].replace(':', '-')}`,
    ]);
  });
});
