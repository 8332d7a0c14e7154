import { RuntimeError } from '../../core/errors.js';
import type { Descriptor } from '../../core/oci.js';
import { sha256Digest } from '../../util/hash.js';
import type { ReferrerManifest } from '../port.js';
import type { AcrClient } from './client.js';
import type { PipelineResponse } from '@azure/core-rest-pipeline';

interface BlobDescriptor extends Descriptor {
  data?: string;
}

/**
 * Writes: a referrer manifest after its config and layers, and the blobs themselves in as few
 * requests as the registry allows.
 */
export class Pushes {
  private readonly blobsPresent = new Set<string>();
  /** Blob checks and uploads in flight or done, per `repo@digest` (single flight). */
  private readonly blobChecks = new Map<string, Promise<void>>();
  /** Per blob digest, a repository known to hold it (a source for cross-repository mounts). */
  private readonly blobHomes = new Map<string, string>();
  /** Whether the registry stores a monolithic `POST ?digest=` upload; undefined: not tried. */
  private monolithicUploads?: boolean;

  constructor(private readonly client: AcrClient) {}

  /** Pushes a referrer of `subject` (by digest): its blobs first, then the manifest. */
  async pushReferrer(repository: string, subject: string, manifest: ReferrerManifest) {
    const bytes = Buffer.from(manifest.bytes);
    if (sha256Digest(bytes) !== manifest.digest)
      throw new Error(`internal: referrer bytes do not match ${manifest.digest}`);
    const parsed = JSON.parse(bytes.toString('utf8')) as {
      config?: BlobDescriptor;
      layers?: BlobDescriptor[];
      subject?: Descriptor;
    };
    if (parsed.subject?.digest !== subject)
      throw new Error(`internal: referrer ${manifest.digest} has another subject`);
    const blobs = new Map<string, BlobDescriptor>();
    for (const b of [parsed.config, ...(parsed.layers ?? [])])
      if (b?.digest) blobs.set(b.digest, b);
    for (const blob of blobs.values()) await this.ensureBlob(repository, blob);

    const stored = await this.client.setManifest(
      repository,
      bytes,
      manifest.mediaType,
      `push referrer ${repository}@${manifest.digest}`,
    );
    if (stored !== manifest.digest) {
      throw new RuntimeError(
        `${this.client.displayName}: pushed ${manifest.digest} but the registry stored ${stored}`,
      );
    }
    return bytes;
  }

  /**
   * The referrer's config and layers exist before its manifest PUT: checked and uploaded once
   * per repository and digest (single flight: concurrent marks share one HEAD and one upload).
   */
  private ensureBlob(repository: string, blob: BlobDescriptor): Promise<void> {
    const key = `${repository}@${blob.digest}`;
    let pending = this.blobChecks.get(key);
    if (!pending) {
      pending = this.putBlobOnce(repository, blob.digest, () => {
        if (!blob.data)
          throw new RuntimeError(
            `${this.client.displayName}: blob ${key} is missing and eol-gate does not have its content`,
          );
        const data = Buffer.from(blob.data, 'base64');
        if (sha256Digest(data) !== blob.digest)
          throw new Error(`internal: embedded data of ${blob.digest} does not match`);
        return data;
      });
      this.blobChecks.set(key, pending);
      // A failure is not remembered: the next mark tries again.
      pending.catch(() => this.blobChecks.delete(key));
    }
    return pending;
  }

  /**
   * Uploads a blob unless `repository` holds it (a HEAD, a read), in as few writes as the
   * registry allows: a cross-repository mount from a repository this adapter saw holding it
   * (`POST ?mount=&from=`, one write), else a monolithic `POST ?digest=` with the body; an
   * answer of 202 (neither done) opens a session that one PUT `?digest=` completes.
   */
  async putBlobOnce(repository: string, digest: string, content: () => Buffer): Promise<void> {
    const key = `${repository}@${digest}`;
    if (this.blobsPresent.has(key)) return;
    const raw = this.client.raw.bind(this.client, repository);
    const blob = `/v2/${repository}/blobs/${digest}`;
    const head = await raw(
      { method: 'HEAD', path: blob, accept: '*/*' },
      `HEAD blob ${key}`,
      [404],
    );
    if (head.status === 404) {
      const data = content();
      const uploads = `/v2/${repository}/blobs/uploads/`;
      const from = this.blobHomes.get(digest);
      const what = `upload blob ${key}`;
      let start: PipelineResponse;
      if (from && from !== repository) {
        const path = `${uploads}?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
        start = await raw(
          { method: 'POST', path, accept: '*/*' },
          `mount blob ${key} from ${from}`,
          [201, 202],
        );
      } else if (this.monolithicUploads !== false) {
        const path = `${uploads}?digest=${encodeURIComponent(digest)}`;
        start = await raw({ method: 'POST', path, accept: '*/*', body: data }, what, [201, 202]);
        this.monolithicUploads = start.status === 201;
      } else {
        start = await raw({ method: 'POST', path: uploads, accept: '*/*' }, what, [202]);
      }
      if (start.status === 202) {
        const location = start.headers.get('location');
        if (!location)
          throw new RuntimeError(
            `${this.client.displayName}: blob upload ${key} answered without a Location`,
          );
        const target = new URL(location, this.client.endpoint);
        target.searchParams.set('digest', digest);
        const path = target.pathname + target.search;
        await raw({ method: 'PUT', path, accept: '*/*', body: data }, what, [201, 204]);
      }
    }
    this.blobsPresent.add(key);
    if (!this.blobHomes.has(digest)) this.blobHomes.set(digest, repository);
  }
}
