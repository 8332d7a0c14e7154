import { gunzipSync, gzipSync } from 'node:zlib';
import { EMPTY_BLOB, EMPTY_DESCRIPTOR } from '../core/lifecycle.js';
import { MediaType } from '../core/oci.js';
import type { Logger } from '../core/ports.js';
import { sha256Digest } from '../util/hash.js';
import type { ManifestCache } from './manifest-cache.js';
import { ManifestMemory } from './manifest-memory.js';

export const CACHE_ARTIFACT_TYPE = 'application/vnd.eol-gate.cache.v1';
export const CACHE_LAYER_TYPE = 'application/vnd.eol-gate.cache.v1.jsonl+gzip';
const GROUP_ANNOTATION = 'vnd.eol-gate.cache.group';
/** A copy larger than this is not read (a foreign or hostile artifact must not exhaust memory). */
const MAX_COPY_BYTES = 256 * 2 ** 20;

/** Where the registry-held cache lives: a repository the user names, one tag per group. */
export interface RegistryCacheLocation {
  repository: string;
  group: string;
}

/** The few requests the cache needs, over each adapter's own client (auth, retries, TLS). */
export interface CacheTransport {
  /** A manifest's bytes by tag; undefined on a 404. */
  getManifest(repository: string, tag: string): Promise<Uint8Array | undefined>;
  /** A blob's bytes; undefined on a 404. */
  getBlob(repository: string, digest: string): Promise<Uint8Array | undefined>;
  /** Uploads a blob unless the repository holds it. */
  putBlob(repository: string, bytes: Uint8Array): Promise<void>;
  putManifest(repository: string, tag: string, bytes: Uint8Array, mediaType: string): Promise<void>;
}

/** The tag of a group's copy: the group name where the tag grammar allows it. */
function cacheTag(group: string): string {
  return /^\w[\w.-]{0,127}$/.test(group) ? group : `g${group}`.slice(0, 128);
}

/**
 * The manifest cache (see ManifestCache) kept as one OCI artifact in the registry, so a fresh
 * agent starts warm: a manifest GET and a blob GET. Every line is verified on load exactly as a
 * cache file's, so a stale, truncated, corrupt or foreign copy only costs requests: what exists
 * always comes from the current listing. A save replaces the whole copy with one manifest PUT
 * by tag (atomic in every registry), so concurrent writers cannot interleave: the last writer
 * wins with content that is whole and valid.
 */
export class RegistryCache {
  private loading?: Promise<void>;
  /** Digests the loaded copy held: a save is skipped when the run used exactly these. */
  private loaded: ReadonlySet<string> = new Set();
  private learntAtLoad = 0;
  /** What this group has seen (manifest-memory.ts), loaded and saved with the copy. */
  readonly memory = new ManifestMemory();

  constructor(
    private readonly transport: CacheTransport,
    readonly location: RegistryCacheLocation,
    private readonly cache: ManifestCache,
    private readonly logger: Logger,
    private readonly where: string,
  ) {}

  /** Loads the copy once (later calls wait for the first). Never throws: a lost cache costs requests. */
  load(): Promise<void> {
    this.loading ??= this.read().catch((e: unknown) => {
      this.logger.warning(
        `${this.describe()}: not read (${(e as Error).message}); continuing without it`,
      );
    });
    return this.loading;
  }

  async rememberedRepositories(): Promise<string[]> {
    await this.load();
    return this.memory.repositoryNames();
  }

  private describe(): string {
    return `cache ${this.where}/${this.location.repository}:${cacheTag(this.location.group)}`;
  }

  private async read(): Promise<void> {
    const { repository, group } = this.location;
    const ignored = (why: string) => this.logger.warning(`${this.describe()}: ${why}; ignored`);
    const manifestBytes = await this.transport.getManifest(repository, cacheTag(group));
    this.learntAtLoad = this.cache.learnt;
    if (!manifestBytes) {
      this.logger.info(`${this.describe()}: none yet`);
      return;
    }
    const manifest = parseJson(manifestBytes) as {
      artifactType?: unknown;
      annotations?: Record<string, unknown>;
      layers?: { mediaType?: unknown; digest?: unknown; size?: unknown }[];
    } | null;
    const layer = manifest?.layers?.[0];
    if (
      manifest?.artifactType !== CACHE_ARTIFACT_TYPE ||
      layer?.mediaType !== CACHE_LAYER_TYPE ||
      typeof layer.digest !== 'string' ||
      typeof layer.size !== 'number' ||
      layer.size > MAX_COPY_BYTES
    )
      return ignored('not an eol-gate cache');
    if (manifest.annotations?.[GROUP_ANNOTATION] !== group)
      return ignored('written for another group');
    const blob = await this.transport.getBlob(repository, layer.digest);
    if (!blob || sha256Digest(blob) !== layer.digest)
      return ignored('content missing or not matching its digest');
    let text: string;
    try {
      text = gunzipSync(blob, { maxOutputLength: MAX_COPY_BYTES }).toString('utf8');
    } catch {
      return ignored('content is not gzip');
    }
    const cacheLines: string[] = [];
    let remembered = 0;
    let rejected = 0;
    for (const line of text.split('\n')) {
      if (!ManifestMemory.isLine(line)) cacheLines.push(line);
      else if (this.memory.merge(line)) remembered++;
      else rejected++;
    }
    const merged = this.cache.merge(cacheLines.join('\n'));
    rejected += merged.rejected;
    this.loaded = merged.accepted;
    this.memory.changed = false;
    this.logger.info(
      `${this.describe()}: ${merged.accepted.size} entr${merged.accepted.size === 1 ? 'y' : 'ies'}, ${remembered} remembered${rejected ? `, ${rejected} rejected` : ''}`,
    );
  }

  /**
   * Writes what this run read or learnt, unless the copy already holds exactly that (nothing
   * learnt, nothing missing, nothing stale such as deleted referrers). Throws on a registry
   * failure (the caller warns).
   */
  async save(): Promise<boolean> {
    await this.load();
    const learnt = this.cache.learnt - this.learntAtLoad;
    const remembered = this.memory.changed;
    if (this.cache.usedCount === 0 && !remembered) return false;
    if (learnt === 0 && this.cache.usedExactly(this.loaded) && !remembered) return false;
    const { repository, group } = this.location;
    const text = [this.cache.serialize(), ...this.memory.lines()].join('\n') + '\n';
    const layer = gzipSync(Buffer.from(text, 'utf8'));
    await this.transport.putBlob(repository, EMPTY_BLOB);
    await this.transport.putBlob(repository, layer);
    const manifest = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      artifactType: CACHE_ARTIFACT_TYPE,
      config: EMPTY_DESCRIPTOR,
      layers: [{ mediaType: CACHE_LAYER_TYPE, digest: sha256Digest(layer), size: layer.length }],
      annotations: { [GROUP_ANNOTATION]: group },
    });
    const bytes = new TextEncoder().encode(manifest);
    await this.transport.putManifest(repository, cacheTag(group), bytes, MediaType.ociManifest);
    this.logger.info(`${this.describe()}: saved ${this.cache.usedCount} entries`);
    this.loaded = new Set(this.cache.serializedDigests());
    this.learntAtLoad = this.cache.learnt;
    this.memory.changed = false;
    return true;
  }
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null;
  }
}
