import { InputError, RuntimeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { redactSecrets, SENSITIVE_PARAM } from './redact.js';
import { sleep as defaultSleep } from './sleep.js';

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /**
   * Longest `Retry-After` we wait out (default `DEFAULT_MAX_RETRY_AFTER_MS`); a longer one fails
   * the call instead of sleeping for it on every attempt.
   */
  maxRetryAfterMs?: number;
  /** Called before each retry, for logs. */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; cause: string }) => void;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  timeoutMs: 60_000,
};

/** Default cap on a server's `Retry-After` (5 minutes). */
export const DEFAULT_MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Statuses worth retrying: timeouts, throttling, server errors. */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/**
 * An error status the caller did not expect: status, method, redacted URL, and the service's
 * error code from the body (OCI `errors[].code`, Azure `code` / `typeKey`) for adapters to map
 * to their meaning without reading the message.
 */
export class HttpStatusError extends RuntimeError {
  /** The request URL without credentials or token-like query values. */
  readonly url: string;
  readonly code?: string;

  constructor(
    readonly status: number,
    readonly method: string,
    url: string,
    detail: string,
  ) {
    super(
      `${method} ${redactUrl(url)} failed: HTTP ${status}${detail ? ` ${redactSecrets(detail)}` : ''}`,
    );
    this.url = redactUrl(url);
    this.code = /"(?:code|typeKey)"\s*:\s*"([\w.-]+)"/.exec(detail)?.[1];
  }
}

/** The former name, kept for the registry adapters. */
export const HttpError = HttpStatusError;
export type HttpError = HttpStatusError;

/** Drops credentials and query strings that may hold tokens from a URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const key of [...u.searchParams.keys()]) {
      if (SENSITIVE_PARAM.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString().replace(/%2A%2A%2A/g, '***');
  } catch {
    return redactSecrets(url);
  }
}

export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Plain http is allowed only for loopback hosts; everything else must be https. */
export function assertSecureUrl(url: URL, name: string): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return;
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
 * Jittered exponential backoff; with a `Retry-After`, that wait plus up to `baseDelayMs` of
 * jitter, so workers told the same `Retry-After` do not all come back at the same instant.
 */
export function backoffDelay(attempt: number, policy: RetryPolicy, retryAfter?: number): number {
  const random = policy.random ?? Math.random;
  if (retryAfter !== undefined) return retryAfter + random() * policy.baseDelayMs;
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return cap / 2 + random() * (cap / 2);
}

/**
 * `backoffDelay`, but a `Retry-After` longer than the policy's `maxRetryAfterMs` fails (a
 * RuntimeError naming `where` and the wait) instead of sleeping that long on every attempt.
 */
export function retryDelay(
  attempt: number,
  policy: RetryPolicy,
  retryAfter: number | undefined,
  where: string,
): number {
  const limit = policy.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
  if (retryAfter !== undefined && retryAfter > limit) {
    throw new RuntimeError(
      `${where}: the server asked to retry after ${Math.ceil(retryAfter / 1000)} s, ` +
        `longer than the ${Math.ceil(limit / 1000)} s eol-gate waits; try again later`,
    );
  }
  return backoffDelay(attempt, policy, retryAfter);
}

export interface TransportOptions {
  /** Which final responses to retry (default: `RETRYABLE_STATUS`). */
  retryable?: (res: Response) => boolean;
  /** Names the service in errors and logs: "Azure DevOps". */
  service?: string;
  logger?: Logger;
  /** Epoch ms; injectable so tests can check reset-based waits. */
  now?: () => number;
  /**
   * A client's shared hold: a served response carrying `Retry-After` (Azure DevOps sends it on
   * throttled successes) makes the client's later requests wait that long first.
   */
  gate?: { notBefore: number };
  /** The service's own wait for a retryable response without `Retry-After` (e.g. a reset header). */
  waitHint?: (res: Response, now: number) => number | undefined;
}

/**
 * The one outbound-HTTP loop: retries 408/429/5xx, resets and timeouts with jittered backoff,
 * honours `Retry-After` up to the policy's cap. Returns the final response (which may still be
 * an error status the caller maps, e.g. with `HttpStatusError`); throws when the network never
 * answered. An error that is not a network failure (e.g. fetch's TypeError for a URL it refuses)
 * is not retried, and its message is redacted: fetch puts the whole URL in it.
 */
export async function fetchWithRetry(
  url: string,
  init: RequestInit,
  policy: RetryPolicy = DEFAULT_RETRY,
  options: TransportOptions | ((res: Response) => boolean) = {},
): Promise<Response> {
  const o = typeof options === 'function' ? { retryable: options } : options;
  const retryable = o.retryable ?? ((res: Response) => RETRYABLE_STATUS.has(res.status));
  const now = o.now ?? Date.now;
  const sleep = policy.sleep ?? defaultSleep;
  const method = init.method ?? 'GET';
  const where = `${o.service ? `${o.service}: ` : ''}${method} ${redactUrl(url)}`;
  for (let attempt = 0; ; attempt++) {
    const hold = (o.gate?.notBefore ?? 0) - now();
    if (hold > 0) await sleep(hold);
    let cause: string;
    let wait: number | undefined;
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(policy.timeoutMs) });
      wait = retryAfterMs(res.headers, now());
      if (res.ok && o.gate && wait !== undefined) {
        const cap = policy.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
        o.gate.notBefore = Math.max(o.gate.notBefore, now() + Math.min(wait, cap));
      }
      if (!retryable(res) || attempt >= policy.retries) return res;
      cause = `HTTP ${res.status}`;
      wait ??= o.waitHint?.(res, now());
      await res.body?.cancel().catch(() => {});
    } catch (e) {
      if (!isNetworkError(e)) throw new RuntimeError(`${where} failed: ${networkCause(e)}`);
      if (attempt >= policy.retries) {
        throw new RuntimeError(`${where} failed after ${attempt + 1} attempts: ${networkCause(e)}`);
      }
      cause = networkCause(e);
      wait = undefined;
    }
    const delayMs = retryDelay(attempt, policy, wait, where);
    policy.onRetry?.({ url: redactUrl(url), attempt: attempt + 1, delayMs, cause });
    o.logger?.debug(`${where}: ${cause}; retrying in ${Math.round(delayMs)}ms`);
    await sleep(delayMs);
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

/** A short, redacted reason for a failed fetch (never the URL's credentials or a token). */
export function networkCause(e: unknown): string {
  const err = e as (Error & { cause?: { code?: string; message?: string } }) | undefined;
  if (err?.name === 'TimeoutError') return 'timed out';
  return redactSecrets(String(err?.cause?.code ?? err?.cause?.message ?? err?.message ?? e));
}

/**
 * Reads a body for an error message, bounded so a huge HTML page does not flood logs, and
 * redacted: servers echo the request (its `Authorization` header, its URL with the query).
 */
export async function errorDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  return redactSecrets(text.slice(0, 8192).replace(/\s+/g, ' ')).slice(0, 300);
}
