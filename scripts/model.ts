/**
 * The CI model's figures (docs/design.md §7): `npx tsx scripts/model.ts [--schedules 1000]`.
 * For every configuration: the exhaustive explorer under the Protocol II rules (states until the
 * first violation, and the schedule that shows it) and under the current rules (states, end
 * states, violations); then the randomised explorer (fast-check, the real commands) over
 * `--schedules` schedules per configuration, and under Protocol II its shrunk counterexample.
 * Exits 1 unless every hole shows under Protocol II and nothing shows under the current rules.
 */
import { HOLE_CONFIGS, LARGE_CONFIGS, SAFE_CONFIGS } from '../test/model/configs.js';
import {
  describeExhaustive,
  describeRandom,
  exploreExhaustive,
  exploreRandom,
} from '../test/model/run-model.js';

const i = process.argv.indexOf('--schedules');
const schedules = i >= 0 ? Number(process.argv[i + 1]) : 1000;
let ok = true;
let randomTotal = 0;
let statesTotal = 0;

console.log('Exhaustive: every interleaving, the product protocol code\n');
for (const { hole, config } of HOLE_CONFIGS) {
  const before = exploreExhaustive(config, 'protocol-ii', { stopAtFirst: true });
  console.log(`hole ${hole}: ${describeExhaustive(before)}`);
  console.log(`  ${before.violations[0]?.trace.join('\n  ') ?? ''}`);
  ok &&= before.violations.length > 0;
}
console.log('');
for (const config of [...HOLE_CONFIGS.map((h) => h.config), ...SAFE_CONFIGS]) {
  const now = exploreExhaustive(config, 'current');
  statesTotal += now.states;
  console.log(describeExhaustive(now));
  ok &&= now.complete && now.violations.length === 0;
}

console.log(
  `\nRandomised: ${schedules} schedules per configuration, the real annotate and signal\n`,
);
for (const { hole, config } of HOLE_CONFIGS) {
  const before = await exploreRandom(config, 'protocol-ii', schedules * 5);
  console.log(`hole ${hole}: ${describeRandom(before)}`);
  if (before.counterexample)
    console.log(`  shrunk schedule:\n    ${before.counterexample.result.trace.join('\n    ')}`);
  ok &&= before.counterexample !== undefined;
}
console.log('');
for (const config of [...HOLE_CONFIGS.map((h) => h.config), ...SAFE_CONFIGS, ...LARGE_CONFIGS]) {
  const now = await exploreRandom(config, 'current', schedules);
  randomTotal += now.schedules;
  console.log(describeRandom(now));
  ok &&= now.counterexample === undefined;
}
console.log(
  `\ncurrent rules: ${statesTotal} states explored exhaustively, ${randomTotal} random schedules: ${ok ? 'no violation' : 'VIOLATIONS (see above)'}`,
);
process.exit(ok ? 0 : 1);
