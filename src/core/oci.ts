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

export interface ManifestRecord {
  repository: string;
  digest: string;
  mediaType: string;
  /** Needed for a subject descriptor; unknown from some listings. */
  size?: number;
  tags: string[];
  /** Registry creation time (ISO 8601), when the registry records one. */
  created?: string;
  /** When the group first saw it, where the registry records no push time: it is no older. */
  firstSeen?: string;
  configMediaType?: string;
  artifactType?: string;
  /** Digest of the manifest this one refers to: set for signatures, SBOMs, lifecycle marks. */
  subject?: string;
  children?: string[];
}

export interface LifecycleMark {
  digest: string;
  /** `yyyy-MM-dd`, or undefined when the annotation is missing or unreadable. */
  date?: string;
}
