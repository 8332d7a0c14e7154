import { fallbackTag, isDigest } from '../../core/digest.js';
import { RuntimeError } from '../../core/errors.js';
import { EMPTY_BLOB, EMPTY_DESCRIPTOR } from '../../core/lifecycle.js';
import { MediaType, type Descriptor } from '../../core/oci.js';
import type { ReferrerManifest, UnmarkOutcome } from '../port.js';
import { sha256Digest } from '../../util/hash.js';
import { HttpError, HttpStatusError } from '../../util/http.js';
import type { FallbackIndex } from './inventory.js';
import { nextLink } from '../links.js';
import { errorCode, httpError, type OciClient } from './client.js';
import {
  blobExists,
  deleteManifest,
  getManifest,
  parseManifest,
  putBlob,
  putManifest,
  type ManifestJson,
} from './manifests.js';

/** Read-modify-write attempts on a fallback index before giving up (see `updateFallback`). */
const FALLBACK_WRITE_ATTEMPTS = 4;

/** Marks the fallback indexes this product writes, so a superseded one can be deleted. */
export const FALLBACK_INDEX_ANNOTATION = 'vnd.eol-gate.referrers-fallback';

/**
 * Deletes the package version holding a manifest, where the registry refuses manifest DELETE
 * and has its own API for that (GHCR: the GitHub Packages API); true when it was deleted.
 */
export type RemoveVersion = (repo: string, digest: string) => Promise<boolean>;

/** What a referrers API request answered: the list, no API, or a 404 that does not tell. */
type ApiAnswer = Descriptor[] | 'no-api' | 'ambiguous';

/**
 * Referrers of one registry: the OCI 1.1 referrers API where it exists, and the `sha256-<hex>`
 * tag fallback always (a mark written through either path counts). Whether the API exists is
 * learnt once per registry, and only from an answer that tells.
 */
