/**
 * What a run writes. A cold run with N marks in R repositories makes at most
 * N + 3(R + 1) writes, the cache's repository counted (beside the fallback indexes a registry
 * without the referrers API needs): the empty config blob is checked and uploaded once per
 * repository, not once per mark, and mounted where a repository holds it; the registry-held
 * cache is saved once. A re-run right after it writes nothing at all, the cache included, even
 * when the first run deleted manifests (a replaced fallback index, a removed mark). Counted at the wire: through a counting
 * proxy in front of Debian's docker-registry, and in the fake ACR's request log.
 *
 * The CLI runs from source (`node --import tsx src/platform/cli/main.ts`), as a user runs the
 * bundle, so the test follows the code under test without a rebuilt dist/.
 */
import { acrAnnotateArgs } from '../../support/annotate-options.js';
import { lifecycleReferrer } from '../../../src/registry/lifecycle-referrer.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { lifecycleMarksByHttp } from '../../support/registry-http.js';
import { ociRegistry, pushImage, pushNotationSignature } from '../../support/seed.js';
import { imageInfoOfDigests, seedScenario } from '../../support/scenario.js';
import { seedImage, type FakeAcr } from '../../support/fake-acr/index.js';
import {
  pushLifecycle,
  seedScenario as seedAcrScenario,
  startAcrEnvironment,
} from '../../registry/acr/helpers.js';
import { runNode, type ProcessRun } from '../../support/runner.js';

const MAIN = fileURLToPath(new URL('../../../src/platform/cli/main.ts', import.meta.url));
const WRITES = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);

