import { assertDigest, isDigest, isRepositoryName } from '../../core/digest.js';
import { InputError } from '../../core/errors.js';
import type { Descriptor, ManifestRecord } from '../../core/oci.js';
import type { Clock, Logger } from '../../core/ports.js';
import type { RetryPolicy } from '../../util/http.js';
import type { PushOutcome, Registry, ReferrerManifest, UnmarkOutcome } from '../port.js';
import type { GhcrPackages } from '../ghcr/packages.js';
import { listPackageManifests } from '../ghcr/inventory.js';
import { OciClient } from './client.js';
import * as inventory from './inventory.js';
import * as manifests from './manifests.js';
import { Referrers } from './referrers.js';
import { addRemembered } from './remembered.js';
import { AdapterCaches, type AdapterCacheOptions } from '../adapter-caches.js';
import { factsOf } from '../manifest-facts.js';
import type { CacheTransport } from '../registry-cache.js';
import { sha256Digest } from '../../util/hash.js';

export interface OciRegistryOptions extends AdapterCacheOptions {
  /** Base URL, e.g. `https://registry.example.com` or `http://127.0.0.1:5000` (loopback only). */
  url: string;
  username?: string;
  password?: string;
  /** OAuth2 refresh token for the token endpoint (a Docker config's `identitytoken`). */
  refreshToken?: string;
  retry?: RetryPolicy;
  /** Sleeps the retries (default `systemClock`). */
  clock?: Clock;
  logger: Logger;
  /** Manifest GETs in flight during `listManifests` (default 8). */
  concurrency?: number;
  /** `n` for catalog and tag pages (default 1000, the most distribution accepts). */
  pageSize?: number;
  /**
   * GHCR: the GitHub Packages API. Listings then hold every package version (untagged ones too,
   * with push times), and marks the registry refuses to DELETE lose their package version.
   */
  packages?: GhcrPackages;
}

/** Any OCI distribution registry: referrers API where present, `sha256-<hex>` tag fallback otherwise. */
export class OciRegistry implements Registry {
  readonly displayName: string;
  private readonly client: OciClient;
  private readonly referrers: Referrers;
  private readonly reader: inventory.InventoryReader;
  private readonly logger: Logger;
  private readonly caches: AdapterCaches;
  /** Config digests the latest listing read, per `repo@digest` (null: not an image). */
  private readonly configs = new Map<string, string | null>();
  /** Per blob digest, a repository known to hold it (a source for cross-repository mounts). */
  private readonly blobHomes = new Map<string, string>();
  private readonly uploads: manifests.UploadState = {};
  private readonly packages?: GhcrPackages;
  readonly flush = () => this.caches.flush();
  readonly rememberedRepositories = async () => this.caches.copy?.rememberedRepositories();

  constructor(options: OciRegistryOptions) {
    this.logger = options.logger;
    this.client = new OciClient(options.url, options, options.retry, this.logger, options.clock);
    this.displayName = this.client.host;

    const location = options.registryCache;
    const pushBlob = (repository: string, bytes: Uint8Array) => this.pushBlob(repository, bytes);
    const registryCache = location && { ...location, repository: repo(location.repository) };
    const caching = { manifestCache: options.manifestCache, registryCache };
    const transport = ociCacheTransport(this.client, pushBlob);
    this.caches = new AdapterCaches(caching, transport, this.logger, this.displayName);
    this.reader = {
      client: this.client,
      cache: this.caches.manifests,
      concurrency: Math.max(1, Math.floor(options.concurrency ?? 8)),
      pageSize: Math.min(1000, Math.max(1, Math.floor(options.pageSize ?? 1000))),
    };
    this.packages = options.packages;
    const removeVersion = options.packages
      ? (repository: string, digest: string) => this.deleteVersion(repository, digest)
      : undefined;
    // Fallback indexes we write are the next listing's tags: known bytes, no GET after a HEAD.
    this.referrers = new Referrers(this.client, this.caches.manifests, pushBlob, removeVersion);
  }

  async listRepositories(): Promise<string[] | undefined> {
    const names = await inventory.listRepositories(this.reader);
    return names?.filter((n) => !this.caches.isCacheRepository(n));
  }

  async listManifests(repository: string, known: Iterable<string> = []): Promise<ManifestRecord[]> {
    if (this.caches.isCacheRepository(repository)) return [];
    await this.caches.copy?.load();
    const listing = this.packages
      ? await listPackageManifests(this.reader, this.packages, repo(repository))
      : await inventory.listManifests(this.reader, repo(repository));
    // Tags show only what is tagged now: the group's memory brings back what lost its tags
    // (the Packages API lists every version, with its push time: only the repository is kept).
    const memory = this.caches.copy?.memory;
    if (memory && this.packages) {
      if (listing.records.length > 0) memory.rememberRepository(repository);
    } else if (memory)
      await addRemembered(this.reader, repository, listing, known, memory, Date.now());
    this.referrers.remember(repository, listing.fallback);
    for (const [digest, config] of listing.configs)
      this.configs.set(`${repository}@${digest}`, config);
    return listing.records;
  }

