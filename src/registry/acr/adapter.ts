import type { TokenCredential } from '@azure/core-auth';
import {
  createHttpHeaders,
  createPipelineRequest,
  type PipelinePolicy,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import {
  ContainerRegistryClient,
  ContainerRegistryContentClient,
  type ContainerRegistryClientOptions,
} from '@azure/container-registry';
import { InputError, RuntimeError } from '../../core/errors.js';
import {
  isIndexMediaType,
  MediaType,
  type Descriptor,
  type ManifestRecord,
} from '../../core/oci.js';
import { silentLogger, type Logger } from '../../core/ports.js';
import { sha256Digest } from '../../util/hash.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../../util/http.js';
import { mapLimited } from '../../util/pool.js';
import { sleep as defaultSleep } from '../../util/sleep.js';
import { IMAGE_CONFIG_TYPES } from '../media-types.js';
import { nextLink } from '../links.js';
import type { PushOutcome, ReferrerManifest, Registry, UnmarkOutcome } from '../port.js';
import { factsOf, ManifestCache, type ManifestFacts } from '../manifest-cache.js';
import { RequestGate, retryPolicy, statusOf, throttlePolicy } from './request-gate.js';
import { Throttle } from '../../util/throttle.js';
import {
  RegistryCache,
  saveCaches,
  type CacheTransport,
  type RegistryCacheLocation,
} from '../registry-cache.js';

export interface AcrRegistryOptions {
  /** `myacr.azurecr.io` or `https://host[:port]`. HTTPS only. */
  endpoint: string;
  /** undefined: anonymous access (read-only commands on registries that allow anonymous pull). */
  credential: TokenCredential | undefined;
  /** The credential type for errors, e.g. `DefaultAzureCredential` (see createAcrCredential). */
  credentialName?: string;
  /** Token audience (sovereign clouds, or the ARM audience); default `https://containerregistry.azure.net`. */
  audience?: string;
  /** Registry calls in flight at once (default 8). */
  concurrency?: number;
  /** Cap on HTTP requests per minute, all classes together (used when no `throttle` is given). */
  maxRequestsPerMinute?: number;
  /**
   * The per-class request budgets (util/throttle.ts), shared by every client of the process;
   * default: this adapter's own, optimistic, capped by `maxRequestsPerMinute`.
   */
  throttle?: Throttle;
  retry?: RetryPolicy;
  logger?: Logger;
  /**
   * Digest-keyed cache of what manifests are (see ManifestCache): a file path the pipeline
   * caches between runs, or an instance. Default: in memory for this process only.
   */
  manifestCache?: string | ManifestCache;
  /** Extra trusted CA certificates (PEM), for registries behind a private CA. NODE_EXTRA_CA_CERTS works too. */
  ca?: string;
  /** Listing page size (`n`); default 1000. */
  pageSize?: number;
  /**
   * Where `listReferrers` looks for a repository this adapter has listed: `listing` (default)
   * answers from that complete listing, since ACR keeps a subject's referrers in its
   * repository; `api` always asks the referrers API. Unlisted repositories always use the API.
   */
  referrersSource?: 'listing' | 'api';
  /**
   * The registry-held copy of the manifest cache (a repository, one tag per group): loaded on
   * the first listing, written by `flush()`. The repository is never listed for annotation.
   */
  registryCache?: RegistryCacheLocation;
}

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

/**
 * A page's JSON (a listing or a referrers index): the pipeline has usually parsed it already
 * (parsedBody). An answer without a body is an error, never an empty page.
 */
function pageBody(res: PipelineResponse, what: string): { manifests?: unknown[] } {
  const parsed = (res as PipelineResponse & { parsedBody?: unknown }).parsedBody;
  let body: unknown = parsed;
  if (typeof body !== 'object' || body === null) {
    if (!res.bodyAsText) throw new RuntimeError(`${what}: the answer has no body`);
    try {
      body = JSON.parse(res.bodyAsText);
    } catch {
      throw new RuntimeError(`${what}: the answer is not JSON`);
    }
  }
  const manifests = (body as { manifests?: unknown }).manifests;
  if (
    typeof body !== 'object' ||
    body === null ||
    (manifests !== undefined && !Array.isArray(manifests))
  ) {
    throw new RuntimeError(`${what}: unexpected answer`);
  }
  return body as { manifests?: unknown[] };
}

/** The path (and query) of a page's `Link: <…>; rel="next"`, on our own endpoint. */
function nextPath(res: PipelineResponse): string | undefined {
  const link = nextLink(res.headers.get('link') ?? null);
  if (!link) return undefined;
  const url = new URL(link, 'https://placeholder.invalid');
  return url.pathname + url.search;
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

interface RepoSnapshot {
  referrers: Map<string, Descriptor[]>;
}

/** Status + headers of a non-2xx answer to a request we sent through the SDK pipeline. */
class RawHttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly response: PipelineResponse,
    what: string,
  ) {
    super(`${what}: HTTP ${statusCode}`);
  }
}

