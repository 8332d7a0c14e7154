import { InputError } from './errors.js';
import { images, platforms, strings, type Json } from './image-info-json.js';
import { platformId, type PlatformId } from './image-info-match.js';

export interface MergeStats {
  /** Platforms new to the target. */
  added: number;
  /** Platforms replaced by a different entry. */
  replaced: number;
  /** Platforms the fragment has exactly as the target already had them. */
  unchanged: number;
  /** Platforms removed through the fragment's `removed` list. */
  removed: number;
  /** Manifest lists set or replaced. */
  manifests: number;
  /** Platforms and manifest lists left out because the target has a newer build. */
  stale: number;
}

export interface BuildRef {
  digest: string;
  /** The platform's `created`; for a manifest list, its image's newest platform's. */
  created: string;
}

type EntryKind = 'platform' | 'manifest-list';

/** Which entry a merge left alone because the fragment's build is older than the target's. */
export interface StaleEntry extends PlatformId {
  kind: EntryKind;
  repo: string;
  /** Platform `simpleTags`, or the manifest list's `sharedTags`. */
  tags: string[];
  kept: BuildRef;
  /** Not merged: superseded. */
  stale: BuildRef;
}

/** A platform or manifest list replaced without a time check: `created` missing on a side. */
export interface UntimedReplacement {
  kind: EntryKind;
  repo: string;
  /** The entry as {@link describeEntry} words it. */
  entry: string;
  missingIn: 'target' | 'fragment' | 'both';
}

/** What a merge did, and which entries the time rule left out or could not check. */
export interface Report {
  stats: MergeStats;
  stale: StaleEntry[];
  untimed: UntimedReplacement[];
}

/** A parsed `created`: whole seconds since the epoch plus nanoseconds (files carry 7 digits). */
interface BuildTime {
  seconds: number;
  nanos: number;
}

const ISO_TIME = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Reads an ISO 8601 time exactly (Date keeps milliseconds only; equal must mean equal). */
export function buildTime(value: unknown): BuildTime | undefined {
  if (typeof value !== 'string') return undefined;
  const m = ISO_TIME.exec(value);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3].toUpperCase()}`);
  if (Number.isNaN(ms)) return undefined;
  return { seconds: ms / 1000, nanos: Number((m[2] ?? '').padEnd(9, '0')) };
}

export function compareTimes(a: BuildTime, b: BuildTime): number {
  return a.seconds - b.seconds || a.nanos - b.nanos;
}

/**
 * The fragment's `created` decide what it may replace, so a bad one is bad input (the target's
 * are only read: one that cannot be read counts as missing).
 */
export function checkCreated(doc: Json, source: string): void {
  (doc.repos as Json[]).forEach((repo, ri) =>
    images(repo).forEach((image, ii) =>
      platforms(image).forEach((p, pi) => {
        if (p.created !== undefined && buildTime(p.created) === undefined)
          throw new InputError(
            `${source}: repos[${ri}].images[${ii}].platforms[${pi}].created: expected an ISO 8601 time such as 2026-11-20T10:00:00.0000000Z, got ${JSON.stringify(p.created)}`,
          );
      }),
    ),
  );
}

/** The newest readable `created` of an image's platforms, or undefined when none has one. */
export function imageTime(image: Json): { time: BuildTime; created: string } | undefined {
  let newest: { time: BuildTime; created: string } | undefined;
  for (const p of platforms(image)) {
    const time = buildTime(p.created);
    if (time && (!newest || compareTimes(time, newest.time) > 0))
      newest = { time, created: p.created as string };
  }
  return newest;
}

/**
 * The time rule, monotonic per entry: the fragment's entry replaces the target's only when its
 * build is not older (equal replaces: a re-run). A stale run (old branch, re-run of last week's
 * commit) recording after a newer one must not orphan the newest image, which the next annotate
 * would mark end-of-life; so an older one is left out, reported stale. With no time on a side it
 * replaces, reported untimed. A manifest list is timed by its images ({@link imageTime}).
 */
export function mayReplace(
  report: Report,
  kind: EntryKind,
  repo: string,
  fragment: Json,
  target: Json | undefined,
  [fCreated, tCreated]: readonly [unknown, unknown] = [fragment.created, target?.created],
): boolean {
  const f = buildTime(fCreated);
  const t = buildTime(tCreated);
  if (!f || !t) {
    const missingIn = !f && !t ? 'both' : f ? 'target' : 'fragment';
    report.untimed.push({ kind, repo, entry: describeEntry(kind, repo, fragment), missingIn });
    return true;
  }
  if (compareTimes(f, t) >= 0) return true;
  const platform = kind === 'platform';
  report.stats.stale++;
  report.stale.push({
    kind,
    repo,
    ...(platform ? platformId(fragment) : {}),
    tags: strings(platform ? target?.simpleTags : target?.sharedTags),
    kept: { digest: String(target?.digest), created: String(tCreated) },
    stale: { digest: String(fragment.digest), created: String(fCreated) },
  });
  return false;
}

/** `repo src/…/Dockerfile (Linux noble amd64)`, or `repo manifest list 8.0, latest`. */
export function describeEntry(kind: EntryKind, repo: string, entry: Json): string {
  if (kind === 'manifest-list') {
    const tags = strings(entry.sharedTags);
    return `${repo} manifest list${tags.length ? ` ${tags.join(', ')}` : ''}`;
  }
  const { dockerfile, ...where } = platformId(entry);
  const place = Object.values(where);
  return `${repo} ${dockerfile ?? String(entry.digest)}${place.length ? ` (${place.join(' ')})` : ''}`;
}

/** One line for logs: which entry, both digests, both times. */
export function describeStale(s: StaleEntry): string {
  const entry = s.kind === 'platform' ? { ...s } : { sharedTags: s.tags };
  return `${describeEntry(s.kind, s.repo, entry)}: kept ${s.kept.digest} (built ${s.kept.created}); not merged ${s.stale.digest} (built ${s.stale.created}, older)`;
}
