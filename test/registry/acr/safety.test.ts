import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EMPTY_DESCRIPTOR } from '../../../src/core/lifecycle.js';
import { seedImage, seedIndex, OCI_MANIFEST } from '../../support/fake-acr/index.js';
import {
  acrFor,
  capturingLogger,
  lifecycleBySubject,
  OLD,
  runAnnotate,
  useFakeAcr,
} from './helpers.js';

/** On the fake ACR: what the listing cannot tell must not be marked. */

const { fresh } = useFakeAcr();

/** An image-info of `repo`: each of `platforms` an image of its own, each of `indexes` too. */
function imageInfo(repo: string, platforms: string[], indexes: string[] = []) {
  const path = join(mkdtempSync(join(tmpdir(), 'acr-safety-')), 'image-info.json');
  const mcr = (d: string) => `mcr.microsoft.com/${repo}@${d}`;
  const images = [
    ...platforms.map((d) => ({ platforms: [{ digest: mcr(d), simpleTags: [] }] })),
    ...indexes.map((d) => ({ manifest: { digest: mcr(d), sharedTags: [] }, platforms: [] })),
  ];
  writeFileSync(path, JSON.stringify({ schemaVersion: '2.0', repos: [{ repo, images }] }));
  return { imageInfo: path };
}

describe('ACR annotation safety', () => {
  it('never annotates an image manifest that carries a subject (a referrer pushed as an image)', async () => {
    const fake = await fresh();
    const repo = 'safety/app';
    const supported = seedImage(fake, repo, 'supported', { tags: ['1.0'], created: OLD });
    const orphan = seedImage(fake, repo, 'orphan', { created: OLD });
    // An image (image config, no artifactType) that refers to the supported image: the listing
    // shows a plain image; only its body says it is a referrer.
    const config = JSON.stringify({ created: '2025-01-01T00:00:00Z', os: 'linux', seed: 'ref' });
    const configDigest = fake.seedBlob(repo, config);
    fake.seedBlob(repo, '{}');
    const referrer = fake.seedManifest(
      repo,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: configDigest,
          size: Buffer.byteLength(config),
        },
        layers: [EMPTY_DESCRIPTOR],
        subject: supported,
      }),
      { created: OLD },
    );

    const logger = capturingLogger();
    await runAnnotate(acrFor(fake, { logger }), imageInfo(repo, [supported.digest]), logger);
    const marks = lifecycleBySubject(fake, repo);
    expect(marks.get(referrer)).toBeUndefined();
    expect(marks.get(orphan.digest)).toHaveLength(1);
    expect(marks.get(supported.digest)).toBeUndefined();
    // The candidate costs one GET, as the HEAD did.
    expect(fake.answered('manifest-head')).toEqual([]);
    expect(logger.lines.some((l) => l.includes(referrer) && l.includes('subject'))).toBe(true);
  });

  it('keeps the children the listing gave when a supported index answers 404 to its GET', async () => {
    const fake = await fresh();
    const repo = 'safety/multi';
    const child = seedImage(fake, repo, 'child', { created: OLD });
    const attestation = seedImage(fake, repo, 'attestation', { created: OLD });
    const index = seedIndex(fake, repo, [child, attestation], { tags: ['1.0'], created: OLD });
    const orphan = seedImage(fake, repo, 'orphan', { created: OLD });
    // Listed, then gone (or not yet replicated) when its body is fetched.
    fake.vanishAfterListing(repo, index.digest);

    await runAnnotate(acrFor(fake), imageInfo(repo, [child.digest], [index.digest]));
    const marks = lifecycleBySubject(fake, repo);
    expect(marks.get(attestation.digest)).toBeUndefined();
    expect(marks.get(child.digest)).toBeUndefined();
    expect(marks.get(orphan.digest)).toHaveLength(1);
  });
});
