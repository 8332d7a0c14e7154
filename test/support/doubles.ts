import type { Clock, Logger } from '../../src/core/ports.js';
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
 * Retries without waiting (six unless `overrides` say otherwise), as a client's `retry` and
 * `clock` options: the clock's sleeps return at once, and `delays` records the waits asked for.
 */
export function fastRetry(overrides: Partial<RetryPolicy> = {}): {
  retry: RetryPolicy;
  clock: Clock;
  delays: number[];
} {
  const delays: number[] = [];
  return {
    retry: { retries: 6, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 10_000, ...overrides },
    clock: { ...instantClock, sleep: async (ms) => void delays.push(ms) },
    delays,
  };
}

/** Real time, no waiting: sleeps return at once; `random` 0.5 (no jitter). */
export const instantClock: Clock = {
  now: () => new Date(),
  sleep: async () => {},
  random: () => 0.5,
};

/**
 * Virtual time from `start` (ms since the epoch): it moves only by the clock's sleeps and by
 * `advance`; `sleeps` records the sleeps; `random` 0.5 (no jitter).
 */
export function manualClock(start = 0): Clock & {
  sleeps: number[];
  advance: (ms: number) => void;
} {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => new Date(now),
    sleep: async (ms) => {
      sleeps.push(ms);
      now += ms;
    },
    random: () => 0.5,
    advance: (ms) => void (now += ms),
  };
}

export interface CapturingLogger extends Logger {
  /** Everything logged, as `level: message`. */
  lines: string[];
  /** The messages logged at `level`. */
  of: (level: 'info' | 'warning' | 'error' | 'debug') => string[];
}

/** A logger that keeps what it is told. */
export function capturingLogger(): CapturingLogger {
  const lines: string[] = [];
  const at = (level: string) => (m: string) => void lines.push(`${level}: ${m}`);
  return {
    lines,
    of: (level) =>
      lines.filter((l) => l.startsWith(`${level}: `)).map((l) => l.slice(level.length + 2)),
    info: at('info'),
    warning: at('warning'),
    error: at('error'),
    debug: at('debug'),
    group: (_t, fn) => fn(),
  };
}
