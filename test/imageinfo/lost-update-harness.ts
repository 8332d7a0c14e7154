/**
 * The lost-update experiment, shared by test/imageinfo/lost-update.test.ts and
 * scripts/simulate-publish.ts: N writers merge different fragments of real image-info into one
 * target at the same time, with random delays between their read and their write. With
 * publishImageInfo every writer's entries must survive; a naive read-merge-overwrite must lose
 * some in a clear share of schedules (otherwise the experiment has no power).
 *
 * The timed kind ({@link runTimedSchedule}): writers also carry build times for the
 * same platforms and finish in random order, so stale runs record after newer ones; the final
 * image-info must name, for every platform, the newest build any writer recorded, and no committed
 * version may name an older build of a platform than the version before it.
 */
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publishImageInfo } from '../../src/commands/publish-image-info.js';
import {
  formatImageInfo,
  mergeImageInfo,
  type StaleEntry,
} from '../../src/core/image-info-merge.js';
import { buildTime, compareTimes } from '../../src/core/image-info-time.js';
import { silentLogger, type Clock } from '../../src/core/ports.js';
import { FileSource } from '../../src/imageinfo/file-source.js';
import { GitHubContentsSource } from '../../src/imageinfo/github-source.js';
import { AzureReposSource } from '../../src/imageinfo/azure-repos-source.js';
import type { SourceSnapshot, WritableImageInfoSource } from '../../src/imageinfo/source.js';
import { sha256Digest } from '../../src/util/hash.js';
import type { RetryPolicy } from '../../src/util/http.js';
import type { FakeAzureDevOps } from '../support/fake-azure-devops.js';
import type { FakeGitHub } from '../support/fake-github.js';
import { readSharedImageInfo } from '../support/data.js';
import { rng as prng } from '../support/rng.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form JSON of real files
type Json = Record<string, any>;

/** The simulators share one seeded PRNG, so every schedule replays from its seed. */
export { prng };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let sampleImages: Array<{ repo: string; image: Json }> | undefined;

/** Every image of the real dotnet-docker image-info, with its repo (loaded once). */
function realImages(): Array<{ repo: string; image: Json }> {
  if (!sampleImages) {
    const doc = JSON.parse(readSharedImageInfo('dotnet-docker-main.json')) as Json;
    sampleImages = (doc.repos as Json[]).flatMap((r) =>
      ((r.images ?? []) as Json[]).map((image) => ({ repo: r.repo as string, image })),
    );
  }
  return sampleImages;
}