/**
 * The Registry port on Azure Container Registry, through @azure/container-registry. The
 * listing (`/acr/v1/<repo>/_manifests`) gives media type, config media type, creation time,
 * tags and an index's children in pages of up to 1000; only manifests it cannot classify
 * (OCI artifacts and indexes, which may carry a `subject`) are fetched, once per digest ever
 * when a cache file is kept.
 */
export class AcrRegistry implements Registry {
  readonly displayName: string;
  /** HTTP requests sent (retries, challenges and token exchanges included). */
  requests = 0;
  private readonly endpoint: string;
  private readonly credential: TokenCredential | undefined;
  private readonly clientOptions: ContainerRegistryClientOptions;
  private readonly client: ContainerRegistryClient;
  private readonly contentClients = new Map<string, ContainerRegistryContentClient>();
  private readonly gate: RequestGate;
  private readonly logger: Logger;
  private readonly cache: ManifestCache;
  private readonly pageSize: number;
  private readonly concurrency: number;
  private readonly referrersSource: 'listing' | 'api';
  private readonly snapshots = new Map<string, RepoSnapshot>();
  /** Manifest sizes learnt this run (for subject descriptors). */
  private readonly sizes = new Map<string, { mediaType: string; size: number }>();
  private readonly blobsPresent = new Set<string>();
  /** Blob checks and uploads in flight or done, per `repo@digest` (single flight). */
  private readonly blobChecks = new Map<string, Promise<void>>();
  /** Per blob digest, a repository known to hold it (a source for cross-repository mounts). */
  private readonly blobHomes = new Map<string, string>();
  /** Whether the registry stores a monolithic `POST ?digest=` upload; undefined: not tried. */
  private monolithicUploads?: boolean;
  /** Media types seen in listings: one string each, not one per manifest. */
  private readonly interned = new Map<string, string>();
  private readonly registryCache?: RegistryCache;
  /** Manifests whose body carries a `subject`: referrers, never subjects of a lifecycle mark. */
  private readonly referrerBodies = new Set<string>();

  constructor(options: AcrRegistryOptions) {
    this.endpoint = normalizeEndpoint(options.endpoint);
    this.displayName = new URL(this.endpoint).host;
    this.credential = options.credential;
    this.logger = options.logger ?? silentLogger;
    this.pageSize = options.pageSize ?? 1000;
    this.concurrency = options.concurrency ?? 8;
    this.referrersSource = options.referrersSource ?? 'listing';
    const credentialName =
      options.credentialName ??
      (options.credential ? options.credential.constructor.name : 'anonymous access');
    const throttle =
      options.throttle ??
      new Throttle({
        maxRequestsPerMinute: options.maxRequestsPerMinute,
        sleep: options.retry?.sleep ?? defaultSleep,
      });
    const gateOptions = {
      registry: this.displayName,
      credentialName,
      concurrency: this.concurrency,
      retry: { ...(options.retry ?? DEFAULT_RETRY), throttle },
      logger: this.logger,
    };
    this.gate = new RequestGate(gateOptions);
    const counter: PipelinePolicy = {
      name: 'eolGateRequestCounter',
      sendRequest: (request, next) => {
        this.requests++;
        return next(request);
      },
    };
    const policies: ContainerRegistryClientOptions['additionalPolicies'] = [
      { policy: retryPolicy(gateOptions), position: 'perCall' },
      { policy: counter, position: 'perRetry' },
      { policy: throttlePolicy(throttle), position: 'perRetry' },
    ];
    this.clientOptions = {
      audience: options.audience,
      // The SDK's retry policy is off: `retryPolicy` above is the one loop.
      retryOptions: { maxRetries: 0 },
      additionalPolicies: policies,
      userAgentOptions: { userAgentPrefix: 'eol-gate' },
      ...(options.ca ? { tlsOptions: { ca: options.ca } } : {}),
    };
    this.client = this.credential
      ? new ContainerRegistryClient(this.endpoint, this.credential, this.clientOptions)
      : new ContainerRegistryClient(this.endpoint, this.clientOptions);
    this.cache =
      options.manifestCache instanceof ManifestCache
        ? options.manifestCache
        : options.manifestCache
          ? ManifestCache.open(options.manifestCache, this.logger)
          : ManifestCache.memory();
    if (options.registryCache) {
      this.registryCache = new RegistryCache(
        this.cacheTransport(),
        options.registryCache,
        this.cache,
        this.logger,
        this.displayName,
      );
    }
  }

