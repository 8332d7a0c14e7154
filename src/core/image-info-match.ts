import { InputError } from './errors.js';
import { isObject, platforms, strings, type Json } from './image-info-json.js';

/** Which entries are the same: platform identity, manifest lists, digests, `removed` selectors. */

/**
 * One entry of a fragment's top-level `"removed": [...]`: `repo` plus `dockerfile` or `digest`;
 * every field given must match. A `dockerfile` selector removes the matching platforms (narrowed
 * by `osType`, `osVersion`, `architecture`, the image's `productVersion`); a `digest` selector the
 * platform with that digest, or the image whose manifest list has it. Digests match with or
 * without a registry/repository prefix. An image left without platforms goes with its list.
 *
 *     "removed": [{ "repo": "dotnet/runtime", "dockerfile": "src/runtime/6.0/bookworm-slim/amd64/Dockerfile" }]
 */
export type RemovalSelector = { repo: string } & Partial<Record<SelectorField, string>>;

const SELECTOR_FIELDS = [
  'repo',
  'dockerfile',
  'digest',
  'productVersion',
  'osType',
  'osVersion',
  'architecture',
] as const;
type SelectorField = (typeof SELECTOR_FIELDS)[number];

/** ImageBuilder's platform identifier. */
const PLATFORM_ID = ['dockerfile', 'osType', 'osVersion', 'architecture'] as const;

export type PlatformId = Partial<Record<(typeof PLATFORM_ID)[number], string>>;

export function platformId(p: Json): PlatformId {
  const out: PlatformId = {};
  for (const key of PLATFORM_ID) if (typeof p[key] === 'string') out[key] = p[key];
  return out;
}

export interface PlatformMatch {
  image: Json;
  platform: Json;
}

/**
 * The target platform, of those not yet claimed, that `fp` replaces: same {@link PLATFORM_ID}
 * *and* same image `productVersion` or a shared `simpleTags` entry. One Dockerfile may build
 * several images (buildtools prereqs `net8.0`, `net9.0`, told apart by productVersion and tags),
 * while a patch release changes productVersion but keeps its floating tags. Platforms without a
 * dockerfile match by digest. Best: same productVersion, then most shared tags.
 */
export function findPlatform(
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
    const same = fp.digest !== undefined && tp.dockerfile === undefined;
    return same && sameDigest(fp.digest, tp.digest) ? 0 : -1;
  }
  if (PLATFORM_ID.some((key) => fp[key] !== tp[key])) return -1;
  const sameVersion = fImage.productVersion === tImage.productVersion;
  const fTags = new Set(strings(fp.simpleTags));
  const shared = strings(tp.simpleTags).filter((t) => fTags.has(t)).length;
  if (!sameVersion && shared === 0) return -1;
  return (sameVersion ? 1_000_000 : 0) + shared;
}

export function sameManifest(a: Json, b: Json): boolean {
  if (a.digest !== undefined && sameDigest(a.digest, b.digest)) return true;
  const tags = new Set(strings(a.sharedTags));
  return strings(b.sharedTags).some((t) => tags.has(t));
}

/** `host/repo@sha256:…` and `sha256:…` name the same digest. */
function sameDigest(a: unknown, b: unknown): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') return false;
  return a.slice(a.lastIndexOf('@') + 1) === b.slice(b.lastIndexOf('@') + 1);
}

/** Returns how many platforms the selector removed. */
export function applyRemoval(repos: Json[], sel: RemovalSelector): number {
  let removed = 0;
  const repo = repos.find((r) => r.repo === sel.repo);
  if (!repo || !Array.isArray(repo.images)) return 0;
  repo.images = (repo.images as Json[]).filter((image) => {
    if (
      sel.digest !== undefined &&
      isObject(image.manifest) &&
      sameDigest(image.manifest.digest, sel.digest)
    ) {
      removed += platforms(image).length;
      return false;
    }
    const before = platforms(image);
    if (before.length === 0) return true;
    const after = before.filter((p) => !selects(sel, image, p));
    if (after.length === before.length) return true;
    removed += before.length - after.length;
    image.platforms = after;
    return after.length > 0;
  });
  return removed;
}

/** Every field the selector gives matches (`repo` is matched by the caller). */
function selects(sel: RemovalSelector, image: Json, p: Json): boolean {
  return SELECTOR_FIELDS.every((key) => {
    const want = sel[key];
    if (want === undefined || key === 'repo') return true;
    if (key === 'digest') return sameDigest(p.digest, want);
    return (key === 'productVersion' ? image : p)[key] === want;
  });
}

/** Throws InputError naming the file and JSON path. */
export function parseRemovals(doc: Json, source: string): RemovalSelector[] {
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
