/** OCI / Docker media types and the descriptor shape shared by core and adapters. */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
} as const;

/** Every manifest media type we read; sent as `Accept` so the registry never converts. */
export const MANIFEST_MEDIA_TYPES = [
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
];

export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** One manifest as the registry's inventory knows it. */
export interface ManifestRecord {
  repository: string;
  digest: string;
  mediaType: string;
  /** Byte size of the manifest; needed for a subject descriptor. Unknown from some listings. */
  size?: number;
  tags: string[];
  /** Registry creation time (ISO 8601), when the registry records one. */
  created?: string;
  /**
   * When the group first saw it (ISO 8601), where the registry records no push time: a manifest
   * is never older than that (never seen before: seen now).
   */
  firstSeen?: string;
  configMediaType?: string;
  artifactType?: string;
  /** Digest of the manifest this one refers to: set for signatures, SBOMs, lifecycle marks. */
  subject?: string;
  /** Digests an index references. */
  children?: string[];
}

/** A lifecycle referrer found on a subject. */
export interface LifecycleMark {
  digest: string;
  /** `yyyy-MM-dd`, or undefined when the annotation is missing or unreadable. */
  date?: string;
}
