import { InputError } from './errors.js';
import { parseImageInfo } from './image-info.js';

/**
 * Merges one run's image-info (the *fragment*) into the shared image-info (the *target*).
 * Pure: text in, text out. Both documents are validated with `parseImageInfo` first, and the
 * merge works on the raw JSON so every field we do not model (layers, commitUrl, ...) survives.
 *
 * Semantics (after dotnet ImageBuilder's `ImageInfoHelper.MergeImageArtifactDetails` with
 * `ReplaceTags`, as its publish step uses it), erring on the side of keeping entries, because an
 * entry wrongly dropped gets a supported image marked end-of-life while an entry wrongly kept
 * only delays an annotation:
 *
 * - Repos match by `repo`. A new repo is appended.
 * - A platform matches a target platform of the same repo with the same `dockerfile`, `osType`,
 *   `osVersion` and `architecture` (ImageBuilder's platform identifier) *and* either the same
 *   image `productVersion` or at least one `simpleTags` entry in common. The second condition is
 *   needed because real image-info builds one Dockerfile into several images (dotnet-buildtools
 *   prereqs: `net8.0`, `net9.0`, ... images from one Dockerfile, told apart by productVersion and
 *   tags), while a patch release of one image changes productVersion (`10.0.11` → `10.0.12`) but
 *   keeps its floating tags (`10.0-…`). Platforms without a dockerfile match by digest. If several
 *   target platforms qualify, the one with the same productVersion and most shared tags wins.
 * - A matched platform is replaced by the fragment's entry as a whole (so its tags are replaced,
 *   not unioned: a tag moved to a newer image leaves the older one). Unmatched platforms are added
 *   to the target image where the fragment image's first matched platform lives, or, if none
 *   matched, the fragment image is appended as a new image.
 * - Monotonic per platform: a matched platform is replaced only when the fragment's build is not
 *   older than the target's (`created`; equal times replace, a re-run of the same build). An older
 *   one is left out and reported as {@link StaleEntry}: a stale run (an old branch, a re-run of
 *   last week's commit) recording after a newer one must not make the newest image an orphan that
 *   the next annotate marks end-of-life. Where either side has no readable `created`, the platform
 *   is replaced without an age check and {@link MergeResult.untimed} says so.
 * - The fragment image's `manifest` (manifest list) replaces the target image's; a fragment
 *   image without `manifest` leaves the target's manifest alone. Other image fields
 *   (`productVersion`, unknown ones) are copied from the fragment image; repo fields likewise.
 *   Image fields follow the platforms: the image's time is its newest platform's `created`, and
 *   a fragment image older than the target image it lands in changes none of them.
 * - Nothing the fragment does not mention is removed, except what its optional top-level
 *   `removed` list names (see {@link RemovalSelector}). Removals apply to the target before the
 *   fragment's entries are merged, so an entry both removed and present in the fragment ends up
 *   as the fragment has it. A selector that matches nothing is fine (merges are re-run after a
 *   conflict and must be idempotent).
 * - The target's top-level fields are kept (`schemaVersion` included); the fragment's `removed`
 *   is never written to the target. New entries are appended: existing order is kept, so diffs
 *   of the shared file stay small.
 *
 * Output: `JSON.stringify(doc, null, 2)` plus a trailing newline (the format of the real files).
 */

/**
 * One entry of a fragment's top-level `"removed": [...]`. `repo` is required, plus `dockerfile`
 * or `digest`; every field given must match. A `dockerfile` selector removes the matching
 * platforms (narrow it with `osType`, `osVersion`, `architecture`, `productVersion` of the image);
 * a `digest` selector removes the platform with that digest, or the whole image whose manifest
 * list has it. Digests match with or without a registry/repository prefix. An image left without
 * platforms is removed with its manifest list.
 *
 *     "removed": [{ "repo": "dotnet/runtime", "dockerfile": "src/runtime/6.0/bookworm-slim/amd64/Dockerfile" }]
 */
export interface RemovalSelector {
  repo: string;
  dockerfile?: string;
  digest?: string;
  productVersion?: string;
  osType?: string;
  osVersion?: string;
  architecture?: string;
}

export interface NamedText {
  text: string;
  /** File, URL or source name, used in every error. */
  name: string;
}

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

