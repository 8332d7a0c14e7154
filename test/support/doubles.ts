import type { RetryPolicy } from '../../src/util/http.js';

/** Two quick retries (1–5 ms back-off): the policy of tests against loopback fakes. */
export const FAST_RETRY: RetryPolicy = {
  retries: 2,
  baseDelayMs: 1,
  maxDelayMs: 5,
  timeoutMs: 5000,
};

/** One attempt, no retry. */
export const NO_RETRY: RetryPolicy = { ...FAST_RETRY, retries: 0 };

/**
 * Retries without waiting (six unless `overrides` say otherwise); `delays` records the waits the
 * policy asked for.
 */
export function fastRetry(
  overrides: Partial<RetryPolicy> = {},
): RetryPolicy & { delays: number[] } {
  const delays: number[] = [];
  return {
    retries: 6,
    baseDelayMs: 1,
    maxDelayMs: 5,
    timeoutMs: 10_000,
    sleep: async (ms) => void delays.push(ms),
    ...overrides,
    delays,
  };
}
