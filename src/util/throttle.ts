/**
 * Request budgets per class, learnt from the registry's refusals.
 *
 * Azure Container Registry meters reads (GET/HEAD) and writes (PUT/POST/PATCH/DELETE) per
 * minute by tier (Basic 1,000 / 100, Standard 3,000 / 500, Premium 10,000 / 2,000), referrer
 * lookups per identity (250 a minute) and token requests on their own, and answers past a budget
 * with `429 TOOMANYREQUESTS`, often without `Retry-After`. Each class here has its own limiter,
 * shared by every client of the process, so a refused write never slows the reads.
 *
 * The scheme (one limiter per class, pure, on an injected clock):
 * - Requests of a class start at most `rate` a minute, evenly spaced (no bursts to refuse).
 * - It starts at the configured budget (`acrTier`), or optimistic (Premium) with none.
 * - A 429 is the only signal of the real budget. On one, the limiter (1) holds the whole class
 *   for `Retry-After` when there is one, else for a backoff that doubles with consecutive
 *   refusals (1 s, 2 s, 4 s … 60 s): a budget window is full, and requests sent into it are
 *   only more refusals (a refusal answered during a hold, of a request sent before it, teaches
 *   nothing new and is not counted as consecutive); (2) takes as `ceiling` the smaller of its rate and the successes it saw
 *   in the last minute (a per-minute budget cannot have served more than that: an optimistic
 *   start comes down to the real budget in one step, not after log₂(10,000/100) halvings);
 *   (3) decreases multiplicatively to `decrease × ceiling`. Consecutive refusals halve further.
 * - Each success increases additively: quickly (a tenth of the gap per success) back to
 *   `target × ceiling` (just under the rate that was refused), then by a small probe step above
 *   it, so a budget that grew is found again but the rate spends almost all its time just
 *   under the last refusal: classic AIMD would saw-tooth between `decrease × B` and B (a
 *   ~15 % loss); this settles at ~`target × B`, with one refusal per probe cycle.
 * - `maxRequestsPerMinute` is a fixed cap on all classes together (an operator's override).
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

/** Default time a class may go without one served request before retrying stops. */
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
  /** Requests per minute to start at. */
  start: number;
  /** Configured from a documented budget (paced from the start), or optimistic. */
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

/** One class's limiter: pure, on the clock times it is given. */
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
  /** Consecutive refusals. */
  private streak = 0;
  private next = 0;
  lastSuccess?: number;
  private readonly successes: number[] = [];
  readonly configured: boolean;
  /** The tier's documented budget, when configured. */
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

  /** Drops the successes older than the budget window. */
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
  /** Times the pacing and sleeps it (default `systemClock`). */
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

  /** Epoch ms on the throttle's clock. */
  now(): number {
    return this.clock.now().getTime();
  }

  /**
   * Waits for the class's (and the total cap's) next slot. A slot reserved before a 429 held the
   * class does not survive the hold: the request waits for a new one after it, rather than join
   * the refusals (with 8 requests in flight, one refusal would otherwise become 8).
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

  /** Waits out the class's hold (after a 429), without taking a slot: before a request's timeout starts. */
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

  /** Whether retrying a throttled request of `c` may go on: a request of it was served within `stallMs` of `since`. */
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

/** The process's throttle, shared by every registry client (configure it once, at wiring). */
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
 * "writes paced at 96/min by the registry: 1,204 marks left, about 12 min": for the class that
 * will take longest to finish `left` items at its current rate (requests of it per item so far,
 * since `since`), when a limiter sets its pace (refusals, or a tier budget that made requests
 * wait); undefined when none does.
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
