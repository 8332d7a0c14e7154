import { assertDigest, isDigest, isRepositoryName } from '../../core/digest.js';
import { InputError } from '../../core/errors.js';
import type { Descriptor, ManifestRecord } from '../../core/oci.js';
import { silentLogger, type Logger } from '../../core/ports.js';
import type { RetryPolicy } from '../../util/http.js';
import type { Registry, ReferrerManifest } from '../port.js';
import { OciClient } from './client.js';
import * as inventory from './inventory.js';
import * as manifests from './manifests.js';
import { Referrers } from './referrers.js';

export interface OciRegistryOptions {
  /** Base URL, e.g. `https://registry.example.com` or `http://127.0.0.1:5000` (loopback only). */
  url: string;
  username?: string;
  password?: string;
  /** OAuth2 refresh token for the token endpoint (a Docker config's `identitytoken`). */
  refreshToken?: string;
  retry?: RetryPolicy;
  logger?: Logger;
  /** Manifest GETs in flight during `listManifests` (default 8). */
  concurrency?: number;
  /** `n` for catalog and tag pages (default 1000, the most distribution accepts). */
  pageSize?: number;
}

/** Any OCI distribution registry: referrers API where present, `sha256-<hex>` tag fallback otherwise. */
export class OciRegistry implements Registry {
  readonly displayName: string;
  private readonly client: OciClient;
  private readonly referrers: Referrers;
  private readonly concurrency: number;
  private readonly pageSize: number;

  constructor(options: OciRegistryOptions) {
    this.client = new OciClient(
      options.url,
      {
        username: options.username,
        password: options.password,
        refreshToken: options.refreshToken,
      },
      options.retry,
      options.logger ?? silentLogger,
    );
    this.displayName = this.client.host;
    this.referrers = new Referrers(this.client);
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
    this.pageSize = Math.min(1000, Math.max(1, Math.floor(options.pageSize ?? 1000)));
  }

  async listRepositories(): Promise<string[] | undefined> {
    return inventory.listRepositories(this.client, this.pageSize);
  }

  async listManifests(repository: string): Promise<ManifestRecord[]> {
    return inventory.listManifests(this.client, repo(repository), this.pageSize, this.concurrency);
  }

  async describeManifest(repository: string, digest: string): Promise<Descriptor | undefined> {
    return manifests.describeManifest(
      this.client,
      repo(repository),
      assertDigest(digest, 'digest'),
    );
  }

  async imageCreated(repository: string, digest: string): Promise<string | undefined> {
    return inventory.imageCreated(this.client, repo(repository), assertDigest(digest, 'digest'));
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
  ): Promise<void> {
    return this.referrers.push(
      repo(repository),
      { ...subject, digest: assertDigest(subject.digest, 'subject') },
      manifest,
    );
  }

  async deleteReferrer(repository: string, subject: string, referrer: string): Promise<void> {
    return this.referrers.delete(
      repo(repository),
      assertDigest(subject, 'subject'),
      assertDigest(referrer, 'referrer'),
    );
  }

  // Helpers for seeding and tests; not part of the Registry port. Every method is async so
  // that input errors (bad names, digests) arrive as rejections, like every other failure.

  async listTags(repository: string): Promise<string[]> {
    return inventory.listTags(this.client, repo(repository), this.pageSize);
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
