import { supportedRefs, type ImageInfo, type SupportedRef } from './image-info.js';
import { globToRegExp, matchesAny } from './glob.js';

/**
 * Matching is by digest, whatever the repository: a digest the image-info names is never marked
 * under any name (a wrong `repoPrefix` must not make supported images candidates).
 */
export interface SupportedSet {
  digests: Map<string, SupportedRef & { registryRepository: string }>;
  /** Registry repositories the image-info names (after `repoPrefix`), syndicated ones included. */
  repositories: Set<string>;
}

/** `repoPrefix` maps `dotnet/aspnet` to `public/dotnet/aspnet`; a trailing slash is implied. */
export function withPrefix(repoPrefix: string, repository: string): string {
  return repoPrefix ? `${repoPrefix.replace(/\/+$/, '')}/${repository}` : repository;
}

export function supportedSet(infos: ImageInfo[], repoPrefix = ''): SupportedSet {
  const digests: SupportedSet['digests'] = new Map();
  const repositories = new Set<string>();
  for (const info of infos) {
    for (const repo of info.repos) repositories.add(withPrefix(repoPrefix, repo.repo));
    for (const ref of supportedRefs(info)) {
      const registryRepository = withPrefix(repoPrefix, ref.repository);
      repositories.add(registryRepository);
      if (!digests.has(ref.digest)) digests.set(ref.digest, { ...ref, registryRepository });
    }
  }
  return { digests, repositories };
}

/** Scope: the `repositories` globs when given, else every repository the image-info names. */
export function repositoriesInScope(
  all: string[] | undefined,
  supported: SupportedSet,
  globs: string[],
): string[] {
  if (globs.length === 0) return [...supported.repositories].sort();
  const patterns = globs.map(globToRegExp);
  // Literal globs work even where the registry cannot list its catalog.
  const names = new Set(all ?? globs.filter((g) => !/[*?]/.test(g)));
  return [...names].filter((n) => matchesAny(n, patterns)).sort();
}
