import { describe, expect, it } from 'vitest';
import {
  formatCiTable,
  runCiSchedule,
  SCHEDULE_KINDS,
  summarizeCi,
  type CiScheduleResult,
} from './ci-schedules.js';
import { sumOf } from './report.js';

/**
 * Everyday CI operations against the protocol (docs/design.md §2): 1,000 random schedules under
 * the current rules must mark nothing wrongly, leave nothing supported marked, duplicate nothing
 * and never wait until a timeout; the same kinds under the first protocol's rules must show the
 * holes (proof that the schedules can catch them).
 */
const CURRENT_SEEDS = 200;
const LEGACY_SEEDS = 40;

async function runAll(rules: 'current' | 'legacy', seeds: number): Promise<CiScheduleResult[]> {
  const results: CiScheduleResult[] = [];
  for (const kind of SCHEDULE_KINDS)
    for (let seed = 1; seed <= seeds; seed++) results.push(await runCiSchedule(seed, kind, rules));
  return results;
}

describe('CI operations simulator (matrix legs, re-run failed jobs, lagging attempts, rollbacks, restarts)', () => {
  it("the first protocol's rules mark supported or unrecorded images in every kind, and in a fair share overall", async () => {
    const results = await runAll('legacy', LEGACY_SEEDS);
    const summary = summarizeCi(results);
    console.log(formatCiTable(summary));
    for (const s of summary) {
      expect(s.errors, s.kind).toBe(0);
      expect(s.withWrongful, s.kind).toBeGreaterThan(0);
    }
    const share = results.filter((r) => r.wrongful.length > 0).length / results.length;
    expect(share).toBeGreaterThan(0.4);
  }, 120_000);

  it('the current rules: 0 wrongful marks, 0 duplicates, nothing supported left marked, no timeouts, over 1,000 schedules', async () => {
    const results = await runAll('current', CURRENT_SEEDS);
    const summary = summarizeCi(results);
    console.log(formatCiTable(summary));
    expect(results.length).toBeGreaterThanOrEqual(1000);
    const clean = { wrongful: [], duplicates: 0, timeouts: 0, errors: [] };
    for (const { kind, seed, wrongful, duplicates, timeouts, errors } of results)
      expect({ wrongful, duplicates, timeouts, errors }, `${kind}, seed ${seed}`).toEqual(clean);
    // Not vacuous: marks were made and the new steps were exercised.
    for (const s of summary) expect(s.marks, s.kind).toBeGreaterThan(CURRENT_SEEDS);
    expect(sumOf(summary, (s) => s.reconciled)).toBeGreaterThan(0);
    expect(sumOf(summary, (s) => s.unmarked)).toBeGreaterThan(0);
    expect(sumOf(summary, (s) => s.restarts)).toBeGreaterThan(0);
  }, 300_000);

  it('replays a schedule exactly from its seed', async () => {
    const a = await runCiSchedule(11, 'rerun-failed-jobs', 'current');
    const b = await runCiSchedule(11, 'rerun-failed-jobs', 'current');
    expect(b).toEqual(a);
  });
});
