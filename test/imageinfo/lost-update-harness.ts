/**
 * The lost-update experiment, shared by test/imageinfo/lost-update.test.ts and
 * scripts/simulate-publish.ts: N writers merge different fragments of real image-info into one
 * target at the same time, with random delays between their read and their write. With
 * publishImageInfo every writer's entries must survive; a naive read-merge-overwrite must lose
 * some in a clear share of schedules (otherwise the experiment has no power).
 */
import { readFileSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { publishImageInfo } from '../../src/commands/publish-image-info.js';
import { formatImageInfo, mergeImageInfo } from '../../src/core/image-info-merge.js';
import { silentLogger, type Clock } from '../../src/core/ports.js';
import { FileSource } from '../../src/imageinfo/file-source.js';
import { GitHubContentsSource } from '../../src/imageinfo/github-source.js';
import { AzureReposSource } from '../../src/imageinfo/azure-repos-source.js';
import type { SourceSnapshot, WritableImageInfoSource } from '../../src/imageinfo/source.js';
import { sha256Digest } from '../../src/util/hash.js';
import type { RetryPolicy } from '../../src/util/http.js';
import type { FakeAzureRepos } from '../support/fake-azure-repos.js';
import type { FakeGitHubContents } from '../support/fake-github-contents.js';
import { rng as prng } from '../support/rng.js';

export const SAMPLES = join(import.meta.dirname, '../fixtures/image-info');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form JSON of real files
type Json = Record<string, any>;

/** The simulators share one seeded PRNG, so every schedule replays from its seed. */
export { prng };

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let sampleImages: Array<{ repo: string; image: Json }> | undefined;

/** Every image of the real dotnet-docker image-info, with its repo (loaded once). */
function realImages(): Array<{ repo: string; image: Json }> {
  if (!sampleImages) {
    const doc = JSON.parse(readFileSync(join(SAMPLES, 'dotnet-docker-main.json'), 'utf8')) as Json;
    sampleImages = (doc.repos as Json[]).flatMap((r) =>
      ((r.images ?? []) as Json[]).map((image) => ({ repo: r.repo as string, image })),
    );
  }
  return sampleImages;
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
  const pool = [...realImages()];
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pool[i], pool[j]] = [pool[j], pool[i]];
  }
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
    const doc = docOf(entries);
    const digests = entries.flatMap((e) =>
      (e.image.platforms as Json[]).map((p) => p.digest as string),
    );
    fragments.push({ name: `writer-${w}.json`, text: formatImageInfo(doc), digests });
  }
  return { base: formatImageInfo(base), fragments };
}

/** Digests of the fragments that did not make it into the final target. */
export function lostEntries(finalText: string, fragments: Fragment[]): string[] {
  const doc = JSON.parse(finalText) as Json;
  const present = new Set<string>();
  for (const r of doc.repos as Json[])
    for (const i of (r.images ?? []) as Json[])
      for (const p of (i.platforms ?? []) as Json[]) present.add(p.digest);
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
  /** Upper bound of the random start offsets and read→write pauses. */
  maxDelayMs?: number;
}

export async function runSchedule(opts: ScheduleOptions): Promise<ScheduleResult> {
  const rand = prng(opts.seed);
  const scenario = buildScenario(prng(opts.seed * 7919 + 1), opts.writers);
  const target = await opts.makeTarget(scenario.base, opts.seed);
  const maxDelay = opts.maxDelayMs ?? 6;
  const pause = () => sleep(rand() * maxDelay);
  const clock: Clock = { now: () => new Date(), sleep, random: rand };
  const attempts: number[] = [];

  await Promise.all(
    scenario.fragments.map(async (fragment) => {
      await pause();
      if (opts.mode === 'publish') {
        const result = await publishImageInfo(
          {
            target: withPause(target.source, pause),
            fragmentText: fragment.text,
            fragmentName: fragment.name,
            message: `publish ${fragment.name}`,
            maxAttempts: 4 * opts.writers,
            baseDelayMs: 2,
            maxDelayMs: 20,
          },
          { clock, logger: silentLogger },
        );
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

// ---- targets ------------------------------------------------------------------------------

export const FAST_RETRY: RetryPolicy = {
  retries: 2,
  baseDelayMs: 5,
  maxDelayMs: 20,
  timeoutMs: 10_000,
};

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
  server: FakeGitHubContents,
  base: string,
  seed: number,
): Promise<Target> {
  const branch = `run-${seed}-${Math.random().toString(36).slice(2)}`;
  server.store.setFile('org', 'images', branch, 'info/image-info.json', base);
  const source = new GitHubContentsSource(
    { owner: 'org', repo: 'images', path: 'info/image-info.json', branch },
    { apiUrl: server.url, retry: FAST_RETRY },
  );
  return {
    source,
    // A naive client satisfies the API's sha requirement by fetching the sha right before the PUT.
    blindWrite: async (text, message) => {
      const sha = server.store.fileSha('org', 'images', branch, 'info/image-info.json');
      const res = await fetch(`${server.url}/repos/org/images/contents/info/image-info.json`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          message,
          content: Buffer.from(text).toString('base64'),
          sha,
          branch,
        }),
      });
      await res.arrayBuffer();
    },
    final: async () => server.store.getFile('org', 'images', branch, 'info/image-info.json')!,
  };
}

export async function azureTarget(
  server: FakeAzureRepos,
  base: string,
  seed: number,
): Promise<Target> {
  const branch = `run-${seed}-${Math.random().toString(36).slice(2)}`;
  server.store.commit('Images', 'image-info', branch, { 'image-info.json': base });
  const source = new AzureReposSource(
    { project: 'Images', repo: 'image-info', path: 'image-info.json', branch },
    { collectionUri: server.url, retry: FAST_RETRY },
  );
  return {
    source,
    // A naive client pushes on whatever the branch points at now.
    blindWrite: async (text, message) => {
      const head = server.store.head('Images', 'image-info', branch)!;
      server.store.applyPush('Images', 'image-info', `refs/heads/${branch}`, head, message, [
        { changeType: 'edit', path: '/image-info.json', content: Buffer.from(text) },
      ]);
    },
    final: async () => server.store.getFile('Images', 'image-info', branch, 'image-info.json')!,
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
