import { InputError, RuntimeError } from '../core/errors.js';
import type { Clock, Logger } from '../core/ports.js';
import { systemClock } from './clock.js';
import { redactSecrets, SENSITIVE_PARAM } from './redact.js';
import { CLASS_NOUN, requestClass, type RequestClass, type Throttle } from './throttle.js';

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** Longest `Retry-After` waited out (default 5 min); a longer one fails the call instead. */
  maxRetryAfterMs?: number;
  /**
   * The process's per-class budgets (registry clients): requests are paced by it and a 429 is not
   * an attempt (see `retryLoop`). Without it a 429 is retried like a 5xx.
   */
  throttle?: Throttle;
  /** For logs. */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; cause: string }) => void;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  timeoutMs: 60_000,
};

export const DEFAULT_MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Statuses worth retrying: timeouts, throttling, server errors. */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/**
 * Carries the service's error code from the body (OCI `errors[].code`, Azure `code` / `typeKey`)
 * so adapters map it without reading the message.
 */
export class HttpStatusError extends RuntimeError {
  /** Without credentials or token-like query values. */
  readonly url: string;
  readonly code?: string;

  constructor(
    readonly status: number,
    readonly method: string,
    url: string,
    detail: string,
    /** `message`: the whole message, for clients that name the call their own way (ACR's gate). */
    options: { message?: string } = {},
  ) {
    super(
      options.message ??
        `${method} ${redactUrl(url)} failed: HTTP ${status}${detail ? ` ${redactSecrets(detail)}` : ''}`,
    );
    this.url = redactUrl(url);
    this.code = /"(?:code|typeKey)"\s*:\s*"([\w.-]+)"/.exec(detail)?.[1];
  }
}

/** Drops credentials and token-bearing query strings before a URL is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const key of [...u.searchParams.keys()])
      if (SENSITIVE_PARAM.test(key)) u.searchParams.set(key, '***');
    return u.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    return redactSecrets(url);
  }
}

/** Plain http is allowed only for loopback hosts; everything else must be https. */
export function assertSecureUrl(url: URL, name: string): void {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return;
  throw new InputError(
    `${name}: ${url.protocol}//${url.host} is not allowed: use https (plain http only for loopback hosts)`,
  );
}

/** `Retry-After` as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(
  headers: { get(name: string): string | null | undefined },
  now = Date.now(),
): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Jittered exponential backoff; with a `Retry-After`, that plus up to `baseDelayMs` of jitter so
 * workers told the same `Retry-After` do not all come back at once.
 */
export function retryDelay(
  attempt: number,
  policy: RetryPolicy,
  retryAfter: number | undefined,
  where: string,
  random: () => number,
): number {
  checkRetryAfter(policy, retryAfter, where);
  if (retryAfter !== undefined) return retryAfter + random() * policy.baseDelayMs;
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return cap / 2 + random() * (cap / 2);
}

const maxWait = (p: RetryPolicy) => p.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;

/** A `Retry-After` over the cap fails, naming `where`, rather than be slept out each attempt. */
function checkRetryAfter(policy: RetryPolicy, retryAfter: number | undefined, where: string) {
  const limit = maxWait(policy);
  if (retryAfter !== undefined && retryAfter > limit)
    throw new RuntimeError(
      `${where}: the server asked to retry after ${Math.ceil(retryAfter / 1000)} s, ` +
        `longer than the ${Math.ceil(limit / 1000)} s eol-gate waits; try again later`,
    );
}

export interface TransportOptions {
  /** Which final responses to retry (default: `RETRYABLE_STATUS`). */
  retryable?: (res: Response) => boolean;
  /** Names the service in errors and logs: "Azure DevOps". */
  service?: string;
  logger?: Logger;
  /** Default `systemClock`. */
  clock?: Clock;
  /**
   * A client's shared hold: a served response with `Retry-After` (Azure DevOps sends it on
   * throttled successes) delays the client's later requests.
   */
  gate?: { notBefore: number };
  /** The service's own wait for a retryable response without `Retry-After` (e.g. a reset header). */
  waitHint?: (res: Response, now: number) => number | undefined;
}

