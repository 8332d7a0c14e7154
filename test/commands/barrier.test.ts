import { describe, expect, it } from 'vitest';
import { waitForBarrier } from '../../src/commands/barrier.js';
import type { CoordinationStore, GroupRun } from '../../src/coordination/port.js';
import { silentLogger } from '../../src/core/ports.js';
import { manualClock } from '../support/doubles.js';

const blocker: GroupRun = {
  runId: '7',
  attempt: 1,
  jobId: '70',
  covered: false,
  alive: true,
  blocks: true,
  publishingSince: 0,
};

/** A store that blocks for `polls` polls, reporting `factor` as its poll delay factor. */
function storeWith(polls: number, factor?: () => number): CoordinationStore {
  let left = polls;
  return {
    kind: 'github',
    self: { runId: '1', attempt: 1, jobId: '10' },
    signal: async () => {},
    listRuns: async () => (left-- > 0 ? [blocker] : []),
    cleanup: async () => {},
    ...(factor ? { pollDelayFactor: factor } : {}),
  };
}

async function sleepsOf(store: CoordinationStore): Promise<number[]> {
  const clock = manualClock(); // random 0.5: no jitter, the interval itself
  const options = {
    group: 'g',
    timeoutMs: 3600_000,
    pollIntervalMs: 30_000,
    onTimeout: 'fail' as const,
  };
  await waitForBarrier(options, store, clock, silentLogger, 0);
  return clock.sleeps;
}

describe('waitForBarrier and the store’s poll delay factor', () => {
  it('polls every pollInterval without one, or with a factor of 1 or less, or not a number', async () => {
    expect(await sleepsOf(storeWith(2))).toEqual([30_000, 30_000]);
    expect(await sleepsOf(storeWith(2, () => 1))).toEqual([30_000, 30_000]);
    expect(await sleepsOf(storeWith(1, () => 0.1))).toEqual([30_000]);
    expect(await sleepsOf(storeWith(1, () => Number.NaN))).toEqual([30_000]);
  });

  it('stretches the interval by the factor the store reports before each sleep (the rate-limit budget)', async () => {
    const factors = [1, 4, 20];
    expect(await sleepsOf(storeWith(3, () => factors.shift() ?? 1))).toEqual([
      30_000, 120_000, 600_000,
    ]);
  });
});
