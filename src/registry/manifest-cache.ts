import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import {
  EOL_DATE_ANNOTATION,
  LIFECYCLE_ARTIFACT_TYPE,
  lifecycleManifestJson,
} from '../core/lifecycle.js';
import type { Logger } from '../core/ports.js';
import { sha256Digest } from '../util/hash.js';
import { factsOf, hasServedMediaType, type ManifestFacts } from './manifest-facts.js';

const HEADER = '{"eol-gate-manifest-cache":1}';

/**
 * One line of the file. `l`: our own lifecycle artifact, stored by its inputs; `b`: raw manifest
 * text, with `m` the media type it was served with when the text itself has none.
 */
interface Line {
  d: string;
  l?: { m: string; g: string; s: number; t: string };
  b?: string;
  m?: string;
  /** `blob`: `b` is a blob (an image config), not a manifest. */
  k?: 'blob';
}

/**
 * A digest-keyed cache of manifest facts, kept in a JSON-lines file the pipeline may cache
 * between runs (steady state: a registry full of lifecycle artifacts needs no GET per artifact).
 *
 * Why it is safe whatever the file holds:
 * - Every entry is self-verifying: a lifecycle entry is re-rendered with the same
 *   deterministic function that writes lifecycle manifests, any other entry holds the raw
 *   manifest text, and either is used only if its sha256 equals the digest it is filed
 *   under. A corrupt, truncated, hand-edited or foreign line is dropped, never believed.
 * - The cache says only what a digest *is*. Whether a referrer *exists* always comes from the
 *   registry listing of the current run: an entry for a deleted referrer is never consulted,
 *   because the digest is not listed. So a stale entry cannot make a subject look annotated,
 *   and a missing one costs a GET, nothing else.
 * - Appends are one `write` per line; a crash loses at most the line being written.
 */
export class ManifestCache {
  private readonly entries = new Map<string, ManifestFacts>();
  /** Blob texts (image configs) by digest: what an OCI registry's creation time needs. */
  private readonly blobs = new Map<string, string>();
  /** Digests read or learnt by this process: what a saved copy must hold (see `serialize`). */
  private readonly used = new Set<string>();
  /** Entries learnt from the registry by this process (not loaded from a file or a copy). */
  learnt = 0;
  private fd: number | undefined;
  /** Lines dropped on load (corrupt or not matching their digest). */
  rejected = 0;

  private constructor(private readonly path: string | undefined) {}

  static memory(): ManifestCache {
    return new ManifestCache(undefined);
  }

