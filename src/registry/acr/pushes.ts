import { RuntimeError } from '../../core/errors.js';
import type { Descriptor } from '../../core/oci.js';
import { sha256Digest } from '../../util/hash.js';
import type { ReferrerManifest } from '../port.js';
import type { AcrClient } from './client.js';
import type { RawRequest } from './raw.js';
import { uploadBlob, type UploadState } from '../blob-upload.js';
import { singleFlight } from '../single-flight.js';

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
  private readonly uploads: UploadState = {};

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

    const what = `push referrer ${repository}@${manifest.digest}`;
    const stored = await this.client.setManifest(repository, bytes, manifest.mediaType, what);
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
    return singleFlight(this.blobChecks, key, () =>
      this.putBlobOnce(repository, blob.digest, () => {
        if (!blob.data)
          throw new RuntimeError(
            `${this.client.displayName}: blob ${key} is missing and eol-gate does not have its content`,
          );
        const data = Buffer.from(blob.data, 'base64');
        if (sha256Digest(data) !== blob.digest)
          throw new Error(`internal: embedded data of ${blob.digest} does not match`);
        return data;
      }),
    );
  }

  /** Uploads a blob unless `repository` holds it (see uploadBlob). */
  async putBlobOnce(repository: string, digest: string, content: () => Uint8Array): Promise<void> {
    const key = `${repository}@${digest}`;
    if (this.blobsPresent.has(key)) return;
    const from = this.blobHomes.get(digest);
    const where = `${this.client.displayName}: blob upload ${key}`;
    const send = (r: Omit<RawRequest, 'accept'>, what: string, ok: number[]) =>
      this.client.raw(repository, { ...r, accept: '*/*' }, what, ok);
    const blob = `/v2/${repository}/blobs/${digest}`;
    const uploads = `/v2/${repository}/blobs/uploads/`;
    const what = `upload blob ${key}`;
    await uploadBlob(
      {
        base: this.client.endpoint,
        exists: async () =>
          (await send({ method: 'HEAD', path: blob }, `HEAD blob ${key}`, [404])).status !== 404,
        post: async (query, ok, body) => {
          const step = query.startsWith('?mount=') ? `mount blob ${key} from ${from}` : what;
          const res = await send({ method: 'POST', path: uploads + query, body }, step, ok);
          return { status: res.status, location: res.headers.get('location') };
        },
        put: async (target, body) => {
          const path = target.pathname + target.search;
          await send({ method: 'PUT', path, body }, what, [201, 204]);
        },
      },
      { repo: repository, digest, from, state: this.uploads, where },
      content,
    );
    this.blobsPresent.add(key);
    if (!this.blobHomes.has(digest)) this.blobHomes.set(digest, repository);
  }
}
