import { isRepositoryName } from '../core/digest.js';
import { InputError } from '../core/errors.js';
import { parseImageInfo, type ImageInfo } from '../core/image-info.js';
import { withPrefix } from '../core/supported.js';
import { sha256Digest } from '../util/hash.js';
import type { ImageInfoSource } from '../imageinfo/source.js';

export interface LoadedImageInfo {
  infos: ImageInfo[];
  /** One fingerprint over every source, in the order given. */
  fingerprint: string;
}

/** The union of every source is supported; with a `repoPrefix`, each name it makes is checked. */
export async function loadImageInfo(
  sources: ImageInfoSource[],
  repoPrefix = '',
): Promise<LoadedImageInfo> {
  const snapshots = await Promise.all(sources.map((s) => s.read()));
  const infos = snapshots.map((snap, i) => parseImageInfo(snap.text, sources[i].name));
  for (const info of infos) assertPrefixedNames(info, repoPrefix);
  return { infos, fingerprint: combinedFingerprint(snapshots.map((s) => s.fingerprint)) };
}

/**
 * The prefix can make a checked name too long for a registry; the error names file and JSON path,
 * before the first write.
 */
export function assertPrefixedNames(info: ImageInfo, repoPrefix: string): void {
  if (!repoPrefix) return;
  const check = (repository: string, path: string) => {
    const name = withPrefix(repoPrefix, repository);
    if (!isRepositoryName(name))
      throw new InputError(
        `${info.source}: ${path}: with the repository prefix ${JSON.stringify(repoPrefix)} the name ` +
          `${JSON.stringify(name.length > 60 ? `${name.slice(0, 57)}...` : name)} is invalid` +
          (name.length > 255 ? ` (longer than 255 characters)` : ''),
      );
  };
  info.repos.forEach((repo, ri) => {
    const at = `repos[${ri}]`;
    check(repo.repo, `${at}.repo`);
    repo.images.forEach((image, ii) => {
      const entries = [
        ...image.platforms.map((p, pi) => [`platforms[${pi}]`, p] as const),
        ...(image.manifest ? [['manifest', image.manifest] as const] : []),
      ];
      for (const [path, { ref, syndicated }] of entries) {
        const base = `${at}.images[${ii}].${path}`;
        check(ref.repository, `${base}.digest`);
        syndicated.forEach((s, si) => check(s.repository, `${base}.syndicatedDigests[${si}]`));
      }
    });
  });
}

/** Step 5. */
export async function readFingerprint(sources: ImageInfoSource[]): Promise<string> {
  const snapshots = await Promise.all(sources.map((s) => s.read()));
  return combinedFingerprint(snapshots.map((s) => s.fingerprint));
}

function combinedFingerprint(parts: string[]): string {
  return parts.length === 1 ? parts[0] : sha256Digest(parts.join('\n'));
}
