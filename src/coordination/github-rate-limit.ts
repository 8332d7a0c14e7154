/** The primary rate limit as the last response reported it (`x-ratelimit-*`). */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** When the window resets (ms since the epoch, from `x-ratelimit-reset`). */
  resetMs?: number;
}

/** GitHub's primary rate limit counts requests per hour. */
const RATE_LIMIT_WINDOW_MS = 3600_000;
/** The most a low budget stretches the poll interval (30 s → 10 min). */
export const MAX_POLL_DELAY_FACTOR = 20;

/**
 * Stretches polling so the budget (shared with every job using the token) lasts until the reset:
 * 1 while half the limit remains or at least the window's remaining share does; else how much the
 * pace must slow, at most MAX_POLL_DELAY_FACTOR.
 */
export function pollDelayFactorFor(rate: RateLimitState | undefined, nowMs: number): number {
  if (!rate || !(rate.limit > 0) || !(rate.remaining >= 0)) return 1;
  const left = rate.remaining / rate.limit;
  if (left >= 0.5) return 1;
  const windowLeft =
    rate.resetMs === undefined
      ? 1
      : Math.min(1, Math.max(0, (rate.resetMs - nowMs) / RATE_LIMIT_WINDOW_MS));
  if (left >= windowLeft) return 1;
  return Math.min(MAX_POLL_DELAY_FACTOR, windowLeft / Math.max(left, 1 / rate.limit));
}

/** The `core` budget (search and graphql do not pace polling); undefined when not reported. */
export function coreRateLimit(headers: Headers): RateLimitState | undefined {
  const limit = Number(headers.get('x-ratelimit-limit') ?? NaN);
  const remaining = Number(headers.get('x-ratelimit-remaining') ?? NaN);
  if (!Number.isFinite(limit) || !Number.isFinite(remaining) || limit <= 0) return undefined;
  const resource = headers.get('x-ratelimit-resource');
  if (resource !== null && resource !== 'core') return undefined;
  const reset = Number(headers.get('x-ratelimit-reset') ?? NaN);
  return {
    limit,
    remaining,
    resetMs: Number.isFinite(reset) && reset > 0 ? reset * 1000 : undefined,
  };
}
