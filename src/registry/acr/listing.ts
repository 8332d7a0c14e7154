import { RuntimeError } from '../../core/errors.js';
import { isIndexMediaType, MediaType, type ManifestRecord } from '../../core/oci.js';
import type { Logger } from '../../core/ports.js';
import { mapLimited } from '../../util/pool.js';
import type { ManifestCache } from '../manifest-cache.js';
import type { ManifestFacts } from '../manifest-facts.js';
import { IMAGE_CONFIG_TYPES } from '../media-types.js';
import type { AcrClient } from './client.js';
import { HttpStatusError } from '../../util/http.js';

interface RawManifest {
  digest?: string;
  mediaType?: string;
  configMediaType?: string;
  artifactType?: string;
}

/** An entry of an `/acr/v1/<repo>/_manifests` page, as ACR sends it. */
interface RawListedManifest extends RawManifest {
  createdTime?: unknown;
  tags?: unknown[];
  references?: { digest?: unknown }[];
}

/** One listed manifest, as much of it as the records need. */
interface Listed {
  digest: string;
  tags: string[];
  created?: string;
  /** Digests of `relatedArtifacts` (an index's children), when any. */
  related?: string[];
  raw: RawManifest;
}

/** A repository's records, with what the bytes of the manifests read (or cached) say. */
export interface Listing {
  records: ManifestRecord[];
  facts: Map<string, ManifestFacts>;
}

/**
 * ACR's listings: the catalog, and the `/acr/v1/<repo>/_manifests` pages, which give media type,
 * config media type, creation time, tags and an index's children; only manifests they cannot
 * classify (OCI artifacts and indexes, which may carry a `subject`) are fetched, once per digest
 * ever when a cache file is kept.
 */
export class ManifestListing {
  /** Manifest sizes learnt this run (for subject descriptors). */
  readonly sizes = new Map<string, { mediaType: string; size: number }>();
  /** Media types seen in listings: one string each, not one per manifest. */
  private readonly interned = new Map<string, string>();

  constructor(
    private readonly client: AcrClient,
    private readonly cache: ManifestCache,
    private readonly logger: Logger,
    private readonly pageSize: number,
    private readonly concurrency: number,
  ) {}

  /**
   * The repository names, without `skip` (the cache's own repository); undefined when the
   * identity may not list the catalog (401/403): then only literal repository names are in scope.
   */
  async repositories(skip: (name: string) => boolean): Promise<string[] | undefined> {
    const names: string[] = [];
    let token: string | undefined;
    let pages: AsyncIterator<string[] & { continuationToken?: string }> | undefined;
    for (;;) {
      let page: IteratorResult<string[] & { continuationToken?: string }>;
      try {
        page = await this.client.gate.call('list repositories', async () => {
          pages ??= this.client.repositoryPages(this.pageSize, token);
          try {
            return await pages.next();
          } catch (e) {
            pages = undefined; // a failed generator is finished: resume from the last token
            throw e;
          }
        });
      } catch (e) {
        if (e instanceof HttpStatusError && (e.status === 401 || e.status === 403)) {
          this.logger.warning(
            `${this.client.displayName}: cannot list the catalog with this identity; only literal repository names are in scope`,
          );
          return undefined;
        }
        throw e;
      }
      if (page.done) break;
      names.push(...page.value.filter((n) => !skip(n)));
      token = page.value.continuationToken;
      if (!token) break;
    }
    return names.sort();
  }

  /** A repository's records; undefined when it does not exist (the first page's 404). */
  async list(repository: string): Promise<Listing | undefined> {
    // The pages are read directly (through the SDK's authenticated pipeline): the SDK's model
    // drops mediaType/configMediaType, and building its models costs several copies of every
    // page. A page becomes records at once and is dropped: a repository can list hundreds of
    // thousands of manifests.
    // A slot is undefined while its manifest waits to be inspected (and stays so if it is gone).
    const slots: (ManifestRecord | undefined)[] = [];
    const toInspect: { index: number; listed: Listed }[] = [];
    const facts = new Map<string, ManifestFacts>();
    const path = `/acr/v1/${encodeURIComponent(repository)}/_manifests?n=${this.pageSize}`;
    const what = `list manifests of ${repository}`;
    const pages = this.client.pages(repository, path, 'application/json', what, true);
    let found = false;
    for await (const page of pages) {
      found = true;
      for (const m of page) {
        const listed = this.listedOf(m as RawListedManifest, repository);
        const known = this.cache.get(listed.digest);
        if (known || !needsInspection(listed))
          slots.push(this.recordOf(repository, listed, known, facts));
        else {
          // What the listing cannot tell (artifacts, indexes: a subject?) comes from the manifest itself.
          toInspect.push({ index: slots.length, listed });
          slots.push(undefined);
        }
      }
    }

    if (!found) return undefined;
    const inspected = await mapLimited(toInspect, this.concurrency, ({ listed }) =>
      this.inspect(repository, listed.digest),
    );
    const where = `${this.client.displayName}/${repository}`;
    toInspect.forEach(({ index, listed }, i) => {
      const f = inspected[i];
      if (f) slots[index] = this.recordOf(repository, listed, f, facts);
      else if (isIndexMediaType(listed.raw.mediaType)) {
        // An index that answers 404 (deleted, or not yet replicated to this region) keeps what
        // the listing said: its children stay protected when it is supported, and without
        // listed children the planner knows they are unknown rather than none.
        slots[index] = this.recordOf(repository, listed, undefined, facts);
        this.logger.warning(
          `${where}@${listed.digest}: listed index answered 404; kept with ${listed.related ? `the listing's ${listed.related.length} children` : 'unknown children'}`,
        );
      } else
        this.logger.warning(`${where}@${listed.digest}: listed but gone when fetched; skipped`);
    });
    return { records: slots.filter((r): r is ManifestRecord => r !== undefined), facts };
  }

