import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeGitHub } from '../support/fake-github.js';
import { FakeAzureDevOps } from '../support/fake-azure-devops.js';
import {
  azureTarget,
  fileTarget,
  gitHubTarget,
  memoryTarget,
  runSchedule,
  runTimedSchedule,
  type Target,
} from './lost-update-harness.js';

/**
 * The lost-update test. Fixed seeds; 2–8 writers per schedule. Both modes run the
 * same schedules in the same run, so the naive baseline's losses show the test has power.
 */
const SCHEDULES = 24;
const writersFor = (seed: number) => 2 + (seed % 7);

let dir: string;
let github: FakeGitHub;
let azure: FakeAzureDevOps;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eol-gate-lost-update-'));
  github = await new FakeGitHub().start();
  azure = await new FakeAzureDevOps().start();
});

afterAll(async () => {
  await github?.close();
  await azure?.close();
  await rm(dir, { recursive: true, force: true });
});

async function experiment(
  makeTarget: (base: string, seed: number) => Promise<Target>,
  schedules = SCHEDULES,
) {
  let naiveLossSchedules = 0;
  let naiveLostEntries = 0;
  let retries = 0;
  for (let seed = 1; seed <= schedules; seed++) {
    const writers = writersFor(seed);
    const published = await runSchedule({ seed, writers, mode: 'publish', makeTarget });
    expect(
      published.lost,
      `seed ${seed}, ${writers} writers: entries lost by publish-image-info`,
    ).toEqual([]);
    retries += published.attempts.reduce((a, b) => a + b, 0) - writers;
    const naive = await runSchedule({ seed, writers, mode: 'naive', makeTarget });
    if (naive.lost.length > 0) naiveLossSchedules++;
    naiveLostEntries += naive.lost.length;
  }
  console.log(
    `publish-image-info: 0 lost, ${retries} conflict retries; naive: lost entries in ${naiveLossSchedules}/${schedules} schedules (${naiveLostEntries} entries)`,
  );
  // The publishers really contended (and resolved it), or the zero above would prove little.
  expect(retries).toBeGreaterThan(schedules);
  return { naiveLossSchedules, naiveLostEntries };
}

describe('concurrent publishers (lost updates)', () => {
  it("file target: publish-image-info keeps every writer's entries; a naive overwrite loses some", async () => {
    const r = await experiment((base, seed) => fileTarget(dir, base, seed));
    expect(r.naiveLossSchedules).toBeGreaterThanOrEqual(SCHEDULES * 0.3);
  });

  it('GitHub contents target: same, against the fake contents API', async () => {
    const r = await experiment((base, seed) => gitHubTarget(github, base, seed));
    expect(r.naiveLossSchedules).toBeGreaterThanOrEqual(SCHEDULES * 0.3);
  });

  it('Azure Repos target: same, against the fake pushes API', async () => {
    const r = await experiment((base, seed) => azureTarget(azure, base, seed), 12);
    expect(r.naiveLossSchedules).toBeGreaterThanOrEqual(12 * 0.3);
  });
});

/**
 * Writers carry build times and finish out of order (stale runs record after newer
 * ones). 1,000 schedules on the in-memory compare-and-swap target (the publish loop and merge
 * themselves), fewer through the real file, GitHub contents and Azure Repos adapters. Every
 * committed version is checked, not only the last: no platform ever moves to an older build.
 * Every tenth schedule again with `created` stripped (the merge then replaces as it did before)
 * must move entries back, or the zeros prove nothing. Measured on 2 cores at load ~10: memory
 * 36–44 s (~20 s of CPU), file 3–5 s, GitHub ~4 s, Azure 4–8 s.
 */
describe('concurrent publishers with build times (entries never move back in time)', () => {
  async function timedExperiment(
    name: string,
    makeTarget: (base: string, seed: number) => Promise<Target>,
    schedules: number,
    parallel: number,
  ) {
    const started = Date.now();
    const totals = { lost: 0, movedBack: 0, stale: 0, retries: 0, versions: 0 };
    const baseline = { movedBack: 0, schedulesMovedBack: 0 };
    let next = 1;
    const worker = async () => {
      while (next <= schedules) {
        const seed = next++;
        const writers = writersFor(seed);
        const r = await runTimedSchedule({ seed, writers, mode: 'publish', makeTarget });
        const where = `${name}, seed ${seed}, ${writers} writers`;
        expect(r.lost, `${where}: platforms not at their newest build`).toEqual([]);
        expect(r.movedBack, `${where}: versions that moved a platform back`).toEqual([]);
        expect(r.falseStale, `${where}: reported stale but not older`).toEqual([]);
        expect(r.chained, `${where}: committed versions form one chain`).toBe(true);
        totals.stale += r.stale.length;
        totals.versions += r.versions;
        totals.retries += r.attempts.reduce((a, b) => a + b, 0) - writers;
        if (seed % 10 === 1) {
          const u = await runTimedSchedule({ seed, writers, mode: 'untimed', makeTarget });
          baseline.movedBack += u.movedBack.length;
          if (u.movedBack.length > 0) baseline.schedulesMovedBack++;
        }
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    const baselineRuns = Math.ceil(schedules / 10);
    console.log(
      `${name}: ${schedules} timed schedules in ${((Date.now() - started) / 1000).toFixed(1)} s: 0 lost, 0 moved back; ${totals.versions} versions committed, ${totals.retries} conflict retries, ${totals.stale} stale entries reported; without build times ${baseline.movedBack} moves back in ${baseline.schedulesMovedBack}/${baselineRuns} schedules`,
    );
    // Contention really happened, stale runs really recorded late, and the baseline shows both
    // would have hurt: otherwise the zeros above would prove little.
    expect(totals.retries).toBeGreaterThan(schedules);
    expect(totals.stale).toBeGreaterThan(schedules);
    expect(baseline.schedulesMovedBack).toBeGreaterThanOrEqual(baselineRuns * 0.5);
  }

  it('in-memory compare-and-swap target: 1,000 schedules', async () => {
    await timedExperiment('memory', (base) => memoryTarget(base), 1000, 16);
  }, 240_000);

  it('file target (lock file + rename)', async () => {
    await timedExperiment('file', (base, seed) => fileTarget(dir, base, seed), 50, 8);
  }, 120_000);

  it('GitHub contents target', async () => {
    await timedExperiment('github', (base, seed) => gitHubTarget(github, base, seed), 16, 4);
  }, 120_000);

  it('Azure Repos target', async () => {
    await timedExperiment('azure', (base, seed) => azureTarget(azure, base, seed), 12, 4);
  }, 120_000);
});
