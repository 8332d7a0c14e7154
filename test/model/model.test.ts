/**
 * The CI model (docs/design.md §7): every hole the outside review reproduced is found by the
 * explorers under the Protocol II rules (test/model/rules/protocol-ii.ts, the rules as they were
 * when issue "Protocol III" was filed) and by none under the current rules, exhaustively for the
 * small configurations and at random (fast-check, the real `annotate` and `signal` commands) for
 * larger ones.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HOLE_CONFIGS, LARGE_CONFIGS, MISUSE_CONFIG, SAFE_CONFIGS } from './configs.js';
import type { ModelConfig } from './ci-model.js';
import { exploreExhaustive, type ExploreResult } from './explore.js';
import { runSchedule } from './real-annotate.js';
import { describeRandom, exploreRandom, scheduleArbitrary } from './run-model.js';

const EXPECTED: Record<number, 'I1' | 'I3'> = { 1: 'I1', 2: 'I1', 3: 'I1', 4: 'I1', 5: 'I3' };
const SLOW = 600_000;

function firstViolation(r: ExploreResult): string {
  const v = r.violations[0];
  return v ? `${v.invariant} ${v.message}\n  ${v.trace.join('\n  ')}` : 'none';
}

/** Every interleaving of `config` under the current rules explored, none violating. */
function expectSafeNow(config: ModelConfig): void {
  const now = exploreExhaustive(config, 'current');
  expect(now.complete).toBe(true);
  expect(now.terminals).toBeGreaterThan(10);
  expect(firstViolation(now)).toBe('none');
}

describe('CI model, exhaustive (every interleaving, the product protocol code)', () => {
  for (const { hole, config } of HOLE_CONFIGS) {
    it(
      `hole ${hole} (${config.name}): found under Protocol II, absent now`,
      () => {
        const before = exploreExhaustive(config, 'protocol-ii', { stopAtFirst: true });
        expect(before.violations[0]?.invariant).toBe(EXPECTED[hole]);
        expectSafeNow(config);
      },
      SLOW,
    );
  }
  it('per-leg record jobs with scope run are outside the contract: the model finds the mark', () => {
    const r = exploreExhaustive(MISUSE_CONFIG, 'current', { stopAtFirst: true });
    expect(r.violations[0]?.invariant).toBe('I1');
    expect(r.violations[0]?.message).toMatch(/record-(linux|windows) .* had not recorded/);
  });
  for (const config of SAFE_CONFIGS) {
    it(`${config.name}: no violation in any interleaving`, () => expectSafeNow(config), SLOW);
  }
});

describe('CI model, randomised (fast-check, the real annotate and signal commands)', () => {
  for (const config of [...HOLE_CONFIGS.map((h) => h.config), ...SAFE_CONFIGS, ...LARGE_CONFIGS]) {
    it(
      `${config.name}: 1,000 schedules, no violation`,
      async () => {
        await fc.assert(
          fc.asyncProperty(scheduleArbitrary, async (choices) => {
            const result = await runSchedule(config, 'current', choices);
            expect(result.violations).toEqual([]);
            // Every annotate step ran to its end: the schedule is not vacuous.
            expect(
              result.outcomes.every((o) => o.endsWith('applied') || o.endsWith('dry-run')),
            ).toBe(true);
          }),
          { numRuns: 1000, seed: 18 },
        );
      },
      SLOW,
    );
  }
  it('minAge defers young images where the registry records push times, never without them', async () => {
    const [withTimes, withoutTimes] = [LARGE_CONFIGS[0], LARGE_CONFIGS[1]];
    expect(withTimes.pushTimes && !withoutTimes.pushTimes).toBe(true);
    expect((await exploreRandom(withTimes, 'current', 200, 7)).tooYoung).toBeGreaterThan(0);
    expect((await exploreRandom(withoutTimes, 'current', 200, 7)).tooYoung).toBe(0);
  });
  for (const { hole, config } of HOLE_CONFIGS) {
    it(
      `hole ${hole}: Protocol II shows it, shrunk to a readable schedule`,
      async () => {
        const r = await exploreRandom(config, 'protocol-ii', 5000, 18);
        expect(r.counterexample, describeRandom(r)).toBeDefined();
        const shrunk = r.counterexample!.result;
        expect(shrunk.violations[0].invariant).toBe(EXPECTED[hole]);
        expect(shrunk.trace.length).toBeLessThan(120);
      },
      SLOW,
    );
  }
});
