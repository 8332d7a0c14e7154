import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startFakeGitHubContents,
  type FakeGitHubContents,
} from '../support/fake-github-contents.js';
import { startFakeAzureRepos, type FakeAzureRepos } from '../support/fake-azure-repos.js';
import {
  azureTarget,
  fileTarget,
  gitHubTarget,
  runSchedule,
  type Target,
} from './lost-update-harness.js';

/**
 * The lost-update test of issue 6. Fixed seeds; 2–8 writers per schedule. Both modes run the
 * same schedules in the same run, so the naive baseline's losses show the test has power.
 */
const SCHEDULES = 24;
const writersFor = (seed: number) => 2 + (seed % 7);

let dir: string;
let github: FakeGitHubContents;
let azure: FakeAzureRepos;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eol-gate-lost-update-'));
  github = await startFakeGitHubContents({ latencyMs: 0 });
  azure = await startFakeAzureRepos();
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
