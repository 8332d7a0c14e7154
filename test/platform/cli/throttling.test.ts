/**
 * A first run against a throttled ACR finishes at the registry's budget. The bundled
 * CLI (dist/cli) annotates 120 orphans on the fake ACR with per-class budgets in Basic's
 * proportions (reads 10× writes; referrer lookups and token requests metered on their own),
 * scaled so the test takes seconds: the budgets count in a 2 s window (EOL_GATE_BUDGET_WINDOW_MS
 * tells the limiters so) at 300 writes and 3,000 reads a minute, and a 429 carries no
 * Retry-After. With defaults (no acrTier) the limiters learn the budgets from the first
 * refusals: every orphan is marked once, the run exits 0, few requests are refused, and it
 * takes little more than the floor the budgets allow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASIC_BUDGETS, type BudgetClass, type FakeAcr } from '../../support/fake-acr/index.js';
import {
  lifecycleBySubject,
  seedScenario,
  startAcrEnvironment,
  type Scenario,
} from '../../registry/acr/helpers.js';
import { acrAnnotateArgs } from '../../support/annotate-options.js';
import { runCli } from '../../support/cli.js';

const WINDOW_MS = 2_000;
/** Per window: 3,000 reads, 300 writes, 750 referrer lookups, 3,000 token requests a minute. */
const BUDGET: Record<BudgetClass, number> = { read: 100, write: 10, referrers: 25, token: 100 };
const ORPHANS = 120;

let env: Awaited<ReturnType<typeof startAcrEnvironment>>;
let fake: FakeAcr;
let scenario: Scenario;

beforeAll(async () => {
  env = await startAcrEnvironment({ throttle: { perWindow: BUDGET, windowMs: WINDOW_MS } });
  fake = env.fake;
  scenario = seedScenario(fake, ORPHANS);
});
afterAll(() => env?.close());

describe('a first run against a throttled ACR', () => {
  it('marks every orphan once, exits 0, with few refusals and close to the floor', async () => {
    const started = Date.now();
    const run = await runCli(
      acrAnnotateArgs(fake.url, scenario.imageInfo, '--eol-date', '2026-06-01'),
      {
        ...env.identity.env,
        NODE_EXTRA_CA_CERTS: fake.caPath,
        EOL_GATE_BUDGET_WINDOW_MS: String(WINDOW_MS),
      },
      120_000,
    );
    const seconds = (Date.now() - started) / 1000;
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as {
      counts: { annotated: number };
      requests: Record<BudgetClass, { requests: number; throttled: number }>;
    };
    expect(result.counts.annotated).toBe(scenario.orphans.length);
    for (const o of scenario.orphans) {
      const marks = lifecycleBySubject(fake, o.repository).get(o.digest);
      expect(marks, `${o.repository}@${o.digest}`).toEqual(['2026-06-01']);
    }

    const counts = fake.budgetCounts;
    const admitted = Object.values(counts).reduce((n, c) => n + c.admitted, 0);
    const refused = Object.values(counts).reduce((n, c) => n + c.refused, 0);
    // The floor: the class that needs longest at its budget, counting what the run needed.
    const floor = Math.max(
      ...(Object.keys(BUDGET) as BudgetClass[]).map(
        (c) => (counts[c].admitted / BUDGET[c]) * (WINDOW_MS / 1000),
      ),
    );
    const share = refused / (admitted + refused);
    console.log(
      `throttled run: ${admitted + refused} requests, ${refused} refused (${(share * 100).toFixed(1)} %), ` +
        `${seconds.toFixed(1)} s against a floor of ${floor.toFixed(1)} s (${(seconds / floor).toFixed(2)}×); ` +
        `per class ${JSON.stringify(counts)}`,
    );
    expect(share).toBeLessThanOrEqual(0.05);
    // The process start, sign-in and listing are in the wall time too: a loose bound.
    expect(seconds).toBeLessThanOrEqual(floor * 1.5 + 3);

    // `--json` reports the requests and 429s per class, as the client saw them.
    expect(result.requests.write.requests).toBeGreaterThanOrEqual(ORPHANS);
    expect(result.requests.write.throttled).toBe(counts.write.refused);
    // Progress says what paces the marks and when they should be done.
    expect(run.stderr).toMatch(/writes paced at [\d,]+\/min by the registry: [\d,]+ marks left, /);
  }, 150_000);

  it('with --acr-tier basic, a Basic registry is paced from the first request: nothing refused', async () => {
    const tiered = await startAcrEnvironment({ throttle: { perWindow: BASIC_BUDGETS } });
    try {
      const small = seedScenario(tiered.fake, 6);
      const started = Date.now();
      const run = await runCli(
        acrAnnotateArgs(tiered.fake.url, small.imageInfo, '--acr-tier', 'basic'),
        { ...tiered.identity.env, NODE_EXTRA_CA_CERTS: tiered.fake.caPath },
        120_000,
      );
      expect(run.code, run.stderr).toBe(0);
      const result = JSON.parse(run.stdout) as {
        counts: { annotated: number };
        requests: Record<BudgetClass, { requests: number; throttled: number }>;
      };
      expect(result.counts.annotated).toBe(small.orphans.length);
      const refused = Object.values(tiered.fake.budgetCounts).reduce((n, c) => n + c.refused, 0);
      expect(refused).toBe(0);
      // Writes at 95 a minute: the marks' writes are spaced ~0.63 s apart.
      const writes = tiered.fake.budgetCounts.write.admitted;
      expect(Date.now() - started).toBeGreaterThanOrEqual(((writes - 1) * 60_000) / 95 - 1_000);
      expect(result.requests.write).toEqual({ requests: expect.any(Number), throttled: 0 });
    } finally {
      await tiered.close();
    }
  }, 150_000);
});
