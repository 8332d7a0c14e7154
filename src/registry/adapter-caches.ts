import type { Logger } from '../core/ports.js';
import { ManifestCache } from './manifest-cache.js';
import type { ManifestFacts } from './manifest-facts.js';
import {
  RegistryCache,
  type CacheTransport,
  type RegistryCacheLocation,
} from './registry-cache.js';

export interface AdapterCacheOptions {
  /** Digest-keyed cache of what manifests are: a file path, or an instance (default: in memory). */
  manifestCache?: string | ManifestCache;
  /**
   * The registry-held copy of that cache (a repository, one tag per group): loaded on the first
   * listing, written by `flush()`. The repository is never listed for annotation.
   */
  registryCache?: RegistryCacheLocation;
}

/**
 * What both adapters keep beside their client: the manifest cache, its registry-held copy, and
 * the manifests whose body carries a `subject` (referrers, never subjects of a lifecycle mark).
 */
export class AdapterCaches {
  readonly manifests: ManifestCache;
  readonly copy?: RegistryCache;
  private readonly referrerBodies = new Set<string>();

  constructor(
    options: AdapterCacheOptions,
    transport: CacheTransport,
    private readonly logger: Logger,
    private readonly where: string,
  ) {
    const file = options.manifestCache;
    this.manifests =
      file instanceof ManifestCache
        ? file
        : file
          ? ManifestCache.open(file, logger)
          : ManifestCache.memory();
    const location = options.registryCache;
    if (location) this.copy = new RegistryCache(transport, location, this.manifests, logger, where);
  }

  /** The cache's own repository holds no images: never a source of candidates. */
  isCacheRepository(name: string): boolean {
    return this.copy?.location.repository === name;
  }

  /** Notes a described manifest: one whose body carries a `subject` is never annotated. */
  described(repository: string, facts: ManifestFacts): void {
    if (facts.subject) this.referrerBodies.add(`${repository}@${facts.digest}`);
  }

  /** True, with a warning, when `digest`'s body carries a subject (see `described`). */
  isReferrer(repository: string, digest: string): boolean {
    if (!this.referrerBodies.has(`${repository}@${digest}`)) return false;
    this.logger.warning(
      `${this.where}/${repository}@${digest}: its manifest carries a subject (it is a referrer); not annotated`,
    );
    return true;
  }

  /** Saves what the run learnt to the registry-held copy, then closes the file. Never throws. */
  async flush(): Promise<void> {
    try {
      await this.copy?.save();
    } catch (e) {
      this.logger.warning(
        `${this.where}: the cache was not saved (${(e as Error).message}); the next run costs more requests`,
      );
    }
    this.manifests.close();
  }
}
