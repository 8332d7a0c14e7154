import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../src/core/errors.js';
import {
  DEFAULT_MAX_RETRY_AFTER_MS,
  fetchWithRetry,
  HttpStatusError,
  networkCause,
  retryAfterMs,
  retryDelay,
  type RetryPolicy,
} from '../../src/util/http.js';
import { instantClock } from '../support/doubles.js';
import { rejection } from '../support/errors.js';
import { serveOnLoopback } from '../support/loopback.js';
import { redactSecrets } from '../../src/util/redact.js';

const SECRET = 's3cretpw';

/** Retries without waiting (jitter 0.5); records the delays asked for and the onRetry calls. */
function recording() {
  const delays: number[] = [];
  const retries: { url: string; cause: string }[] = [];
  const policy: RetryPolicy = {
    retries: 3,
    baseDelayMs: 100,
    maxDelayMs: 1000,
    timeoutMs: 5000,
    onRetry: (info) => retries.push(info),
  };
  const clock = { ...instantClock, sleep: async (ms: number) => void delays.push(ms) };
  return { policy, clock, delays, retries };
}

let server: Awaited<ReturnType<typeof serveOnLoopback>>;
let base: string;
let answer: { status: number; headers?: Record<string, string> } = { status: 200 };
let hits = 0;

beforeAll(async () => {
  server = await serveOnLoopback(async (_req, res) => {
    hits++;
    res.writeHead(answer.status, answer.headers ?? {}).end('body');
    return true;
  });
  base = server.origin;
});
afterAll(() => server.close());

describe('secrets in fetch failures (invariant 7)', () => {
  it('does not retry a URL fetch refuses, and never repeats its credentials', async () => {
    const { policy, clock, delays, retries } = recording();
    const url = `${base.replace('//', `//user:${SECRET}@`)}/image-info.json`;
    hits = 0;
    const error = await rejection(fetchWithRetry(url, {}, policy, { clock }));
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).not.toContain(SECRET);
    expect(error.message).toContain('127.0.0.1');
    // Not a network failure: no retry, so nothing went to onRetry (logs) either.
    expect(retries).toEqual([]);
    expect(delays).toEqual([]);
    expect(hits).toBe(0);
  });

  it('redacts what networkCause reports and what HttpStatusError keeps', () => {
    const withCause = new TypeError('fetch failed', {
      cause: new Error(`connect to https://user:${SECRET}@host/x failed`),
    });
    expect(networkCause(withCause)).not.toContain(SECRET);
    expect(networkCause(new TypeError(`bad URL https://u:${SECRET}@host/x`))).not.toContain(SECRET);
    const e = new HttpStatusError(500, 'GET', `https://u:${SECRET}@host/x?token=${SECRET}`, '');
    expect(e.url).not.toContain(SECRET);
    expect(e.message).not.toContain(SECRET);
    expect(e.url).toBe('https://host/x?token=***');
  });

  it('redactSecrets hides URL user-info as well as tokens', () => {
    const text = redactSecrets(`GET https://user:p@ss${SECRET}@host/a and Bearer abc.def`);
    expect(text).not.toContain(SECRET);
    expect(text).toContain('https://***@host/a');
    expect(text).toContain('Bearer ***');
  });
});

describe('Retry-After (invariant 5)', () => {
  it('adds jitter to Retry-After so workers do not retry in lockstep', () => {
    const policy = { retries: 3, baseDelayMs: 500, maxDelayMs: 30_000, timeoutMs: 1000 };
    expect(retryDelay(0, policy, 2000, 'x', () => 0)).toBe(2000);
    expect(retryDelay(0, policy, 2000, 'x', () => 0.5)).toBe(2250);
    expect(retryDelay(3, policy, 2000, 'x', () => 0.99)).toBeCloseTo(2495);
    // Never less than Retry-After, whatever the attempt.
    for (let attempt = 0; attempt < 8; attempt++)
      expect(retryDelay(attempt, policy, 700, 'x', () => 0)).toBeGreaterThanOrEqual(700);
  });

  it('fails instead of sleeping out an unreasonable Retry-After', () => {
    const policy: RetryPolicy = { retries: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 1000 };
    expect(
      retryDelay(0, policy, DEFAULT_MAX_RETRY_AFTER_MS, 'x', Math.random),
    ).toBeGreaterThanOrEqual(DEFAULT_MAX_RETRY_AFTER_MS);
    expect(() => retryDelay(0, policy, 3_600_000, 'GET https://host/x', Math.random)).toThrow(
      /GET https:\/\/host\/x: .*retry after 3600 s/,
    );
    expect(() =>
      retryDelay(0, { ...policy, maxRetryAfterMs: 1000 }, 2000, 'x', Math.random),
    ).toThrow(RuntimeError);
  });

  it('fetchWithRetry gives up at once on Retry-After: 3600, naming the host', async () => {
    const { policy, clock, delays } = recording();
    answer = { status: 429, headers: { 'retry-after': '3600' } };
    hits = 0;
    const error = await rejection(fetchWithRetry(`${base}/x`, {}, policy, { clock }));
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).toContain(base.replace('http://', ''));
    expect(error.message).toContain('3600 s');
    expect(delays).toEqual([]);
    expect(hits).toBe(1);
  });

  it('fetchWithRetry waits out a short Retry-After with jitter', async () => {
    const { policy, clock, delays } = recording();
    answer = { status: 503, headers: { 'retry-after': '2' } };
    const res = await fetchWithRetry(`${base}/x`, {}, policy, { clock });
    expect(res.status).toBe(503);
    await res.body?.cancel();
    expect(delays).toEqual([2050, 2050, 2050]);
  });

  it('reads Retry-After from any headers object', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs({ get: () => '3' }, now)).toBe(3000);
    expect(retryAfterMs({ get: () => undefined }, now)).toBeUndefined();
    expect(retryAfterMs(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:10 GMT' }), now)).toBe(
      10_000,
    );
  });
});
