import { parseImageInfo } from '../core/image-info.js';
import type { Logger } from '../core/ports.js';
import { supportedSet } from '../core/supported.js';
import type { ImageInfoSource } from '../imageinfo/source.js';

/** What older versions of the image-info named, in registry terms. */
export interface History {
  repositories: Set<string>;
  /** Per registry repository. */
  digests: Map<string, Set<string>>;
  /** Sources without a history: what this run cannot see because of it. */
  notes: string[];
  versions: number;
}

/**
 * Up to `depth` versions of each git-kept image-info, newest first: on a first run against a
 * tags-only registry, each digest they named is asked for, so earlier builds' untagged images
 * become candidates. Unparsable versions are skipped; an unreadable history only warns, since it
 * adds candidates, never protection.
 */
export async function readHistory(
  sources: ImageInfoSource[],
  repoPrefix: string,
  depth: number,
  logger: Logger,
): Promise<History> {
  const history: History = { repositories: new Set(), digests: new Map(), notes: [], versions: 0 };
  for (const source of sources) {
    if (!source.history) {
      history.notes.push(
        `${source.name} is not kept in git, so untagged images from before this group's first run cannot be seen on this registry`,
      );
      continue;
    }
    let versions;
    try {
      versions = await source.history(depth);
    } catch (e) {
      logger.warning(
        `${source.name}: its history was not read (${(e as Error).message}); untagged images older versions named are not looked for this time`,
      );
      continue;
    }
    for (const version of versions) {
      let seen;
      try {
        seen = supportedSet(
          [parseImageInfo(version.text, `${source.name}@${version.revision}`)],
          repoPrefix,
        );
      } catch (e) {
        logger.debug(`${source.name}@${version.revision}: skipped (${(e as Error).message})`);
        continue;
      }
      history.versions++;
      for (const r of seen.repositories) history.repositories.add(r);
      for (const ref of seen.digests.values()) {
        let digests = history.digests.get(ref.registryRepository);
        if (!digests) history.digests.set(ref.registryRepository, (digests = new Set()));
        digests.add(ref.digest);
      }
    }
    logger.info(`${source.name}: ${versions.length} older version(s) read for digests they named`);
  }
  return history;
}
