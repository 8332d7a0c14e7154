import type { Descriptor, ManifestRecord } from '../core/oci.js';

export type PushOutcome = 'pushed' | 'subject-is-a-referrer';

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
  /** Every manifest reachable in the repository ([] when it does not exist). */
  listManifests(repository: string): Promise<ManifestRecord[]>;
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
  /** Deletes a referrer manifest and its fallback-index entry. Idempotent. */
  deleteReferrer(repository: string, subject: string, referrer: string): Promise<void>;
  /**
   * After a run that wrote (never after a dry run): saves what the run learnt to the
   * registry-held cache and closes the cache file. Never throws: a lost cache only costs
   * requests next time.
   */
  flush?(): Promise<void>;
}