/** `items` in a random order drawn from `rand` (Fisher–Yates, in place). */
function shuffle<T>(rand: () => number, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** Every platform of an image-info document, with its repo and image. */
function* platformsIn(doc: Json): Generator<{ repo: string; image: Json; platform: Json }> {
  for (const r of doc.repos as Json[])
    for (const image of (r.images ?? []) as Json[])
      for (const platform of (image.platforms ?? []) as Json[])
        yield { repo: r.repo as string, image, platform };
}

export interface Fragment {
  name: string;
  text: string;
  /** Platform digests this writer publishes: all must be in the target at the end. */
  digests: string[];
}

export interface Scenario {
  base: string;
  fragments: Fragment[];
}

/** Writer `w`'s fragment of `entries`. */
const fragmentOf = (w: number, entries: Array<{ repo: string; image: Json }>): Fragment => ({
  name: `writer-${w}.json`,
  text: formatImageInfo(docOf(entries)),
  digests: entries.flatMap((e) => (e.image.platforms as Json[]).map((p) => p.digest as string)),
});

function docOf(entries: Array<{ repo: string; image: Json }>): Json {
  const repos: Json[] = [];
  for (const { repo, image } of entries) {
    let r = repos.find((x) => x.repo === repo);
    if (!r) repos.push((r = { repo, images: [] }));
    r.images.push(structuredClone(image));
  }
  return { schemaVersion: '2.0', repos };
}

/**
 * A base image-info of real images and one fragment per writer: writer i publishes 1–2 real
 * images the base lacks and, every other writer, a rebuild of one base platform (same platform,
 * new digest) — so a lost update shows up as a missing or a rolled-back entry.
 */
export function buildScenario(rand: () => number, writers: number): Scenario {
  const pool = shuffle(rand, [...realImages()]);
  let next = 0;
  const take = () => pool[next++];
  const baseEntries = Array.from({ length: 12 }, take);
  const base = docOf(baseEntries);
  const fragments: Fragment[] = [];
  for (let w = 0; w < writers; w++) {
    const entries = Array.from({ length: 1 + Math.floor(rand() * 2) }, take);
    if (w % 2 === 0) {
      // A rebuild of base image w: its first platform gets a new digest.
      const rebuilt = structuredClone(baseEntries[w]);
      const p = rebuilt.image.platforms[0];
      p.digest = `${String(p.digest).split('@')[0]}@${sha256Digest(`rebuild ${w} ${p.digest}`)}`;
      rebuilt.image.platforms = [p];
      delete rebuilt.image.manifest;
      entries.push(rebuilt);
    }
    fragments.push(fragmentOf(w, entries));
  }
  return { base: formatImageInfo(base), fragments };
}

/** Digests of the fragments that did not make it into the final target. */
export function lostEntries(finalText: string, fragments: Fragment[]): string[] {
  const present = new Set<string>();
  for (const { platform } of platformsIn(JSON.parse(finalText) as Json))
    present.add(platform.digest);
  return fragments.flatMap((f) => f.digests.filter((d) => !present.has(d)));
}

/** A target the experiment can run against: the real source, a blind write, a way to look. */
export interface Target {
  source: WritableImageInfoSource;
  /** What a naive publisher does: overwrite whatever is there now. */
  blindWrite(text: string, message: string): Promise<void>;
  final(): Promise<string>;
}

/** Inserts a random pause between a writer's read and its write: the window a lost update needs. */
function withPause(
  source: WritableImageInfoSource,
  pause: () => Promise<void>,
): WritableImageInfoSource {
  return {
    name: source.name,
    read: async (): Promise<SourceSnapshot> => {
      const s = await source.read();
      await pause();
      return s;
    },
    write: (text, expected, message) => source.write(text, expected, message),
  };
}

/**
 * What the writers of one schedule share, drawn from its seed: random pauses, and
 * publishImageInfo with a pause between each read and write and the experiment's retry bounds.
 */
function writersOf(opts: { seed: number; writers: number }) {
  const rand = prng(opts.seed);
  const pause = () => sleep(rand() * 6);
  const clock: Clock = { now: () => new Date(), sleep, random: rand };
  const publish = (target: WritableImageInfoSource, fragment: { name: string; text: string }) =>
    publishImageInfo(
      {
        target: withPause(target, pause),
        fragmentText: fragment.text,
        fragmentName: fragment.name,
        message: `publish ${fragment.name}`,
        maxAttempts: 4 * opts.writers,
        baseDelayMs: 2,
        maxDelayMs: 20,
      },
      { clock, logger: silentLogger },
    );
  return { pause, publish };
}

export interface ScheduleResult {
  lost: string[];
  attempts: number[];
}

export interface ScheduleOptions {
  seed: number;
  writers: number;
  mode: 'publish' | 'naive';
  /** Creates a fresh target holding `base`. */
  makeTarget(base: string, seed: number): Promise<Target>;
}

export async function runSchedule(opts: ScheduleOptions): Promise<ScheduleResult> {
  const { pause, publish } = writersOf(opts);
  const scenario = buildScenario(prng(opts.seed * 7919 + 1), opts.writers);
  const target = await opts.makeTarget(scenario.base, opts.seed);
  const attempts: number[] = [];

  await Promise.all(
    scenario.fragments.map(async (fragment) => {
      await pause();
      if (opts.mode === 'publish') {
        const result = await publish(target.source, fragment);
        attempts.push(result.attempts);
      } else {
        // Read, merge, (time passes), overwrite: the pattern that loses updates.
        const current = await target.source.read();
        const merged = mergeImageInfo(
          { text: current.text, name: target.source.name },
          { text: fragment.text, name: fragment.name },
        );
        await pause();
        await target.blindWrite(merged.text, `naive ${fragment.name}`);
        attempts.push(1);
      }
    }),
  );
  return { lost: lostEntries(await target.final(), scenario.fragments), attempts };
}

// ---- the timed kind: build times, out of order ----------------------------------------------

/** Which platform an entry is: ImageBuilder's identifier plus the image's productVersion. */
function platformKey(repo: string, image: Json, p: Json): string {
  return [repo, image.productVersion, p.dockerfile, p.osType, p.osVersion, p.architecture].join(
    '|',
  );
}

const HOUR = 3_600_000;
/** Build-time offsets in whole hours: ±1..24. */
const HOURS = Array.from({ length: 48 }, (_, i) => (i < 24 ? i - 24 : i - 23));
const BASE_TIME = Date.parse('2026-11-21T00:00:00Z');
/** Writes a time the way ImageBuilder does: 7 fractional digits. */
const created = (ms: number) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');

export interface TimedScenario {
  base: string;
  fragments: Fragment[];
  /** Per platform key, the digest the final image-info must name: the newest build of it. */
  newest: Map<string, string>;
  /** Build time (ms) of every platform digest in the scenario, base included. */
  builtAt: Map<string, number>;
}

/**
 * A base of 8 real images (every platform built at BASE_TIME) and one fragment per writer. Each
 * writer rebuilds each of the first 3 base images with probability 0.7, all its platforms and its
 * manifest list, at BASE_TIME plus a whole number of hours in ±1..24 that no other writer uses for
 * that image (negative: a stale branch or a re-run of an old commit); and adds one new real image.
 */
export function buildTimedScenario(rand: () => number, writers: number): TimedScenario {
  const pool = shuffle(rand, [...realImages()]);
  // Only images whose platforms no other chosen image shares, so each key names one entry.
  const taken = new Set<string>();
  const picked: Array<{ repo: string; image: Json }> = [];
  for (const entry of pool) {
    if (picked.length === 8 + writers) break;
    const keys = (entry.image.platforms as Json[]).map((p) =>
      platformKey(entry.repo, entry.image, p),
    );
    if (keys.length === 0 || keys.some((k) => taken.has(k)) || new Set(keys).size < keys.length)
      continue;
    for (const k of keys) taken.add(k);
    const copy = structuredClone(entry);
    // Layer lists are most of the bytes and play no part in matching or times; without them
    // 1,000 schedules fit in a test run.
    for (const p of copy.image.platforms as Json[]) delete p.layers;
    picked.push(copy);
  }
  const builtAt = new Map<string, number>();
  const newest = new Map<string, { digest: string; at: number }>();
  const record = (repo: string, image: Json, at: number) => {
    for (const p of image.platforms as Json[]) {
      p.created = created(at);
      builtAt.set(p.digest, at);
      const key = platformKey(repo, image, p);
      const best = newest.get(key);
      if (!best || at > best.at) newest.set(key, { digest: p.digest, at });
    }
  };
  const baseEntries = picked.slice(0, 8);
  for (const { repo, image } of baseEntries) record(repo, image, BASE_TIME);
  const contended = baseEntries.slice(0, 3);
  const offsets = contended.map(() => shuffle(rand, [...HOURS]));
  const fragments: Fragment[] = [];
  for (let w = 0; w < writers; w++) {
    const entries = [picked[8 + w]];
    record(entries[0].repo, entries[0].image, BASE_TIME + (1 + w) * HOUR);
    contended.forEach(({ repo, image }, c) => {
      if (rand() >= 0.7) return;
      const at = BASE_TIME + offsets[c][w] * HOUR;
      const rebuilt = structuredClone(image);
      for (const p of rebuilt.platforms as Json[])
        p.digest = `${String(p.digest).split('@')[0]}@${sha256Digest(`writer ${w} ${p.digest}`)}`;
      if (rebuilt.manifest)
        rebuilt.manifest.digest = `${String(rebuilt.manifest.digest).split('@')[0]}@${sha256Digest(`writer ${w} manifest ${rebuilt.manifest.digest}`)}`;
      record(repo, rebuilt, at);
      entries.push({ repo, image: rebuilt });
    });
    fragments.push(fragmentOf(w, entries));
  }
  return {
    base: formatImageInfo(docOf(baseEntries)),
    fragments,
    newest: new Map([...newest].map(([k, v]) => [k, v.digest])),
    builtAt,
  };
}

/** Platform key → digest, of one version of the target. */
function platformsOf(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const { repo, image, platform } of platformsIn(JSON.parse(text) as Json))
    out.set(platformKey(repo, image, platform), platform.digest);
  return out;
}

