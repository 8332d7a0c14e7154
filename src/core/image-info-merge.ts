import { parseImageInfo } from './image-info.js';
import { deepEqual, images, isObject, platforms, rawJson, type Json } from './image-info-json.js';
import {
  applyRemoval,
  findPlatform,
  parseRemovals,
  sameManifest,
  type RemovalSelector,
} from './image-info-match.js';
import {
  checkCreated,
  compareTimes,
  imageTime,
  mayReplace,
  type MergeStats,
  type Report,
} from './image-info-time.js';

export { describeStale, type MergeStats, type StaleEntry } from './image-info-time.js';

/**
 * Merges one run's image-info (the *fragment*) into the shared one (the *target*). Pure, text to
 * text; both are validated by `parseImageInfo`, and the merge edits the raw JSON so fields we do
 * not model (layers, commitUrl, ...) survive.
 *
 * Follows ImageBuilder's `ImageInfoHelper.MergeImageArtifactDetails` with `ReplaceTags`, erring on
 * keeping entries: one wrongly dropped gets a supported image marked end-of-life, one wrongly kept
 * only delays an annotation.
 *
 * - Repos match by `repo`, platforms per {@link findPlatform}. New entries are appended, so the
 *   shared file's order and diffs stay stable.
 * - A matched platform is replaced whole (tags replaced, not unioned: a tag moved to a newer image
 *   leaves the older one) unless the fragment's build is older ({@link mayReplace}). Unmatched
 *   platforms join the target image holding the fragment image's first matched platform, else the
 *   fragment image is appended.
 * - Image fields (`manifest`, `productVersion`, unknown ones) follow the platforms: replaced unless
 *   the fragment image is older (its time is its newest platform's `created`). A fragment image
 *   without `manifest` leaves the target's. Repo fields come from the fragment.
 * - Only the fragment's top-level `removed` list ({@link RemovalSelector}) removes anything. It
 *   applies first, so an entry both removed and in the fragment ends as the fragment has it. A
 *   selector matching nothing is fine: merges re-run after a conflict and must be idempotent.
 * - The target's top-level fields (`schemaVersion`) are kept; `removed` is never written.
 */

export interface NamedText {
  text: string;
  /** File, URL or source name, used in every error. */
  name: string;
}

export interface MergeResult extends Report {
  text: string;
  /** False when the merged document equals the target: the write can be skipped. */
  changed: boolean;
}

/** Stable JSON for image-info files: 2-space indent, trailing newline. */
export function formatImageInfo(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export function emptyImageInfo(schemaVersion = '2.0'): string {
  return formatImageInfo({ schemaVersion, repos: [] });
}

/** A fragment validated once, for merging again after each conflict. */
export interface PreparedFragment {
  readonly name: string;
  readonly doc: Readonly<Json>;
  readonly removals: readonly RemovalSelector[];
}

/** Throws InputError naming the file and JSON path. */
export function validateFragment(fragment: NamedText): PreparedFragment {
  parseImageInfo(fragment.text, fragment.name);
  const doc = rawJson(fragment.text);
  checkCreated(doc, fragment.name);
  return { name: fragment.name, doc, removals: parseRemovals(doc, fragment.name) };
}

/** `target` undefined creates one. Built from validated parts of both, so the result is valid. */
export function mergeImageInfo(
  target: NamedText | undefined,
  fragment: NamedText | PreparedFragment,
): MergeResult {
  const prepared = 'text' in fragment ? validateFragment(fragment) : fragment;
  const fragmentDoc = prepared.doc;
  if (target) parseImageInfo(target.text, target.name);
  const original = target
    ? rawJson(target.text)
    : { schemaVersion: fragmentDoc.schemaVersion, repos: [] };
  const doc = structuredClone(original);
  const stats = { added: 0, replaced: 0, unchanged: 0, removed: 0, manifests: 0, stale: 0 };
  const report: Report = { stats, stale: [], untimed: [] };
  const repos = doc.repos as Json[];

  for (const selector of prepared.removals) stats.removed += applyRemoval(repos, selector);

  for (const fRepo of fragmentDoc.repos as Json[]) {
    const tRepo = repos.find((r) => r.repo === fRepo.repo);
    if (!tRepo) {
      repos.push(structuredClone(fRepo));
      for (const image of images(fRepo)) countNew(image, stats);
      continue;
    }
    for (const [key, value] of Object.entries(fRepo))
      if (key !== 'images') tRepo[key] = structuredClone(value);
    if (fRepo.images !== undefined && tRepo.images === undefined) tRepo.images = [];
    // Target platforms already matched or written by this fragment: each is matched at most once.
    const claimed = new Set<Json>();
    for (const fImage of images(fRepo)) mergeImage(tRepo, fImage, claimed, report);
  }

  return { text: formatImageInfo(doc), changed: !deepEqual(original, doc), ...report };
}

function countNew(image: Json, stats: MergeStats): void {
  stats.added += platforms(image).length;
  if (image.manifest !== undefined) stats.manifests++;
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
  if (!home && platforms(fImage).length === 0 && isObject(fImage.manifest))
    home = tImages.find(
      (t) => isObject(t.manifest) && sameManifest(t.manifest, fImage.manifest as Json),
    );
  if (!home) {
    const copy = structuredClone(fImage);
    tImages.push(copy);
    for (const p of platforms(copy)) claimed.add(p);
    countNew(fImage, stats);
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
    } else if (mayReplace(report, 'platform', repo, fp, m.platform)) {
      const list = m.image.platforms as Json[];
      const copy = structuredClone(fp);
      list[list.indexOf(m.platform)] = copy;
      claimed.add(copy);
      stats.replaced++;
    }
  });
  const fTime = imageTime(fImage);
  if (!deepEqual(home.manifest ?? fImage.manifest, fImage.manifest) && isObject(fImage.manifest)) {
    const times = [fTime?.created, homeTime?.created] as const;
    mayReplace(report, 'manifest-list', repo, fImage.manifest, home.manifest as Json, times);
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
