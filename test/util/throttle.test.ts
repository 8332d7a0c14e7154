import { describe, expect, it } from 'vitest';
import {
  paceSnapshot,
  pacingNote,
  RateLimiter,
  requestClass,
  Throttle,
  TIER_BUDGETS,
} from '../../src/util/throttle.js';
import { instantClock } from '../support/doubles.js';

/**
 * A registry that counts a per-minute budget in a sliding window (what ACR's "per minute" and
 * its "N requests in a 60 second window" refusals describe); refused requests do not count.
 */
function slidingWindow(budget: number, windowMs = 60_000) {
  const admitted: number[] = [];
  return (t: number) => {
    while (admitted.length > 0 && admitted[0] <= t - windowMs) admitted.shift();
    if (admitted.length >= budget) return false;
    admitted.push(t);
    return true;
  };
}

/**
 * `needed` requests through one limiter by `workers` concurrent workers, each request taking
 * `latencyMs`, on a fake clock (no sleeping). Returns minutes taken and refusals.
 */
function simulate(
  limiter: RateLimiter,
  admit: (t: number) => boolean,
  needed: number,
  workers = 8,
  latencyMs = 50,
) {
  const free = Array.from({ length: workers }, () => 0);
  let served = 0;
  let refused = 0;
  let now = 0;
  while (served < needed) {
    const w = free.indexOf(Math.min(...free));
    now = free[w];
    const at = now + limiter.reserve(now);
    const end = at + latencyMs;
    if (admit(at)) {
      served++;
      limiter.success(end);
    } else {
      refused++;
      limiter.throttled(end);
    }
    free[w] = end;
  }
  return { minutes: now / 60_000, refused, share: refused / (served + refused) };
}

describe('requestClass', () => {
  it('sorts requests into reads, writes, referrer lookups and token requests', () => {
    const h = 'https://r.azurecr.io';
    expect(requestClass('GET', `${h}/v2/a/manifests/sha256:ab`)).toBe('read');
    expect(requestClass('HEAD', `${h}/v2/a/blobs/sha256:ab`)).toBe('read');
    expect(requestClass('GET', `${h}/acr/v1/a/_manifests?n=1000`)).toBe('read');
    expect(requestClass('PUT', `${h}/v2/a/manifests/sha256:ab`)).toBe('write');
    expect(requestClass('POST', `${h}/v2/a/blobs/uploads/`)).toBe('write');
    expect(requestClass('PATCH', `${h}/v2/a/blobs/uploads/x`)).toBe('write');
    expect(requestClass('DELETE', `${h}/v2/a/manifests/sha256:ab`)).toBe('write');
    expect(requestClass('GET', `${h}/v2/a/referrers/sha256:ab`)).toBe('referrers');
    expect(requestClass('GET', `${h}/v2/a/manifests/sha256-${'a'.repeat(64)}`)).toBe('referrers');
    expect(requestClass('POST', `${h}/oauth2/exchange`)).toBe('token');
    expect(requestClass('POST', `${h}/oauth2/token`)).toBe('token');
    expect(requestClass('GET', 'https://auth.docker.io/token?scope=x')).toBe('token');
  });
});

describe('RateLimiter', () => {
  it('spaces requests evenly at its rate', () => {
    const l = new RateLimiter({ start: 120 });
    expect([0, 0, 0].map(() => l.reserve(0))).toEqual([0, 500, 1000]);
    expect(l.reserve(10_000)).toBe(0);
  });

  it('on a 429 without Retry-After holds the class, backing off on consecutive refusals', () => {
    const l = new RateLimiter({ start: 6_000 });
    l.throttled(1_000);
    expect(l.holdUntil).toBe(2_000);
    expect(l.reserve(1_500)).toBe(500);
    l.throttled(2_100);
    expect(l.holdUntil).toBe(4_100);
    l.success(4_200);
    l.throttled(5_000);
    expect(l.holdUntil).toBe(6_000);
  });

  it('honours Retry-After when there is one', () => {
    const l = new RateLimiter({ start: 600 });
    l.throttled(0, 30_000);
    expect(l.reserve(1)).toBe(29_999);
  });

  it('comes down from an optimistic start to the real budget in one step', () => {
    const l = new RateLimiter({ start: 2_000 });
    for (let t = 0; t < 100; t++) l.success(t * 100);
    l.throttled(10_000);
    // 100 served in the last minute: a per-minute budget of at most 100.
    expect(l.ceiling).toBe(100);
    expect(l.rate).toBe(80);
  });

  it('climbs back quickly to just under the refused rate, then probes slowly', () => {
    const l = new RateLimiter({ start: 100, configured: true });
    expect(l.rate).toBe(95);
    l.throttled(0);
    // Refused at 95/min with nothing served yet: the ceiling is 95, the rate 0.8 of it.
    expect(l.ceiling).toBe(95);
    expect(l.rate).toBe(76);
    let t = 1_000;
    for (let i = 0; i < 30; i++) l.success((t += 600));
    expect(l.rate).toBeGreaterThan(89);
    expect(l.rate).toBeLessThan(95);
  });

  for (const [name, budget, needed, start, configured] of [
    ['Basic writes, learnt', 100, 1_200, 2_000, false],
    ['Basic writes, tier set', 100, 1_200, 100, true],
    ['Standard writes, learnt', 500, 3_000, 2_000, false],
    ['Basic reads, learnt', 1_000, 6_000, 10_000, false],
    ['referrer lookups, learnt', 250, 2_000, 250, false],
  ] as const) {
    it(`settles just under a sliding-window budget: ${name}`, () => {
      const r = simulate(new RateLimiter({ start, configured }), slidingWindow(budget), needed);
      const floor = needed / budget;
      expect(r.minutes / floor).toBeLessThanOrEqual(configured ? 1.1 : 1.15);
      expect(r.share).toBeLessThan(0.02);
    });
  }
});

