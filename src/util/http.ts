import { InputError, RuntimeError } from '../core/errors.js';

export interface RetryPolicy {
  /** Attempts after the first. */
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Per-attempt timeout. */
  timeoutMs: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Called before each retry, for logs. */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; cause: string }) => void;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 6,
  baseDelayMs: 500,
  maxDelayMs: 30_000,
  timeoutMs: 60_000,
};

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export class HttpError extends RuntimeError {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly url: string,
    detail: string,
  ) {
    super(`${method} ${redactUrl(url)} failed: HTTP ${status}${detail ? ` ${detail}` : ''}`);
  }
}

/** Drops credentials and query strings that may hold tokens from a URL before it is logged. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    for (const key of [...u.searchParams.keys()]) {
      if (/token|sig|secret|password|code/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    return url;
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
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const value = headers.get('retry-after');
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Full-jitter exponential backoff, at least `Retry-After` when the server gave one. */
export function backoffDelay(attempt: number, policy: RetryPolicy, retryAfter?: number): number {
  const random = policy.random ?? Math.random;
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const jittered = cap / 2 + random() * (cap / 2);
  return retryAfter !== undefined
    ? Math.max(retryAfter, Math.min(jittered, policy.baseDelayMs))
    : jittered;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * fetch with retries on 408/429/5xx, resets and timeouts. Returns the final response (which
 * may still be an error status the caller must handle); throws when the network never answered.
 */
export async function fetchWithRetry(
  url: string,
  init: RequestInit,
  policy: RetryPolicy = DEFAULT_RETRY,
  retryable: (res: Response) => boolean = (res) => RETRYABLE_STATUS.has(res.status),
): Promise<Response> {
  const sleep = policy.sleep ?? defaultSleep;
  const method = init.method ?? 'GET';
  for (let attempt = 0; ; attempt++) {
    let cause: string;
    let wait: number | undefined;
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(policy.timeoutMs) });
      if (!retryable(res) || attempt >= policy.retries) return res;
      cause = `HTTP ${res.status}`;
      wait = retryAfterMs(res.headers);
      await res.body?.cancel().catch(() => {});
    } catch (e) {
      if (attempt >= policy.retries) {
        throw new RuntimeError(
          `${method} ${redactUrl(url)} failed after ${attempt + 1} attempts: ${networkCause(e)}`,
        );
      }
      cause = networkCause(e);
    }
    const delayMs = backoffDelay(attempt, policy, wait);
    policy.onRetry?.({ url: redactUrl(url), attempt: attempt + 1, delayMs, cause });
    await sleep(delayMs);
  }
}

export function networkCause(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'timed out';
  return err.cause?.code ?? err.cause?.message ?? err.message;
}

/** Reads a body for an error message, bounded so a huge HTML page does not flood logs. */
export async function errorDetail(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  return text.replace(/\s+/g, ' ').slice(0, 300);
}