/**
 * The one outbound-HTTP path: retries 408/429/5xx, resets and timeouts with jittered backoff,
 * honouring `Retry-After` up to the cap. Returns the final response (maybe an error status for the
 * caller to map); throws when the network never answered. Other errors (fetch's TypeError for a
 * refused URL) are not retried, and are redacted: fetch puts the whole URL in the message.
 */
export async function fetchWithRetry(
  url: string,
  init: RequestInit,
  policy: RetryPolicy = DEFAULT_RETRY,
  o: TransportOptions = {},
): Promise<Response> {
  const retryable = o.retryable ?? ((res: Response) => RETRYABLE_STATUS.has(res.status));
  const clock = o.clock ?? systemClock;
  const now = () => clock.now().getTime();
  const method = init.method ?? 'GET';
  const where = `${o.service ? `${o.service}: ` : ''}${method} ${redactUrl(url)}`;
  return retryLoop<Response>({
    where,
    requestClass: requestClass(method, url),
    policy,
    pace: true,
    logger: o.logger,
    clock,
    url: redactUrl(url),
    attempt: async () => {
      const hold = (o.gate?.notBefore ?? 0) - now();
      if (hold > 0) await clock.sleep(hold);
      const sent = await fetchAttempt(url, init, policy.timeoutMs, where);
      if (!('res' in sent)) return sent;
      const res = sent.res;
      let wait = retryAfterMs(res.headers, now());
      if (res.ok && o.gate && wait !== undefined)
        o.gate.notBefore = Math.max(o.gate.notBefore, now() + Math.min(wait, maxWait(policy)));
      if (!retryable(res)) return { value: res, status: res.status };
      wait ??= o.waitHint?.(res, now());
      return {
        value: res,
        status: res.status,
        failure: { cause: `HTTP ${res.status}`, retryAfterMs: wait },
        discard: () => res.body?.cancel().catch(() => {}),
      };
    },
    networkError: (e, attempts) =>
      new RuntimeError(`${where} failed after ${attempts} attempts: ${networkCause(e)}`),
  });
}

/** Within `timeoutMs`; errors other than network failures (a refused URL) are not retried. */
export async function fetchAttempt(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  where: string,
): Promise<{ res: Response } | { failure: { cause: string }; error: unknown }> {
  try {
    return { res: await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) }) };
  } catch (e) {
    if (!isNetworkError(e)) throw new RuntimeError(`${where} failed: ${networkCause(e)}`);
    return { failure: { cause: networkCause(e) }, error: e };
  }
}

/** A request class the registry kept refusing (429) for the stall time; `reason` without the request. */
export class ThrottledError extends RuntimeError {
  constructor(
    where: string,
    readonly reason: string,
  ) {
    super(`${where}: ${reason}`);
  }
}

