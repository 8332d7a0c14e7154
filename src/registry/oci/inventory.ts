import { FALLBACK_TAG, isDigest } from '../../core/digest.js';
import { isIndexMediaType, type ManifestRecord } from '../../core/oci.js';
import { httpError, nextLink, readJson, type OciClient } from './client.js';
import {
  blobPath,
  getManifest,
  parseManifest,
  type FetchedManifest,
  type ManifestJson,
} from './manifests.js';
import { mapLimited } from '../../util/pool.js';
import { IMAGE_CONFIG_TYPES } from '../media-types.js';

/** The catalog, or undefined when the registry does not let this account list it. */
export async function listRepositories(
  client: OciClient,
  pageSize: number,
): Promise<string[] | undefined> {
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
    for await (const page of client.pages<{ repositories?: string[] }>(
      new URL(next, client.url(first)).toString(),
    )) {
      names.push(...(page.repositories ?? []));
    }
  }
  return [...new Set(names)];
}

/** Every tag of a repository; [] when the repository does not exist. */
export async function listTags(
  client: OciClient,
  repo: string,
  pageSize: number,
): Promise<string[]> {
  const tags: string[] = [];
  for await (const page of client.pages<{ tags?: string[] | null }>(
    `/v2/${repo}/tags/list?n=${pageSize}`,
    {
      notFound: 'empty',
    },
  )) {
    tags.push(...(page.tags ?? []));
  }
  // Sorted so that listings (and plans built from them) do not depend on the registry's order.
  return [...new Set(tags)].sort();
}

/**
 * Every manifest reachable from a tag, plus the children of indexes and the referrers listed
 * in fallback indexes (neither has a tag). Distribution cannot list untagged manifests, so
 * this is the whole inventory such a registry can give.
 */
export async function listManifests(
  client: OciClient,
  repo: string,
  pageSize: number,
  concurrency: number,
): Promise<ManifestRecord[]> {
  const tags = await listTags(client, repo, pageSize);
  const fetched = await mapLimited(tags, concurrency, async (tag) => ({
    tag,
    m: await getManifest(client, repo, tag),
  }));

  const records = new Map<string, ManifestRecord>();
  for (const { tag, m } of fetched) {
    // A 404 here means the tag was deleted between the listing and the GET: it is gone.
    if (!m) continue;
    const existing = records.get(m.digest);
    if (existing) {
      existing.tags.push(tag);
      continue;
    }
    records.set(m.digest, recordOf(repo, tag, m));
  }

  // Second pass, after every tagged manifest is known, so a tagged record always wins over a
  // descriptor-only one.
  for (const { tag, m } of fetched) {
    if (!m) continue;
    const json = parseManifest(m.bytes, `${repo}:${tag}`);
    const subject = FALLBACK_TAG.test(tag) ? tag.replace('-', ':') : undefined;
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
  return [...records.values()];
}

function recordOf(repo: string, tag: string, m: FetchedManifest): ManifestRecord {
  const json: ManifestJson = parseManifest(m.bytes, `${repo}:${tag}`);
  const record: ManifestRecord = {
    repository: repo,
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.bytes.length,
    tags: [tag],
  };
  if (json.config?.mediaType) record.configMediaType = json.config.mediaType;
  if (json.artifactType) record.artifactType = json.artifactType;
  if (json.subject?.digest) record.subject = json.subject.digest;
  if (isIndexMediaType(m.mediaType) || Array.isArray(json.manifests)) {
    record.children = (json.manifests ?? []).map((d) => d?.digest).filter(isDigest);
  }
  return record;
}

/** The image config's `created`; undefined for indexes, artifacts, and configs without one. */
export async function imageCreated(
  client: OciClient,
  repo: string,
  digest: string,
): Promise<string | undefined> {
  const m = await getManifest(client, repo, digest);
  if (!m || isIndexMediaType(m.mediaType)) return undefined;
  const config = parseManifest(m.bytes, `${repo}@${digest}`).config;
  if (!config?.mediaType || !IMAGE_CONFIG_TYPES.has(config.mediaType) || !isDigest(config.digest))
    return undefined;
  const path = blobPath(repo, config.digest);
  const res = await client.request(path);
  if (res.status === 404) {
    await res.body?.cancel().catch(() => {});
    return undefined;
  }
  if (!res.ok) throw await httpError(res, 'GET', client.url(path));
  const created = ((await readJson(res, path)) as { created?: unknown } | null)?.created;
  return typeof created === 'string' && !Number.isNaN(Date.parse(created)) ? created : undefined;
}