export interface TimedScheduleResult {
  /** Entries missing at the end: a writer's new image, or a platform's newest build. */
  lost: string[];
  /** `key: older ← newer` for each platform a committed version moved to an older build. */
  movedBack: string[];
  /** Entries the writers reported as older than the target's (each would have moved back before). */
  stale: StaleEntry[];
  /** Reports whose "older" build is not older than the kept one (must be none). */
  falseStale: StaleEntry[];
  /** Committed versions (successful writes), and whether they form one compare-and-swap chain. */
  versions: number;
  chained: boolean;
  attempts: number[];
}

export interface TimedScheduleOptions {
  seed: number;
  writers: number;
  /**
   * `publish`: the fragments as built. `untimed`: the same with `created` removed, which makes the
   * merge replace without the age check — the baseline that must move entries back in time.
   */
  mode: 'publish' | 'untimed';
  makeTarget(base: string, seed: number): Promise<Target>;
}

/**
 * Runs one timed schedule with publishImageInfo and checks it against every committed version
 * of the target: each successful write is recorded with the fingerprint it replaced, the
 * versions are chained from the base, and consecutive versions are compared platform by platform
 * through the build time of the digest they name.
 */
export async function runTimedSchedule(opts: TimedScheduleOptions): Promise<TimedScheduleResult> {
  const { pause, publish } = writersOf(opts);
  const scenario = buildTimedScenario(prng(opts.seed * 7919 + 3), opts.writers);
  const target = await opts.makeTarget(scenario.base, opts.seed);
  const first = await target.source.read();
  const writes = new Map<string, Array<{ fingerprint: string; text: string }>>();
  const recording: WritableImageInfoSource = {
    name: target.source.name,
    read: () => target.source.read(),
    write: async (text, expected, message) => {
      const result = await target.source.write(text, expected, message);
      if (result !== 'conflict') {
        const list = writes.get(expected) ?? [];
        list.push({ fingerprint: result.fingerprint, text });
        writes.set(expected, list);
      }
      return result;
    },
  };
  const attempts: number[] = [];
  const stale: StaleEntry[] = [];
  await Promise.all(
    scenario.fragments.map(async (fragment) => {
      await pause();
      const doc = JSON.parse(fragment.text) as Json;
      if (opts.mode === 'untimed')
        for (const { platform } of platformsIn(doc)) delete platform.created;
      const result = await publish(recording, { name: fragment.name, text: formatImageInfo(doc) });
      attempts.push(result.attempts);
      stale.push(...result.stale);
    }),
  );

  // The chain of committed versions, from the base: one successor per version, or a write
  // was based on a version another write had already replaced (a lost update).
  const versions: string[] = [first.text];
  let chained = true;
  let count = 0;
  for (const list of writes.values()) {
    count += list.length;
    if (list.length > 1) chained = false;
  }
  for (let fp = first.fingerprint; writes.has(fp);) {
    const [next] = writes.get(fp)!;
    versions.push(next.text);
    fp = next.fingerprint;
  }
  if (versions.length - 1 !== count) chained = false;
  const finalText = await target.final();
  if (finalText !== versions.at(-1)) chained = false;

  const movedBack: string[] = [];
  let before = platformsOf(versions[0]);
  for (const text of versions.slice(1)) {
    const after = platformsOf(text);
    for (const [key, digest] of after) {
      const was = before.get(key);
      if (was !== undefined && scenario.builtAt.get(digest)! < scenario.builtAt.get(was)!)
        movedBack.push(`${key}: ${digest} (older) ← ${was}`);
    }
    before = after;
  }
  const final = platformsOf(finalText);
  // Every platform (the writers' new images included) must end at its newest build; one entry
  // per platform key.
  const lost = [...scenario.newest]
    .filter(([key, digest]) => final.get(key) !== digest)
    .map(([key, digest]) => `${key}: ${digest}`);
  const falseStale = stale.filter(
    (s) => compareTimes(buildTime(s.stale.created)!, buildTime(s.kept.created)!) >= 0,
  );
  return { lost, movedBack, stale, falseStale, versions: count, chained, attempts };
}

