import type { TokenCredential } from '@azure/core-auth';
import { RuntimeError } from '../../core/errors.js';
import type { Descriptor, ManifestRecord } from '../../core/oci.js';
import { silentLogger, type Logger } from '../../core/ports.js';
import { sha256Digest } from '../../util/hash.js';
import type { RetryPolicy } from '../../util/http.js';
import type { Throttle } from '../../util/throttle.js';
import { factsOf, ManifestCache } from '../manifest-cache.js';
import { IMAGE_CONFIG_TYPES } from '../media-types.js';
import type { PushOutcome, ReferrerManifest, Registry, UnmarkOutcome } from '../port.js';
import { RegistryCache, saveCaches, type RegistryCacheLocation } from '../registry-cache.js';
import { acrCacheTransport } from './cache-transport.js';
import { AcrClient } from './client.js';
import { normalizeEndpoint } from './endpoint.js';
import { listRepositories, ManifestListing } from './listing.js';
import { Pushes } from './pushes.js';
import { referrersFromApi, ReferrerSnapshot } from './referrers.js';

export interface AcrRegistryOptions {
  /** `myacr.azurecr.io` or `https://host[:port]`. HTTPS only. */
  endpoint: string;
  /** undefined: anonymous access (read-only commands on registries that allow anonymous pull). */
  credential: TokenCredential | undefined;
  /** The credential type for errors, e.g. `DefaultAzureCredential` (see createAcrCredential). */
  credentialName?: string;
  /** Token audience (sovereign clouds, or the ARM audience); default `https://containerregistry.azure.net`. */
  audience?: string;
  /** Registry calls in flight at once (default 8). */
  concurrency?: number;
  /** Cap on HTTP requests per minute, all classes together (used when no `throttle` is given). */
  maxRequestsPerMinute?: number;
  /**
   * The per-class request budgets (util/throttle.ts), shared by every client of the process;
   * default: this adapter's own, optimistic, capped by `maxRequestsPerMinute`.
   */
  throttle?: Throttle;
  retry?: RetryPolicy;
  logger?: Logger;
  /**
   * Digest-keyed cache of what manifests are (see ManifestCache): a file path the pipeline
   * caches between runs, or an instance. Default: in memory for this process only.
   */
  manifestCache?: string | ManifestCache;
  /** Extra trusted CA certificates (PEM), for registries behind a private CA. NODE_EXTRA_CA_CERTS works too. */
  ca?: string;
  /** Listing page size (`n`); default 1000. */
  pageSize?: number;
  /**
   * Where `listReferrers` looks for a repository this adapter has listed: `listing` (default)
   * answers from that complete listing, since ACR keeps a subject's referrers in its
   * repository; `api` always asks the referrers API. Unlisted repositories always use the API.
   */
  referrersSource?: 'listing' | 'api';
  /**
   * The registry-held copy of the manifest cache (a repository, one tag per group): loaded on
   * the first listing, written by `flush()`. The repository is never listed for annotation.
   */
  registryCache?: RegistryCacheLocation;
}

/**
 * The Registry port on Azure Container Registry, through @azure/container-registry (client.ts):
 * the listing format (listing.ts), the referrers from a listing or the API (referrers.ts),
 * pushes (pushes.ts) and the registry-held cache (cache-transport.ts).
 */
export class AcrRegistry implements Registry {
  readonly displayName: string;
  private readonly client: AcrClient;
  private readonly logger: Logger;
  private readonly cache: ManifestCache;
  private readonly pageSize: number;
  private readonly listing: ManifestListing;
  private readonly pushes: Pushes;
  private readonly referrersSource: 'listing' | 'api';
  private readonly snapshots = new Map<string, ReferrerSnapshot>();
  private readonly registryCache?: RegistryCache;
  /** Manifests whose body carries a `subject`: referrers, never subjects of a lifecycle mark. */
  private readonly referrerBodies = new Set<string>();

  constructor(options: AcrRegistryOptions) {
    const endpoint = normalizeEndpoint(options.endpoint);
    const concurrency = options.concurrency ?? 8;
    this.logger = options.logger ?? silentLogger;
    this.pageSize = options.pageSize ?? 1000;
    this.referrersSource = options.referrersSource ?? 'listing';
    this.client = new AcrClient({
      endpoint,
      credential: options.credential,
      credentialName:
        options.credentialName ??
        (options.credential ? options.credential.constructor.name : 'anonymous access'),
      audience: options.audience,
      concurrency,
      maxRequestsPerMinute: options.maxRequestsPerMinute,
      throttle: options.throttle,
      retry: options.retry,
      logger: this.logger,
      ca: options.ca,
    });
    this.displayName = this.client.displayName;
    this.cache =
      options.manifestCache instanceof ManifestCache
        ? options.manifestCache
        : options.manifestCache
          ? ManifestCache.open(options.manifestCache, this.logger)
          : ManifestCache.memory();
    this.listing = new ManifestListing(
      this.client,
      this.cache,
      this.logger,
      this.pageSize,
      concurrency,
    );
    this.pushes = new Pushes(this.client);
    if (options.registryCache) {
      this.registryCache = new RegistryCache(
        acrCacheTransport(this.client, this.pushes),
        options.registryCache,
        this.cache,
        this.logger,
        this.displayName,
      );
    }
  }

