import { readAnnotationDate } from './date.js';
import { MediaType, type Descriptor, type LifecycleMark } from './oci.js';

export const LIFECYCLE_ARTIFACT_TYPE = 'application/vnd.microsoft.artifact.lifecycle';
export const EOL_DATE_ANNOTATION = 'vnd.microsoft.artifact.lifecycle.end-of-life.date';

/** The OCI empty descriptor (`{}`), used as config and as the single layer. */
export const EMPTY_DESCRIPTOR = {
  mediaType: MediaType.ociEmpty,
  digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
  size: 2,
  data: 'e30=',
} as const;

export const EMPTY_BLOB = new TextEncoder().encode('{}');

/**
 * Deterministic (no timestamps, fixed key order): every run and concurrent annotator makes the same
 * digest, so a registry stores one referrer, not one per attempt (invariant 4).
 */
export function lifecycleManifestJson(subject: Descriptor, eolDate: string): string {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: LIFECYCLE_ARTIFACT_TYPE,
    config: EMPTY_DESCRIPTOR,
    layers: [EMPTY_DESCRIPTOR],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { [EOL_DATE_ANNOTATION]: eolDate },
  };
  return JSON.stringify(manifest);
}

/** Reads the EOL date from a referrer descriptor (the referrers API copies annotations). */
export function lifecycleMarkOf(referrer: Descriptor): LifecycleMark | undefined {
  if (referrer.artifactType !== LIFECYCLE_ARTIFACT_TYPE) return undefined;
  const date = readAnnotationDate(referrer.annotations?.[EOL_DATE_ANNOTATION]);
  return { digest: referrer.digest, date };
}
