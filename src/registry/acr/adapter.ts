import type { TokenCredential } from '@azure/core-auth';
import { RuntimeError } from '../../core/errors.js';
import type { Descriptor, ManifestRecord } from '../../core/oci.js';
import type { Clock, Logger } from '../../core/ports.js';
import { sha256Digest } from '../../util/hash.js';
import type { RetryPolicy } from '../../util/http.js';
import type { Throttle } from '../../util/throttle.js';
import { AdapterCaches, type AdapterCacheOptions } from '../adapter-caches.js';
import { configCreated, factsOf } from '../manifest-facts.js';
import { IMAGE_CONFIG_TYPES } from '../media-types.js';
import type { PushOutcome, ReferrerManifest, Registry, UnmarkOutcome } from '../port.js';
import type { CacheTransport } from '../registry-cache.js';
import { AcrClient } from './client.js';
import { normalizeEndpoint } from './endpoint.js';
import { ManifestListing } from './listing.js';
import { Pushes } from './pushes.js';
import { referrersFromApi, ReferrerSnapshot } from './referrers.js';

export interface AcrRegistryOptions extends AdapterCacheOptions {
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
  /** Sleeps the retries and the own throttle's pacing (default `systemClock`). */
  clock?: Clock;
  logger: Logger;
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
}

/**
 * The Registry port on Azure Container Registry, through @azure/container-registry (client.ts):
 * the listing format (listing.ts), the referrers from a listing or the API (referrers.ts),
 * pushes (pushes.ts) and the registry-held cache (acrCacheTransport).
 */
export class AcrRegistry implements Registry {
  readonly displayName: string;
  private readonly client: AcrClient;
  private readonly logger: Logger;
  private readonly caches: AdapterCaches;
  private readonly listing: ManifestListing;
  private readonly pushes: Pushes;
  private readonly referrersSource: 'listing' | 'api';
  private readonly snapshots = new Map<string, ReferrerSnapshot>();
  readonly flush = () => this.caches.flush();
  readonly rememberedRepositories = async () => this.caches.copy?.rememberedRepositories();

  constructor(options: AcrRegistryOptions) {
    const endpoint = normalizeEndpoint(options.endpoint);
    const concurrency = options.concurrency ?? 8;
    this.logger = options.logger;
    this.referrersSource = options.referrersSource ?? 'listing';
    this.client = new AcrClient({
      ...options,
      endpoint,
      credentialName:
        options.credentialName ??
        (options.credential ? options.credential.constructor.name : 'anonymous access'),
      concurrency,
    });
    this.displayName = this.client.displayName;
    this.pushes = new Pushes(this.client);
    const transport = acrCacheTransport(this.client, this.pushes);
    this.caches = new AdapterCaches(options, transport, this.logger, this.displayName);
    const { client, caches, logger } = this;
    const pageSize = options.pageSize ?? 1000;
    this.listing = new ManifestListing(client, caches.manifests, logger, pageSize, concurrency);
  }

  listRepositories(): Promise<string[] | undefined> {
    return this.listing.repositories((n) => this.caches.isCacheRepository(n));
  }

  async listManifests(repository: string): Promise<ManifestRecord[]> {
    if (this.caches.isCacheRepository(repository)) return [];
    await this.caches.copy?.load();
    const listed = await this.listing.list(repository);
    if (!listed) return [];
    this.snapshots.set(repository, ReferrerSnapshot.of(listed.records, listed.facts));
    // ACR lists every manifest with its push time: the group's memory keeps only the repository.
    if (listed.records.length > 0) this.caches.copy?.memory.rememberRepository(repository);
    return listed.records;
  }

  /**
   * A GET, not a HEAD (same count): the body tells whether it is a referrer (see AdapterCaches),
   * which the listing shows as a plain image.
   */
  async describeManifest(repository: string, digest: string): Promise<Descriptor | undefined> {
    const key = `${repository}@${digest}`;
    const known = this.listing.sizes.get(key);
    let facts = this.caches.manifests.get(digest);
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
    this.caches.described(repository, facts);
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
    const what = `get config ${repository}@${config.digest}`;
    const blob = await this.client.getBlob(repository, config.digest, what);
    return blob && configCreated(blob.toString('utf8'));
  }

  async listReferrers(
    repository: string,
    subject: string,
    artifactType?: string,
  ): Promise<Descriptor[]> {
    const listed = this.referrersSource === 'listing' && this.snapshots.get(repository);
    if (listed) return listed.referrersOf(subject, artifactType);
    return referrersFromApi(this.client, repository, subject, artifactType);
  }

  async pushReferrer(
    repository: string,
    subject: Descriptor,
    manifest: ReferrerManifest,
  ): Promise<PushOutcome> {
    if (this.caches.isReferrer(repository, subject.digest)) return 'subject-is-a-referrer';
    const bytes = await this.pushes.pushReferrer(repository, subject.digest, manifest);
    const facts = this.caches.manifests.put(manifest.digest, bytes, manifest.mediaType);
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
    this.caches.manifests.forget(referrer);
    this.snapshots.get(repository)?.remove(subject, referrer);
    return 'deleted';
  }
}

/** The registry-held cache over the SDK's content client (its auth, retries and gate). */
function acrCacheTransport(client: AcrClient, pushes: Pushes): CacheTransport {
  return {
    getManifest: async (repository, tag) => {
      const got = await client.getManifest(repository, tag, `get cache ${repository}:${tag}`);
      return got && new Uint8Array(got.content);
    },
    getBlob: async (repository, digest) => {
      const what = `get cache blob ${repository}@${digest}`;
      const blob = await client.getBlob(repository, digest, what);
      return blob && new Uint8Array(blob);
    },
    putBlob: (repository, bytes) =>
      pushes.putBlobOnce(repository, sha256Digest(bytes), () => Buffer.from(bytes)),
    putManifest: async (repository, tag, bytes, mediaType) => {
      const what = `push cache ${repository}:${tag}`;
      await client.setManifest(repository, Buffer.from(bytes), mediaType, what, tag);
    },
  };
}