function formatMinutes(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

export interface Attempt<T> {
  /** Final unless `failure`. */
  value?: T;
  /** A 429 teaches the throttle. */
  status?: number;
  /** Set when the attempt may be retried. */
  failure?: { cause: string; retryAfterMs?: number };
  /** Behind `failure` (a network error): rethrown when retries run out. */
  error?: unknown;
  /** Releases a retried answer's body. */
  discard?: () => unknown;
}

export interface RetryLoopOptions<T> {
  where: string;
  /** Redacted, for logs. */
  url: string;
  requestClass: RequestClass;
  policy: RetryPolicy;
  /** Pace and record attempts in `policy.throttle` (false when ACR's per-retry policy does). */
  pace: boolean;
  logger?: Logger;
  /** Default `systemClock`. */
  clock?: Clock;
  attempt: () => Promise<Attempt<T>>;
  /** Default: the error itself. */
  networkError?: (e: unknown, attempts: number) => Error;
}

/**
 * The one retry loop (fetchWithRetry, and the ACR pipeline's retry policy): 5xx, 408, resets and
 * timeouts are retried `policy.retries` times with jittered backoff or `Retry-After` up to its cap.
 * With a throttle a 429 is not an attempt: the class's limiter holds and slows (util/throttle.ts)
 * and retrying goes on until nothing of the class was served for `throttle.stallMs`; the error
 * then says the registry kept refusing. Without one, a 429 is retried like a 5xx.
 */
export async function retryLoop<T>(o: RetryLoopOptions<T>): Promise<T> {
  const { policy, where } = o;
  const throttle = policy.throttle;
  const clock = o.clock ?? systemClock;
  const startedAt = throttle?.now() ?? 0;
  let failures = 0;
  let refused = 0;
  for (;;) {
    if (o.pace && throttle) await throttle.acquire(o.requestClass);
    const got = await o.attempt();
    if (o.pace && throttle && got.status !== undefined)
      throttle.record(o.requestClass, got.status, got.failure?.retryAfterMs);
    if (!got.failure) return got.value as T;
    const { cause, retryAfterMs: wait } = got.failure;
    if (got.status === 429 && throttle) {
      refused++;
      await got.discard?.();
      checkRetryAfter(policy, wait, where);
      if (throttle.stalled(o.requestClass, startedAt)) {
        const l = throttle.limiters[o.requestClass];
        throw new ThrottledError(
          where,
          `the registry kept refusing ${CLASS_NOUN[o.requestClass]} (HTTP 429): none served for ` +
            `${formatMinutes(throttle.stallMs)}; this request was refused ${refused} times, ` +
            `${l.refused} of the ${l.requests} ${CLASS_NOUN[o.requestClass]} of this run were refused. ` +
            'Another client may be using the budget, or the tier is smaller than set (acrTier); try again later',
        );
      }
      o.logger?.debug(`${where}: ${cause}; the class is paced, retrying`);
      // No sleep here: the class's limiter holds its next slot (Retry-After or backoff).
      continue;
    }
    if (failures >= policy.retries) {
      if (got.value !== undefined) return got.value;
      throw o.networkError?.(got.error, failures + 1) ?? got.error;
    }
    await got.discard?.();
    const delayMs = retryDelay(failures, policy, wait, where, clock.random);
    failures++;
    policy.onRetry?.({ url: o.url, attempt: failures, delayMs, cause });
    o.logger?.debug(`${where}: ${cause}; retrying in ${Math.round(delayMs)}ms`);
    await clock.sleep(delayMs);
  }
}

/** Epoch-seconds header (e.g. `x-ratelimit-reset`) as ms from `now`; undefined when absent. */
export function resetHeaderWaitMs(headers: Headers, name: string, now: number): number | undefined {
  const value = headers.get(name);
  if (!value || !/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Math.max(0, Number(value) * 1000 - now);
}

/** A timeout, or a failure with a system/undici error code (reset, refused, DNS, TLS...). */
export function isNetworkError(e: unknown): boolean {
  const err = e as { name?: unknown; code?: unknown; cause?: { code?: unknown } } | undefined;
  if (err?.name === 'TimeoutError') return true;
  return typeof err?.cause?.code === 'string' || typeof err?.code === 'string';
}

/** Short and redacted: never the URL's credentials or a token. */
export function networkCause(e: unknown): string {
  const err = e as (Error & { cause?: { code?: string; message?: string } }) | undefined;
  if (err?.name === 'TimeoutError') return 'timed out';
  return redactSecrets(String(err?.cause?.code ?? err?.cause?.message ?? err?.message ?? e));
}

/** Bounded (a huge HTML page floods logs) and redacted (servers echo `Authorization`, URLs). */
export async function errorDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  return redactSecrets(text.slice(0, 8192).replace(/\s+/g, ' ')).slice(0, 300);
}
