import { lifecycleReferrer } from '../../src/registry/lifecycle-referrer.js';
import { writeFile } from 'node:fs/promises';
import type { Descriptor } from '../../src/core/oci.js';
import type { OciRegistry } from '../../src/registry/oci/index.js';
import { pushCosignSignature, pushImage, pushIndex, pushNotationSignature } from './seed.js';

/**
 * The integration scenario of the core issue: several repositories (one nested), tagged
 * images, an index with untagged children, an orphaned index sharing a child with a supported
 * one, a cosign `.sig` tag, a notation referrer, an older lifecycle mark, a syndicated copy.
 */
export interface Scenario {
  imageInfo: string;
  repoPrefix: string;
  /** `repo@digest` of everything that must end up marked by one annotate run. */
  orphans: string[];
  /** `repo@digest` of everything that must never be marked. */
  protected: string[];
  supportedImage: { repository: string; descriptor: Descriptor };
  preAnnotated: { repository: string; digest: string; date: string };
}

const APP = 'public/dotnet/app';
const BASE = 'public/dotnet/monitor/base';
const COPY = 'public/dotnet/app-copy';

export async function seedScenario(reg: OciRegistry, seed = 's'): Promise<Scenario> {
  const img = (repo: string, name: string, tag?: string, docker = false) =>
    pushImage(reg, repo, {
      seed: `${seed}:${repo}:${name}`,
      tag,
      docker,
      created: '2024-05-01T00:00:00Z',
    });
  const key = (repo: string, d: Descriptor) => `${repo}@${d.digest}`;

  const supported = await img(APP, 'supported', '8.0-amd64');
  const orphan = await img(APP, 'orphan', '8.0-amd64-old');
  const dockerOrphan = await img(APP, 'docker-orphan', '7.0', true);
  const older = await img(APP, 'older', '6.0');
  const sig = await pushCosignSignature(reg, APP, supported.digest);
  const notation = await pushNotationSignature(reg, APP, supported);

  const c1 = await img(BASE, 'c1');
  const c2 = await img(BASE, 'c2');
  const c3 = await img(BASE, 'c3');
  const supportedIndex = await pushIndex(reg, BASE, [c1, c2], 'latest');
  const orphanIndex = await pushIndex(reg, BASE, [c2, c3], 'previous');

  const copy = await img(COPY, 'supported');
  await reg.putManifest(
    COPY,
    'copy',
    (await reg.getManifest(COPY, copy.digest))!.bytes,
    copy.mediaType,
  );
  const copyOrphan = await img(COPY, 'orphan', 'stale');

  // A mark placed by an older tool, with a full timestamp as its date.
  const date = '2025-01-15T00:00:00Z';
  await reg.pushReferrer(APP, older, lifecycleReferrer(older, date));

  const mcr = (repo: string, d: Descriptor) =>
    `mcr.microsoft.com/${repo.replace(/^public\//, '')}@${d.digest}`;
  const imageInfo = JSON.stringify(
    {
      schemaVersion: '2.0',
      repos: [
        {
          repo: 'dotnet/app',
          images: [
            {
              platforms: [
                {
                  dockerfile: 'src/app/Dockerfile',
                  simpleTags: ['8.0-amd64'],
                  digest: mcr(APP, supported),
                  syndicatedDigests: [mcr(COPY, copy)],
                  osType: 'Linux',
                  architecture: 'amd64',
                },
              ],
            },
          ],
        },
        {
          repo: 'dotnet/monitor/base',
          images: [
            {
              manifest: { digest: mcr(BASE, supportedIndex), sharedTags: ['latest'] },
              platforms: [],
            },
          ],
        },
      ],
    },
    null,
    2,
  );
  return {
    imageInfo,
    repoPrefix: 'public/',
    orphans: [
      key(APP, orphan),
      key(APP, dockerOrphan),
      key(BASE, orphanIndex),
      key(BASE, c3),
      key(COPY, copyOrphan),
    ].sort(),
    protected: [
      key(APP, supported),
      key(APP, sig),
      key(APP, notation),
      key(BASE, c1),
      key(BASE, c2),
      key(BASE, supportedIndex),
      key(COPY, copy),
    ],
    supportedImage: { repository: APP, descriptor: supported },
    preAnnotated: { repository: APP, digest: older.digest, date },
  };
}

/**
 * Writes an image-info file at `path` that lists `supported` (each an image of its own with
 * one platform) as the images of `repo`.
 */
export async function writeImageInfo(
  path: string,
  repo: string,
  supported: Descriptor[],
): Promise<void> {
  await writeFile(path, imageInfoText({ [repo]: supported }));
}

/** An image-info that lists, per repository, each descriptor as an image with one platform. */
export function imageInfoText(repos: Record<string, Descriptor[]>): string {
  return JSON.stringify({
    schemaVersion: '2.0',
    repos: Object.entries(repos).map(([repo, supported]) => ({
      repo,
      images: supported.map((d, i) => ({
        platforms: [
          {
            dockerfile: `src/${i}/Dockerfile`,
            simpleTags: [`tag-${i}`],
            digest: `mcr.microsoft.com/${repo}@${d.digest}`,
            osType: 'Linux',
            architecture: 'amd64',
          },
        ],
      })),
    })),
  });
}

/** An image-info that lists, per repository, one image whose platforms are `digests`. */
export function imageInfoOfDigests(repos: Iterable<[string, string[]]>): string {
  return JSON.stringify({
    schemaVersion: '2.0',
    repos: [...repos].map(([repo, digests]) => ({
      repo,
      images: [
        {
          platforms: digests.map((d) => ({
            digest: `mcr.microsoft.com/${repo}@${d}`,
            simpleTags: [],
          })),
        },
      ],
    })),
  });
}
