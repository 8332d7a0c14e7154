/**
 * Runs the model's explorers and sums up what they found: used by test/model/model.test.ts and
 * by `npm run model` (scripts/model.ts), which prints the figures docs/design.md quotes.
 */
import fc from 'fast-check';
import type { ModelConfig, Rules } from './ci-model.js';
import { exploreExhaustive, type ExploreResult } from './explore.js';
import { runSchedule, type ScheduleResult } from './real-annotate.js';

/** A schedule: the choices the explorer makes, one per step (cycled when the schedule is longer). */
export const scheduleArbitrary = fc.array(fc.nat({ max: 0xffff }), {
  minLength: 1,
  maxLength: 240,
});

export interface RandomResult {
  config: string;
  rules: Rules;
  schedules: number;
  marks: number;
  hiddenMarks: number;
  tooYoung: number;
  /** The shrunk counterexample, when one was found. */
  counterexample?: { schedulesUntilFound: number; shrinks: number; result: ScheduleResult };
}

export async function exploreRandom(
  config: ModelConfig,
  rules: Rules,
  numRuns: number,
  seed = 42,
): Promise<RandomResult> {
  const out: RandomResult = {
    config: config.name,
    rules,
    schedules: 0,
    marks: 0,
    hiddenMarks: 0,
    tooYoung: 0,
  };
  const details = await fc.check(
    fc.asyncProperty(scheduleArbitrary, async (choices) => {
      const result = await runSchedule(config, rules, choices);
      out.schedules++;
      out.marks += result.marks;
      out.hiddenMarks += result.hiddenMarks;
      out.tooYoung += result.tooYoung;
      return result.violations.length === 0;
    }),
    { numRuns, seed },
  );
  if (details.failed && details.counterexample) {
    out.counterexample = {
      schedulesUntilFound: details.numRuns,
      shrinks: details.numShrinks,
      result: await runSchedule(config, rules, details.counterexample[0]),
    };
  }
  return out;
}

export function describeExhaustive(r: ExploreResult): string {
  const found = r.violations[0]
    ? `${r.violations.length} violation(s), first after ${r.firstViolationAt} states: ${r.violations[0].invariant} ${r.violations[0].message}`
    : '0 violations';
  return `${r.config} [${r.rules}]: ${r.states} states, ${r.terminals} end states${r.complete ? '' : ' (cut short)'}, ${found}`;
}

export function describeRandom(r: RandomResult): string {
  const c = r.counterexample;
  const found = c
    ? `violation after ${c.schedulesUntilFound} schedule(s), shrunk ${c.shrinks} times to ${c.result.trace.length} steps: ${c.result.violations[0].invariant} ${c.result.violations[0].message}`
    : '0 violations';
  return `${r.config} [${r.rules}]: ${r.schedules} schedules, ${r.marks} marks (${r.hiddenMarks} behind a hidden re-run, ${r.tooYoung} left as younger than minAge), ${found}`;
}

export { exploreExhaustive };
