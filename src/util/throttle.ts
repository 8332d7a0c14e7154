/**
 * Request budgets per class, learnt from the registry's refusals.
 *
 * ACR meters reads (GET/HEAD) and writes (PUT/POST/PATCH/DELETE) per minute by tier (Basic
 * 1,000 / 100, Standard 3,000 / 500, Premium 10,000 / 2,000), referrer lookups per identity (250 a
 * minute) and tokens apart, and answers past a budget with `429 TOOMANYREQUESTS`, often without
 * `Retry-After`. Each class has its own process-wide limiter, so a refused write never slows reads.
 *
 * The scheme (pure, on an injected clock):
 * - A class starts at most `rate` requests a minute, evenly spaced (no bursts to refuse), from the
 *   configured budget (`acrTier`), or optimistic (Premium) without one.
 * - A 429 is the only signal of the real budget. On one, the limiter (1) holds the class for
 *   `Retry-After`, else a backoff doubling per consecutive refusal (1 s … 60 s): the window is full
 *   and more requests are only more refusals (a refusal of a request sent before the hold teaches
 *   nothing and is not consecutive); (2) takes as `ceiling` the smaller of its rate and the last
 *   minute's successes (a per-minute budget served no more: an optimistic start drops to the real
 *   budget in one step, not log₂(10,000/100) halvings); (3) decreases to `decrease × ceiling`.
 * - Each success adds a tenth of the gap back to `target × ceiling` (just under the refused rate),
 *   then a small probe step, so a grown budget is found again while the rate stays just under the
 *   last refusal: classic AIMD saw-tooths between `decrease × B` and B (~15 % lost); this settles
 *   at ~`target × B`, one refusal per probe cycle.
 * - `maxRequestsPerMinute` is an operator's fixed cap on all classes together.
 */

import type { Clock } from '../core/ports.js';
import { systemClock } from './clock.js';

export type RequestClass = 'read' | 'write' | 'referrers' | 'token';
export const REQUEST_CLASSES: readonly RequestClass[] = ['read', 'write', 'referrers', 'token'];

export type AcrTier = 'basic' | 'standard' | 'premium';
export const ACR_TIERS: readonly AcrTier[] = ['basic', 'standard', 'premium'];

/** Requests per minute ACR documents per tier; referrer lookups are per identity, any tier. */
export const TIER_BUDGETS: Record<AcrTier, Record<RequestClass, number>> = {
  basic: { read: 1_000, write: 100, referrers: 250, token: 1_000 },
  standard: { read: 3_000, write: 500, referrers: 250, token: 3_000 },
  premium: { read: 10_000, write: 2_000, referrers: 250, token: 10_000 },
};

/** With no tier: the largest budgets, learnt down from the first refusals. */
export const OPTIMISTIC_BUDGETS = TIER_BUDGETS.premium;

/** How long a class may go without a served request before retrying stops. */
export const DEFAULT_STALL_MS = 5 * 60_000;

export function requestClass(method: string, url: string): RequestClass {
  let path = url;
  try {
    path = new URL(url, 'https://placeholder.invalid').pathname;
  } catch {
    /* keep the text */
  }
  if (/\/oauth2\/(token|exchange)$/.test(path) || /\/token\/?$/.test(path)) return 'token';
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD') {
    // The referrers API, and the referrers-tag fallback (`<alg>-<hex>` tags).
    if (/\/referrers\//.test(path) || /\/manifests\/sha256-[0-9a-f]{64}$/.test(path))
      return 'referrers';
    return 'read';
  }
  return 'write';
}

export interface LimiterOptions {
  start: number;
  /** From a documented budget (paced from the start), else optimistic. */
  configured?: boolean;
  min?: number;
  /** Multiplicative decrease on a refusal (default 0.8). */
  decrease?: number;
  /** Where to settle, as a share of the last refused rate (default 0.95). */
  target?: number;
  /** Probe step above the target, per success, as a share of the ceiling (default 1/500). */
  probe?: number;
  maxHoldMs?: number;
  /** The budget window the registry counts in (default a minute). */
  windowMs?: number;
}

/** Pure, on the clock times it is given. */
export class RateLimiter {
  rate: number;
  /** The rate last refused (undefined before any refusal). */
  ceiling?: number;
  /** Epoch ms before which no request of the class starts. */
  holdUntil = 0;
  requests = 0;
  refused = 0;
  /** Requests this limiter made wait (it, not the caller's concurrency, set the pace). */
  delayed = 0;
  private streak = 0;
  private next = 0;
  lastSuccess?: number;
  private readonly successes: number[] = [];
  readonly configured: boolean;
  private documented?: number;
  private readonly o: Required<Omit<LimiterOptions, 'configured'>>;

