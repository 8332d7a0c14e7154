/**
 * Race simulator: `npx tsx scripts/simulate.ts [--schedules 1000] [--first-seed 1] [--real 3]`.
 * Runs every schedule naive (coordinator none) and gated (the protocol, GitHub-style and Azure
 * DevOps-style markers) on a virtual clock; `--real N` also runs N schedules per store over HTTP
 * against the fake Azure DevOps / fake GitHub and a real docker-registry. Prints the per-mode
 * table; exits 1 unless naive shows wrongful marks and gated shows none (the bar of issue 4).
 * `--ci-schedules N` (default 200) runs N seeds of each CI-operation kind (ci-schedules.ts)
 * under the first and the current rules.
 */
import {
  formatCiTable,
  runCiSchedule,
  SCHEDULE_KINDS,
  summarizeCi,
  type CiScheduleResult,
} from '../test/simulator/ci-schedules.js';
import { MemoryBackend } from '../test/simulator/memory-backend.js';
import {
  DEFAULT_PARAMS,
  formatTable,
  runSchedule,
  summarize,
  type ScheduleResult,
} from '../test/simulator/schedule.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name}: expected a non-negative integer`);
    process.exit(2);
  }
  return n;
}

const schedules = arg('schedules', 1000);
const firstSeed = arg('first-seed', 1);
const real = arg('real', 0);

const results: ScheduleResult[] = [];
const started = Date.now();
for (let seed = firstSeed; seed < firstSeed + schedules; seed++) {
  results.push(await runSchedule(seed, 'naive', new MemoryBackend(seed, 'github')));
  results.push(await runSchedule(seed, 'gated', new MemoryBackend(seed, 'github')));
  results.push(await runSchedule(seed, 'gated', new MemoryBackend(seed, 'azure-devops')));
  if ((seed - firstSeed + 1) % 250 === 0)
    console.error(`… ${seed - firstSeed + 1}/${schedules} seeds`);
}

if (real > 0) {
  const { startDockerRegistry } = await import('../test/support/docker-registry.js');
  const { FakeAzureDevOps } = await import('../test/support/fake-azure-devops.js');
  const { FakeGitHub } = await import('../test/support/fake-github.js');
  const { RealBackend } = await import('../test/simulator/real-backend.js');
  const registry = await startDockerRegistry();
  const ado = await new FakeAzureDevOps().start();
  const github = await new FakeGitHub().start();
  const params = {
    ...DEFAULT_PARAMS,
    pipelines: [3, 4] as [number, number],
    pushes: [1, 2] as [number, number],
  };
  try {
    for (let seed = firstSeed; seed < firstSeed + real; seed++) {
      results.push(
        await runSchedule(
          seed,
          'gated',
          new RealBackend({ kind: 'azure-devops', fake: ado }, registry.url, seed, `sim${seed}ado`),
          params,
        ),
      );
      results.push(
        await runSchedule(
          seed,
          'gated',
          new RealBackend({ kind: 'github', fake: github }, registry.url, seed, `sim${seed}gh`),
          params,
        ),
      );
    }
  } finally {
    await registry.stop();
    await ado.close();
    await github.close();
  }
}

const summaries = summarize(results);
console.log(formatTable(summaries));
console.log(`\n${results.length} schedules in ${((Date.now() - started) / 1000).toFixed(1)}s`);
for (const s of summaries)
  for (const e of s.firstErrors) console.log(`error (${s.backend} ${s.mode}): ${e}`);

const naive = summaries.find((s) => s.mode === 'naive')!;
const gated = summaries.filter((s) => s.mode === 'gated');
const failures: string[] = [];
if (naive.schedulesWithWrongful / naive.schedules < 0.1)
  failures.push('naive mode shows too few wrongful annotations: the simulator lacks power');
for (const g of gated) {
  if (g.wrongfulAnnotations > 0)
    failures.push(`${g.backend} gated: ${g.wrongfulAnnotations} wrongful annotation(s)`);
  if (g.duplicateReferrers > 0)
    failures.push(`${g.backend} gated: ${g.duplicateReferrers} duplicate referrer(s)`);
  if (g.errors > 0) failures.push(`${g.backend} gated: ${g.errors} error(s)`);
}
// CI operations (matrix legs, re-run failed jobs, lagging attempts, rollbacks, restarts): the
// first protocol's rules must show the holes, the current rules none of them.
const ciSeeds = arg('ci-schedules', 200);
const ciResults: CiScheduleResult[] = [];
for (const kind of SCHEDULE_KINDS)
  for (const rules of ['legacy', 'current'] as const)
    for (let seed = firstSeed; seed < firstSeed + ciSeeds; seed++)
      ciResults.push(await runCiSchedule(seed, kind, rules));
const ciSummaries = summarizeCi(ciResults);
console.log(`\n${formatCiTable(ciSummaries)}`);
for (const s of ciSummaries) {
  if (s.rules === 'legacy' && s.withWrongful === 0)
    failures.push(`${s.kind}: the first protocol's rules show no wrongful mark (no power)`);
  if (s.rules === 'current' && s.wrongful + s.duplicates + s.timeouts + s.errors > 0)
    failures.push(
      `${s.kind}: ${s.wrongful} wrongful, ${s.duplicates} duplicate(s), ${s.timeouts} timeout(s), ${s.errors} error(s)`,
    );
}

if (schedules < 1000) console.log(`note: ${schedules} schedules per mode (the bar is ≥ 1,000)`);
if (failures.length) {
  console.log(`\nFAILED:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log(
  '\nbar met: naive reproduces the race, gated never marks a supported image and never duplicates',
);
