import { EMPTY_DESCRIPTOR } from '../../src/core/lifecycle.js';
import { MediaType } from '../../src/core/oci.js';
import type { Plan } from '../../src/core/planner.js';
import { CACHE_ARTIFACT_TYPE, CACHE_LAYER_TYPE } from '../../src/registry/registry-cache.js';

/** The repository that holds the registry-held cache in these tests. */
export const CACHE = 'eol-gate/cache';

/** What a plan decides, comparable across runs. */
export function decisions(plan: Plan) {
  const keys = (list: { repository: string; digest: string }[]) =>
    list.map((e) => `${e.repository}@${e.digest}`).sort();
  return {
    annotate: keys(plan.annotate),
    alreadyAnnotated: keys(plan.alreadyAnnotated),
    tooYoung: keys(plan.tooYoung),
  };
}

/** The manifest of a cache copy whose layer is `layer`, written for `group`. */
export function cacheCopyManifest(layer: { digest: string; size: number }, group: string): string {
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: CACHE_ARTIFACT_TYPE,
    config: EMPTY_DESCRIPTOR,
    layers: [{ mediaType: CACHE_LAYER_TYPE, ...layer }],
    annotations: { 'vnd.eol-gate.cache.group': group },
  });
}
