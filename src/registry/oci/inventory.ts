import { FALLBACK_TAG, isDigest } from '../../core/digest.js';
import { isIndexMediaType, type ManifestRecord } from '../../core/oci.js';
import type { ManifestCache } from '../manifest-cache.js';
import { configCreated } from '../manifest-facts.js';
import { nextLink } from '../links.js';
import { httpError, readJson, type OciClient } from './client.js';
import {
  blobPath,
  getManifest,
  headManifestDigest,
  parseManifest,
  type FetchedManifest,
  type ManifestJson,
} from './manifests.js';
import { mapLimited } from '../../util/pool.js';
import { IMAGE_CONFIG_TYPES } from '../media-types.js';

/** What the inventory reads through: a registry's client and manifest cache, and its limits. */
export interface InventoryReader {
  client: OciClient;
  cache: ManifestCache;
  /** `n` for catalog and tag pages. */
  pageSize: number;
  /** Manifest GETs in flight at once. */
  concurrency: number;
}

/** The catalog, or undefined when the registry does not let this account list it. */
export async function listRepositories({
  client,
  pageSize,
}: InventoryReader): Promise<string[] | undefined> {
  const first = `/v2/_catalog?n=${pageSize}`;
  const res = await client.request(first, { insufficientScopeOk: true });
  if (res.status === 401 || res.status === 403 || res.status === 404) {
    await res.body?.cancel().catch(() => {});
    return undefined;
  }
  if (!res.ok) throw await httpError(res, 'GET', client.url(first));
  const names: string[] = [
    ...(((await readJson(res, first)) as { repositories?: string[] }).repositories ?? []),
  ];
  // Only the first page may be "not allowed"; later pages go through the strict paginator.
  const next = nextLink(res.headers.get('link'));
  if (next) {
    const rest = client.pages<{ repositories?: string[] }>(new URL(next, client.url(first)).href);
    for await (const page of rest) names.push(...(page.repositories ?? []));
  }
  return [...new Set(names)];
}

/** Every tag of a repository; [] when the repository does not exist. */
export async function listTags(
  { client, pageSize }: InventoryReader,
  repo: string,
): Promise<string[]> {
  const tags: string[] = [];
  const first = `/v2/${repo}/tags/list?n=${pageSize}`;
  for await (const page of client.pages<{ tags?: string[] | null }>(first, { notFound: 'empty' })) {
    tags.push(...(page.tags ?? []));
  }
  // Sorted so that listings (and plans built from them) do not depend on the registry's order.
  return [...new Set(tags)].sort();
}

/** A `sha256-<hex>` fallback index as the listing read it. */
export interface FallbackIndex {
  digest: string;
  json: ManifestJson;
}

/** What one listing learnt besides the records, so later lookups cost no request. */
export interface Listing {
  records: ManifestRecord[];
  /** Fallback indexes by subject digest: every one the tags list named. */
  fallback: Map<string, FallbackIndex>;
  /** Image manifests' config digests (null: not an image, so no creation time to read). */
  configs: Map<string, string | null>;
}

/**
 * Every manifest reachable from a tag, plus the children of indexes and the referrers listed
 * in fallback indexes (neither has a tag). Distribution cannot list untagged manifests, so
 * this is the whole inventory such a registry can give. With a warm cache each tag costs a
 * HEAD: its digest says whether the cached bytes still apply (a tag that moved is fetched).
 */
export async function listManifests(r: InventoryReader, repo: string): Promise<Listing> {
  const tags = await listTags(r, repo);
  const warm = r.cache.size > 0;
  const found = await mapLimited(tags, r.concurrency, async (tag) => ({
    tags: [tag],
    m: await fetchTagged(r, repo, tag, warm),
  }));
  return assembleListing(repo, found);
}

/** One manifest a listing found: its tags (or none), its bytes (none: gone since), its push time. */
export interface Found {
  tags: string[];
  m?: FetchedManifest;
  created?: string;
}

/**
 * The records of what a listing found, in two passes so a listed manifest's record always wins
 * over a descriptor-only one: the children of indexes and the referrers fallback indexes list
 * (`sha256-<hex>` tags, kept by subject for the referrer lookups). `ignore`: manifests that are
 * no part of the inventory (GHCR's fallback indexes that lost their tag).
 */
export function assembleListing(
  repo: string,
  found: Found[],
  ignore?: (json: ManifestJson, tags: string[]) => boolean,
): Listing {
  const records = new Map<string, ManifestRecord>();
  const configs = new Map<string, string | null>();
  const fallback = new Map<string, FallbackIndex>();
  const parsed = new Map<string, ManifestJson>();
  const listed: Array<{ tags: string[]; m: FetchedManifest }> = [];
  for (const { tags, m, created } of found) {
    // A 404: deleted between the listing and the GET; it is gone.
    if (!m) continue;
    const existing = records.get(m.digest);
    if (existing) {
      existing.tags.push(...tags.filter((t) => !existing.tags.includes(t)));
      listed.push({ tags, m });
      continue;
    }
    const json = parseManifest(m.bytes, `${repo}@${m.digest}`);
    if (ignore?.(json, tags)) continue;
    parsed.set(m.digest, json);
    listed.push({ tags, m });
    const record = recordOf(repo, [...tags], m, json);
    if (created && !Number.isNaN(Date.parse(created))) record.created = created;
    records.set(m.digest, record);
    // An index has no config: its age comes from its children (see imageCreated).
    if (!isIndex(m.mediaType, json)) configs.set(m.digest, configDigestOf(m.mediaType, json));
  }

  for (const { tags, m } of listed) {
    const json = parsed.get(m.digest)!;
    const tag = tags.find((t) => FALLBACK_TAG.test(t));
    const subject = tag ? tag.replace('-', ':') : undefined;
    if (subject) fallback.set(subject, { digest: m.digest, json });
    for (const d of json.manifests ?? []) {
      if (!d || !isDigest(d.digest)) continue;
      const known = records.get(d.digest);
      if (known) {
        if (subject && !known.subject) known.subject = subject;
        continue;
      }
      records.set(d.digest, {
        repository: repo,
        digest: d.digest,
        mediaType: d.mediaType,
        size: typeof d.size === 'number' ? d.size : undefined,
        tags: [],
        ...(d.artifactType ? { artifactType: d.artifactType } : {}),
        ...(subject ? { subject } : {}),
      });
    }
  }
  for (const r of records.values()) r.tags.sort();
  return { records: [...records.values()], fallback, configs };
}