  private async inspect(repository: string, digest: string): Promise<ManifestFacts | undefined> {
    const got = await this.client.getManifest(repository, digest);
    if (!got) return undefined;
    const facts = this.cache.put(digest, got.content, got.mediaType);
    if (!facts)
      throw new RuntimeError(
        `${this.client.displayName}: manifest ${repository}@${digest} does not match its digest`,
      );
    return facts;
  }

  /** A listed manifest's record; `f`: what its bytes say, when known (then kept in `facts`). */
  private recordOf(
    repository: string,
    listed: Listed,
    f: ManifestFacts | undefined,
    facts: Map<string, ManifestFacts>,
  ): ManifestRecord {
    const { digest, tags, created, related, raw } = listed;
    // The listing's media type first: it is what the registry stores, and a cached body may not
    // state one (OCI makes the field optional).
    const mediaType = raw.mediaType ?? f?.mediaType ?? MediaType.dockerManifest;
    const configMediaType = raw.configMediaType ?? f?.configMediaType;
    if (!f && created && configMediaType && !raw.artifactType && !isIndexMediaType(mediaType)) {
      // The common case (an image the listing describes) in one literal: V8 then keeps every
      // field inside the object, with no separate property store per record.
      return { repository, digest, mediaType, tags, created, configMediaType };
    }
    const record: ManifestRecord = { repository, digest, mediaType, tags };
    if (f) {
      facts.set(digest, f);
      record.size = f.size;
      this.sizes.set(`${repository}@${digest}`, { mediaType, size: f.size });
    }
    if (created) record.created = created;
    if (configMediaType) record.configMediaType = configMediaType;
    const artifactType = f?.artifactType ?? raw.artifactType;
    if (artifactType) record.artifactType = artifactType;
    if (f?.subject) record.subject = f.subject.digest;
    // Children come from the listing's references or the index itself; never assumed empty
    // (a child of a supported index taken for an orphan would be marked end-of-life).
    const children = related ?? f?.children;
    if (children) record.children = children;
    return record;
  }

  /** What the records need of one listing entry, with the (few, repeated) media types interned. */
  private listedOf(m: RawListedManifest, repository: string): Listed {
    if (typeof m?.digest !== 'string' || !m.digest) {
      throw new RuntimeError(
        `${this.client.displayName}: the listing of ${repository} has an entry without a digest`,
      );
    }
    const raw: RawManifest = {};
    if (typeof m.mediaType === 'string') raw.mediaType = this.intern(m.mediaType);
    if (typeof m.configMediaType === 'string') raw.configMediaType = this.intern(m.configMediaType);
    if (typeof m.artifactType === 'string') raw.artifactType = this.intern(m.artifactType);
    const entry: Listed = {
      digest: m.digest,
      tags: Array.isArray(m.tags) ? m.tags.filter((t): t is string => typeof t === 'string') : [],
      raw,
    };
    if (m.createdTime !== undefined && m.createdTime !== null) {
      const created = new Date(m.createdTime as string);
      // An unreadable creation time must not pass as "old enough" (minAge): fail instead.
      if (Number.isNaN(created.getTime())) {
        throw new RuntimeError(
          `${this.client.displayName}: ${repository}@${m.digest} has an unreadable createdTime ${JSON.stringify(m.createdTime)}`,
        );
      }
      entry.created = created.toISOString();
    }
    if (Array.isArray(m.references) && m.references.length > 0) {
      entry.related = m.references
        .map((r) => r?.digest)
        .filter((d): d is string => typeof d === 'string');
    }
    return entry;
  }

  private intern(text: string): string {
    const known = this.interned.get(text);
    if (known !== undefined) return known;
    this.interned.set(text, text);
    return text;
  }
}

function needsInspection({ raw, related }: Listed): boolean {
  if (!raw?.mediaType) return true;
  // An index whose listing names no children is read, so its children are known.
  if (isIndexMediaType(raw.mediaType) && !related) return true;
  if (raw.mediaType === MediaType.dockerManifest || raw.mediaType === MediaType.dockerManifestList)
    return false;
  if (raw.mediaType === MediaType.ociIndex) return true;
  if (raw.mediaType === MediaType.ociManifest)
    return (
      !raw.configMediaType || !IMAGE_CONFIG_TYPES.has(raw.configMediaType) || !!raw.artifactType
    );
  return true;
}
