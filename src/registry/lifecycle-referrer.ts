import {
  EOL_DATE_ANNOTATION,
  LIFECYCLE_ARTIFACT_TYPE,
  lifecycleManifestJson,
} from '../core/lifecycle.js';
import { MediaType, type Descriptor } from '../core/oci.js';
import { sha256Digest } from '../util/hash.js';
import type { ReferrerManifest } from './port.js';

/** The lifecycle mark of `subject` for `eolDate`, as a registry pushes it (same bytes every time). */
export function lifecycleReferrer(subject: Descriptor, eolDate: string): ReferrerManifest {
  const json = lifecycleManifestJson(subject, eolDate);
  return {
    bytes: new TextEncoder().encode(json),
    digest: sha256Digest(json),
    mediaType: MediaType.ociManifest,
    artifactType: LIFECYCLE_ARTIFACT_TYPE,
    annotations: { [EOL_DATE_ANNOTATION]: eolDate },
  };
}