export class Referrers {
  /** undefined until a referrers request or a push told us. */
  private api?: boolean;
  /** The lookup probing for the API while `api` is undefined. */
  private probing?: Promise<unknown>;
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
   * `learn`: told the bytes of every fallback index written or read back (for the cache);
   * `forget`: told every manifest deleted (the cache must not keep it as used); `pushBlob`:
   * uploads a blob unless present (the registry's shared uploader: mounts, monolithic POSTs);
   * `removeVersion`: where manifest DELETE is refused, removes the manifest another way.
   */
  constructor(
    private readonly client: OciClient,
    private readonly learn: (digest: string, bytes: Uint8Array) => void = () => {},
    private readonly forget: (digest: string) => void = () => {},
    private readonly pushBlob: (repo: string, bytes: Uint8Array) => Promise<string> = (
      repo,
      bytes,
    ) => putBlob(client, repo, bytes),
    private readonly removeVersion?: RemoveVersion,
  ) {}

  /** The fallback indexes a fresh listing of `repo` read; replaces what an earlier one said. */
  remember(repo: string, fallback: Map<string, FallbackIndex>): void {
    this.snapshots.set(repo, fallback);
  }

  async list(repo: string, subject: string, artifactType?: string): Promise<Descriptor[]> {
    const keep = (d: Descriptor | null | undefined): d is Descriptor =>
      !!d && isDigest(d.digest) && (artifactType === undefined || d.artifactType === artifactType);
    const viaTag = async () => (await this.fallbackEntries(repo, subject)).filter(keep);
    // Until the registry has told whether it has the API, one lookup probes at a time: a 404
    // racing with a concurrent 200 must not teach "no API" (see listViaApi).
    while (this.api === undefined && this.probing) await this.probing.catch(() => {});
    if (this.api === false) return viaTag();
    let answer: ApiAnswer;
    if (this.api === undefined) {
      const probe = this.listViaApi(repo, subject, artifactType);
      this.probing = probe;
      try {
        answer = await probe;
      } finally {
        if (this.probing === probe) this.probing = undefined;
      }
    } else answer = await this.listViaApi(repo, subject, artifactType);
    if (!Array.isArray(answer)) return viaTag();
    // Both paths: a mark written to the fallback tag (by a client that found no API, or before
    // the registry gained it) is as real as one the API lists.
    const out = [...answer];
    for (const d of await viaTag()) if (!out.some((x) => x.digest === d.digest)) out.push(d);
    return out;
  }

  /** The fallback index's entries: from the listing when `repo` was listed, else one GET. */
  private async fallbackEntries(repo: string, subject: string): Promise<Descriptor[]> {
    const snapshot = this.snapshots.get(repo);
    if (snapshot) return [...(snapshot.get(subject)?.json.manifests ?? [])];
    return this.listViaFallback(repo, subject);
  }

  private async listViaApi(
    repo: string,
    subject: string,
    artifactType?: string,
  ): Promise<ApiAnswer> {
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const seen = new Set<string>();
    const out: Descriptor[] = [];
    for (
      let next: string | undefined = this.client.url(`/v2/${repo}/referrers/${subject}${query}`);
      next && !seen.has(next);
    ) {
      const firstPage = seen.size === 0;
      seen.add(next);
      const res = await this.client.request(next, { headers: { Accept: MediaType.ociIndex } });
      if (res.status === 404 && firstPage) {
        // A registry with the API never answers 404 for an existing repository (spec 1.1), but
        // it may for a missing one: that is "no referrers", not "no API".
        const code = await errorCode(res);
        if (code === 'NAME_UNKNOWN') return [];
        // A registry error code (MANIFEST_UNKNOWN: some registries with the API answer so for a
        // subject they do not hold) does not tell whether the API exists: this lookup reads the
        // fallback tag and the next one asks again.
        if (code) return 'ambiguous';
        // No error code: the route does not exist. Only the very first answer may teach "no
        // API". Once the API has answered (or on a later page) a 404 is a failure: reading it as
        // "no API" would make marked digests look unmarked (invariants 4, 5).
        if (this.api === undefined) {
          this.api = false;
          return 'no-api';
        }
        throw new HttpError(404, 'GET', next, '');
      }
      if (!res.ok) throw await httpError(res, 'GET', next);
      this.api = true;
      const index = parseManifest(
        new Uint8Array(await res.arrayBuffer()),
        `${repo} referrers of ${subject}`,
      );
      // Filter ourselves unless the registry says it applied the artifactType filter.
      const applied = (res.headers.get('oci-filters-applied') ?? '')
        .split(',')
        .map((s) => s.trim());
      const filterHere = artifactType !== undefined && !applied.includes('artifactType');
      for (const d of index.manifests ?? []) {
        if (d && isDigest(d.digest) && (!filterHere || d.artifactType === artifactType))
          out.push(d);
      }
      const link = nextLink(res.headers.get('link'));
      next = link ? new URL(link, next).toString() : undefined;
    }
    return out;
  }

  private async listViaFallback(repo: string, subject: string): Promise<Descriptor[]> {
    const index = await getManifest(this.client, repo, fallbackTag(subject));
    if (!index) return [];
    return parseManifest(index.bytes, `${repo}:${fallbackTag(subject)}`).manifests ?? [];
  }

  async push(repo: string, subject: Descriptor, manifest: ReferrerManifest): Promise<void> {
    if (sha256Digest(manifest.bytes) !== manifest.digest) {
      throw new RuntimeError(
        `referrer manifest for ${repo}@${subject.digest}: bytes do not match ${manifest.digest}`,
      );
    }
    await this.ensureBlobs(repo, parseManifest(manifest.bytes, `referrer ${manifest.digest}`));
    const { subjectHeader } = await putManifest(
      this.client,
      repo,
      manifest.digest,
      manifest.bytes,
      manifest.mediaType,
    );
    // `OCI-Subject` in the answer means the registry indexed the referrer itself (spec 1.1).
    if (subjectHeader) {
      this.api = true;
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
        await putManifest(this.client, repo, manifest.digest, manifest.bytes, manifest.mediaType);
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
    this.forget(referrer);
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
      if (digest === EMPTY_DESCRIPTOR.digest) {
        let pending = this.emptyBlob.get(repo);
        if (!pending) {
          pending = this.pushBlob(repo, EMPTY_BLOB);
          this.emptyBlob.set(repo, pending);
          pending.catch(() => this.emptyBlob.delete(repo));
        }
        await pending;
      } else if (!(await blobExists(this.client, repo, digest))) {
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
  private updateFallback(
    repo: string,
    subject: string,
    change: (list: Descriptor[]) => Descriptor[] | undefined,
  ): Promise<void> {
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

  private async rewriteFallback(
    repo: string,
    subject: string,
    change: (list: Descriptor[]) => Descriptor[] | undefined,
  ): Promise<void> {
    const tag = fallbackTag(subject);
    const snapshot = this.snapshots.get(repo);
    for (let attempt = 0; attempt < FALLBACK_WRITE_ATTEMPTS; attempt++) {
      // The first attempt starts from what the listing read (no GET per candidate); every
      // later one, the read-back included, from the registry.
      let current: FallbackIndex | undefined;
      if (attempt === 0 && snapshot) current = snapshot.get(subject);
      else {
        const got = await getManifest(this.client, repo, tag);
        if (got) this.learn(got.digest, got.bytes);
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
          if (current) this.forget(current.digest);
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
      this.learn(digest, bytes);
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
        this.forget(current.digest);
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
export function isDeleteRefused(e: unknown): boolean {
  if (!(e instanceof HttpStatusError) || e.method !== 'DELETE') return false;
  return e.status === 405 || ((e.status === 400 || e.status === 403) && e.code === 'UNSUPPORTED');
}

function isBlobUnknown(e: unknown): boolean {
  return (
    e instanceof HttpError &&
    e.status === 400 &&
    /MANIFEST_BLOB_UNKNOWN|DIGEST_INVALID/.test(e.message)
  );
}

function dedupe(list: Descriptor[]): Descriptor[] {
  const seen = new Set<string>();
  return list.filter((d) => !seen.has(d.digest) && seen.add(d.digest));
}
