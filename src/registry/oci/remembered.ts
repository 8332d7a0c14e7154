import { COSIGN_TAG, FALLBACK_TAG, isDigest } from '../../core/digest.js';
import { LIFECYCLE_ARTIFACT_TYPE } from '../../core/lifecycle.js';
import type { ManifestRecord } from '../../core/oci.js';
import { mapLimited } from '../../util/pool.js';
import { RECHECK_MARKED_MS, type ManifestMemory, type Remembered } from '../manifest-memory.js';
import {
  configDigestOf,
  fetchAndCache,
  fromCache,
  recordOf,
  type InventoryReader,
  type Listing,
} from './inventory.js';
import { headManifestDigest, parseManifest } from './manifests.js';

/**
 * Completes a tags listing with what the tags no longer show: every digest the group remembers
 * and every digest the caller knows of (the image-info's, its history's), each confirmed by the
 * registry (a HEAD when the cache holds its bytes, else a GET). A remembered digest that carries
 * a lifecycle mark in its fallback index is listed without a request (a new mark changes nothing
 * there) and re-checked every RECHECK_MARKED_MS. One the registry no longer has is forgotten.
 * Then every listed manifest is remembered, and its first sighting becomes `firstSeen`.
 */
export async function addRemembered(
  r: InventoryReader,
  repo: string,
  listing: Listing,
  known: Iterable<string>,
  memory: ManifestMemory,
  nowMs: number,
): Promise<void> {
  const records = new Map(listing.records.map((r) => [r.digest, r]));
  const remembered = memory.digests(repo);
  const toCheck = new Set<string>();
  // Listed from the memory alone: not seen by the registry this time.
  const unconfirmed = new Set<string>();
  for (const [digest, entry] of remembered) {
    if (records.has(digest)) continue;
    if (isMarked(listing, digest) && nowMs - entry.verified < RECHECK_MARKED_MS) {
      records.set(digest, recordFromMemory(repo, digest, entry));
      unconfirmed.add(digest);
    } else toCheck.add(digest);
  }
  for (const digest of known) if (!records.has(digest) && isDigest(digest)) toCheck.add(digest);

  const checked = await mapLimited([...toCheck], r.concurrency, async (digest) => ({
    digest,
    record: await confirm(r, repo, digest, listing),
  }));
  for (const { digest, record } of checked) {
    if (record) records.set(digest, record);
    else memory.forget(repo, digest);
  }
  // An untagged index's children have no tag either: listed as the tags listing lists them.
  for (const r of [...records.values()]) {
    for (const child of r.children ?? []) {
      if (!records.has(child))
        records.set(child, { repository: repo, digest: child, mediaType: '', tags: [] });
    }
  }

  if (records.size > 0) memory.rememberRepository(repo);
  for (const r of records.values()) {
    if (!memorable(r)) continue;
    const seenAt = unconfirmed.has(r.digest)
      ? (memory.get(repo, r.digest)?.verified ?? nowMs)
      : nowMs;
    const entry = memory.see(repo, r.digest, seenAt, {
      tags: r.tags,
      ...(r.mediaType ? { mediaType: r.mediaType } : {}),
      ...(r.size !== undefined ? { size: r.size } : {}),
      ...(r.children ? { children: r.children } : {}),
    });
    r.firstSeen = new Date(entry.firstSeen).toISOString();
    // A descriptor-only child gets what the memory knows of it.
    if (!r.mediaType && entry.mediaType) r.mediaType = entry.mediaType;
    if (r.size === undefined && entry.size !== undefined) r.size = entry.size;
  }
  listing.records = [...records.values()];
}

/** Referrers and their indexes are never candidates: nothing to remember. */
function memorable(r: ManifestRecord): boolean {
  return !r.subject && !r.tags.some((t) => FALLBACK_TAG.test(t) || COSIGN_TAG.test(t));
}

function isMarked(listing: Listing, digest: string): boolean {
  return (
    listing.fallback
      .get(digest)
      ?.json.manifests?.some((d) => d?.artifactType === LIFECYCLE_ARTIFACT_TYPE) ?? false
  );
}

function recordFromMemory(repo: string, digest: string, entry: Remembered): ManifestRecord {
  return {
    repository: repo,
    digest,
    mediaType: entry.mediaType ?? '',
    ...(entry.size !== undefined ? { size: entry.size } : {}),
    tags: [],
    ...(entry.children ? { children: entry.children } : {}),
  };
}

/** The record of an untagged manifest the registry still has; undefined when it is gone. */
async function confirm(
  r: InventoryReader,
  repo: string,
  digest: string,
  listing: Listing,
): Promise<ManifestRecord | undefined> {
  // Cached bytes need only a HEAD to say the manifest is still there; else the GET says it.
  const cached = fromCache(r, repo, digest);
  if (cached && (await headManifestDigest(r.client, repo, digest)) === undefined) return undefined;
  const m = cached ?? (await fetchAndCache(r, repo, digest));
  if (!m) return undefined;
  const json = parseManifest(m.bytes, `${repo}@${digest}`);
  const record = recordOf(repo, [], m, json);
  if (!record.children) listing.configs.set(digest, configDigestOf(m.mediaType, json));
  return record;
}