  constructor(options: LimiterOptions) {
    if (!(options.start > 0)) throw new RangeError(`rate must be positive, got ${options.start}`);
    this.o = {
      min: 6,
      decrease: 0.8,
      target: 0.95,
      probe: 1 / 500,
      maxHoldMs: 60_000,
      windowMs: 60_000,
      ...(Object.fromEntries(
        Object.entries(options).filter(([, v]) => v !== undefined),
      ) as LimiterOptions),
    };
    this.configured = options.configured ?? false;
    this.rate = options.start;
    // A documented budget is the ceiling from the start: settle just under it.
    if (this.configured) {
      this.documented = options.start;
      this.ceiling = options.start;
      this.rate = options.start * this.o.target;
    }
  }

  /** Reserves the next start time at or after `now`; returns how long to wait. */
  reserve(now: number): number {
    const at = Math.max(now, this.next, this.holdUntil);
    this.next = at + 60_000 / this.rate;
    this.requests++;
    if (at > now) this.delayed++;
    return at - now;
  }

  /** A served (non-429) answer. */
  success(now: number): void {
    this.streak = 0;
    this.lastSuccess = now;
    this.successes.push(now);
    this.forget(now);
    if (this.ceiling === undefined) return;
    const goal = this.ceiling * this.o.target;
    if (this.rate < goal) this.rate += Math.max((goal - this.rate) / 10, this.o.min / 10);
    // A documented budget is not probed past: going over it only buys refusals.
    else if (!this.configured) this.rate += this.ceiling * this.o.probe;
    if (this.configured && this.documented !== undefined)
      this.rate = Math.min(this.rate, this.documented * this.o.target);
  }

  /** A 429; `retryAfterMs` when the registry said how long. */
  throttled(now: number, retryAfterMs?: number): void {
    this.refused++;
    // Sent before the class was held (in flight at the last refusal): the limiter knows already.
    if (now < this.holdUntil && retryAfterMs === undefined) return;
    this.streak++;
    this.forget(now);
    const served = (this.successes.length * 60_000) / this.o.windowMs;
    if (this.streak === 1) {
      this.ceiling = Math.max(this.o.min, Math.min(this.rate, served > 0 ? served : this.rate));
      this.rate = Math.max(this.o.min, this.ceiling * this.o.decrease);
    }
    const hold = retryAfterMs ?? Math.min(this.o.maxHoldMs, 1_000 * 2 ** (this.streak - 1));
    this.holdUntil = Math.max(this.holdUntil, now + hold);
    // Requests already spaced out at the old rate restart from the hold.
    this.next = Math.max(this.next, this.holdUntil);
  }

  private forget(now: number): void {
    while (this.successes.length > 0 && this.successes[0] <= now - this.o.windowMs)
      this.successes.shift();
  }
}

export interface ClassStats {
  requests: number;
  throttled: number;
  /** Requests per minute the class is paced at now (rounded). */
  ratePerMinute: number;
}

export interface ThrottleOptions {
  tier?: AcrTier;
  /** A cap on all requests together (per minute). */
  maxRequestsPerMinute?: number;
  stallMs?: number;
  /** The window the registry counts budgets in (default a minute; tests shorten it). */
  windowMs?: number;
  /** Default `systemClock`. */
  clock?: Clock;
}

/** The per-class limiters of a process (see the scheme above), and their counts. */
export class Throttle {
  readonly limiters: Record<RequestClass, RateLimiter>;
  readonly stallMs: number;
  readonly tier?: AcrTier;
  private readonly total?: RateLimiter;
  private readonly clock: Clock;

  constructor(options: ThrottleOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.stallMs = options.stallMs ?? DEFAULT_STALL_MS;
    const { tier, windowMs, maxRequestsPerMinute: cap } = options;
    this.tier = tier;
    const budgets = tier ? TIER_BUDGETS[tier] : OPTIMISTIC_BUDGETS;
    this.limiters = perClass(
      (c) => new RateLimiter({ start: budgets[c], configured: tier !== undefined, windowMs }),
    );
    if (cap !== undefined) {
      if (!(cap > 0)) throw new RangeError(`maxRequestsPerMinute must be positive, got ${cap}`);
      // A fixed cap: never raised, only its hold follows refusals.
      this.total = new RateLimiter({ start: cap, target: 1, probe: 0 });
    }
  }

