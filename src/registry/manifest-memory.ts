import { isDigest, isRepositoryName } from '../core/digest.js';

/** What a group remembers of one manifest it saw: enough to list it once its tags are gone. */
export interface Remembered {
  /** When this group first saw the digest (ms since the epoch): its age where the registry keeps no push time. */
  firstSeen: number;
  /** When the registry last showed it present (ms): a marked, untagged one is re-checked after a while. */
  verified: number;
  /** Its tags when last listed. */
  tags: string[];
  mediaType?: string;
  size?: number;
  /** An index's children. */
  children?: string[];
}

/** What a listing shows of a manifest (see `ManifestMemory.see`). */
type Sighting = Omit<Remembered, 'firstSeen' | 'verified'>;

/** A marked manifest that lost its tags is confirmed present this often (else it costs nothing). */
export const RECHECK_MARKED_MS = 30 * 24 * 3600_000;

/** Memory lines are told from the manifest cache's lines by their first key. */
const LINE_START = '{"r":';

interface Line {
  r: string;
  d?: string;
  f?: number;
  v?: number;
  t?: string[];
  m?: string;
  s?: number;
  c?: string[];
}

/**
 * Every repository and manifest a group has seen, kept in the group's registry-held cache so a
 * manifest that lost its tags is still inventoried on registries that list only tags, a
 * repository that left the image-info is still in scope, and a manifest's age is known where
 * the registry keeps no push time.
 *
 * Nothing here is believed about presence: a remembered digest is listed only after the
 * registry shows it (listing, HEAD or GET), except one already marked, which a new mark cannot
 * affect. A lost memory loses reach and makes manifests look new (deferred); no memory makes a
 * supported manifest a candidate, since a candidate still needs the image-info not to name it.
 * First-seen times are believed as written: the cache repository is the pipelines' own.
 */
export class ManifestMemory {
  private readonly repositories = new Map<string, Map<string, Remembered>>();
  /** Something was added or forgotten since load: the copy is worth saving. */
  changed = false;

  repositoryNames(): string[] {
    return [...this.repositories.keys()].sort();
  }

  digests(repository: string): ReadonlyMap<string, Remembered> {
    return this.repositories.get(repository) ?? new Map();
  }

  get(repository: string, digest: string): Remembered | undefined {
    return this.repositories.get(repository)?.get(digest);
  }

  rememberRepository(repository: string): Map<string, Remembered> {
    let digests = this.repositories.get(repository);
    if (!digests) {
      this.repositories.set(repository, (digests = new Map()));
      this.changed = true;
    }
    return digests;
  }

  /** The registry shows `digest` now: remembered from now on (first seen now if new). */
  see(repository: string, digest: string, nowMs: number, facts: Sighting): Remembered {
    const digests = this.rememberRepository(repository);
    const known = digests.get(digest);
    if (known) {
      // A confirmation the next runs rely on (a marked one is not asked again for a while).
      if (nowMs - known.verified >= RECHECK_MARKED_MS) this.changed = true;
      known.verified = Math.max(known.verified, nowMs);
      if (facts.tags.length > 0) known.tags = facts.tags;
      known.mediaType ??= facts.mediaType;
      known.size ??= facts.size;
      known.children ??= facts.children;
      return known;
    }
    const entry: Remembered = { firstSeen: nowMs, verified: nowMs, ...facts };
    digests.set(digest, entry);
    this.changed = true;
    return entry;
  }

  /** The registry says `digest` is gone: nothing to remember. */
  forget(repository: string, digest: string): void {
    if (this.repositories.get(repository)?.delete(digest)) this.changed = true;
  }

  /** The memory as lines of the registry-held cache (see RegistryCache). */
  lines(): string[] {
    const out: string[] = [];
    for (const [r, digests] of [...this.repositories].sort(([a], [b]) => a.localeCompare(b))) {
      if (digests.size === 0) out.push(JSON.stringify({ r } satisfies Line));
      for (const [d, e] of [...digests].sort(([a], [b]) => a.localeCompare(b))) {
        const line: Line = { r, d, f: e.firstSeen, v: e.verified, t: e.tags };
        if (e.mediaType) line.m = e.mediaType;
        if (e.size !== undefined) line.s = e.size;
        if (e.children) line.c = e.children;
        out.push(JSON.stringify(line));
      }
    }
    return out;
  }

  static isLine(raw: string): boolean {
    return raw.startsWith(LINE_START);
  }

  /** Reads one line of a copy; false (ignored) when it is not a valid memory line. */
  merge(raw: string): boolean {
    let line: Line;
    try {
      line = JSON.parse(raw) as Line;
    } catch {
      return false;
    }
    if (typeof line?.r !== 'string' || !isRepositoryName(line.r)) return false;
    if (line.d === undefined) {
      if (!this.repositories.has(line.r)) this.repositories.set(line.r, new Map());
      return true;
    }
    const times = [line.f, line.v];
    if (
      !isDigest(line.d) ||
      !times.every((t) => typeof t === 'number' && Number.isFinite(t) && t >= 0) ||
      !stringsOr(line.t, (s) => s.length <= 128) ||
      !stringsOr(line.c, isDigest) ||
      (line.m !== undefined && typeof line.m !== 'string') ||
      (line.s !== undefined && !Number.isSafeInteger(line.s))
    )
      return false;
    let digests = this.repositories.get(line.r);
    if (!digests) this.repositories.set(line.r, (digests = new Map()));
    const known = digests.get(line.d);
    // Two copies that disagree: the earliest sighting is the first.
    if (known) {
      known.firstSeen = Math.min(known.firstSeen, line.f!);
      known.verified = Math.max(known.verified, line.v!);
      return true;
    }
    digests.set(line.d, {
      firstSeen: line.f!,
      verified: line.v!,
      tags: line.t ?? [],
      ...(line.m ? { mediaType: line.m } : {}),
      ...(line.s !== undefined ? { size: line.s } : {}),
      ...(line.c ? { children: line.c } : {}),
    });
    return true;
  }
}

function stringsOr(value: unknown, ok: (s: string) => boolean): boolean {
  return (
    value === undefined ||
    (Array.isArray(value) && value.every((s) => typeof s === 'string' && ok(s)))
  );
}
