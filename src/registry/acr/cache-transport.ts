import { sha256Digest } from '../../util/hash.js';
import type { CacheTransport } from '../registry-cache.js';
import type { AcrClient } from './client.js';
import type { Pushes } from './pushes.js';

/** The registry-held cache over the SDK's content client (its auth, retries and gate). */
export function acrCacheTransport(client: AcrClient, pushes: Pushes): CacheTransport {
  return {
    getManifest: async (repository, tag) => {
      const got = await client.getManifest(repository, tag, `get cache ${repository}:${tag}`);
      return got && new Uint8Array(got.content);
    },
    getBlob: async (repository, digest) => {
      const blob = await client.getBlob(
        repository,
        digest,
        `get cache blob ${repository}@${digest}`,
      );
      return blob && new Uint8Array(blob);
    },
    putBlob: (repository, bytes) =>
      pushes.putBlobOnce(repository, sha256Digest(bytes), () => Buffer.from(bytes)),
    putManifest: async (repository, tag, bytes, mediaType) => {
      await client.setManifest(
        repository,
        Buffer.from(bytes),
        mediaType,
        `push cache ${repository}:${tag}`,
        tag,
      );
    },
  };
}
