/**
 * Lost-update simulator for publish-image-info (issue 6): runs many schedules of 2–8 concurrent
 * publishers against an in-process fake target, each schedule once with publishImageInfo and
 * once with a naive read-merge-overwrite, and prints how many entries each lost.
 *
 *   npx tsx scripts/simulate-publish.ts [--schedules 1000] [--target memory|file|github|azure|all] [--parallel 8] [--seed 1]
 *
 * `memory` (default, ~20 s for 1,000 schedules) is an in-process compare-and-swap target: it
 * exercises the publish loop itself. `file`, `github` and `azure` go through the real adapters
 * (lock file + rename, the fake contents API and the fake Azure Repos pushes over loopback HTTP);
 * they cost ~2–6× more per schedule. `all` runs every target with --schedules each.
 *
 * Exit code 1 if publish-image-info lost anything, or if the naive baseline lost nothing (then
 * the simulation had no power and proves nothing).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeAzureRepos } from '../test/support/fake-azure-repos.js';
import { startFakeGitHubContents } from '../test/support/fake-github-contents.js';
import {
  azureTarget,
  fileTarget,
  gitHubTarget,
  memoryTarget,
  runSchedule,
  type Target,
} from '../test/imageinfo/lost-update-harness.js';

const { values } = parseArgs({
  options: {
    schedules: { type: 'string', default: '1000' },
    target: { type: 'string', default: 'memory' },
    parallel: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
  },
});
const schedules = Number(values.schedules);
const parallel = Number(values.parallel);
const firstSeed = Number(values.seed);

const github = await startFakeGitHubContents();
const azure = await startFakeAzureRepos();
const dir = await mkdtemp(join(tmpdir(), 'eol-gate-simulate-publish-'));
const targets: Record<string, (base: string, seed: number) => Promise<Target>> = {
  github: (base, seed) => gitHubTarget(github, base, seed),
  azure: (base, seed) => azureTarget(azure, base, seed),
  file: (base, seed) => fileTarget(dir, base, seed),
  memory: (base) => memoryTarget(base),
};
const chosen = values.target === 'all' ? Object.keys(targets) : [values.target ?? 'memory'];
for (const name of chosen) {
  if (!targets[name]) throw new Error(`--target: one of ${Object.keys(targets).join(', ')}, all`);
}

async function simulate(name: string): Promise<boolean> {
  const makeTarget = targets[name];
  const totals = {
    publish: { lost: 0, schedulesWithLoss: 0, retries: 0 },
    naive: { lost: 0, schedulesWithLoss: 0 },
  };
  const started = Date.now();
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < schedules) {
      const seed = firstSeed + next++;
      const writers = 2 + (seed % 7);
      const published = await runSchedule({ seed, writers, mode: 'publish', makeTarget });
      totals.publish.lost += published.lost.length;
      if (published.lost.length) totals.publish.schedulesWithLoss++;
      totals.publish.retries += published.attempts.reduce((a, b) => a + b, 0) - writers;
      const naive = await runSchedule({ seed, writers, mode: 'naive', makeTarget });
      totals.naive.lost += naive.lost.length;
      if (naive.lost.length) totals.naive.schedulesWithLoss++;
      if (++done % 250 === 0) process.stderr.write(`  ${name}: ${done}/${schedules} schedules\n`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `target ${name}: ${schedules} schedules (seeds ${firstSeed}..${firstSeed + schedules - 1}), 2-8 writers each, ${seconds} s`,
  );
  console.log(
    `  publish-image-info:         lost entries ${totals.publish.lost} (schedules with a loss: ${totals.publish.schedulesWithLoss}/${schedules}); conflicts retried: ${totals.publish.retries}`,
  );
  console.log(
    `  naive read-merge-overwrite: lost entries ${totals.naive.lost} (schedules with a loss: ${totals.naive.schedulesWithLoss}/${schedules})`,
  );
  return totals.publish.lost === 0 && totals.naive.lost > 0;
}

let ok = true;
try {
  for (const name of chosen) ok = (await simulate(name)) && ok;
} finally {
  await github.close();
  await azure.close();
  await rm(dir, { recursive: true, force: true });
}
if (!ok) process.exitCode = 1;