/** A build time and digest of one side of a {@link StaleEntry}. */
export interface BuildRef {
  digest: string;
  /** The platform's `created`; for a manifest list, its image's newest platform's. */
  created: string;
}

/** Which entry a merge left alone because the fragment's build is older than the target's. */
export interface StaleEntry {
  kind: 'platform' | 'manifest-list';
  repo: string;
  dockerfile?: string;
  osType?: string;
  osVersion?: string;
  architecture?: string;
  /** Platform `simpleTags`, or the manifest list's `sharedTags`. */
  tags: string[];
  /** What the target has and keeps. */
  kept: BuildRef;
  /** What the fragment has: not merged, superseded. */
  stale: BuildRef;
}

/** A platform or manifest list replaced without a time check: `created` missing on a side. */
export interface UntimedReplacement {
  kind: 'platform' | 'manifest-list';
  repo: string;
  /** The entry as {@link describeEntry} words it. */
  entry: string;
  missingIn: 'target' | 'fragment' | 'both';
}

export interface MergeResult {
  text: string;
  /** False when the merged document equals the target (the write can be skipped). */
  changed: boolean;
  stats: MergeStats;
  /** Entries of the fragment older than the target's: not merged. */
  stale: StaleEntry[];
  /** Entries replaced without an age check because a build time is missing. */
  untimed: UntimedReplacement[];
}

type Json = Record<string, unknown>;

const SELECTOR_FIELDS = [
  'repo',
  'dockerfile',
  'digest',
  'productVersion',
  'osType',
  'osVersion',
  'architecture',
] as const;

