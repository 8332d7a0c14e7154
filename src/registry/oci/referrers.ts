import { fallbackTag, isDigest } from '../../core/digest.js';
import { RuntimeError } from '../../core/errors.js';
import { EMPTY_BLOB, EMPTY_DESCRIPTOR } from '../../core/lifecycle.js';
import { MediaType, type Descriptor } from '../../core/oci.js';
import type { ReferrerManifest, UnmarkOutcome } from '../port.js';
import { sha256Digest } from '../../util/hash.js';
import { HttpStatusError } from '../../util/http.js';
import type { FallbackIndex } from './inventory.js';
import type { ManifestCache } from '../manifest-cache.js';
import type { OciClient } from './client.js';
import {
  blobExists,
  deleteManifest,
  getManifest,
  parseManifest,
  putManifest,
  type ManifestJson,
} from './manifests.js';
import { ReferrersApi } from './referrers-api.js';
import { singleFlight } from '../single-flight.js';

/** Read-modify-write attempts on a fallback index before giving up (see `updateFallback`). */
const FALLBACK_WRITE_ATTEMPTS = 4;

/** A fallback index's new entries from its current ones; undefined: nothing to change. */
type Edit = (list: Descriptor[]) => Descriptor[] | undefined;

/** Marks the fallback indexes this product writes, so a superseded one can be deleted. */
export const FALLBACK_INDEX_ANNOTATION = 'vnd.eol-gate.referrers-fallback';

/**
 * Deletes the package version holding a manifest, where the registry refuses manifest DELETE
 * and has its own API for that (GHCR: the GitHub Packages API); true when it was deleted.
 */
type RemoveVersion = (repo: string, digest: string) => Promise<boolean>;

/**
 * Referrers of one registry: the OCI 1.1 referrers API where it exists (referrers-api.ts), and
 * the `sha256-<hex>` tag fallback always (a mark written through either path counts).
 */
export class Referrers {
  private readonly api: ReferrersApi;
  /** Serializes fallback-index updates per tag within this process (no lost updates between our own calls). */
  private readonly locks = new Map<string, Promise<void>>();
  /**
   * Per listed repository: its fallback indexes by subject, as the listing read them (kept up
   * to date by our own writes). A subject without an entry has no fallback tag.
   */
  private readonly snapshots = new Map<string, Map<string, FallbackIndex>>();
  /**
   * Per repository: the empty blob is present (or being uploaded). Concurrent uploads of one
   * blob make distribution's filesystem driver briefly expose a truncated link file, which
   * fails a manifest PUT racing with it, so we upload it once.
   */
  private readonly emptyBlob = new Map<string, Promise<unknown>>();
  /** The registry answered a manifest DELETE with "unsupported" (GHCR): not asked again. */
  private refusesDelete = false;

  /**
   * `cache`: learns every fallback index written or read back, and forgets every manifest
   * deleted (a saved copy must not keep it); `pushBlob`: the registry's shared uploader (mounts,
   * monolithic POSTs); `removeVersion`: where manifest DELETE is refused, removes it another way.
   */
  constructor(
    private readonly client: OciClient,
    private readonly cache: ManifestCache,
    private readonly pushBlob: (repo: string, bytes: Uint8Array) => Promise<string>,
    private readonly removeVersion?: RemoveVersion,
  ) {
    this.api = new ReferrersApi(client);
  }

  /** The fallback indexes a fresh listing of `repo` read; replaces what an earlier one said. */
  remember(repo: string, fallback: Map<string, FallbackIndex>): void {
    this.snapshots.set(repo, fallback);
  }

  async list(repo: string, subject: string, artifactType?: string): Promise<Descriptor[]> {
    const keep = (d: Descriptor | null | undefined): d is Descriptor =>
      !!d && isDigest(d.digest) && (artifactType === undefined || d.artifactType === artifactType);
    const answer = await this.api.list(repo, subject, artifactType);
    const viaTag = (await this.fallbackEntries(repo, subject)).filter(keep);
    if (!answer) return viaTag;
    // Both paths: a mark written to the fallback tag (by a client that found no API, or before
    // the registry gained it) is as real as one the API lists.
    for (const d of viaTag) if (!answer.some((x) => x.digest === d.digest)) answer.push(d);
    return answer;
  }

