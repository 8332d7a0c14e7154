/**
 * Lost-update simulator for publish-image-info (issue 6): runs many schedules of 2–8 concurrent
 * publishers against an in-process fake target, each schedule once with publishImageInfo and
 * once with a naive read-merge-overwrite, and prints how many entries each lost.
 *
 *   npx tsx scripts/simulate-publish.ts [--schedules 1000] [--target memory|file|github|azure|all] [--parallel 8] [--seed 1] [--kind lost|timed|all (default)]
 *
 * `memory` (default, ~20 s for 1,000 schedules) is an in-process compare-and-swap target: it
 * exercises the publish loop itself. `file`, `github` and `azure` go through the real adapters
 * (lock file + rename, the fake contents API and the fake Azure Repos pushes over loopback HTTP);
 * they cost ~2–6× more per schedule. `all` runs every target with --schedules each.
 *
 * `--kind timed` (issue 13) runs schedules whose writers carry build times for the same platforms
 * and finish out of order: every committed version is checked, and the final image-info must name
 * each platform's newest build; the baseline is the same schedules with `created` stripped (the
 * merge then replaces as it did before), which must move entries back in time. `all` runs both.
 *
 * Exit code 1 if publish-image-info lost anything or moved an entry back, or if a baseline did no
 * harm (then the simulation had no power and proves nothing).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FakeAzureDevOps } from '../test/support/fake-azure-devops.js';
import { FakeGitHub } from '../test/support/fake-github.js';
import {
  azureTarget,
  fileTarget,
  gitHubTarget,
  memoryTarget,
  runSchedule,
  runTimedSchedule,
  type Target,
} from '../test/imageinfo/lost-update-harness.js';

const { values } = parseArgs({
  options: {
    schedules: { type: 'string', default: '1000' },
    target: { type: 'string', default: 'memory' },
    parallel: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    kind: { type: 'string', default: 'all' },
  },
});
const schedules = Number(values.schedules);
const parallel = Number(values.parallel);
const firstSeed = Number(values.seed);

const github = await new FakeGitHub().start();
const azure = await new FakeAzureDevOps().start();
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
const kinds = values.kind === 'all' ? ['lost', 'timed'] : [values.kind];
for (const kind of kinds) {
  if (kind !== 'lost' && kind !== 'timed') throw new Error('--kind: one of lost, timed, all');
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

async function simulateTimed(name: string): Promise<boolean> {
  const makeTarget = targets[name];
  const totals = { lost: 0, movedBack: 0, falseStale: 0, unchained: 0, stale: 0, retries: 0 };
  const baseline = { movedBack: 0, schedulesMovedBack: 0 };
  const started = Date.now();
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < schedules) {
      const seed = firstSeed + next++;
      const writers = 2 + (seed % 7);
      const r = await runTimedSchedule({ seed, writers, mode: 'publish', makeTarget });
      totals.lost += r.lost.length;
      totals.movedBack += r.movedBack.length;
      totals.falseStale += r.falseStale.length;
      if (!r.chained) totals.unchained++;
      totals.stale += r.stale.length;
      totals.retries += r.attempts.reduce((a, b) => a + b, 0) - writers;
      for (const line of [...r.lost, ...r.movedBack]) console.error(`  seed ${seed}: ${line}`);
      const u = await runTimedSchedule({ seed, writers, mode: 'untimed', makeTarget });
      baseline.movedBack += u.movedBack.length;
      if (u.movedBack.length) baseline.schedulesMovedBack++;
      if (++done % 250 === 0) process.stderr.write(`  ${name}: ${done}/${schedules} schedules\n`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `target ${name}, timed: ${schedules} schedules (seeds ${firstSeed}..${firstSeed + schedules - 1}), 2-8 writers each, ${seconds} s`,
  );
  console.log(
    `  publish-image-info:        entries lost ${totals.lost}, moved back in time ${totals.movedBack}, unchained versions ${totals.unchained}, false stale reports ${totals.falseStale}; stale entries reported ${totals.stale}; conflicts retried ${totals.retries}`,
  );
  console.log(
    `  without build times (old): moved back in time ${baseline.movedBack} (schedules: ${baseline.schedulesMovedBack}/${schedules})`,
  );
  return (
    totals.lost + totals.movedBack + totals.falseStale + totals.unchained === 0 &&
    baseline.movedBack > 0
  );
}

let ok = true;
try {
  for (const name of chosen) {
    if (kinds.includes('lost')) ok = (await simulate(name)) && ok;
    if (kinds.includes('timed')) ok = (await simulateTimed(name)) && ok;
  }
} finally {
  await github.close();
  await azure.close();
  await rm(dir, { recursive: true, force: true });
}
if (!ok) process.exitCode = 1;
