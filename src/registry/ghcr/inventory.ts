import { FALLBACK_TAG, isDigest } from '../../core/digest.js';
import { isIndexMediaType, type ManifestRecord } from '../../core/oci.js';
import { mapLimited } from '../../util/pool.js';
import type { ManifestCache } from '../manifest-cache.js';
import { IMAGE_CONFIG_TYPES } from '../media-types.js';
import type { OciClient } from '../oci/client.js';
import type { FallbackIndex, Listing } from '../oci/inventory.js';
import { FALLBACK_INDEX_ANNOTATION } from '../oci/referrers.js';
import {
  getManifest,
  parseManifest,
  type FetchedManifest,
  type ManifestJson,
} from '../oci/manifests.js';
import type { GhcrPackages, PackageVersion } from './packages.js';

/**
 * Every version of a GHCR package (tagged or untagged, with its push time as `created`), read
 * from the Packages API, then each manifest's bytes by digest (a cached digest costs no
 * request: a digest names its bytes forever). Same shape as the tag listing: fallback indexes
 * (`sha256-<hex>` tags) by subject, and descriptor-only records for children of indexes that
 * are not versions themselves.
 */
export async function listPackageManifests(
  client: OciClient,
  packages: GhcrPackages,
  repo: string,
  concurrency: number,
  cache: ManifestCache,
): Promise<Listing> {
  const versions = await packages.listVersions(repo);
  const fetched = await mapLimited(versions, concurrency, async (version) => ({
    version,
    m: await fetchByDigest(client, repo, version.digest, cache),
  }));

  const records = new Map<string, ManifestRecord>();
  const configs = new Map<string, string | null>();
  const fallback = new Map<string, FallbackIndex>();
  const parsed = new Map<string, ManifestJson>();
  const ghosts = new Set<string>();
  for (const { version, m } of fetched) {
    // A 404: the version was deleted between the listing and the GET.
    if (!m) continue;
    const existing = records.get(m.digest);
    if (existing) {
      existing.tags.push(...version.tags.filter((t) => !existing.tags.includes(t)));
      continue;
    }
    const json = parseManifest(m.bytes, `${repo}@${m.digest}`);
    parsed.set(m.digest, json);
    // A fallback index we wrote that lost its tag (the registry refused to DELETE it): not an
    // image, and its entries are stale. Never a candidate.
    if (isGhostFallbackIndex(version, json)) {
      ghosts.add(m.digest);
      continue;
    }
    records.set(m.digest, recordOf(repo, version, m, json));
    const config = json.config;
    configs.set(
      m.digest,
      !isIndexMediaType(m.mediaType) &&
        config?.mediaType &&
        IMAGE_CONFIG_TYPES.has(config.mediaType) &&
        isDigest(config.digest)
        ? config.digest
        : null,
    );
  }

  // Second pass, after every version is known, so a version's record always wins over a
  // descriptor-only one.
  for (const { version, m } of fetched) {
    if (!m || ghosts.has(m.digest)) continue;
    const json = parsed.get(m.digest) ?? parseManifest(m.bytes, `${repo}@${m.digest}`);
    const tag = version.tags.find((t) => FALLBACK_TAG.test(t));
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

function isGhostFallbackIndex(version: PackageVersion, json: ManifestJson): boolean {
  return (
    !version.tags.some((t) => FALLBACK_TAG.test(t)) &&
    json.annotations?.[FALLBACK_INDEX_ANNOTATION] === 'true'
  );
}

async function fetchByDigest(
  client: OciClient,
  repo: string,
  digest: string,
  cache: ManifestCache,
): Promise<FetchedManifest | undefined> {
  const bytes = cache.bytes(digest);
  if (bytes) {
    const body = parseManifest(bytes, `${repo}@${digest}`).mediaType;
    return { bytes, digest, mediaType: body ?? cache.get(digest)?.mediaType ?? '' };
  }
  const m = await getManifest(client, repo, digest);
  if (m) cache.put(m.digest, m.bytes, m.mediaType);
  return m;
}

function recordOf(
  repo: string,
  version: PackageVersion,
  m: FetchedManifest,
  json: ManifestJson,
): ManifestRecord {
  const record: ManifestRecord = {
    repository: repo,
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.bytes.length,
    tags: [...version.tags],
  };
  if (version.createdAt && !Number.isNaN(Date.parse(version.createdAt)))
    record.created = version.createdAt;
  if (json.config?.mediaType) record.configMediaType = json.config.mediaType;
  if (json.artifactType) record.artifactType = json.artifactType;
  if (json.subject?.digest) record.subject = json.subject.digest;
  if (isIndexMediaType(m.mediaType) || Array.isArray(json.manifests)) {
    record.children = (json.manifests ?? []).map((d) => d?.digest).filter(isDigest);
  }
  return record;
}
