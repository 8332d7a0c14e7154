import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { annotate } from '../../../src/commands/annotate.js';
import { NoneStore } from '../../../src/coordination/none.js';
import { fallbackTag } from '../../../src/core/digest.js';
import { LIFECYCLE_ARTIFACT_TYPE } from '../../../src/core/lifecycle.js';
import { MediaType, type Descriptor } from '../../../src/core/oci.js';
import type { Plan } from '../../../src/core/planner.js';
import { silentLogger } from '../../../src/core/ports.js';
import { FileSource } from '../../../src/imageinfo/file-source.js';
import { OciRegistry } from '../../../src/registry/oci/index.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { startFakeOciAuth, type FakeOciAuth } from '../../support/fake-oci-auth.js';
import { pushImage } from '../../support/seed.js';
import { instantClock } from '../../support/doubles.js';
import { annotateOptions } from '../../support/annotate-options.js';
import { imageInfoOfDigests } from '../../support/scenario.js';
import { CACHE, cacheCopyManifest, decisions } from '../cache-copy.js';

/**
 * On a real distribution 2.8: the registry-held cache makes a fresh agent's steady
 * state cost about one request per tag, and no copy of it, however wrong, changes the plan.
 */

const REPO = 'cached/app';
const ORPHANS = 10;
const SUPPORTED = 2;

let registry: DockerRegistry;
let front: FakeOciAuth;
let imageInfo: string;
let orphans: Descriptor[];

function registryFor(group: string | undefined, url = front.url): OciRegistry {
  return new OciRegistry({
    url,
    concurrency: 4,
    logger: silentLogger,
    ...(group ? { registryCache: { repository: CACHE, group } } : {}),
  });
}

async function run(reg: OciRegistry, dryRun: boolean, group = 'g1', minAgeMs = 0): Promise<Plan> {
  const options = annotateOptions({ group, eolDate: '2026-06-01', minAgeMs, dryRun });
  const result = await annotate(options, {
    registry: reg,
    store: new NoneStore(),
    sources: [new FileSource(imageInfo)],
    clock: instantClock,
    logger: silentLogger,
  });
  if (!dryRun) await reg.flush();
  return result.plan!;
}

/** Registry requests (not token exchanges or challenges) made while `fn` runs. */
async function counted<T>(fn: () => Promise<T>): Promise<{ value: T; requests: number }> {
  const before = front.requests.length;
  const value = await fn();
  const requests = front.requests
    .slice(before)
    .filter((r) => r.path.startsWith('/v2/') && r.path !== '/v2/' && r.status !== 401);
  return { value, requests: requests.length };
}

async function cacheCopy(group: string): Promise<{ manifest: Uint8Array; blob: Uint8Array }> {
  const direct = registryFor(undefined, registry.url);
  const manifest = (await direct.getManifest(CACHE, group))!.bytes;
  const layer = (JSON.parse(Buffer.from(manifest).toString()) as { layers: Descriptor[] })
    .layers[0];
  const res = await fetch(`${registry.url}/v2/${CACHE}/blobs/${layer.digest}`);
  return { manifest, blob: new Uint8Array(await res.arrayBuffer()) };
}

/** Replaces the group's copy with `blob` as its layer (annotations as given). */
async function plantCopy(group: string, blob: Uint8Array, annotatedGroup = group): Promise<void> {
  const direct = registryFor(undefined, registry.url);
  const digest = await direct.putBlob(CACHE, blob);
  const manifest = cacheCopyManifest({ digest, size: blob.length }, annotatedGroup);
  await direct.putManifest(CACHE, group, new TextEncoder().encode(manifest), MediaType.ociManifest);
}

