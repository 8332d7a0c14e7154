import { isIndexMediaType, MediaType, type Descriptor } from '../core/oci.js';

/**
 * What a manifest *is*, learnt from its bytes. Manifests are content-addressed, so these facts
 * never change for a digest: they cannot go stale.
 */
export interface ManifestFacts {
  digest: string;
  /**
   * The body's `mediaType`, else the one the registry served it with, else what its shape says
   * (`manifests` → OCI index, `config` → OCI manifest); undefined when none of these tells (then
   * the listing's media type is the only one).
   */
  mediaType?: string;
  size: number;
  artifactType?: string;
  configMediaType?: string;
  subject?: Descriptor;
  annotations?: Record<string, string>;
  /** An index's children (`manifests[].digest`). */
  children?: string[];
}

export function factsOf(
  digest: string,
  bytes: Uint8Array | string,
  fallbackMediaType?: string,
): ManifestFacts {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  const size = typeof bytes === 'string' ? Buffer.byteLength(bytes) : bytes.byteLength;
  const json = JSON.parse(text) as {
    mediaType?: string;
    artifactType?: string;
    config?: { mediaType?: string };
    subject?: Descriptor;
    annotations?: Record<string, string>;
    manifests?: { digest?: unknown }[];
  };
  const facts: ManifestFacts = { digest, size };
  if (typeof json.mediaType === 'string') facts.mediaType = json.mediaType;
  else if (fallbackMediaType && plausibleMediaType(fallbackMediaType, json)) {
    facts.mediaType = fallbackMediaType;
    servedMediaType.add(facts);
  } else {
    const shaped = shapeMediaType(json);
    if (shaped) facts.mediaType = shaped;
  }
  if (json.artifactType) facts.artifactType = json.artifactType;
  if (json.config?.mediaType) facts.configMediaType = json.config.mediaType;
  if (json.subject?.digest) {
    facts.subject = {
      mediaType: json.subject.mediaType,
      digest: json.subject.digest,
      size: json.subject.size,
    };
  }
  if (json.annotations && typeof json.annotations === 'object')
    facts.annotations = { ...json.annotations };
  if (Array.isArray(json.manifests)) {
    facts.children = json.manifests
      .map((m) => m?.digest)
      .filter((d): d is string => typeof d === 'string');
  }
  return facts;
}

/** Facts whose media type came from the registry's answer, not from the bytes. */
const servedMediaType = new WeakSet<ManifestFacts>();

export function hasServedMediaType(facts: ManifestFacts): boolean {
  return servedMediaType.has(facts);
}

/** A served media type agrees with the body: an index type exactly when it lists `manifests`. */
function plausibleMediaType(mediaType: string, json: { manifests?: unknown }): boolean {
  return isIndexMediaType(mediaType) === Array.isArray(json.manifests);
}

/** The media type a body without `mediaType` has by its shape (OCI: the field is optional). */
function shapeMediaType(json: { manifests?: unknown; config?: unknown }): string | undefined {
  if (Array.isArray(json.manifests)) return MediaType.ociIndex;
  if (json.config && typeof json.config === 'object') return MediaType.ociManifest;
  return undefined;
}

/** An image config's `created`, when it is a valid date. */
export function configCreated(text: string): string | undefined {
  let created: unknown;
  try {
    created = (JSON.parse(text) as { created?: unknown } | null)?.created;
  } catch {
    return undefined;
  }
  return typeof created === 'string' && !Number.isNaN(Date.parse(created)) ? created : undefined;
}
