import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lifecycleManifestJson } from '../../../src/core/lifecycle.js';
import { MediaType } from '../../../src/core/oci.js';
import { ManifestCache } from '../../../src/registry/manifest-cache.js';
import { sha256Digest } from '../../../src/util/hash.js';
import { seedImage, type FakeAcr } from '../../support/fake-acr/index.js';
import {
  acrFor,
  EOL_DATE,
  fakeClockThrottle,
  fastRetry,
  lifecycleBySubject,
  OLD,
  runAnnotate,
  seedScenario,
  useFakeAcr,
} from './helpers.js';

const { fresh } = useFakeAcr();
const tempFile = () => join(mkdtempSync(join(tmpdir(), 'acr-cache-')), 'manifests.jsonl');

/** Requests that are not 401 challenges or token exchanges: the ones a cache can save. */
const work = (fake: FakeAcr) =>
  fake.log.filter((e) => e.status !== 401 && e.kind !== 'exchange' && e.kind !== 'token').length;

describe('manifest cache', () => {
  it('steady state: a second run with the cache file fetches no manifest and asks no referrers API', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake, 20);
    const file = tempFile();
    await runAnnotate(acrFor(fake, { manifestCache: file }), scenario);
    const expected = fake.snapshot();

    fake.resetCounts();
    const second = await runAnnotate(acrFor(fake, { manifestCache: file }), scenario);
    expect(second.counts).toMatchObject({ annotated: 0, alreadyAnnotated: 22 });
    expect(fake.answered('manifest-get')).toEqual([]);
    expect(fake.answered('referrers')).toEqual([]);
    expect(work(fake)).toBe(2); // one listing page per repository
    expect(fake.snapshot()).toEqual(expected);

    // Without the file, each lifecycle artifact costs a GET: what the cache saves.
    fake.resetCounts();
    await runAnnotate(acrFor(fake), scenario);
    expect(fake.answered('manifest-get').length).toBeGreaterThanOrEqual(22);
  });

  it('a missing, foreign or corrupt file only costs requests', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    const file = tempFile();
    await runAnnotate(acrFor(fake, { manifestCache: file }), scenario);
    const expected = fake.snapshot();
    const good = readFileSync(file, 'utf8');

    for (const damage of [
      () => rmSync(file),
      () => writeFileSync(file, 'not a cache at all\n{"d":1}'),
      () => writeFileSync(file, good.slice(0, Math.floor(good.length / 2))), // truncated mid-line (a crash)
      () => writeFileSync(file, good.replace(/"t":"2026-06-01"/g, '"t":"2020-01-01"')), // edited dates no longer match their digests
    ]) {
      damage();
      fake.resetCounts();
      const run = await runAnnotate(acrFor(fake, { manifestCache: file }), scenario);
      expect(run.counts.annotated).toBe(0);
      expect(fake.snapshot()).toEqual(expected);
    }
  });

  it('never believes an entry whose content does not hash to its digest', () => {
    const file = tempFile();
    const subject = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: sha256Digest('x'),
      size: 10,
    };
    const real = lifecycleManifestJson(subject, '2026-06-01');
    const digest = sha256Digest(real);
    const other = { ...subject, digest: sha256Digest('y') };
    writeFileSync(file, '{"eol-gate-manifest-cache":1}\n');
    // A forged line: a real artifact digest claiming another subject.
    appendFileSync(
      file,
      JSON.stringify({
        d: digest,
        l: { m: other.mediaType, g: other.digest, s: other.size, t: '2026-06-01' },
      }) + '\n',
    );
    appendFileSync(
      file,
      JSON.stringify({ d: sha256Digest('z'), b: '{"subject":{"digest":"sha256:00"}}' }) + '\n',
    );
    const forged = ManifestCache.open(file);
    expect(forged.get(digest)).toBeUndefined();
    expect(forged.rejected).toBe(2);
    forged.close();

    const cache = ManifestCache.open(file);
    expect(cache.put(digest, real)?.subject?.digest).toBe(subject.digest);
    expect(cache.put(sha256Digest('q'), real)).toBeUndefined(); // bytes of another digest
    cache.close();
    const reloaded = ManifestCache.open(file);
    expect(reloaded.get(digest)?.subject).toEqual(subject);
    expect(reloaded.size).toBe(1);
    reloaded.close();
  });

  it('keeps the media type of a manifest whose body omits it across a reload', () => {
    const file = tempFile();
    const child = 'sha256:' + 'a'.repeat(64);
    // OCI makes `mediaType` optional: an index (served as one) whose body does not say so.
    const index = JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: MediaType.ociManifest, digest: child, size: 10 }],
    });
    const manifest = JSON.stringify({
      schemaVersion: 2,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: child, size: 2 },
      layers: [],
    });
    const artifact = JSON.stringify({ schemaVersion: 2, artifactType: 'x/y', blobs: [] });
    const [di, dm, da] = [index, manifest, artifact].map((t) => sha256Digest(t));
    const first = ManifestCache.open(file);
    expect(first.put(di, index, MediaType.ociIndex)?.mediaType).toBe(MediaType.ociIndex);
    expect(first.put(dm, manifest)?.mediaType).toBe(MediaType.ociManifest);
    expect(
      first.put(da, artifact, 'application/vnd.oci.artifact.manifest.v1+json')?.mediaType,
    ).toBe('application/vnd.oci.artifact.manifest.v1+json');
    first.close();
    const second = ManifestCache.open(file);
    expect(second.get(di)).toMatchObject({ mediaType: MediaType.ociIndex, children: [child] });
    expect(second.get(dm)?.mediaType).toBe(MediaType.ociManifest);
    expect(second.get(da)?.mediaType).toBe('application/vnd.oci.artifact.manifest.v1+json');
    expect(second.rejected).toBe(0);
    second.close();
    // Nothing made up: without a served type nor a telling shape, the media type stays unknown.
    const bare = JSON.stringify({ schemaVersion: 2 });
    expect(ManifestCache.memory().put(sha256Digest(bare), bare)?.mediaType).toBeUndefined();
  });

  it('an index whose body omits mediaType stays an index, children protected, after a reload', async () => {
    const fake = await fresh();
    const a = seedImage(fake, 'team/app', 'a', { created: OLD });
    const b = seedImage(fake, 'team/app', 'b', { created: OLD });
    const body = JSON.stringify({
      schemaVersion: 2,
      manifests: [a, b].map((c) => ({ ...c, platform: { architecture: 'amd64', os: 'linux' } })),
    });
    const index = fake.seedManifest('team/app', body, { mediaType: MediaType.ociIndex });
    const file = tempFile();
    for (const run of ['first', 'cached']) {
      const registry = acrFor(fake, { manifestCache: file });
      const records = await registry.listManifests('team/app');
      await registry.flush();
      expect(
        records.find((r) => r.digest === index),
        run,
      ).toMatchObject({
        mediaType: MediaType.ociIndex,
        children: [a.digest, b.digest],
      });
      // The subject descriptor (what a lifecycle manifest embeds) is the same in both runs.
      expect(await registry.describeManifest('team/app', index), run).toEqual({
        mediaType: MediaType.ociIndex,
        digest: index,
        size: Buffer.byteLength(body),
      });
    }
    expect(fake.answered('manifest-get')).toEqual([`/v2/team/app/manifests/${index}`]);
  });

  it('a stale entry (its referrer deleted since) cannot hide an orphan: it is annotated again, once', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    const file = tempFile();
    await runAnnotate(acrFor(fake, { manifestCache: file }), scenario);
    const victim = scenario.orphans[1];
    const [mark] = fake.referrersOf(victim.repository, victim.digest);
    fake.deleteManifest(victim.repository, mark.digest); // e.g. `unannotate`, or a registry cleanup
    const run = await runAnnotate(acrFor(fake, { manifestCache: file }), scenario);
    expect(run.counts.annotated).toBe(1);
    expect(lifecycleBySubject(fake, victim.repository).get(victim.digest)).toEqual([EOL_DATE]);
  });
});