  /** A GET, not a HEAD (same count): the body tells whether it is a referrer (see AdapterCaches). */
  async describeManifest(repository: string, digest: string): Promise<Descriptor | undefined> {
    // Always asked of the registry: the answer also says the manifest still exists here.
    const name = repo(repository);
    const m = await manifests.getManifest(this.client, name, assertDigest(digest, 'digest'));
    if (!m) return undefined;
    this.caches.described(repository, factsOf(digest, m.bytes, m.mediaType));
    return { mediaType: m.mediaType, digest, size: m.bytes.length };
  }

  async imageCreated(repository: string, digest: string): Promise<string | undefined> {
    const config = this.configs.get(`${repository}@${digest}`);
    const name = repo(repository);
    return inventory.imageCreated(this.reader, name, assertDigest(digest, 'digest'), config);
  }

  async listReferrers(
    repository: string,
    subject: string,
    artifactType?: string,
  ): Promise<Descriptor[]> {
    return this.referrers.list(repo(repository), assertDigest(subject, 'subject'), artifactType);
  }

  async pushReferrer(
    repository: string,
    subject: Descriptor,
    manifest: ReferrerManifest,
  ): Promise<PushOutcome> {
    if (this.caches.isReferrer(repository, subject.digest)) return 'subject-is-a-referrer';
    await this.referrers.push(
      repo(repository),
      { ...subject, digest: assertDigest(subject.digest, 'subject') },
      manifest,
    );
    return 'pushed';
  }

  async deleteReferrer(
    repository: string,
    subject: string,
    referrer: string,
  ): Promise<UnmarkOutcome> {
    return this.referrers.delete(
      repo(repository),
      assertDigest(subject, 'subject'),
      assertDigest(referrer, 'referrer'),
    );
  }

  /** The registry refused a manifest DELETE: its package version goes instead, when it may. */
  private async deleteVersion(repository: string, digest: string): Promise<boolean> {
    const done = await this.packages!.deleteVersion(repository, digest);
    if (!done.deleted)
      this.logger.warning(
        `${repository}@${digest}: the registry refuses manifest DELETE and the package version was not deleted (${done.reason}); it stays as an unreferenced artifact`,
      );
    return done.deleted;
  }

  /**
   * Uploads a blob unless `repository` holds it, mounting it from a repository this process
   * saw holding it (one write), else as the registry allows (see manifests.putBlob).
   */
  private async pushBlob(repository: string, bytes: Uint8Array): Promise<string> {
    const digest = await manifests.putBlob(this.client, repository, bytes, {
      from: this.blobHomes.get(sha256Digest(bytes)),
      state: this.uploads,
    });
    if (!this.blobHomes.has(digest)) this.blobHomes.set(digest, repository);
    return digest;
  }

  // Helpers for seeding and tests; not part of the Registry port. Every method is async so
  // that input errors (bad names, digests) arrive as rejections, like every other failure.

  async listTags(repository: string): Promise<string[]> {
    return inventory.listTags(this.reader, repo(repository));
  }

  async putBlob(repository: string, bytes: Uint8Array): Promise<string> {
    return manifests.putBlob(this.client, repo(repository), bytes);
  }

  async putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<string> {
    return (
      await manifests.putManifest(this.client, repo(repository), ref(reference), bytes, mediaType)
    ).digest;
  }

  async getManifest(
    repository: string,
    reference: string,
  ): Promise<manifests.FetchedManifest | undefined> {
    return manifests.getManifest(this.client, repo(repository), ref(reference));
  }
}

/** Repository names go into URL paths unescaped, so they must match the distribution grammar. */
function repo(name: string): string {
  if (!isRepositoryName(name))
    throw new InputError(`invalid repository name ${JSON.stringify(name)}`);
  return name;
}

function ref(reference: string): string {
  if (isDigest(reference) || /^[\w][\w.-]{0,127}$/.test(reference)) return reference;
  throw new InputError(`invalid tag or digest ${JSON.stringify(reference)}`);
}

/** The registry-held cache over this registry's own client. */
function ociCacheTransport(
  client: OciClient,
  pushBlob: (repository: string, bytes: Uint8Array) => Promise<string>,
): CacheTransport {
  return {
    getManifest: async (repository, tag) =>
      (await manifests.getManifest(client, repository, tag))?.bytes,
    getBlob: async (repository, digest) => {
      const res = await client.found(manifests.blobPath(repository, digest));
      return res && new Uint8Array(await res.arrayBuffer());
    },
    putBlob: async (repository, bytes) => {
      await pushBlob(repository, bytes);
    },
    putManifest: async (repository, tag, bytes, mediaType) => {
      await manifests.putManifest(client, repository, tag, bytes, mediaType);
    },
  };
}