describe('registry-held cache on distribution 2.8', () => {
  let coldPlan: Plan;
  let coldRequests: number;
  let valid: { manifest: Uint8Array; blob: Uint8Array };

  beforeAll(async () => {
    registry = await startDockerRegistry();
    front = await startFakeOciAuth({ upstream: registry.url });
    const seed = registryFor(undefined, registry.url);
    await seed.putBlob(CACHE, new TextEncoder().encode('{}')); // the repository exists up front
    const supported: Descriptor[] = [];
    for (let i = 0; i < SUPPORTED; i++)
      supported.push(await pushImage(seed, REPO, { tag: `s${i}`, seed: `cached-s${i}` }));
    orphans = [];
    for (let i = 0; i < ORPHANS; i++)
      orphans.push(await pushImage(seed, REPO, { tag: `o${i}`, seed: `cached-o${i}` }));
    imageInfo = join(mkdtempSync(join(tmpdir(), 'registry-cache-')), 'image-info.json');
    writeFileSync(imageInfo, imageInfoOfDigests([[REPO, supported.map((d) => d.digest)]]));
    const cold = await counted(() => run(registryFor('g1'), false));
    coldPlan = cold.value;
    coldRequests = cold.requests;
    valid = await cacheCopy('g1');
  });
  afterAll(async () => {
    await front?.stop();
    await registry?.stop();
  });

  it('cold: four requests per orphan (GET its tag, PUT the mark, PUT and read back the index)', () => {
    expect(decisions(coldPlan).annotate).toHaveLength(ORPHANS);
    // Fixed: tags list, API probe, the empty blob (3), the copy's read (1) and write (7).
    expect(coldRequests).toBeLessThanOrEqual(4 * ORPHANS + SUPPORTED + 12);
  });

  it('steady on a fresh agent: about one request per tag, the same plan as without a cache', async () => {
    const without = decisions(await run(registryFor(undefined), true));
    expect(without.alreadyAnnotated).toHaveLength(ORPHANS);
    const steady = await counted(() => run(registryFor('g1'), false));
    expect(decisions(steady.value)).toEqual(without);
    const tags = ORPHANS + SUPPORTED + ORPHANS; // images and their fallback tags
    // One HEAD per tag, plus the tags list, the copy (manifest and blob) and the API probe.
    expect(steady.requests).toBeLessThanOrEqual(tags + 4);
    // Nothing new was learnt: the copy is not rewritten.
    expect((await cacheCopy('g1')).manifest).toEqual(valid.manifest);
  });

  it('with a minAge, image configs are read once and then come from the copy', async () => {
    const configGets = () =>
      front.requests.filter((r) => r.method === 'GET' && /\/v2\/cached\/app\/blobs\//.test(r.path))
        .length;
    const hour = 3_600_000;
    let before = configGets();
    const learning = await run(registryFor('g1'), false, 'g1', hour);
    expect(decisions(learning).alreadyAnnotated).toHaveLength(ORPHANS);
    expect(configGets() - before).toBe(ORPHANS); // the candidates' ages, read once
    before = configGets();
    const steady = await run(registryFor('g1'), true, 'g1', hour);
    expect(decisions(steady)).toEqual(decisions(learning));
    expect(configGets() - before).toBe(0);
    valid = await cacheCopy('g1');
  });

  it('never lists the cache repository, even when the scope names it', async () => {
    const reg = registryFor('g1');
    expect(await reg.listRepositories()).not.toContain(CACHE);
    expect(await reg.listManifests(CACHE)).toEqual([]);
  });

  const variants: [string, () => Promise<void>, string?][] = [
    [
      'corrupted (every entry filed under another digest)',
      async () => {
        const text = gunzipSync(valid.blob)
          .toString()
          .replace(
            /"d":"sha256:([a-f0-9]{63})([a-f0-9])"/g,
            (_, head: string, last: string) => `"d":"sha256:${head}${last === '0' ? '1' : '0'}"`,
          );
        expect(text).not.toEqual(gunzipSync(valid.blob).toString());
        await plantCopy('g1', gzipSync(text));
      },
    ],
    [
      'truncated',
      async () => plantCopy('g1', valid.blob.subarray(0, Math.floor(valid.blob.length / 2))),
    ],
    [
      'not gzip',
      async () => plantCopy('g1', new TextEncoder().encode('{"eol-gate-manifest-cache":1}\n')),
    ],
    [
      'from another group',
      async () => {
        await plantCopy('g2', valid.blob, 'g1');
      },
      'g2',
    ],
  ];
  it.each(variants)(
    'a cache copy that is %s gives the plan of a cache-less run',
    async (_name, plant, group) => {
      await plant();
      const without = decisions(await run(registryFor(undefined), true, group));
      const withCache = decisions(await run(registryFor(group ?? 'g1'), true, group));
      expect(withCache).toEqual(without);
      expect(withCache.alreadyAnnotated).toHaveLength(ORPHANS);
      await plantCopy('g1', valid.blob); // restore
    },
  );

  it('a copy listing referrers that were deleted, and tags that moved, gives the plan of a cache-less run, plus what the group remembers', async () => {
    await plantCopy('g1', valid.blob);
    const direct = registryFor(undefined, registry.url);
    // Delete o0's mark (its fallback index goes with it) and move tag o1 to a new image.
    const marks = await direct.listReferrers(REPO, orphans[0].digest, LIFECYCLE_ARTIFACT_TYPE);
    for (const m of marks) await direct.deleteReferrer(REPO, orphans[0].digest, m.digest);
    expect(await direct.getManifest(REPO, fallbackTag(orphans[0].digest))).toBeUndefined();
    const moved = await pushImage(direct, REPO, { tag: 'o1', seed: 'cached-o1-moved' });

    const without = decisions(await run(registryFor(undefined), true));
    const withCache = decisions(await run(registryFor('g1'), true));
    // The tags no longer show o1's first image; the group's memory does (still marked).
    expect(withCache).toEqual({
      ...without,
      alreadyAnnotated: [...without.alreadyAnnotated, `${REPO}@${orphans[1].digest}`].sort(),
    });
    expect(withCache.annotate).toEqual(
      [`${REPO}@${orphans[0].digest}`, `${REPO}@${moved.digest}`].sort(),
    );
  });
});
