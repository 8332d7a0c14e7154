import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/core/ports.js';
import { ManifestCache } from '../../../src/registry/manifest-cache.js';
import { ManifestMemory, RECHECK_MARKED_MS } from '../../../src/registry/manifest-memory.js';
import { lifecycleReferrer } from '../../../src/registry/lifecycle-referrer.js';
import { OciClient } from '../../../src/registry/oci/client.js';
import { listManifests } from '../../../src/registry/oci/inventory.js';
import { addRemembered } from '../../../src/registry/oci/remembered.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { ociRegistry, pushImage } from '../../support/seed.js';

const DAY = 24 * 3600_000;
const T0 = Date.parse('2026-12-01T00:00:00Z');

/** The group's memory over a tags listing, on distribution 2.8. */
describe('addRemembered', () => {
  let registry: DockerRegistry;
  beforeAll(async () => {
    registry = await startDockerRegistry();
  });
  afterAll(async () => {
    await registry?.stop();
  });

  /** A tags listing of `repo` completed from a fresh memory, at `nowMs`. */
  function remembering(repo: string) {
    const client = new OciClient(registry.url, {}, undefined, silentLogger);
    const reader = { client, cache: ManifestCache.memory(), pageSize: 100, concurrency: 4 };
    const memory = new ManifestMemory();
    const inventory = async (nowMs: number, known: string[] = []) => {
      const listing = await listManifests(reader, repo);
      await addRemembered(reader, repo, listing, known, memory, nowMs);
      return listing.records;
    };
    return { reg: ociRegistry(registry.url), memory, inventory };
  }

  it('lists a remembered untagged image, forgets a deleted one, and asks about a marked one only every 30 days', async () => {
    const { reg, memory, inventory: records } = remembering('mem/app');
    const inventory = async (nowMs: number) =>
      new Map((await records(nowMs)).map((r) => [r.digest, r]));

    const marked = await pushImage(reg, 'mem/app', { tag: 'latest', seed: 'mem-1' });
    const unmarked = await pushImage(reg, 'mem/app', { tag: 'old', seed: 'mem-2' });
    expect((await inventory(T0)).get(marked.digest)?.firstSeen).toBe(new Date(T0).toISOString());

    // Both lose their tags to the next builds; one gets marked.
    await pushImage(reg, 'mem/app', { tag: 'latest', seed: 'mem-3' });
    await pushImage(reg, 'mem/app', { tag: 'old', seed: 'mem-4' });
    await reg.pushReferrer('mem/app', marked, lifecycleReferrer(marked, '2026-12-01'));
    const day1 = await inventory(T0 + DAY);
    expect(day1.get(marked.digest)).toMatchObject({
      tags: [],
      firstSeen: new Date(T0).toISOString(),
    });
    expect(day1.get(unmarked.digest)).toMatchObject({ tags: [] });

    // Gone from the registry, the fallback index still naming its mark: a marked one is not asked
    // again until RECHECK_MARKED_MS after it was last seen; an unmarked one is asked every run.
    for (const d of [marked, unmarked])
      expect(
        (await fetch(`${registry.url}/v2/mem/app/manifests/${d.digest}`, { method: 'DELETE' }))
          .status,
      ).toBe(202);
    const day2 = await inventory(T0 + 2 * DAY);
    expect(day2.has(marked.digest)).toBe(true);
    expect(day2.has(unmarked.digest)).toBe(false);
    expect(memory.get('mem/app', unmarked.digest)).toBeUndefined();

    const later = await inventory(T0 + DAY + RECHECK_MARKED_MS);
    expect(later.has(marked.digest)).toBe(false);
    expect(memory.get('mem/app', marked.digest)).toBeUndefined();
  });

  it('asks the registry about the digests the caller knows, and remembers them from then on', async () => {
    const { reg, memory, inventory } = remembering('known/app');
    const untagged = await pushImage(reg, 'known/app', { seed: 'known-1' });
    await pushImage(reg, 'known/app', { tag: 'latest', seed: 'known-2' });
    const absent = `sha256:${'0'.repeat(64)}`;
    const listed = (await inventory(T0, [untagged.digest, absent])).map((r) => r.digest);
    expect(listed).toContain(untagged.digest);
    expect(listed).not.toContain(absent);
    expect(memory.get('known/app', untagged.digest)).toMatchObject({ firstSeen: T0 });
    expect(memory.changed).toBe(true);
  });
});