  async listRepositories(): Promise<string[] | undefined> {
    const names: string[] = [];
    let token: string | undefined;
    let pages: AsyncIterator<string[] & { continuationToken?: string }> | undefined;
    for (;;) {
      let page: IteratorResult<string[] & { continuationToken?: string }>;
      try {
        page = await this.gate.call('list repositories', async () => {
          pages ??= this.client
            .listRepositoryNames()
            .byPage({ maxPageSize: this.pageSize, continuationToken: token });
          try {
            return await pages.next();
          } catch (e) {
            pages = undefined; // a failed generator is finished: resume from the last token
            throw e;
          }
        });
      } catch (e) {
        if (/refused \(HTTP 40[13]\)/.test((e as Error).message)) {
          this.logger.warning(
            `${this.displayName}: cannot list the catalog with this identity; only literal repository names are in scope`,
          );
          return undefined;
        }
        throw e;
      }
      if (page.done) break;
      names.push(...page.value.filter((n) => !this.isCacheRepository(n)));
      token = page.value.continuationToken;
      if (!token) break;
    }
    return names.sort();
  }

  async listManifests(repository: string): Promise<ManifestRecord[]> {
    // The cache's own repository holds no images: never a source of candidates.
    if (this.isCacheRepository(repository)) return [];
    await this.registryCache?.load();
    // `/acr/v1/<repo>/_manifests` pages, read directly (through the SDK's authenticated
    // pipeline): the SDK's model drops mediaType/configMediaType, and building its models
    // costs several copies of every page. A page becomes records at once and is dropped: a
    // repository can list hundreds of thousands of manifests.
    // A slot is undefined while its manifest waits to be inspected (and stays so if it is gone).
    const records: (ManifestRecord | undefined)[] = [];
    const toInspect: { index: number; listed: Listed }[] = [];
    const facts = new Map<string, ManifestFacts>();
    let path: string | undefined =
      `/acr/v1/${encodeURIComponent(repository)}/_manifests?n=${this.pageSize}`;
    const what = `list manifests of ${repository}`;
    let first = true;
    const visited = new Set<string>();
    while (path) {
      if (visited.has(path))
        throw new RuntimeError(`${this.displayName}: ${what}: the registry's page links loop`);
      visited.add(path);
      // The first page's 404 means the repository does not exist; any later one is a failure.
      const res = await this.raw(
        repository,
        'GET',
        path,
        'application/json',
        what,
        first ? [404] : [],
      );
      if (res.status === 404) return [];
      first = false;
      const body = pageBody(res, `${this.displayName}: ${what}`);
      for (const m of body.manifests ?? []) {
        const listed = this.listedOf(m as RawListedManifest, repository);
        const known = this.cache.get(listed.digest);
        if (known || !needsInspection(listed))
          records.push(this.recordOf(repository, listed, known, facts));
        else {
          // What the listing cannot tell (artifacts, indexes: a subject?) comes from the manifest itself.
          toInspect.push({ index: records.length, listed });
          records.push(undefined);
        }
      }
      path = nextPath(res);
    }

    const inspected = await mapLimited(toInspect, this.concurrency, ({ listed }) =>
      this.inspect(repository, listed.digest),
    );
    toInspect.forEach(({ index, listed }, i) => {
      const f = inspected[i];
      if (f) records[index] = this.recordOf(repository, listed, f, facts);
      else if (isIndexMediaType(listed.raw.mediaType)) {
        // An index that answers 404 (deleted, or not yet replicated to this region) keeps what
        // the listing said: its children stay protected when it is supported, and without
        // listed children the planner knows they are unknown rather than none.
        records[index] = this.recordOf(repository, listed, undefined, facts);
        this.logger.warning(
          `${this.displayName}/${repository}@${listed.digest}: listed index answered 404; kept with ${listed.related ? `the listing's ${listed.related.length} children` : 'unknown children'}`,
        );
      } else
        this.logger.warning(
          `${this.displayName}/${repository}@${listed.digest}: listed but gone when fetched; skipped`,
        );
    });

    const out: ManifestRecord[] = [];
    const referrers = new Map<string, Descriptor[]>();
    for (const record of records) {
      if (!record) continue;
      out.push(record);
      const f = record.subject ? facts.get(record.digest) : undefined;
      if (!f?.subject) continue;
      const d: Descriptor = { mediaType: record.mediaType, digest: record.digest, size: f.size };
      if (record.artifactType) d.artifactType = record.artifactType;
      if (f.annotations) d.annotations = f.annotations;
      const known = referrers.get(f.subject.digest);
      if (known) known.push(d);
      else referrers.set(f.subject.digest, [d]);
    }
    this.snapshots.set(repository, { referrers });
    // ACR lists every manifest with its push time: the group's memory keeps only the repository.
    if (out.length > 0) this.registryCache?.memory.rememberRepository(repository);
    return out;
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
        `${this.displayName}: the listing of ${repository} has an entry without a digest`,
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
          `${this.displayName}: ${repository}@${m.digest} has an unreadable createdTime ${JSON.stringify(m.createdTime)}`,
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

  /**
   * A GET, not a HEAD (same count): the body tells whether the manifest is itself a referrer
   * (an image pushed with a `subject`, which the listing shows as a plain image). Such a
   * manifest is never annotated (see pushReferrer).
   */
  async describeManifest(repository: string, digest: string): Promise<Descriptor | undefined> {
    const known = this.sizes.get(`${repository}@${digest}`);
    const cached = this.cache.get(digest);
    let facts = cached;
    let served: string | undefined;
    if (!facts) {
      if (known) return { mediaType: known.mediaType, digest, size: known.size };
      const got = await this.getManifest(repository, digest);
      if (!got) return undefined;
      if (sha256Digest(got.content) !== digest)
        throw new RuntimeError(
          `${this.displayName}: manifest ${repository}@${digest} does not match its digest`,
        );
      // Not kept in the cache: a candidate's body is read once, when it is annotated.
      facts = factsOf(digest, got.content, got.mediaType);
      served = got.mediaType;
    }
    if (facts.subject) this.referrerBodies.add(`${repository}@${digest}`);
    const mediaType = known?.mediaType ?? facts.mediaType ?? served;
    if (!mediaType)
      throw new RuntimeError(
        `${this.displayName}: manifest ${repository}@${digest} has no media type`,
      );
    this.sizes.set(`${repository}@${digest}`, { mediaType, size: facts.size });
    return { mediaType, digest, size: facts.size };
  }

  async imageCreated(repository: string, digest: string): Promise<string | undefined> {
    const manifest = await this.getManifest(repository, digest);
    const config = (manifest?.manifest as { config?: Descriptor } | undefined)?.config;
    if (!config || !IMAGE_CONFIG_TYPES.has(config.mediaType)) return undefined;
    const text = await this.gate.call(`get config ${repository}@${config.digest}`, async () => {
      try {
        const blob = await this.contentClient(repository).downloadBlob(config.digest, {});
        const chunks: Buffer[] = [];
        for await (const chunk of blob.content) chunks.push(Buffer.from(chunk as Uint8Array));
        return Buffer.concat(chunks).toString('utf8');
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        throw e;
      }
    });
    if (!text) return undefined;
    try {
      const created = (JSON.parse(text) as { created?: unknown }).created;
      return typeof created === 'string' && !Number.isNaN(Date.parse(created))
        ? created
        : undefined;
    } catch {
      return undefined;
    }
  }

  async listReferrers(
    repository: string,
    subject: string,
    artifactType?: string,
  ): Promise<Descriptor[]> {
    const matches = (d: Descriptor) => !artifactType || d.artifactType === artifactType;
    const snapshot =
      this.referrersSource === 'listing' ? this.snapshots.get(repository) : undefined;
    if (snapshot)
      return (snapshot.referrers.get(subject) ?? []).filter(matches).map((d) => ({ ...d }));

    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    let path: string | undefined = `/v2/${repository}/referrers/${subject}${query}`;
    const what = `referrers of ${repository}@${subject}`;
    const found: Descriptor[] = [];
    const seen = new Set<string>();
    const visited = new Set<string>();
    while (path) {
      if (visited.has(path))
        throw new RuntimeError(`${this.displayName}: ${what}: the registry's page links loop`);
      visited.add(path);
      const res = await this.raw(repository, 'GET', path, MediaType.ociIndex, what);
      const body = pageBody(res, `${this.displayName}: ${what}`);
      // Filter ourselves too: a registry that ignored the filter says so in OCI-Filters-Applied.
      for (const entry of body.manifests ?? []) {
        const d = entry as Descriptor | null;
        if (!d || typeof d.digest !== 'string') {
          throw new RuntimeError(`${this.displayName}: ${what}: an entry has no digest`);
        }
        if (matches(d) && !seen.has(d.digest)) {
          seen.add(d.digest);
          found.push(d);
        }
      }
      path = nextPath(res);
    }
    return found;
  }

  async pushReferrer(
    repository: string,
    subject: Descriptor,
    manifest: ReferrerManifest,
  ): Promise<PushOutcome> {
    if (this.referrerBodies.has(`${repository}@${subject.digest}`)) {
      this.logger.warning(
        `${this.displayName}/${repository}@${subject.digest}: its manifest carries a subject (it is a referrer); not annotated`,
      );
      return 'subject-is-a-referrer';
    }
    const bytes = Buffer.from(manifest.bytes);
    if (sha256Digest(bytes) !== manifest.digest)
      throw new Error(`internal: referrer bytes do not match ${manifest.digest}`);
    const parsed = JSON.parse(bytes.toString('utf8')) as {
      config?: BlobDescriptor;
      layers?: BlobDescriptor[];
      subject?: Descriptor;
    };
    if (parsed.subject?.digest !== subject.digest)
      throw new Error(`internal: referrer ${manifest.digest} has another subject`);
    const blobs = new Map<string, BlobDescriptor>();
    for (const b of [parsed.config, ...(parsed.layers ?? [])])
      if (b?.digest) blobs.set(b.digest, b);
    for (const blob of blobs.values()) await this.ensureBlob(repository, blob);

    const content = this.contentClient(repository);
    const pushed = await this.gate.call(`push referrer ${repository}@${manifest.digest}`, () =>
      content.setManifest(bytes, { mediaType: manifest.mediaType }),
    );
    if (pushed.digest !== manifest.digest) {
      throw new RuntimeError(
        `${this.displayName}: pushed ${manifest.digest} but the registry stored ${pushed.digest}`,
      );
    }
    const facts = this.cache.put(manifest.digest, bytes, manifest.mediaType);
    const snapshot = this.snapshots.get(repository);
    if (snapshot) {
      const list = snapshot.referrers.get(subject.digest) ?? [];
      if (!list.some((d) => d.digest === manifest.digest)) {
        list.push({
          mediaType: manifest.mediaType,
          digest: manifest.digest,
          size: bytes.byteLength,
          artifactType: manifest.artifactType,
          annotations: { ...(facts?.annotations ?? manifest.annotations) },
        });
        snapshot.referrers.set(subject.digest, list);
      }
    }
    return 'pushed';
  }

  async deleteReferrer(
    repository: string,
    subject: string,
    referrer: string,
  ): Promise<UnmarkOutcome> {
    const content = this.contentClient(repository);
    // The SDK treats 404 as success: deleting twice is fine.
    await this.gate.call(`delete ${repository}@${referrer}`, () =>
      content.deleteManifest(referrer),
    );
    // Gone from the registry: a saved cache copy leaves it out (the next run cannot list it).
    this.cache.forget(referrer);
    const snapshot = this.snapshots.get(repository);
    const list = snapshot?.referrers.get(subject);
    if (snapshot && list)
      snapshot.referrers.set(
        subject,
        list.filter((d) => d.digest !== referrer),
      );
    return 'deleted';
  }

  /** Flushes and closes the manifest cache file. */
  close(): void {
    this.cache.close();
  }

  /** Writes the registry-held cache when this run learnt something. Never throws: a lost cache costs requests. */
  async flush(): Promise<void> {
    await saveCaches(
      this.registryCache,
      this.cache,
      (m) => this.logger.warning(m),
      this.displayName,
    );
  }

  async rememberedRepositories(): Promise<string[] | undefined> {
    return this.registryCache?.rememberedRepositories();
  }

  private isCacheRepository(name: string): boolean {
    return this.registryCache?.location.repository === name;
  }

  /** The registry-held cache over the SDK's content client (its auth, retries and gate). */
  private cacheTransport(): CacheTransport {
    return {
      getManifest: async (repository, tag) => {
        const content = this.contentClient(repository);
        const got = await this.gate.call(`get cache ${repository}:${tag}`, async () => {
          try {
            return await content.getManifest(tag);
          } catch (e) {
            if (statusOf(e) === 404) return undefined;
            throw e;
          }
        });
        return got && new Uint8Array(got.content);
      },
      getBlob: (repository, digest) =>
        this.gate.call(`get cache blob ${repository}@${digest}`, async () => {
          try {
            const blob = await this.contentClient(repository).downloadBlob(digest, {});
            const chunks: Buffer[] = [];
            for await (const chunk of blob.content) chunks.push(Buffer.from(chunk as Uint8Array));
            return new Uint8Array(Buffer.concat(chunks));
          } catch (e) {
            if (statusOf(e) === 404) return undefined;
            throw e;
          }
        }),
      putBlob: (repository, bytes) =>
        this.putBlobOnce(repository, sha256Digest(bytes), () => Buffer.from(bytes)),
      putManifest: async (repository, tag, bytes, mediaType) => {
        await this.gate.call(`push cache ${repository}:${tag}`, () =>
          this.contentClient(repository).setManifest(Buffer.from(bytes), {
            mediaType,
            tag,
          }),
        );
      },
    };
  }

  /** GET a manifest; undefined only on a 404. getManifest checks the bytes against the digest. */
  private getManifest(repository: string, digest: string) {
    const content = this.contentClient(repository);
    return this.gate.call(`get manifest ${repository}@${digest}`, async () => {
      try {
        return await content.getManifest(digest);
      } catch (e) {
        if (statusOf(e) === 404) return undefined;
        throw e;
      }
    });
  }

  private async inspect(repository: string, digest: string): Promise<ManifestFacts | undefined> {
    const got = await this.getManifest(repository, digest);
    if (!got) return undefined;
    const facts = this.cache.put(digest, got.content, got.mediaType);
    if (!facts)
      throw new RuntimeError(
        `${this.displayName}: manifest ${repository}@${digest} does not match its digest`,
      );
    return facts;
  }

  /**
   * The referrer's config and layers exist before its manifest PUT: checked and uploaded once
   * per repository and digest (single flight: concurrent marks share one HEAD and one upload).
   */
  private ensureBlob(repository: string, blob: BlobDescriptor): Promise<void> {
    const key = `${repository}@${blob.digest}`;
    let pending = this.blobChecks.get(key);
    if (!pending) {
      pending = this.putBlobOnce(repository, blob.digest, () => {
        if (!blob.data)
          throw new RuntimeError(
            `${this.displayName}: blob ${key} is missing and eol-gate does not have its content`,
          );
        const data = Buffer.from(blob.data, 'base64');
        if (sha256Digest(data) !== blob.digest)
          throw new Error(`internal: embedded data of ${blob.digest} does not match`);
        return data;
      });
      this.blobChecks.set(key, pending);
      // A failure is not remembered: the next mark tries again.
      pending.catch(() => this.blobChecks.delete(key));
    }
    return pending;
  }

  /**
   * Uploads a blob unless `repository` holds it (a HEAD, a read), in as few writes as the
   * registry allows: a cross-repository mount from a repository this adapter saw holding it
   * (`POST ?mount=&from=`, one write), else a monolithic `POST ?digest=` with the body; an
   * answer of 202 (neither done) opens a session that one PUT `?digest=` completes.
   */
  private async putBlobOnce(
    repository: string,
    digest: string,
    content: () => Buffer,
  ): Promise<void> {
    const key = `${repository}@${digest}`;
    if (this.blobsPresent.has(key)) return;
    const head = await this.raw(
      repository,
      'HEAD',
      `/v2/${repository}/blobs/${digest}`,
      '*/*',
      `HEAD blob ${key}`,
      [404],
    );
    if (head.status === 404) {
      const data = content();
      const uploads = `/v2/${repository}/blobs/uploads/`;
      const from = this.blobHomes.get(digest);
      let start: PipelineResponse;
      if (from && from !== repository) {
        start = await this.raw(
          repository,
          'POST',
          `${uploads}?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`,
          '*/*',
          `mount blob ${key} from ${from}`,
          [201, 202],
        );
      } else if (this.monolithicUploads !== false) {
        start = await this.raw(
          repository,
          'POST',
          `${uploads}?digest=${encodeURIComponent(digest)}`,
          '*/*',
          `upload blob ${key}`,
          [201, 202],
          data,
        );
        this.monolithicUploads = start.status === 201;
      } else {
        start = await this.raw(repository, 'POST', uploads, '*/*', `upload blob ${key}`, [202]);
      }
      if (start.status === 202) {
        const location = start.headers.get('location');
        if (!location)
          throw new RuntimeError(
            `${this.displayName}: blob upload ${key} answered without a Location`,
          );
        const target = new URL(location, this.endpoint);
        target.searchParams.set('digest', digest);
        await this.raw(
          repository,
          'PUT',
          target.pathname + target.search,
          '*/*',
          `upload blob ${key}`,
          [201, 204],
          data,
        );
      }
    }
    this.blobsPresent.add(key);
    if (!this.blobHomes.has(digest)) this.blobHomes.set(digest, repository);
  }

  /**
   * A request the SDK has no method for (HEAD, referrers), sent through the content client's
   * own pipeline so it gets the same challenge/token handling, TLS and policies.
   */
  private async raw(
    repository: string,
    method: 'GET' | 'HEAD' | 'POST' | 'PUT',
    path: string,
    accept: string,
    what: string,
    okStatus: number[] = [],
    body?: Buffer,
  ): Promise<PipelineResponse> {
    const service = serviceClientOf(this.contentClient(repository));
    return this.gate.call(what, async () => {
      const headers = createHttpHeaders({ Accept: accept });
      if (body) headers.set('Content-Type', 'application/octet-stream');
      const request = createPipelineRequest({
        url: new URL(path, this.endpoint).toString(),
        method,
        headers,
        ...(body ? { body } : {}),
      });
      const res = await service.sendRequest(request);
      if ((res.status >= 200 && res.status < 300) || okStatus.includes(res.status)) return res;
      throw new RawHttpError(res.status, res, what);
    });
  }

  private contentClient(repository: string): ContainerRegistryContentClient {
    let client = this.contentClients.get(repository);
    if (!client) {
      // The SDK accepts no credential for anonymous pull, though its type says otherwise.
      client = new ContainerRegistryContentClient(
        this.endpoint,
        repository,
        this.credential as TokenCredential,
        this.clientOptions,
      );
      this.contentClients.set(repository, client);
    }
    return client;
  }
}

interface BlobDescriptor extends Descriptor {
  data?: string;
}

interface SendsRequests {
  sendRequest(request: ReturnType<typeof createPipelineRequest>): Promise<PipelineResponse>;
}

/** The SDK keeps its authenticated ServiceClient in a private field; we send raw requests through it. */
function serviceClientOf(content: ContainerRegistryContentClient): SendsRequests {
  const client = (content as unknown as { client?: Partial<SendsRequests> }).client;
  if (!client || typeof client.sendRequest !== 'function') {
    throw new Error(
      'internal: @azure/container-registry no longer exposes its service client; update the ACR adapter',
    );
  }
  return client as SendsRequests;
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

/** `myacr.azurecr.io`, `https://myacr.azurecr.io/` or `https://127.0.0.1:8443` → `https://host[:port]`. */
export function normalizeEndpoint(registry: string): string {
  const text = registry.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InputError(`registry: ${JSON.stringify(registry)} is not a registry host`);
  }
  if (url.protocol !== 'https:')
    throw new InputError(
      `registry: ${url.host} must be reached over https (Azure Container Registry)`,
    );
  if (
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search ||
    url.username ||
    url.password ||
    !url.hostname ||
    !/^[a-z0-9.[\]:-]+$/i.test(url.host)
  ) {
    throw new InputError(
      `registry: ${JSON.stringify(registry)} is not a registry host (expected e.g. myacr.azurecr.io)`,
    );
  }
  return `https://${url.host}`;
}
