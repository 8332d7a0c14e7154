import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { FakeAcr } from '../../support/fake-acr/index.js';
import { CACHE, cacheCopyManifest, decisions } from '../cache-copy.js';
import { acrFor, runAnnotate, seedScenario, useFakeAcr, type Scenario } from './helpers.js';

/** On the fake ACR: a fresh agent's steady state reads the cache copy, not each referrer. */

const { fresh } = useFakeAcr();
const registryCache = { repository: CACHE, group: 'acr-test' };

async function dryRun(fake: FakeAcr, scenario: Scenario, cached: boolean) {
  const registry = acrFor(fake, cached ? { registryCache } : {});
  fake.resetCounts();
  const result = await runAnnotate(registry, scenario, undefined, { dryRun: true });
  return { plan: decisions(result.plan!), gets: fake.answered('manifest-get'), total: fake.total };
}

/** Replaces the group's copy with `layer` (the cache's own layer format or anything else). */
function plantCopy(fake: FakeAcr, layer: Buffer): void {
  fake.seedBlob(CACHE, '{}');
  const digest = fake.seedBlob(CACHE, layer);
  fake.seedManifest(CACHE, cacheCopyManifest({ digest, size: layer.length }, 'acr-test'), {
    tags: ['acr-test'],
  });
}

describe('registry-held cache on the fake ACR', () => {
  it('a fresh agent reads no referrer manifest in steady state, and plans as without the cache', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    const cold = acrFor(fake, { registryCache });
    await runAnnotate(cold, scenario);
    await cold.flush();

    const without = await dryRun(fake, scenario, false);
    // Without a cache every listed artifact (the marks, signatures) is fetched again.
    expect(without.gets.length).toBeGreaterThanOrEqual(9);
    const warm = await dryRun(fake, scenario, true);
    expect(warm.plan).toEqual(without.plan);
    expect(warm.gets).toEqual([`/v2/${CACHE}/manifests/acr-test`]);
    expect(warm.total).toBeLessThan(without.total);
    // The cache repository is never listed for annotation.
    expect(await acrFor(fake, { registryCache }).listManifests(CACHE)).toEqual([]);
  });

  it('writes the copy when a cache file already knew everything, and not again when nothing changed', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    const cacheFile = join(mkdtempSync(join(tmpdir(), 'acr-cache-')), 'cache.jsonl');
    await runAnnotate(acrFor(fake, { manifestCache: cacheFile }), scenario);
    const copy = () => fake.snapshot()[CACHE]?.find((m) => m.tags.includes('acr-test'))?.digest;
    expect(copy()).toBeUndefined();

    const both = () => acrFor(fake, { manifestCache: cacheFile, registryCache });
    const first = both();
    await runAnnotate(first, scenario);
    await first.flush();
    const written = copy();
    expect(written).toBeDefined();

    const second = both();
    await runAnnotate(second, scenario);
    fake.resetCounts();
    await second.flush();
    expect(fake.answered('manifest-put')).toEqual([]);
    expect(copy()).toBe(written);
  });

  const copies: [string, (valid: Buffer) => Buffer][] = [
    [
      'corrupted',
      (valid) =>
        gzipSync(
          gunzip(valid)
            .replace(/"t":"2026-06-01"/g, '"t":"2026-06-02"')
            .replace(/"s":(\d+)/g, '"s":1$1'),
        ),
    ],
    ['truncated', (valid) => valid.subarray(0, Math.floor(valid.length / 2))],
    ['not a cache', () => Buffer.from('hello')],
  ];
  it.each(copies)('a %s copy costs requests, never a different plan', async (_name, make) => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    const cold = acrFor(fake, { registryCache });
    await runAnnotate(cold, scenario);
    await cold.flush();
    const copy = fake.snapshot()[CACHE]!.find((m) => m.tags.includes('acr-test'))!;
    const manifest = JSON.parse(fake.manifest(CACHE, copy.digest)!.bytes.toString()) as {
      layers: { digest: string }[];
    };
    const valid = fake.blob(CACHE, manifest.layers[0].digest)!;
    plantCopy(fake, make(valid));
    const without = await dryRun(fake, scenario, false);
    const withCopy = await dryRun(fake, scenario, true);
    expect(withCopy.plan).toEqual(without.plan);
    // Not believed: the referrers were fetched again.
    expect(withCopy.gets.length).toBeGreaterThan(1);
  });
});

function gunzip(b: Buffer): string {
  return gunzipSync(b).toString();
}