// ---- targets ------------------------------------------------------------------------------

/** Retries of the adapters under contention: two, a ten-second budget per request. */
const retry: RetryPolicy = { retries: 2, baseDelayMs: 5, maxDelayMs: 20, timeoutMs: 10_000 };

export async function fileTarget(dir: string, base: string, seed: number): Promise<Target> {
  const path = join(dir, `image-info-${seed}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, base);
  const source = new FileSource(path, { lockPollMs: 1 });
  return {
    source,
    // Atomic (temp + rename) but blind: isolates the lost update from torn writes.
    blindWrite: async (text) => {
      const tmp = `${path}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, path);
    },
    final: async () => (await source.read()).text,
  };
}

export async function gitHubTarget(
  server: FakeGitHub,
  base: string,
  seed: number,
): Promise<Target> {
  const branch = `run-${seed}-${Math.random().toString(36).slice(2)}`;
  server.contents.setFile('org', 'images', branch, 'info/image-info.json', base);
  const source = new GitHubContentsSource(
    { owner: 'org', repo: 'images', path: 'info/image-info.json', branch },
    { apiUrl: server.apiUrl, token: server.token, retry },
  );
  return {
    source,
    // A naive client satisfies the API's sha requirement by fetching the sha right before the PUT.
    blindWrite: async (text, message) => {
      const sha = server.contents.fileSha('org', 'images', branch, 'info/image-info.json');
      const res = await fetch(`${server.apiUrl}/repos/org/images/contents/info/image-info.json`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.token}` },
        body: JSON.stringify({
          message,
          content: Buffer.from(text).toString('base64'),
          sha,
          branch,
        }),
      });
      await res.arrayBuffer();
    },
    final: async () => server.contents.getFile('org', 'images', branch, 'info/image-info.json')!,
  };
}

export async function azureTarget(
  ado: FakeAzureDevOps,
  base: string,
  seed: number,
): Promise<Target> {
  const branch = `run-${seed}-${Math.random().toString(36).slice(2)}`;
  ado.repos.commit('Images', 'image-info', branch, { 'image-info.json': base });
  const source = new AzureReposSource(
    { project: 'Images', repo: 'image-info', path: 'image-info.json', branch },
    { collectionUri: ado.collectionUri, token: ado.token, retry },
  );
  return {
    source,
    // A naive client pushes on whatever the branch points at now.
    blindWrite: async (text, message) => {
      const head = ado.repos.head('Images', 'image-info', branch)!;
      ado.repos.applyPush('Images', 'image-info', `refs/heads/${branch}`, head, message, [
        { changeType: 'edit', path: '/image-info.json', content: Buffer.from(text) },
      ]);
    },
    final: async () => ado.repos.getFile('Images', 'image-info', branch, 'image-info.json')!,
  };
}

/** An in-memory compare-and-swap target: the fastest way to run thousands of schedules. */
export async function memoryTarget(base: string): Promise<Target> {
  let text = base;
  const source: WritableImageInfoSource = {
    name: 'memory',
    read: async () => ({ text, fingerprint: sha256Digest(text) }),
    write: async (next, expected) => {
      if (sha256Digest(text) !== expected) return 'conflict';
      text = next;
      return { text, fingerprint: sha256Digest(text) };
    },
  };
  return { source, blindWrite: async (next) => void (text = next), final: async () => text };
}