  /** HTTP requests sent (retries, challenges and token exchanges included). */
  get requests(): number {
    return this.client.requests;
  }

  listRepositories(): Promise<string[] | undefined> {
    return listRepositories(this.client, this.pageSize, this.logger, (n) =>
      this.isCacheRepository(n),
    );
  }

  async listManifests(repository: string): Promise<ManifestRecord[]> {
    // The cache's own repository holds no images: never a source of candidates.
    if (this.isCacheRepository(repository)) return [];
    await this.registryCache?.load();
    const listed = await this.listing.list(repository);
    if (!listed) return [];
    this.snapshots.set(repository, ReferrerSnapshot.of(listed.records, listed.facts));
    // ACR lists every manifest with its push time: the group's memory keeps only the repository.
    if (listed.records.length > 0) this.registryCache?.memory.rememberRepository(repository);
    return listed.records;
  }

  /**
   * A GET, not a HEAD (same count): the body tells whether the manifest is itself a referrer
   * (an image pushed with a `subject`, which the listing shows as a plain image). Such a
   * manifest is never annotated (see pushReferrer).
   */
  async describeManifest(repository: string, digest: string): Promise<Descriptor | undefined> {
    const key = `${repository}@${digest}`;
    const known = this.listing.sizes.get(key);
    let facts = this.cache.get(digest);
    let served: string | undefined;
    if (!facts) {
      if (known) return { mediaType: known.mediaType, digest, size: known.size };
      const got = await this.client.getManifest(repository, digest);
      if (!got) return undefined;
      if (sha256Digest(got.content) !== digest)
        throw new RuntimeError(`${this.displayName}: manifest ${key} does not match its digest`);
      // Not kept in the cache: a candidate's body is read once, when it is annotated.
      facts = factsOf(digest, got.content, got.mediaType);
      served = got.mediaType;
    }
    if (facts.subject) this.referrerBodies.add(key);
    const mediaType = known?.mediaType ?? facts.mediaType ?? served;
    if (!mediaType)
      throw new RuntimeError(`${this.displayName}: manifest ${key} has no media type`);
    this.listing.sizes.set(key, { mediaType, size: facts.size });
    return { mediaType, digest, size: facts.size };
  }

  async imageCreated(repository: string, digest: string): Promise<string | undefined> {
    const manifest = await this.client.getManifest(repository, digest);
    const config = (manifest?.manifest as { config?: Descriptor } | undefined)?.config;
    if (!config || !IMAGE_CONFIG_TYPES.has(config.mediaType)) return undefined;
    const blob = await this.client.getBlob(
      repository,
      config.digest,
      `get config ${repository}@${config.digest}`,
    );
    if (!blob) return undefined;
    try {
      const created = (JSON.parse(blob.toString('utf8')) as { created?: unknown }).created;
      return typeof created === 'string' && !Number.isNaN(Date.parse(created))
        ? created
        : undefined;
    } catch {
      return undefined;
    }
  }

  async listReferrers(
    repository: string,
    subject: string,
    artifactType?: string,
  ): Promise<Descriptor[]> {
    const snapshot =
      this.referrersSource === 'listing' ? this.snapshots.get(repository) : undefined;
    if (snapshot) return snapshot.referrersOf(subject, artifactType);
    return referrersFromApi(this.client, repository, subject, artifactType);
  }

  async pushReferrer(
    repository: string,
    subject: Descriptor,
    manifest: ReferrerManifest,
  ): Promise<PushOutcome> {
    if (this.referrerBodies.has(`${repository}@${subject.digest}`)) {
      this.logger.warning(
        `${this.displayName}/${repository}@${subject.digest}: its manifest carries a subject (it is a referrer); not annotated`,
      );
      return 'subject-is-a-referrer';
    }
    const bytes = await this.pushes.pushReferrer(repository, subject.digest, manifest);
    const facts = this.cache.put(manifest.digest, bytes, manifest.mediaType);
    this.snapshots.get(repository)?.add(subject.digest, {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: bytes.byteLength,
      artifactType: manifest.artifactType,
      annotations: { ...(facts?.annotations ?? manifest.annotations) },
    });
    return 'pushed';
  }

  async deleteReferrer(
    repository: string,
    subject: string,
    referrer: string,
  ): Promise<UnmarkOutcome> {
    await this.client.deleteManifest(repository, referrer, `delete ${repository}@${referrer}`);
    // Gone from the registry: a saved cache copy leaves it out (the next run cannot list it).
    this.cache.forget(referrer);
    this.snapshots.get(repository)?.remove(subject, referrer);
    return 'deleted';
  }

  /** Flushes and closes the manifest cache file. */
  close(): void {
    this.cache.close();
  }

  /** Writes the registry-held cache when this run learnt something. Never throws: a lost cache costs requests. */
  async flush(): Promise<void> {
    await saveCaches(
      this.registryCache,
      this.cache,
      (m) => this.logger.warning(m),
      this.displayName,
    );
  }

  async rememberedRepositories(): Promise<string[] | undefined> {
    return this.registryCache?.rememberedRepositories();
  }

  private isCacheRepository(name: string): boolean {
    return this.registryCache?.location.repository === name;
  }
}