describe('throttling never leads to a duplicate annotation', () => {
  it('throttled referrers API calls are retried, not read as "not annotated"', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    fake.addFault({ kind: '429', match: 'referrers', times: 5 });
    fake.addFault({ kind: '503', match: 'referrers', times: 3, after: 5 });
    // The API source asks the referrers API per candidate, as a registry without a listing would.
    await runAnnotate(acrFor(fake, { referrersSource: 'api', ...fastRetry() }), scenario);
    const app = lifecycleBySubject(fake, 'team/app');
    expect(app.get(scenario.annotatedBefore)).toEqual(['2025-01-01']);
    for (const marks of app.values()) expect(marks).toHaveLength(1);
  });

  it('a referrers API that stays throttled fails the run before anything is written', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    const before = fake.snapshot();
    fake.addFault({ kind: '429', match: 'referrers', times: 100_000 });
    const throttle = fakeClockThrottle();
    await expect(
      runAnnotate(
        acrFor(fake, { referrersSource: 'api', ...fastRetry({ retries: 2 }), throttle }),
        scenario,
      ),
    ).rejects.toThrow(
      /referrers of team\/\w+@sha256:[a-f0-9]+ failed: the registry kept refusing referrer lookups/,
    );
    expect(fake.snapshot()).toEqual(before);
  });

  it('pushes that time out or are throttled after landing still leave one referrer each', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    // The first PUTs land but their answers are lost (reset after the write is impossible to
    // see from the client): emulate with a slow answer beyond the client timeout.
    fake.addFault({ kind: 'latency', match: 'manifest-put', ms: 800, times: 3 });
    fake.addFault({ kind: '429', match: 'manifest-put', times: 2 });
    await runAnnotate(acrFor(fake, fastRetry({ timeoutMs: 300 })), scenario);
    await runAnnotate(acrFor(fake, { referrersSource: 'api' }), scenario);
    for (const repo of ['team/app', 'team/tool']) {
      for (const marks of lifecycleBySubject(fake, repo).values()) expect(marks).toHaveLength(1);
    }
    expect(
      lifecycleBySubject(fake, 'team/app').size + lifecycleBySubject(fake, 'team/tool').size,
    ).toBe(8);
  });
});