/** The CLI from source, with exactly `env` (plus PATH/HOME). */
const runSourceCli = (args: string[], env: Record<string, string> = {}): Promise<ProcessRun> =>
  runNode(
    MAIN,
    { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', ...env },
    90_000,
    args,
    ['--import', 'tsx'],
  );

interface Logged {
  method: string;
  path: string;
  status: number;
}

/** A proxy to `target` that logs every request it forwards, with the upstream's status. */
async function countingProxy(
  target: string,
): Promise<{ url: string; log: Logged[]; close: () => Promise<void> }> {
  const upstream = new URL(target);
  const log: Logged[] = [];
  const server: Server = createServer((req, res) => {
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        // The Host header stays the proxy's: distribution builds absolute upload Locations
        // from it, so every request of an upload comes through here.
        headers: req.headers,
      },
      (up) => {
        const path = new URL(req.url ?? '/', 'http://x').pathname;
        log.push({ method: req.method ?? 'GET', path, status: up.statusCode ?? 0 });
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const writesOf = (log: Logged[]) =>
  log.filter((e) => WRITES.has(e.method) && !e.path.startsWith('/oauth2/'));
/** Upload writes outside the cache's repository: the empty config blob's. */
const emptyBlobWrites = (log: Logged[]) =>
  log.filter((e) => /\/blobs\/uploads/.test(e.path) && !e.path.includes('eol-gate/cache')).length;
const describeWrites = (log: Logged[]) =>
  writesOf(log).map((e) => `${e.method} ${e.path} ${e.status}`);

async function imageInfoFile(dir: string, repos: Record<string, string[]>): Promise<string> {
  const path = join(dir, 'image-info.json');
  await writeFile(path, imageInfoOfDigests(Object.entries(repos)));
  return path;
}

/** The CLI from source, `annotate --json` against a fake ACR of `acr` (its identity and CA). */
const acrAnnotate = (
  acr: Awaited<ReturnType<typeof startAcrEnvironment>>,
  imageInfo: string,
  ...more: string[]
) =>
  runSourceCli(acrAnnotateArgs(acr.fake.url, imageInfo, ...more), {
    ...acr.identity.env,
    NODE_EXTRA_CA_CERTS: acr.fake.caPath,
  });

/** Forgets the requests seen so far (`reset`), runs `annotate` again: it marks and writes nothing. */
async function expectRerunWritesNothing(
  annotate: () => Promise<ProcessRun>,
  reset: () => void,
  writes: () => string[],
): Promise<void> {
  reset();
  const again = await annotate();
  expect(again.code, again.stderr).toBe(0);
  expect(JSON.parse(again.stdout).counts.annotated).toBe(0);
  expect(writes()).toEqual([]);
}

/** A cold run of the core scenario marks its orphans and removes the one mark of a supported image. */
async function expectScenarioColdRun(annotate: () => Promise<ProcessRun>, orphans: number) {
  const cold = await annotate();
  expect(cold.code, cold.stderr).toBe(0);
  expect(JSON.parse(cold.stdout).counts).toMatchObject({ annotated: orphans, unmarked: 1 });
}

const REPOS = ['writes/app', 'writes/tool'];
const MARKS_PER_REPO = 10;
const N = REPOS.length * MARKS_PER_REPO;
const R = REPOS.length;

describe('writes per run against docker-registry', () => {
  let registry: DockerRegistry;
  let proxy: Awaited<ReturnType<typeof countingProxy>>;
  let dir: string;
  let imageInfo: string;
  const orphans: { repository: string; digest: string }[] = [];

  beforeAll(async () => {
    registry = await startDockerRegistry();
    const oci = ociRegistry(registry.url);
    const supported: Record<string, string[]> = {};
    for (const repo of REPOS) {
      const s = await pushImage(oci, repo, { seed: `${repo}:s`, tag: 'latest' });
      supported[repo] = [s.digest];
      for (let i = 0; i < MARKS_PER_REPO; i++) {
        const o = await pushImage(oci, repo, { seed: `${repo}:o${i}`, tag: `o${i}` });
        orphans.push({ repository: repo, digest: o.digest });
      }
    }
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-writes-'));
    imageInfo = await imageInfoFile(dir, supported);
    proxy = await countingProxy(registry.url);
  });
  afterAll(async () => {
    await proxy?.close();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const annotate = () =>
    runSourceCli([
      'annotate',
      '--registry',
      proxy.url,
      '--image-info',
      imageInfo,
      '--coordinator',
      'none',
      '--min-age',
      '0',
      '--eol-date',
      '2026-06-01',
      '--json',
    ]);

  it(`a cold run marks ${N} orphans in ${R} repositories with at most N + 3(R + 1) writes beside the fallback indexes (R + 1 repositories written, the cache's included), and a re-run writes nothing`, async () => {
    proxy.log.length = 0;
    const cold = await annotate();
    expect(cold.code, cold.stderr).toBe(0);
    expect(JSON.parse(cold.stdout).counts.annotated, cold.stdout + cold.stderr).toBe(N);
    for (const o of orphans)
      expect(await lifecycleMarksByHttp(registry.url, o.repository, o.digest)).toHaveLength(1);
    const writes = writesOf(proxy.log);
    // distribution 2.8 has no referrers API: each mark is its manifest PUT and its subject's
    // fallback index (`sha256-<hex>` tag) PUT. Everything else is the empty blob and the cache.
    const fallback = writes.filter((e) => /\/manifests\/sha256-[a-f0-9]{64}$/.test(e.path));
    expect(fallback).toHaveLength(N);
    const others = writes.filter((e) => !fallback.includes(e));
    // R marked repositories and the cache's own: the empty blob uploaded once per repository
    // (a POST and a PUT, then a cross-repository mount), the cache's layer and manifest once.
    expect(others.length, describeWrites(proxy.log).join('\n')).toBeLessThanOrEqual(
      N + 3 * (R + 1),
    );
    expect(emptyBlobWrites(writes)).toBeLessThanOrEqual(2 + R);

    await expectRerunWritesNothing(
      annotate,
      () => (proxy.log.length = 0),
      () => describeWrites(proxy.log),
    );
  });
});

describe('re-runs against docker-registry write nothing', () => {
  it('the core scenario, a signed orphan and a marked supported image: the second run writes nothing', async () => {
    const registry = await startDockerRegistry();
    const proxy = await countingProxy(registry.url);
    const dir = await mkdtemp(join(tmpdir(), 'eol-gate-writes-'));
    try {
      const oci = ociRegistry(registry.url);
      const scenario = await seedScenario(oci);
      // The first run replaces this orphan's fallback index (signature + mark) and deletes the
      // old one, and removes the supported image's mark: the cache it saves must not keep them.
      const [signedRepo, signedDigest] = scenario.orphans[0].split('@');
      const signed = await oci.describeManifest(signedRepo, signedDigest);
      await pushNotationSignature(oci, signedRepo, signed!);
      const { repository, descriptor } = scenario.supportedImage;
      await oci.pushReferrer(repository, descriptor, lifecycleReferrer(descriptor, '2025-02-01'));
      const imageInfo = join(dir, 'image-info.json');
      await writeFile(imageInfo, scenario.imageInfo);
      const annotate = () =>
        runSourceCli([
          'annotate',
          '--registry',
          proxy.url,
          '--image-info',
          imageInfo,
          '--repo-prefix',
          scenario.repoPrefix,
          '--coordinator',
          'none',
          '--min-age',
          '0',
          '--json',
        ]);
      await expectScenarioColdRun(annotate, scenario.orphans.length);
      await expectRerunWritesNothing(
        annotate,
        () => (proxy.log.length = 0),
        () => describeWrites(proxy.log),
      );
    } finally {
      await proxy.close();
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('writes per run against the fake ACR', () => {
  let env: Awaited<ReturnType<typeof startAcrEnvironment>>;
  let fake: FakeAcr;
  let dir: string;
  let imageInfo: string;

  beforeAll(async () => {
    env = await startAcrEnvironment();
    fake = env.fake;
    const old = new Date('2026-01-01T00:00:00Z');
    const supported: Record<string, string[]> = {};
    for (const repo of REPOS) {
      supported[repo] = [
        seedImage(fake, repo, `${repo}:s`, { tags: ['latest'], created: old }).digest,
      ];
      for (let i = 0; i < MARKS_PER_REPO; i++)
        seedImage(fake, repo, `${repo}:o${i}`, { created: old });
    }
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-writes-acr-'));
    imageInfo = await imageInfoFile(dir, supported);
  });
  afterAll(async () => {
    await env?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const annotate = () => acrAnnotate(env, imageInfo, '--eol-date', '2026-06-01');

  it(`a cold run marks ${N} orphans in ${R} repositories with at most N + 3(R + 1) writes (the cache's repository included), and a re-run writes nothing`, async () => {
    fake.resetCounts();
    const cold = await annotate();
    expect(cold.code, cold.stderr).toBe(0);
    expect(JSON.parse(cold.stdout).counts.annotated).toBe(N);
    const writes = () => describeWrites(fake.log.filter((e) => e.status !== 401));
    // Was 75 (45 upload writes for the empty blob alone): now N + 7.
    expect(writes().length, writes().join('\n')).toBeLessThanOrEqual(N + 3 * (R + 1));
    const uploads = fake.log.filter(
      (e) => e.status !== 401 && WRITES.has(e.method) && /\/blobs\/uploads/.test(e.path),
    );
    expect(emptyBlobWrites(uploads)).toBeLessThanOrEqual(2 + R);
    expect(
      fake.answered('manifest-put', 201).filter((p) => !p.includes('eol-gate/cache')),
    ).toHaveLength(N);

    await expectRerunWritesNothing(annotate, () => fake.resetCounts(), writes);
  });
});

describe('re-runs against the fake ACR write nothing', () => {
  it('the core scenario and a marked supported image: the second run writes nothing', async () => {
    const env = await startAcrEnvironment();
    try {
      const fake = env.fake;
      const scenario = seedAcrScenario(fake);
      // The first run deletes this mark: the cache it saves must not keep it.
      const s1 = fake.manifest('team/app', scenario.supported[0])!;
      pushLifecycle(
        fake,
        'team/app',
        { digest: s1.digest, size: s1.bytes.length, mediaType: s1.mediaType },
        '2025-02-01',
      );
      const annotate = () => acrAnnotate(env, scenario.imageInfo);
      await expectScenarioColdRun(annotate, scenario.orphans.length);
      await expectRerunWritesNothing(
        annotate,
        () => fake.resetCounts(),
        () => describeWrites(fake.log.filter((e) => e.status !== 401)),
      );
    } finally {
      await env.close();
    }
  });
});