/** A clock that moves only when a test sets `at.ms`; its sleeps return at once, recorded in `waits`. */
function stoppedClock() {
  const at = { ms: 0 };
  const waits: number[] = [];
  const sleep = async (ms: number) => void waits.push(ms);
  return { clock: { ...instantClock, now: () => new Date(at.ms), sleep }, at, waits };
}

describe('Throttle', () => {
  it('starts at the tier budgets and keeps each class to its own', async () => {
    const { clock, at, waits } = stoppedClock();
    const t = new Throttle({ tier: 'basic', clock });
    expect(t.stats().write.ratePerMinute).toBe(Math.round(TIER_BUDGETS.basic.write * 0.95));
    await t.acquire('write');
    await t.acquire('write');
    await t.acquire('read');
    expect(waits).toEqual([Math.round(60_000 / 95)].map((w) => expect.closeTo(w, 0)));
    t.record('write', 429);
    expect(t.stats().write.throttled).toBe(1);
    expect(t.stats().read.throttled).toBe(0);
    at.ms = 100;
    await t.acquire('read');
    expect(waits).toHaveLength(1);
  });

  it('caps all classes together with maxRequestsPerMinute', async () => {
    const { clock, waits } = stoppedClock();
    const t = new Throttle({ maxRequestsPerMinute: 60, clock });
    await t.acquire('read');
    await t.acquire('write');
    await t.acquire('token');
    expect(waits).toEqual([1_000, 2_000]);
  });

  it('is stalled once a class has been served nothing for stallMs', () => {
    const { clock, at } = stoppedClock();
    const t = new Throttle({ stallMs: 60_000, clock });
    t.record('write', 201);
    at.ms = 59_999;
    expect(t.stalled('write', 0)).toBe(false);
    at.ms = 60_000;
    expect(t.stalled('write', 0)).toBe(true);
    expect(t.stalled('write', 30_000)).toBe(false);
  });
});

describe('pacingNote', () => {
  it('names the class that sets the pace and when the items should be done', () => {
    const { clock, at } = stoppedClock();
    const t = new Throttle({ clock });
    const since = paceSnapshot(t);
    expect(pacingNote(t, since, 10, 100, 'marks')).toBeUndefined();
    for (let i = 0; i < 20; i++) {
      void t.acquire('write');
      t.record('write', 201);
      at.ms += 100;
    }
    void t.acquire('write');
    t.record('write', 429);
    // 21 writes for 10 marks so far: 2.1 a mark, 1,204 marks left at the learnt rate.
    const rate = Math.round(t.limiters.write.rate);
    const minutes = Math.ceil((1_204 * 2.1) / t.limiters.write.rate);
    expect(pacingNote(t, since, 10, 1_204, 'marks')).toBe(
      `writes paced at ${rate}/min by the registry: 1,204 marks left, about ${minutes} min`,
    );
  });

  it('says so when a tier budget, not the registry, sets the pace', async () => {
    const t = new Throttle({ tier: 'basic', clock: stoppedClock().clock });
    const since = paceSnapshot(t);
    for (let i = 0; i < 4; i++) await t.acquire('write');
    expect(pacingNote(t, since, 2, 500, 'marks')).toBe(
      'writes paced at 95/min by the basic tier budget: 500 marks left, about 11 min',
    );
  });
});