/** Stable JSON for image-info files: 2-space indent, trailing newline. */
export function formatImageInfo(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** An image-info with nothing in it, for creating a target. */
export function emptyImageInfo(schemaVersion = '2.0'): string {
  return formatImageInfo({ schemaVersion, repos: [] });
}

/** A fragment validated once, for merging again after each conflict. */
export interface PreparedFragment {
  readonly name: string;
  readonly doc: Readonly<Json>;
  readonly removals: readonly RemovalSelector[];
}

/** Validates a fragment (image-info + `removed` list); throws InputError naming file and JSON path. */
export function validateFragment(fragment: NamedText): PreparedFragment {
  parseImageInfo(fragment.text, fragment.name);
  const doc = raw(fragment.text);
  checkCreated(doc, fragment.name);
  return { name: fragment.name, doc, removals: parseRemovals(doc, fragment.name) };
}

/**
 * The fragment's `created` decide what it may replace, so a bad one is bad input (the target's
 * are only read: one that cannot be read counts as missing).
 */
function checkCreated(doc: Json, source: string): void {
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

/**
 * Merges `fragment` into `target`; `target` undefined creates a new document. The result is
 * made of validated parts of both inputs only, so it is valid image-info too.
 */
export function mergeImageInfo(
  target: NamedText | undefined,
  fragment: NamedText | PreparedFragment,
): MergeResult {
  const prepared = 'text' in fragment ? validateFragment(fragment) : fragment;
  const fragmentDoc = prepared.doc;
  let original: Json;
  if (target) {
    parseImageInfo(target.text, target.name);
    original = raw(target.text);
  } else {
    original = { schemaVersion: fragmentDoc.schemaVersion, repos: [] };
  }
  const doc = structuredClone(original);
  const stats: MergeStats = {
    added: 0,
    replaced: 0,
    unchanged: 0,
    removed: 0,
    manifests: 0,
    stale: 0,
  };
  const report: Report = { stats, stale: [], untimed: [] };
  const repos = doc.repos as Json[];

  for (const selector of prepared.removals) applyRemoval(repos, selector, stats);

  for (const fRepo of fragmentDoc.repos as Json[]) {
    const tRepo = repos.find((r) => r.repo === fRepo.repo);
    if (!tRepo) {
      repos.push(structuredClone(fRepo));
      for (const image of images(fRepo)) stats.added += platforms(image).length;
      stats.manifests += images(fRepo).filter((i) => i.manifest !== undefined).length;
      continue;
    }
    for (const [key, value] of Object.entries(fRepo)) {
      if (key !== 'images') tRepo[key] = structuredClone(value);
    }
    if (fRepo.images !== undefined && tRepo.images === undefined) tRepo.images = [];
    // Target platforms already matched or written by this fragment: each is matched at most once.
    const claimed = new Set<Json>();
    for (const fImage of images(fRepo)) mergeImage(tRepo, fImage, claimed, report);
  }

  return {
    text: formatImageInfo(doc),
    changed: !deepEqual(original, doc),
    stats,
    stale: report.stale,
    untimed: report.untimed,
  };
}

interface Report {
  stats: MergeStats;
  stale: StaleEntry[];
  untimed: UntimedReplacement[];
}

function mergeImage(tRepo: Json, fImage: Json, claimed: Set<Json>, report: Report): void {
  const { stats } = report;
  const repo = tRepo.repo as string;
  const tImages = tRepo.images as Json[];
  const matches = platforms(fImage).map((fp) => {
    const m = findPlatform(tImages, fImage, fp, claimed);
    if (m) claimed.add(m.platform);
    return m;
  });
  let home = matches.find((m) => m !== undefined)?.image;
  if (!home && platforms(fImage).length === 0 && isObject(fImage.manifest)) {
    home = tImages.find(
      (t) => isObject(t.manifest) && sameManifest(t.manifest, fImage.manifest as Json),
    );
  }
  if (!home) {
    const copy = structuredClone(fImage);
    tImages.push(copy);
    for (const p of platforms(copy)) claimed.add(p);
    stats.added += platforms(fImage).length;
    if (fImage.manifest !== undefined) stats.manifests++;
    return;
  }
  // The image's time is taken before its platforms change: what the target had.
  const homeTime = imageTime(home);
  platforms(fImage).forEach((fp, i) => {
    const m = matches[i];
    if (!m) {
      if (!Array.isArray(home.platforms)) home.platforms = [];
      const copy = structuredClone(fp);
      (home.platforms as Json[]).push(copy);
      claimed.add(copy);
      stats.added++;
    } else if (deepEqual(m.platform, fp)) {
      stats.unchanged++;
    } else if (!newEnough(fp.created, m.platform.created, report, 'platform', repo, fp)) {
      stats.stale++;
      report.stale.push({
        kind: 'platform',
        repo,
        ...identity(fp),
        tags: strings(m.platform.simpleTags),
        kept: { digest: String(m.platform.digest), created: String(m.platform.created) },
        stale: { digest: String(fp.digest), created: String(fp.created) },
      });
    } else {
      const list = m.image.platforms as Json[];
      const copy = structuredClone(fp);
      list[list.indexOf(m.platform)] = copy;
      claimed.add(copy);
      stats.replaced++;
    }
  });
  const fTime = imageTime(fImage);
  if (
    !deepEqual(home.manifest ?? fImage.manifest, fImage.manifest) &&
    isObject(fImage.manifest) &&
    !newEnough(fTime?.created, homeTime?.created, report, 'manifest-list', repo, fImage.manifest)
  ) {
    stats.stale++;
    const tManifest = home.manifest as Json | undefined;
    report.stale.push({
      kind: 'manifest-list',
      repo,
      tags: strings(tManifest?.sharedTags),
      kept: { digest: String(tManifest?.digest), created: homeTime!.created },
      stale: { digest: String(fImage.manifest.digest), created: fTime!.created },
    });
  }
  // Image fields (manifest list, productVersion, ...) follow the platforms: an older fragment
  // image changes none of them, so a manifest list never moves back to older children either.
  if (fTime && homeTime && compareTimes(fTime.time, homeTime.time) < 0) return;
  for (const [key, value] of Object.entries(fImage)) {
    if (key === 'platforms') continue;
    if (key === 'manifest') {
      if (deepEqual(home.manifest, value)) continue;
      stats.manifests++;
    }
    setKeepingOrder(home, key, structuredClone(value));
  }
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

/** The newest readable `created` of an image's platforms, or undefined when none has one. */
function imageTime(image: Json): { time: BuildTime; created: string } | undefined {
  let newest: { time: BuildTime; created: string } | undefined;
  for (const p of platforms(image)) {
    const time = buildTime(p.created);
    if (time && (!newest || compareTimes(time, newest.time) > 0))
      newest = { time, created: p.created as string };
  }
  return newest;
}

/**
 * Whether the fragment's entry may replace the target's: not older. Without a time on either
 * side there is nothing to compare, so it replaces, and the report says so.
 */
function newEnough(
  fragmentCreated: unknown,
  targetCreated: unknown,
  report: Report,
  kind: UntimedReplacement['kind'],
  repo: string,
  entry: Json,
): boolean {
  const f = buildTime(fragmentCreated);
  const t = buildTime(targetCreated);
  if (f && t) return compareTimes(f, t) >= 0;
  const missingIn = !f && !t ? 'both' : f ? 'target' : 'fragment';
  report.untimed.push({ kind, repo, entry: describeEntry(kind, repo, entry), missingIn });
  return true;
}

function identity(
  p: Json,
): Pick<StaleEntry, 'dockerfile' | 'osType' | 'osVersion' | 'architecture'> {
  const out: Pick<StaleEntry, 'dockerfile' | 'osType' | 'osVersion' | 'architecture'> = {};
  for (const key of ['dockerfile', 'osType', 'osVersion', 'architecture'] as const)
    if (typeof p[key] === 'string') out[key] = p[key];
  return out;
}

/** `repo src/…/Dockerfile (Linux noble amd64)`, or `repo manifest list 8.0, latest`. */
export function describeEntry(kind: StaleEntry['kind'], repo: string, entry: Json): string {
  if (kind === 'manifest-list') {
    const tags = strings(entry.sharedTags);
    return `${repo} manifest list${tags.length ? ` ${tags.join(', ')}` : ''}`;
  }
  const where = [entry.osType, entry.osVersion, entry.architecture].filter(
    (v) => typeof v === 'string',
  );
  const name = typeof entry.dockerfile === 'string' ? entry.dockerfile : String(entry.digest);
  return `${repo} ${name}${where.length ? ` (${where.join(' ')})` : ''}`;
}

/** One line for logs: which entry, both digests, both times. */
export function describeStale(s: StaleEntry): string {
  const entry =
    s.kind === 'manifest-list'
      ? describeEntry(s.kind, s.repo, { sharedTags: s.tags })
      : describeEntry(s.kind, s.repo, { ...s });
  return `${entry}: kept ${s.kept.digest} (built ${s.kept.created}); not merged ${s.stale.digest} (built ${s.stale.created}, older)`;
}

interface PlatformMatch {
  image: Json;
  platform: Json;
}

function findPlatform(
  tImages: Json[],
  fImage: Json,
  fp: Json,
  claimed: Set<Json>,
): PlatformMatch | undefined {
  let best: PlatformMatch | undefined;
  let bestScore = -1;
  for (const tImage of tImages) {
    for (const tp of platforms(tImage)) {
      if (claimed.has(tp)) continue;
      const score = matchScore(fImage, fp, tImage, tp);
      if (score > bestScore) {
        best = { image: tImage, platform: tp };
        bestScore = score;
      }
    }
  }
  return best;
}

/** -1: a different platform; otherwise higher is a better match. */
function matchScore(fImage: Json, fp: Json, tImage: Json, tp: Json): number {
  if (fp.dockerfile === undefined) {
    return fp.digest !== undefined &&
      tp.dockerfile === undefined &&
      sameDigest(fp.digest, tp.digest)
      ? 0
      : -1;
  }
  for (const key of ['dockerfile', 'osType', 'osVersion', 'architecture']) {
    if (fp[key] !== tp[key]) return -1;
  }
  const sameVersion = fImage.productVersion === tImage.productVersion;
  const fTags = new Set(strings(fp.simpleTags));
  const shared = strings(tp.simpleTags).filter((t) => fTags.has(t)).length;
  if (!sameVersion && shared === 0) return -1;
  return (sameVersion ? 1_000_000 : 0) + shared;
}

function sameManifest(a: Json, b: Json): boolean {
  if (a.digest !== undefined && sameDigest(a.digest, b.digest)) return true;
  const tags = new Set(strings(a.sharedTags));
  return strings(b.sharedTags).some((t) => tags.has(t));
}

function applyRemoval(repos: Json[], sel: RemovalSelector, stats: MergeStats): void {
  const repo = repos.find((r) => r.repo === sel.repo);
  if (!repo || !Array.isArray(repo.images)) return;
  repo.images = (repo.images as Json[]).filter((image) => {
    if (
      sel.digest !== undefined &&
      isObject(image.manifest) &&
      sameDigest(image.manifest.digest, sel.digest)
    ) {
      stats.removed += platforms(image).length;
      return false;
    }
    const before = platforms(image);
    if (before.length === 0) return true;
    const after = before.filter((p) => !selects(sel, image, p));
    if (after.length === before.length) return true;
    stats.removed += before.length - after.length;
    image.platforms = after;
    return after.length > 0;
  });
}

function selects(sel: RemovalSelector, image: Json, p: Json): boolean {
  if (sel.dockerfile !== undefined && p.dockerfile !== sel.dockerfile) return false;
  if (sel.digest !== undefined && !sameDigest(p.digest, sel.digest)) return false;
  if (sel.productVersion !== undefined && image.productVersion !== sel.productVersion) return false;
  if (sel.osType !== undefined && p.osType !== sel.osType) return false;
  if (sel.osVersion !== undefined && p.osVersion !== sel.osVersion) return false;
  if (sel.architecture !== undefined && p.architecture !== sel.architecture) return false;
  return true;
}

function parseRemovals(doc: Json, source: string): RemovalSelector[] {
  if (doc.removed === undefined) return [];
  const fail = (path: string, message: string): never => {
    throw new InputError(`${source}: ${path}: ${message}`);
  };
  if (!Array.isArray(doc.removed))
    fail('removed', 'expected an array of {repo, dockerfile | digest, ...}');
  return (doc.removed as unknown[]).map((entry, i) => {
    const path = `removed[${i}]`;
    if (!isObject(entry)) return fail(path, 'expected an object');
    for (const key of Object.keys(entry)) {
      // An unknown (misspelt) key would silently widen the selector and remove more than meant.
      if (!(SELECTOR_FIELDS as readonly string[]).includes(key))
        fail(`${path}.${key}`, `unknown field (allowed: ${SELECTOR_FIELDS.join(', ')})`);
    }
    const sel: Partial<RemovalSelector> = {};
    for (const key of SELECTOR_FIELDS) {
      const value = entry[key];
      if (value === undefined) continue;
      if (typeof value !== 'string' || value === '')
        fail(`${path}.${key}`, 'expected a non-empty string');
      sel[key] = value as string;
    }
    if (!sel.repo) fail(`${path}.repo`, 'missing repo');
    if (sel.dockerfile === undefined && sel.digest === undefined)
      fail(path, 'needs dockerfile or digest (a repo alone would remove it all)');
    return sel as RemovalSelector;
  });
}

/** `host/repo@sha256:…` and `sha256:…` name the same digest. */
function sameDigest(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  return a.slice(a.lastIndexOf('@') + 1) === b.slice(b.lastIndexOf('@') + 1);
}

/** Adds a new key before `platforms` (where the real files keep `manifest`), else in place. */
function setKeepingOrder(obj: Json, key: string, value: unknown): void {
  if (key in obj || !('platforms' in obj)) {
    obj[key] = value;
    return;
  }
  const entries = Object.entries(obj);
  for (const k of Object.keys(obj)) delete obj[k];
  for (const [k, v] of entries) {
    if (k === 'platforms') obj[key] = value;
    obj[k] = v;
  }
}

/** Structural equality of JSON values (object key order does not matter). */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((v, i) => deepEqual(v, other[i]));
  }
  const ka = Object.keys(a);
  const ob = b as Json;
  return (
    ka.length === Object.keys(ob).length &&
    ka.every((k) => Object.hasOwn(ob, k) && deepEqual((a as Json)[k], ob[k]))
  );
}

function raw(text: string): Json {
  return JSON.parse(text.replace(/^\uFEFF/, '')) as Json;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function images(repo: Json): Json[] {
  return Array.isArray(repo.images) ? (repo.images as Json[]) : [];
}

function platforms(image: Json): Json[] {
  return Array.isArray(image.platforms) ? (image.platforms as Json[]) : [];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
