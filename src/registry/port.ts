import type { Descriptor, ManifestRecord } from '../core/oci.js';

export type PushOutcome = 'pushed' | 'subject-is-a-referrer';

/**
 * How a lifecycle mark was removed. `deleted`: the manifest DELETE worked. `unlisted`: the
 * registry refuses manifest DELETE (GHCR), so the mark was only removed from the subject's
 * fallback index, which every client reads referrers from there; the lifecycle manifest stays
 * as an unreferenced artifact. `version-deleted`: refused, unlisted, and its package version
 * deleted through the registry's own API.
 */
export type UnmarkOutcome = 'deleted' | 'unlisted' | 'version-deleted';

/** What a removal that was not a plain DELETE did, for logs and summaries. */
export const UNMARK_TEXT: Record<Exclude<UnmarkOutcome, 'deleted'>, string> = {
  unlisted:
    'removed from the referrers index; the lifecycle manifest stays (the registry refuses DELETE)',
  'version-deleted':
    'removed from the referrers index and its package version deleted (the registry refuses DELETE)',
};

/** `; <what happened>` for a removal that was not a plain DELETE, else ''. */
export function unmarkNote(how: UnmarkOutcome | undefined): string {
  return how && how !== 'deleted' ? `; ${UNMARK_TEXT[how]}` : '';
}

export interface ReferrerManifest {
  bytes: Uint8Array;
  digest: string;
  mediaType: string;
  artifactType: string;
  annotations: Record<string, string>;
}

/**
 * What the commands need from a registry. Every method throws on a failure (429, 5xx, reset,
 * timeout) after its retries: an error is never returned as "absent" or "no referrers"
 * (DESIGN invariant 5). `undefined` / `[]` mean the registry answered that.
 */
export interface Registry {
  /** For logs and errors: the registry's host, never credentials. */
  readonly displayName: string;
  /** Every repository, or undefined when the registry does not allow listing its catalog. */
  listRepositories(): Promise<string[] | undefined>;
  /**
   * Every manifest in the repository ([] when it does not exist). Where the registry lists only
   * tagged manifests, also those the group's memory holds and the `known` digests (from the
   * image-info and its history) that the registry confirms it still has, each with `firstSeen`.
   */
  listManifests(repository: string, known?: Iterable<string>): Promise<ManifestRecord[]>;
  /**
   * Repositories the group's memory (the registry-held cache) holds, retired ones included;
   * undefined when there is no memory (no cache repository).
   */
  rememberedRepositories?(): Promise<string[] | undefined>;
  /** Descriptor of one manifest; undefined only when the registry says it does not exist. */
  describeManifest(repository: string, digest: string): Promise<Descriptor | undefined>;
  /** Creation time from the image config, for manifests whose listing had none. */
  imageCreated(repository: string, digest: string): Promise<string | undefined>;
  /** Referrers of `subject`, filtered by artifact type when given. */
  listReferrers(repository: string, subject: string, artifactType?: string): Promise<Descriptor[]>;
  /**
   * Pushes a referrer of `subject` (blobs, manifest, and the fallback index where needed).
   * Idempotent. Pushes nothing (and warns) when `describeManifest` found that the subject's own
   * body carries a `subject`: a referrer pushed as an image is never annotated (invariant 3);
   * the outcome says which happened.
   */
  pushReferrer(
    repository: string,
    subject: Descriptor,
    manifest: ReferrerManifest,
  ): Promise<PushOutcome>;
  /**
   * Deletes a referrer manifest and its fallback-index entry. Idempotent. Where the registry
   * refuses manifest DELETE, the entry still goes (the mark is gone for every client) and the
   * outcome says what became of the manifest.
   */
  deleteReferrer(repository: string, subject: string, referrer: string): Promise<UnmarkOutcome>;
  /**
   * After a run that wrote (never after a dry run): saves what the run learnt to the
   * registry-held cache and closes the cache file. Never throws: a lost cache only costs
   * requests next time.
   */
  flush?(): Promise<void>;
}