  now(): number {
    return this.clock.now().getTime();
  }

  /**
   * A slot reserved before a 429 held the class does not survive the hold: the request waits for
   * a new one rather than join the refusals (with 8 in flight, one refusal would become 8).
   */
  async acquire(c: RequestClass): Promise<void> {
    const limiter = this.limiters[c];
    for (;;) {
      const now = this.now();
      const wait = Math.max(limiter.reserve(now), this.total?.reserve(now) ?? 0);
      if (wait > 0) await this.clock.sleep(wait);
      if (limiter.holdUntil <= this.now()) return;
      limiter.requests--; // that slot was not used
    }
  }

  /** Waits out the class's hold without taking a slot: before a request's timeout starts. */
  async holdOver(c: RequestClass): Promise<void> {
    const wait = this.limiters[c].holdUntil - this.now();
    if (wait > 0) await this.clock.sleep(wait);
  }

  /** Records an answer: a 429 teaches the class's limiter, anything else is served. */
  record(c: RequestClass, status: number, retryAfterMs?: number): void {
    const now = this.now();
    if (status === 429) this.limiters[c].throttled(now, retryAfterMs);
    else if (status > 0) this.limiters[c].success(now);
  }

  /** True once nothing of `c` was served for `stallMs` (counted from `since` at the earliest). */
  stalled(c: RequestClass, since: number): boolean {
    const last = Math.max(this.limiters[c].lastSuccess ?? 0, since);
    return this.now() - last >= this.stallMs;
  }

  stats(): Record<RequestClass, ClassStats> {
    return perClass((c) => {
      const l = this.limiters[c];
      return { requests: l.requests, throttled: l.refused, ratePerMinute: Math.round(l.rate) };
    });
  }
}

let shared: Throttle | undefined;

/** Shared by every registry client of the process; configured once, at wiring. */
export function processThrottle(): Throttle {
  return (shared ??= new Throttle());
}

export function configureProcessThrottle(options: ThrottleOptions): Throttle {
  shared = new Throttle(options);
  return shared;
}

/** Requests per class so far: what `pacingNote` counts a step's requests from. */
export type PaceSnapshot = Record<RequestClass, number>;

export function paceSnapshot(throttle: Throttle): PaceSnapshot {
  return perClass((c) => throttle.limiters[c].requests);
}

function perClass<T>(value: (c: RequestClass) => T): Record<RequestClass, T> {
  return Object.fromEntries(REQUEST_CLASSES.map((c) => [c, value(c)])) as Record<RequestClass, T>;
}

/**
 * "writes paced at 96/min by the registry: 1,204 marks left, about 12 min": for the class slowest
 * to finish `left` items at its rate (its requests per item since `since`), when a limiter sets the
 * pace (refusals, or a tier budget that made requests wait); else undefined.
 */
export function pacingNote(
  throttle: Throttle,
  since: PaceSnapshot,
  done: number,
  left: number,
  noun: string,
): string | undefined {
  if (done <= 0 || left <= 0) return undefined;
  let worst: { c: RequestClass; minutes: number } | undefined;
  for (const c of REQUEST_CLASSES) {
    const l = throttle.limiters[c];
    if (l.refused === 0 && !(l.configured && l.delayed > 0)) continue;
    const perItem = (l.requests - since[c]) / done;
    if (perItem <= 0) continue;
    const minutes = (left * perItem) / l.rate;
    if (!worst || minutes > worst.minutes) worst = { c, minutes };
  }
  if (!worst) return undefined;
  const l = throttle.limiters[worst.c];
  const by =
    l.refused > 0 ? 'by the registry' : `by the ${throttle.tier ?? 'configured'} tier budget`;
  const about =
    worst.minutes < 1
      ? 'under a minute'
      : `about ${Math.ceil(worst.minutes).toLocaleString('en-US')} min`;
  return `${CLASS_NOUN[worst.c]} paced at ${Math.round(l.rate).toLocaleString('en-US')}/min ${by}: ${left.toLocaleString('en-US')} ${noun} left, ${about}`;
}

export const CLASS_NOUN: Record<RequestClass, string> = {
  read: 'reads',
  write: 'writes',
  referrers: 'referrer lookups',
  token: 'token requests',
};