/** A tagged manifest: from the cache when a HEAD shows the tag still names cached bytes. */
async function fetchTagged(
  r: InventoryReader,
  repo: string,
  tag: string,
  warm: boolean,
): Promise<FetchedManifest | undefined> {
  if (warm) {
    const digest = await headManifestDigest(r.client, repo, tag);
    if (digest === undefined) return undefined;
    const cached = digest ? fromCache(r, repo, digest) : undefined;
    if (cached) return cached;
  }
  return fetchAndCache(r, repo, tag);
}

function isIndex(mediaType: string, json: ManifestJson): boolean {
  return isIndexMediaType(mediaType) || Array.isArray(json.manifests);
}

/** An image manifest's config digest; null when it is not an image (no creation time to read). */
export function configDigestOf(mediaType: string, json: ManifestJson): string | null {
  const config = json.config;
  return !isIndex(mediaType, json) &&
    config?.mediaType &&
    IMAGE_CONFIG_TYPES.has(config.mediaType) &&
    isDigest(config.digest)
    ? config.digest
    : null;
}

export function recordOf(
  repo: string,
  tags: string[],
  m: FetchedManifest,
  json: ManifestJson,
): ManifestRecord {
  const record: ManifestRecord = {
    repository: repo,
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.bytes.length,
    tags,
  };
  if (json.config?.mediaType) record.configMediaType = json.config.mediaType;
  if (json.artifactType) record.artifactType = json.artifactType;
  if (json.subject?.digest) record.subject = json.subject.digest;
  if (isIndex(m.mediaType, json)) {
    record.children = (json.manifests ?? []).map((d) => d?.digest).filter(isDigest);
  }
  return record;
}

/**
 * The image config's `created`; for an index, its youngest child's (an index has no config, and
 * a new index of old images is new); undefined for artifacts and configs without one.
 * `config`: the config digest the listing already read (null: not an image), so the manifest
 * is not fetched again; manifests and configs come from the cache when it holds them.
 */
export async function imageCreated(
  r: InventoryReader,
  repo: string,
  digest: string,
  config?: string | null,
  depth = 0,
): Promise<string | undefined> {
  if (config === undefined) {
    const m = await byDigest(r, repo, digest);
    if (!m) return undefined;
    const json = parseManifest(m.bytes, `${repo}@${digest}`);
    if (isIndex(m.mediaType, json)) {
      if (depth > 1) return undefined;
      let youngest: string | undefined;
      for (const child of json.manifests ?? []) {
        if (!isDigest(child?.digest)) continue;
        const created = await imageCreated(r, repo, child.digest, undefined, depth + 1);
        if (created && (!youngest || Date.parse(created) > Date.parse(youngest)))
          youngest = created;
      }
      return youngest;
    }
    config = configDigestOf(m.mediaType, json);
  }
  if (!config) return undefined;
  let text = r.cache.blob(config);
  if (text === undefined) {
    const res = await r.client.found(blobPath(repo, config));
    if (!res) return undefined;
    const bytes = new Uint8Array(await res.arrayBuffer());
    r.cache.putBlob(config, bytes);
    text = Buffer.from(bytes).toString('utf8');
  }
  return configCreated(text);
}

/** A manifest by digest: the cache's bytes when it holds them, else a GET (kept in the cache). */
export async function byDigest(r: InventoryReader, repo: string, digest: string) {
  return fromCache(r, repo, digest) ?? (await fetchAndCache(r, repo, digest));
}

/**
 * The cache's bytes of `digest` as a fetched manifest (a digest names its bytes forever, so
 * they need no request); undefined when it holds none.
 */
export function fromCache(
  { cache }: InventoryReader,
  repo: string,
  digest: string,
): FetchedManifest | undefined {
  const bytes = cache.bytes(digest);
  if (!bytes) return undefined;
  const body = parseManifest(bytes, `${repo}@${digest}`).mediaType;
  return { bytes, digest, mediaType: body ?? cache.get(digest)?.mediaType ?? '' };
}

/** A GET by tag or digest, kept in the cache. */
export async function fetchAndCache({ client, cache }: InventoryReader, repo: string, ref: string) {
  const m = await getManifest(client, repo, ref);
  if (m) cache.put(m.digest, m.bytes, m.mediaType);
  return m;
}