  /** Loads `path` (missing or unreadable: starts empty) and opens it for appending. */
  static open(path: string, logger?: Logger): ManifestCache {
    const cache = new ManifestCache(path);
    let text: string | undefined;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        logger?.warning(
          `manifest cache ${path}: unreadable (${(e as Error).message}); starting empty`,
        );
    }
    const lines = text ? text.split('\n').filter((l) => l.length > 0) : [];
    const headerOk = lines[0] === HEADER;
    if (lines.length > 0 && !headerOk)
      logger?.warning(`manifest cache ${path}: unknown format; starting empty`);
    if (headerOk) cache.rejected = cache.add(lines.slice(1), true).rejected;
    if (cache.rejected > 0)
      logger?.warning(
        `manifest cache ${path}: ignored ${cache.rejected} corrupt or mismatching entries`,
      );
    // Rewrite when the file is foreign, or mostly noise (duplicates from concurrent runs, bad lines).
    if (!headerOk || cache.rejected > 0 || lines.length - 1 > 2 * cache.entries.size + 100)
      cache.rewrite();
    mkdirSync(dirname(path), { recursive: true });
    cache.fd = openSync(path, 'a');
    return cache;
  }

  get size(): number {
    return this.entries.size + this.blobs.size;
  }

  get(digest: string): ManifestFacts | undefined {
    const facts = this.entries.get(digest);
    if (facts) this.used.add(digest);
    return facts;
  }

  /** The exact bytes of a cached manifest (re-rendered for our own lifecycle artifacts). */
  bytes(digest: string): Uint8Array | undefined {
    const facts = this.get(digest);
    if (!facts) return undefined;
    const l = canonicalLifecycle(facts);
    const text = l ? renderLifecycle(l) : rawTexts.get(facts);
    // Checked again on the way out: the bytes are what the inventory reads as the manifest.
    return text !== undefined && sha256Digest(text) === digest
      ? new TextEncoder().encode(text)
      : undefined;
  }

  blob(digest: string): string | undefined {
    const text = this.blobs.get(digest);
    if (text !== undefined) this.used.add(digest);
    return text;
  }

  /** Records a blob (an image config). Ignores bytes that do not match `digest`. */
  putBlob(digest: string, bytes: Uint8Array | string): void {
    if (this.blobs.has(digest) || sha256Digest(bytes) !== digest) return;
    const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
    // Only text that survives the round trip through a JSON line is kept.
    if (sha256Digest(text) !== digest) return;
    this.blobs.set(digest, text);
    this.used.add(digest);
    this.learnt++;
    this.append(blobLine(digest, text));
  }

  /**
   * Merges the lines of a cache copy (the registry-held artifact): each line is verified as on
   * load; nothing is written to the file. Returns how many lines were accepted and rejected.
   */
  merge(text: string): { accepted: Set<string>; rejected: number } {
    const lines = text.split('\n').filter((l) => l.length > 0);
    if (lines[0] !== HEADER) return { accepted: new Set(), rejected: lines.length };
    return this.add(lines.slice(1), false);
  }

  /** Verified lines into the cache; `replace`: a later line for a digest wins (a file's order). */
  private add(lines: string[], replace: boolean): { accepted: Set<string>; rejected: number } {
    const accepted = new Set<string>();
    let rejected = 0;
    for (const raw of lines) {
      const entry = verify(raw);
      if (!entry) rejected++;
      else {
        accepted.add(entry.digest);
        if ('blob' in entry) this.blobs.set(entry.digest, entry.blob);
        else if (replace || !this.entries.has(entry.digest)) this.entries.set(entry.digest, entry);
      }
    }
    return { accepted, rejected };
  }

  /**
   * A manifest this process deleted: no longer one the run used, so a saved copy leaves it out
   * and the next run, which cannot list it, finds the copy holding exactly what it reads.
   */
  forget(digest: string): void {
    this.used.delete(digest);
  }

  /** Whether this process read or learnt exactly the digests of `set`. */
  usedExactly(set: ReadonlySet<string>): boolean {
    if (set.size !== this.used.size) return false;
    for (const digest of this.used) if (!set.has(digest)) return false;
    return true;
  }

  /** The entries this process read or learnt, in the file's format (a saved copy stays small). */
  serialize(): string {
    const lines = [HEADER];
    for (const digest of [...this.used].sort()) {
      const facts = this.entries.get(digest);
      if (facts) lines.push(encode(facts));
      const blob = this.blobs.get(digest);
      if (blob !== undefined) lines.push(blobLine(digest, blob));
    }
    return lines.join('\n') + '\n';
  }

  /** The digests `serialize` writes. */
  serializedDigests(): string[] {
    return [...this.used].filter((d) => this.entries.has(d) || this.blobs.has(d));
  }

  /** How many entries `serialize` writes. */
  get usedCount(): number {
    return this.used.size;
  }

  /** Records a manifest's bytes (fetched or pushed). Ignores bytes that do not match `digest`. */
  put(digest: string, bytes: Uint8Array | string, mediaType?: string): ManifestFacts | undefined {
    if (sha256Digest(bytes) !== digest) return undefined;
    const existing = this.entries.get(digest);
    if (existing) {
      this.used.add(digest);
      return existing;
    }
    const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
    let facts: ManifestFacts;
    try {
      facts = factsOf(digest, text, mediaType);
    } catch {
      return undefined; // not JSON: nothing we could classify
    }
    rawTexts.set(facts, text);
    this.entries.set(digest, facts);
    this.used.add(digest);
    this.learnt++;
    this.append(encode(facts, text));
    return facts;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private append(line: string): void {
    if (this.fd === undefined) return;
    try {
      writeSync(this.fd, line + '\n');
    } catch {
      // A cache that cannot be written costs requests next time, never correctness.
      this.close();
    }
  }

  private rewrite(): void {
    if (!this.path) return;
    const body =
      [
        HEADER,
        ...[...this.entries.values()].map((f) => encode(f)),
        ...[...this.blobs].map(([d, b]) => blobLine(d, b)),
      ].join('\n') + '\n';
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      writeFileSync(tmp, body);
      renameSync(tmp, this.path);
    } catch {
      // Same as above: losing the cache is only a cost.
    }
  }
}

function canonicalLifecycle(facts: ManifestFacts): Line['l'] | undefined {
  const date = facts.annotations?.[EOL_DATE_ANNOTATION];
  if (facts.artifactType !== LIFECYCLE_ARTIFACT_TYPE || !facts.subject || !date) return undefined;
  const l = { m: facts.subject.mediaType, g: facts.subject.digest, s: facts.subject.size, t: date };
  return sha256Digest(renderLifecycle(l)) === facts.digest ? l : undefined;
}

function renderLifecycle(l: NonNullable<Line['l']>): string {
  return lifecycleManifestJson({ mediaType: l.m, digest: l.g, size: l.s }, l.t);
}

function encode(facts: ManifestFacts, text?: string): string {
  const l = canonicalLifecycle(facts);
  if (l) return JSON.stringify({ d: facts.digest, l } satisfies Line);
  const line: Line = { d: facts.digest, b: text ?? rawTexts.get(facts) ?? '' };
  // Keep a media type the bytes do not state, so a reload classifies the manifest the same way.
  if (facts.mediaType && hasServedMediaType(facts)) line.m = facts.mediaType;
  return JSON.stringify(line);
}

function blobLine(d: string, b: string): string {
  return JSON.stringify({ d, b, k: 'blob' } satisfies Line);
}

// Raw texts of non-canonical manifests are kept alongside their facts so a rewrite can re-emit them.
const rawTexts = new WeakMap<ManifestFacts, string>();

function verify(raw: string): ManifestFacts | { digest: string; blob: string } | undefined {
  let line: Line;
  try {
    line = JSON.parse(raw) as Line;
  } catch {
    return undefined;
  }
  if (typeof line?.d !== 'string') return undefined;
  if (line.k === 'blob')
    return typeof line.b === 'string' && sha256Digest(line.b) === line.d
      ? { digest: line.d, blob: line.b }
      : undefined;
  try {
    if (line.l && typeof line.l === 'object') {
      const text = renderLifecycle(line.l);
      if (sha256Digest(text) !== line.d) return undefined;
      return factsOf(line.d, text);
    }
    if (typeof line.b === 'string' && sha256Digest(line.b) === line.d) {
      const facts = factsOf(line.d, line.b, typeof line.m === 'string' ? line.m : undefined);
      rawTexts.set(facts, line.b);
      return facts;
    }
  } catch {
    return undefined;
  }
  return undefined;
}
