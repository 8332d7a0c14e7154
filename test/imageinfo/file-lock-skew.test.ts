/**
 * Protocol III, hole 9: the file source's lock must not compare clocks across machines. Writers on
 * machines whose clocks disagree share one image-info on a file server; the lock file's mtime
 * comes from the server's clock. Each writer here gets its own clock offset wherever the code
 * reads time: the clock the file source is given, and `Date.now()` (through AsyncLocalStorage,
 * so code that reads the wall clock directly sees its writer's skew too). Skews span several
 * stale periods, as minutes of skew against a 60 s stale period would.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishImageInfo } from '../../src/commands/publish-image-info.js';
import { silentLogger, type Clock } from '../../src/core/ports.js';
import { monotonicClock } from '../../src/imageinfo/file-lock.js';
import { FileSource } from '../../src/imageinfo/file-source.js';
import { buildScenario, lostEntries, prng, sleep } from './lost-update-harness.js';

const WRITERS = 12;
const SCHEDULES = 20;
const STALE_MS = 150;
/** Clock offsets are drawn from ±SKEW_MS: several stale periods. */
const SKEW_MS = 1_000;

const skew = new AsyncLocalStorage<number>();
const realDateNow = Date.now.bind(Date);
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eol-gate-lock-skew-'));
  Date.now = () => realDateNow() + (skew.getStore() ?? 0);
});
afterAll(async () => {
  Date.now = realDateNow;
  await rm(dir, { recursive: true, force: true });
});

/** One schedule: every writer its own FileSource and clock offset, all publishing at once. */
async function skewedSchedule(seed: number): Promise<{ lost: string[]; leftovers: string[] }> {
  const rand = prng(seed);
  const scenario = buildScenario(prng(seed * 7919 + 5), WRITERS);
  const path = join(dir, `image-info-${seed}.json`);
  await writeFile(path, scenario.base);
  await Promise.all(
    scenario.fragments.map((fragment) => {
      const offset = Math.round((rand() * 2 - 1) * SKEW_MS);
      const clock: Clock = { now: () => new Date(Date.now()), sleep, random: rand };
      return skew.run(offset, async () => {
        await sleep(rand() * 5);
        const source = new FileSource(path, {
          lockPollMs: 1,
          staleLockMs: STALE_MS,
          clock: { ...monotonicClock, now: () => new Date(performance.now() + offset) },
        });
        await publishImageInfo(
          {
            target: source,
            fragmentText: fragment.text,
            fragmentName: fragment.name,
            message: `publish ${fragment.name}`,
            maxAttempts: 8 * WRITERS,
            baseDelayMs: 2,
            maxDelayMs: 20,
          },
          { clock, logger: silentLogger },
        );
      });
    }),
  );
  const final = await new FileSource(path).read();
  const leftovers = (await readdir(dir)).filter((f) => f.startsWith(`image-info-${seed}.json.`));
  return { lost: lostEntries(final.text, scenario.fragments), leftovers };
}

describe('file source lock under clock skew (Protocol III, hole 9)', () => {
  it(`${WRITERS} writers with skewed clocks × ${SCHEDULES} schedules: no fragment lost`, async () => {
    let lostSchedules = 0;
    let lostEntriesTotal = 0;
    const kept: number[] = [];
    for (let seed = 1; seed <= SCHEDULES; seed++) {
      const r = await skewedSchedule(seed);
      if (r.lost.length) lostSchedules++;
      lostEntriesTotal += r.lost.length;
      const fragments = buildScenario(prng(seed * 7919 + 5), WRITERS).fragments;
      kept.push(fragments.filter((f) => f.digests.every((d) => !r.lost.includes(d))).length);
      expect(r.leftovers, `seed ${seed}: lock or temp files left behind`).toEqual([]);
    }
    console.log(
      `skewed writers: lost entries in ${lostSchedules}/${SCHEDULES} schedules (${lostEntriesTotal} entries); fragments kept per schedule: ${kept.join(' ')} of ${WRITERS}`,
    );
    expect(lostEntriesTotal).toBe(0);
  }, 120_000);
});
