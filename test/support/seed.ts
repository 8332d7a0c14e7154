/** Seeds realistic content into a registry through OciRegistry. Deterministic for a given seed. */
import { createHash } from 'node:crypto';
import { fallbackTag } from '../../src/core/digest.js';
import { EMPTY_BLOB, EMPTY_DESCRIPTOR } from '../../src/core/lifecycle.js';
import { MediaType, type Descriptor } from '../../src/core/oci.js';
import { silentLogger } from '../../src/core/ports.js';
import { OciRegistry, type OciRegistryOptions } from '../../src/registry/oci/index.js';
import { sha256Digest } from '../../src/util/hash.js';

/** The registry at `url` (loopback http is fine), logging nowhere. */
export function ociRegistry(url: string, options: Partial<OciRegistryOptions> = {}): OciRegistry {
  return new OciRegistry({ url, logger: silentLogger, ...options });
}

export const NOTATION_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const COSIGN_SIGNATURE_LAYER = 'application/vnd.dev.cosign.simplesigning.v1+json';

const encoder = new TextEncoder();

/** `length` pseudo-random bytes derived from `seed` (sha256 in counter mode). */
export function seededBytes(seed: string, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0, block = 0; i < length; block++) {
    const chunk = createHash('sha256').update(`${seed}:${block}`).digest();
    out.set(chunk.subarray(0, Math.min(chunk.length, length - i)), i);
    i += chunk.length;
  }
  return out;
}

export interface PushImageOptions {
  /** Tag to push to; without one the manifest is pushed by digest (untagged). */
  tag?: string;
  /** The config's `created` (default 2024-01-01T00:00:00Z). */
  created?: string;
  /** Makes the layer, and so every digest, unique and reproducible. */
  seed: string;
  /** Docker v2 media types instead of OCI. */
  docker?: boolean;
  architecture?: string;
  os?: string;
}

/** Pushes a one-layer image (layer blob, config with `created`, manifest); returns its descriptor. */
export async function pushImage(
  reg: OciRegistry,
  repo: string,
  options: PushImageOptions,
): Promise<Descriptor> {
  const docker = options.docker ?? false;
  const layer = seededBytes(`layer:${options.seed}`, 512);
  const layerDigest = await reg.putBlob(repo, layer);
  const config = encoder.encode(
    JSON.stringify({
      created: options.created ?? '2024-01-01T00:00:00Z',
      architecture: options.architecture ?? 'amd64',
      os: options.os ?? 'linux',
      config: { Env: [`SEED=${options.seed}`] },
      rootfs: { type: 'layers', diff_ids: [layerDigest] },
    }),
  );
  const configDigest = await reg.putBlob(repo, config);
  const mediaType = docker ? MediaType.dockerManifest : MediaType.ociManifest;
  const manifest = encoder.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: {
        mediaType: docker
          ? 'application/vnd.docker.container.image.v1+json'
          : 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: [
        {
          mediaType: docker
            ? 'application/vnd.docker.image.rootfs.diff.tar.gzip'
            : 'application/vnd.oci.image.layer.v1.tar+gzip',
          digest: layerDigest,
          size: layer.length,
        },
      ],
    }),
  );
  const digest = await reg.putManifest(
    repo,
    options.tag ?? sha256Digest(manifest),
    manifest,
    mediaType,
  );
  return { mediaType, digest, size: manifest.length };
}

/** Pushes an index (OCI, or a Docker manifest list) of `children`; untagged without `tag`. */
export async function pushIndex(
  reg: OciRegistry,
  repo: string,
  children: Descriptor[],
  tag?: string,
  options: { docker?: boolean } = {},
): Promise<Descriptor> {
  const mediaType = options.docker ? MediaType.dockerManifestList : MediaType.ociIndex;
  const bytes = encoder.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      manifests: children.map((c, i) => ({
        mediaType: c.mediaType,
        digest: c.digest,
        size: c.size,
        platform: { architecture: ['amd64', 'arm64', 'arm', 's390x'][i % 4], os: 'linux' },
      })),
    }),
  );
  const digest = await reg.putManifest(repo, tag ?? sha256Digest(bytes), bytes, mediaType);
  return { mediaType, digest, size: bytes.length };
}

/** A cosign signature: tag `sha256-<hex>.sig`, no `subject` field (cosign's tag scheme). */
export async function pushCosignSignature(
  reg: OciRegistry,
  repo: string,
  subjectDigest: string,
): Promise<Descriptor> {
  const payload = encoder.encode(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': repo },
        image: { 'docker-manifest-digest': subjectDigest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
  const payloadDigest = await reg.putBlob(repo, payload);
  const config = encoder.encode(
    JSON.stringify({
      architecture: '',
      os: '',
      rootfs: { type: 'layers', diff_ids: [payloadDigest] },
    }),
  );
  const configDigest = await reg.putBlob(repo, config);
  const bytes = encoder.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: {
        mediaType: 'application/vnd.oci.image.config.v1+json',
        digest: configDigest,
        size: config.length,
      },
      layers: [
        {
          mediaType: COSIGN_SIGNATURE_LAYER,
          digest: payloadDigest,
          size: payload.length,
          annotations: {
            'dev.cosignproject.cosign/signature': Buffer.from(
              seededBytes(subjectDigest, 64),
            ).toString('base64'),
          },
        },
      ],
    }),
  );
  const digest = await reg.putManifest(
    repo,
    `${fallbackTag(subjectDigest)}.sig`,
    bytes,
    MediaType.ociManifest,
  );
  return { mediaType: MediaType.ociManifest, digest, size: bytes.length };
}

/** A Notation signature: a referrer with `subject`, pushed with pushReferrer (writes the fallback index). */
export async function pushNotationSignature(
  reg: OciRegistry,
  repo: string,
  subject: Descriptor,
): Promise<Descriptor> {
  await reg.putBlob(repo, EMPTY_BLOB);
  const envelope = seededBytes(`notation:${subject.digest}`, 256);
  const envelopeDigest = await reg.putBlob(repo, envelope);
  const annotations = {
    'io.cncf.notary.x509chain.thumbprint#S256': `["${createHash('sha256').update(subject.digest).digest('hex')}"]`,
  };
  const bytes = encoder.encode(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: NOTATION_ARTIFACT_TYPE,
      config: EMPTY_DESCRIPTOR,
      layers: [
        { mediaType: 'application/jose+json', digest: envelopeDigest, size: envelope.length },
      ],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    }),
  );
  const digest = sha256Digest(bytes);
  await reg.pushReferrer(repo, subject, {
    bytes,
    digest,
    mediaType: MediaType.ociManifest,
    artifactType: NOTATION_ARTIFACT_TYPE,
    annotations,
  });
  return {
    mediaType: MediaType.ociManifest,
    digest,
    size: bytes.length,
    artifactType: NOTATION_ARTIFACT_TYPE,
    annotations,
  };
}
