import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EMPTY_DESCRIPTOR } from '../../../src/core/lifecycle.js';
import { seedImage, seedIndex, OCI_MANIFEST, type FakeAcr } from '../../support/fake-acr/index.js';
import {
  acrFor,
  capturingLogger,
  lifecycleBySubject,
  OLD,
  runAnnotate,
  startAcrEnvironment,
  type Scenario,
} from './helpers.js';

/** On the fake ACR: what the listing cannot tell must not be marked. */

let env: Awaited<ReturnType<typeof startAcrEnvironment>> | undefined;
afterEach(async () => {
  await env?.close();
  env = undefined;
});

function imageInfo(repo: string, platforms: string[], indexes: string[] = []): Scenario {
  const dir = mkdtempSync(join(tmpdir(), 'acr-safety-'));
  const path = join(dir, 'image-info.json');
  writeFileSync(
    path,
    JSON.stringify({
      schemaVersion: '2.0',
      repos: [
        {
          repo,
          images: [
            ...platforms.map((d) => ({
              platforms: [{ digest: `mcr.microsoft.com/${repo}@${d}`, simpleTags: [] }],
            })),
            ...indexes.map((d) => ({
              manifest: { digest: `mcr.microsoft.com/${repo}@${d}`, sharedTags: [] },
              platforms: [],
            })),
          ],
        },
      ],
    }),
  );
  return {
    dir,
    imageInfo: path,
    supported: [],
    orphans: [],
    young: '',
    annotatedBefore: '',
    signatureOnSupported: '',
  };
}

describe('ACR annotation safety', () => {
  it('never annotates an image manifest that carries a subject (a referrer pushed as an image)', async () => {
    env = await startAcrEnvironment();
    const fake: FakeAcr = env.fake;
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
    env = await startAcrEnvironment();
    const fake = env.fake;
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