  /** The fallback index's entries: from the listing when `repo` was listed, else one GET. */
  private async fallbackEntries(repo: string, subject: string): Promise<Descriptor[]> {
    const snapshot = this.snapshots.get(repo);
    if (snapshot) return [...(snapshot.get(subject)?.json.manifests ?? [])];
    const index = await getManifest(this.client, repo, fallbackTag(subject));
    return (index && parseManifest(index.bytes, `${repo}:${fallbackTag(subject)}`).manifests) ?? [];
  }

  async push(repo: string, subject: Descriptor, manifest: ReferrerManifest): Promise<void> {
    if (sha256Digest(manifest.bytes) !== manifest.digest) {
      throw new RuntimeError(
        `referrer manifest for ${repo}@${subject.digest}: bytes do not match ${manifest.digest}`,
      );
    }
    await this.ensureBlobs(repo, parseManifest(manifest.bytes, `referrer ${manifest.digest}`));
    const { digest, bytes, mediaType } = manifest;
    const put = () => putManifest(this.client, repo, digest, bytes, mediaType);
    const { subjectHeader } = await put();
    // `OCI-Subject` in the answer means the registry indexed the referrer itself (spec 1.1).
    if (subjectHeader) {
      this.api.exists = true;
      return;
    }
    const entry: Descriptor = {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.bytes.length,
      artifactType: manifest.artifactType,
      ...(Object.keys(manifest.annotations).length ? { annotations: manifest.annotations } : {}),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.updateFallback(repo, subject.digest, (list) =>
          list.some((d) => d.digest === entry.digest) ? undefined : [...list, entry],
        );
        return;
      } catch (e) {
        // Another process pushing the same (deterministic) referrer makes distribution report it
        // unknown for a moment, and the index PUT that names it fails with 400: push it again.
        if (attempt >= FALLBACK_WRITE_ATTEMPTS || !isBlobUnknown(e)) throw e;
        await put();
      }
    }
  }

  /**
   * Removes the referrer from the fallback index, then deletes its manifest. A registry that
   * refuses manifest DELETE (GHCR) still loses the mark for every client (they read referrers
   * from the fallback index there); the manifest's package version is then deleted when
   * `removeVersion` can, else it stays as an unreferenced artifact (the outcome says which).
   */
  async delete(repo: string, subject: string, referrer: string): Promise<UnmarkOutcome> {
    // Index entry first: if the manifest DELETE then fails, a re-run deletes it; the other
    // order could leave an entry that makes a deleted referrer look present.
    await this.updateFallback(repo, subject, (list) =>
      list.some((d) => d.digest === referrer)
        ? list.filter((d) => d.digest !== referrer)
        : undefined,
    );
    const outcome = await this.deleteOrRemove(repo, referrer);
    this.cache.forget(referrer);
    return outcome;
  }

  /** A manifest DELETE; where refused, its package version through `removeVersion`. */
  private async deleteOrRemove(repo: string, digest: string): Promise<UnmarkOutcome> {
    if (!this.refusesDelete) {
      try {
        await deleteManifest(this.client, repo, digest);
        return 'deleted';
      } catch (e) {
        if (!isDeleteRefused(e)) throw e;
        this.refusesDelete = true;
      }
    }
    if (this.removeVersion && (await this.removeVersion(repo, digest))) return 'version-deleted';
    return 'unlisted';
  }

  /** The config and layer blobs must exist before the manifest PUT; we can create only `{}`. */
  private async ensureBlobs(repo: string, json: ManifestJson): Promise<void> {
    const digests = new Set(
      [json.config?.digest, ...(json.layers ?? []).map((l) => l?.digest)].filter(isDigest),
    );
    for (const digest of digests) {
      if (digest === EMPTY_DESCRIPTOR.digest)
        await singleFlight(this.emptyBlob, repo, () => this.pushBlob(repo, EMPTY_BLOB));
      else if (!(await blobExists(this.client, repo, digest))) {
        throw new RuntimeError(
          `${this.client.host}: blob ${digest} of a referrer in ${repo} does not exist`,
        );
      }
    }
  }

  /**
   * Read-modify-write of the fallback index `sha256-<hex>`. `change` returns the new list, or
   * undefined for "nothing to do". Distribution has no conditional PUT, so a concurrent writer
   * can overwrite our update; we read back and redo it until our change holds. (A write lost
   * after our read-back heals on the next run: the referrer manifest itself is deterministic.)
   */
  private updateFallback(repo: string, subject: string, change: Edit): Promise<void> {
    const key = `${repo}:${fallbackTag(subject)}`;
    const run = (this.locks.get(key) ?? Promise.resolve()).then(() =>
      this.rewriteFallback(repo, subject, change),
    );
    const tail = run.catch(() => {});
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }

  private async rewriteFallback(repo: string, subject: string, change: Edit): Promise<void> {
    const tag = fallbackTag(subject);
    const snapshot = this.snapshots.get(repo);
    for (let attempt = 0; attempt < FALLBACK_WRITE_ATTEMPTS; attempt++) {
      // The first attempt starts from what the listing read (no GET per candidate); every
      // later one, the read-back included, from the registry.
      let current: FallbackIndex | undefined;
      if (attempt === 0 && snapshot) current = snapshot.get(subject);
      else {
        const got = await getManifest(this.client, repo, tag);
        if (got) this.cache.put(got.digest, got.bytes, MediaType.ociIndex);
        current = got && { digest: got.digest, json: parseManifest(got.bytes, `${repo}:${tag}`) };
      }
      const json: ManifestJson = current?.json ?? {};
      const list = dedupe((json.manifests ?? []).filter((d) => d && isDigest(d.digest)));
      const updated = change(list);
      if (!updated) {
        if (current) snapshot?.set(subject, current);
        else snapshot?.delete(subject);
        return;
      }
      // A registry that keeps the emptied index (it refuses DELETE) gets it rewritten empty.
      let kept = false;
      if (updated.length === 0) {
        kept = !!current && (await this.deleteOrRemove(repo, current.digest)) === 'unlisted';
        if (!kept) {
          if (current) this.cache.forget(current.digest);
          snapshot?.delete(subject);
          continue;
        }
      }
      const index: ManifestJson & { schemaVersion: number } = {
        ...json,
        schemaVersion: 2,
        mediaType: MediaType.ociIndex,
        manifests: updated,
        annotations: { ...json.annotations, [FALLBACK_INDEX_ANNOTATION]: 'true' },
      };
      const bytes = new TextEncoder().encode(JSON.stringify(index));
      const { digest } = await putManifest(this.client, repo, tag, bytes, MediaType.ociIndex);
      this.cache.put(digest, bytes, MediaType.ociIndex);
      snapshot?.set(subject, { digest, json: index });
      // The tag has moved: the index it named is now an untagged ghost. Delete it when we wrote
      // it (as oras does); another tool's index is left alone.
      if (
        current &&
        !kept &&
        current.digest !== digest &&
        current.json.annotations?.[FALLBACK_INDEX_ANNOTATION] === 'true'
      ) {
        // Where DELETE is refused and no package version can go, the untagged ghost stays.
        await this.deleteOrRemove(repo, current.digest);
        this.cache.forget(current.digest);
      }
    }
    throw new RuntimeError(
      `${this.client.host}: fallback index ${repo}:${tag} kept changing under concurrent writers`,
    );
  }
}

/**
 * The registry refuses manifest DELETE: 405, or 400/403 with code UNSUPPORTED (GHCR answers
 * 405 `{"errors":[{"code":"UNSUPPORTED"}]}`).
 */
function isDeleteRefused(e: unknown): boolean {
  if (!(e instanceof HttpStatusError) || e.method !== 'DELETE') return false;
  return e.status === 405 || ((e.status === 400 || e.status === 403) && e.code === 'UNSUPPORTED');
}

function isBlobUnknown(e: unknown): boolean {
  return (
    e instanceof HttpStatusError &&
    e.status === 400 &&
    /MANIFEST_BLOB_UNKNOWN|DIGEST_INVALID/.test(e.message)
  );
}

function dedupe(list: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return list.filter((d) => !seen.has(d.digest) && seen.add(d.digest));
}
