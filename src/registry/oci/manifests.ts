import { RuntimeError } from '../../core/errors.js';
import { MANIFEST_MEDIA_TYPES, type Descriptor } from '../../core/oci.js';
import { sha256Digest } from '../../util/hash.js';
import { uploadBlob, type UploadRequests, type UploadState } from '../blob-upload.js';
import type { OciClient } from './client.js';

const ACCEPT_MANIFESTS = MANIFEST_MEDIA_TYPES.join(', ');

export interface FetchedManifest {
  bytes: Uint8Array;
  mediaType: string;
  digest: string;
}

/** The fields of a manifest or index that the inventory and referrers code read. */
export interface ManifestJson {
  mediaType?: string;
  artifactType?: string;
  config?: { mediaType?: string; digest?: string };
  layers?: { digest?: string }[];
  subject?: { digest?: string };
  manifests?: Descriptor[];
  annotations?: Record<string, string>;
}

function manifestPath(repo: string, reference: string): string {
  return `/v2/${repo}/manifests/${reference}`;
}

export function blobPath(repo: string, digest: string): string {
  return `/v2/${repo}/blobs/${digest}`;
}

export function parseManifest(bytes: Uint8Array, where: string): ManifestJson {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (json && typeof json === 'object' && !Array.isArray(json)) return json as ManifestJson;
  } catch {
    // fall through
  }
  throw new RuntimeError(`${where}: the registry returned a manifest that is not a JSON object`);
}

/** GET a manifest by tag or digest; undefined only on a 404. */
export async function getManifest(
  client: OciClient,
  repo: string,
  reference: string,
): Promise<FetchedManifest | undefined> {
  const path = manifestPath(repo, reference);
  const res = await client.found(path, { headers: { Accept: ACCEPT_MANIFESTS } });
  if (!res) return undefined;
  const bytes = new Uint8Array(await res.arrayBuffer());
  // The digest is computed from the bytes, never trusted from a header: it is what we annotate.
  const digest = sha256Digest(bytes);
  if (reference.startsWith('sha256:') && digest !== reference) {
    throw new RuntimeError(`${client.host}: manifest ${repo}@${reference} has digest ${digest}`);
  }
  const bodyType = parseManifest(bytes, `${repo}:${reference}`).mediaType;
  const mediaType = bodyType ?? res.headers.get('content-type')?.split(';')[0].trim() ?? '';
  return { bytes, mediaType, digest };
}

export async function putManifest(
  client: OciClient,
  repo: string,
  reference: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<{ digest: string; subjectHeader: boolean }> {
  const digest = sha256Digest(bytes);
  const res = await client.send(manifestPath(repo, reference), [200, 201, 202], {
    method: 'PUT',
    headers: { 'Content-Type': mediaType },
    body: bytes,
  });
  const returned = res.headers.get('docker-content-digest');
  if (returned && returned !== digest) {
    throw new RuntimeError(
      `${client.host}: pushed ${repo} manifest ${digest} but the registry stored ${returned}`,
    );
  }
  return { digest, subjectHeader: res.headers.has('oci-subject') };
}

/**
 * HEAD a manifest by tag: its digest, null when the registry does not say it, undefined on a
 * 404 (the tag is gone).
 */
export async function headManifestDigest(
  client: OciClient,
  repo: string,
  reference: string,
): Promise<string | null | undefined> {
  const res = await client.send(manifestPath(repo, reference), [200, 404], {
    method: 'HEAD',
    headers: { Accept: ACCEPT_MANIFESTS },
  });
  if (res.status === 404) return undefined;
  const digest = res.headers.get('docker-content-digest');
  return digest && /^sha256:[a-f0-9]{64}$/.test(digest) ? digest : null;
}

/** DELETE a manifest by digest; true when deleted, false when it was already absent. */
export async function deleteManifest(
  client: OciClient,
  repo: string,
  digest: string,
): Promise<boolean> {
  const res = await client.send(manifestPath(repo, digest), [200, 202, 204, 404], {
    method: 'DELETE',
  });
  return res.status !== 404;
}

export async function blobExists(
  client: OciClient,
  repo: string,
  digest: string,
): Promise<boolean> {
  const res = await client.send(blobPath(repo, digest), [200, 404], { method: 'HEAD' });
  return res.status === 200;
}

export type { UploadState } from '../blob-upload.js';

/**
 * Uploads a blob unless the repository already holds it (see uploadBlob); its digest. `from`: a
 * repository of this registry known to hold it.
 */
export async function putBlob(
  client: OciClient,
  repo: string,
  bytes: Uint8Array,
  options: { from?: string; state?: UploadState } = {},
): Promise<string> {
  const digest = sha256Digest(bytes);
  const octets = { 'Content-Type': 'application/octet-stream' };
  const requests: UploadRequests = {
    base: client.base,
    exists: () => blobExists(client, repo, digest),
    post: async (query, ok, body) => {
      const res = await client.send(`/v2/${repo}/blobs/uploads/${query}`, ok, {
        method: 'POST',
        ...(body ? { headers: octets, body } : {}),
      });
      return { status: res.status, location: res.headers.get('location') };
    },
    put: async (target, body) => {
      await client.send(target.toString(), [201, 204], { method: 'PUT', headers: octets, body });
    },
  };
  const { from, state = {} } = options;
  const where = `${client.host}: blob upload for ${repo}`;
  await uploadBlob(requests, { repo, digest, from, state, where }, () => bytes, true);
  return digest;
}
