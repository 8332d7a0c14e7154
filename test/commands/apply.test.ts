import { describe, expect, it } from 'vitest';
import { apply } from '../../src/commands/apply.js';
import type { MarkRef } from '../../src/commands/annotate.js';
import type { Plan, PlanEntry } from '../../src/core/planner.js';
import type { Registry } from '../../src/registry/port.js';
import { capturingLogger, instantClock } from '../support/doubles.js';

/**
 * Step 6 records each mark before its push, so a roll-back removes what a half-failed push may
 * have left; a push the adapter declined takes out its own record, not another repository's
 * (the same digest in two repositories has the same lifecycle referrer).
 */
describe('apply', () => {
  const digest = `sha256:${'a'.repeat(64)}`;
  const entry = (repository: string): PlanEntry => ({
    repository,
    digest,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    size: 100,
    tags: [],
    reason: 'not in the image-info',
  });

  it('a declined push removes its own record: the same digest marked in another repository stays recorded', async () => {
    // One manifest in two repositories gets the same lifecycle referrer in both.
    const plan = { annotate: [entry('app/a'), entry('app/b')], eolDate: '2026-12-05' } as Plan;
    const registry = {
      pushReferrer: async (repository: string) =>
        repository === 'app/b' ? 'subject-is-a-referrer' : 'pushed',
    } as unknown as Registry;
    const placed: MarkRef[] = [];
    const done = await apply(
      plan,
      1,
      { registry, clock: instantClock, logger: capturingLogger() },
      placed,
    );
    expect(done).toBe(1);
    // What a roll-back would remove: app/a's mark, which is in the registry.
    expect(placed.map((m) => m.repository)).toEqual(['app/a']);
  });
});
