import { RuntimeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import {
  DEFAULT_RETRY,
  errorDetail,
  HttpError,
  networkCause,
  redactUrl,
  retryAfterMs,
  type RetryPolicy,
  retryDelay,
} from '../util/http.js';

/**
 * How long a response asks us to hold off, from rate-limit headers. `retry` = the request was
 * refused and must be repeated after the wait; `pause` = it succeeded but later requests should
 * wait (Azure DevOps sends `Retry-After` on successful, throttled responses).
 */
export type RateLimitVerdict =
  { kind: 'retry' | 'pause'; waitMs: number; reason: string } | undefined;

export interface RestClientOptions {
  /** Names the service in errors: "Azure DevOps", "GitHub". */
  service: string;
  headers: Record<string, string>;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** Epoch ms; injectable so tests can check reset-based waits. */
  now?: () => number;
  rateLimit: (res: Response, now: number) => RateLimitVerdict | Promise<RateLimitVerdict>;
  /** A rate-limit wait longer than this fails the request instead of hanging the pipeline. */
  maxRateLimitWaitMs?: number;
}

const RETRYABLE = new Set([408, 500, 502, 503, 504]);

/**
 * A small JSON-over-HTTP client shared by the coordination stores: retries 408/5xx, resets and
 * timeouts with jittered backoff, and waits out rate limits as the service asks. It returns
 * the final response; callers turn error statuses into messages (never "absent").
 */
export class RestClient {
  private readonly policy: RetryPolicy;
  private readonly now: () => number;
  private notBefore = 0;

  constructor(private readonly options: RestClientOptions) {
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.now = options.now ?? Date.now;
  }

  private sleep(ms: number): Promise<void> {
    return (this.policy.sleep ?? ((t: number) => new Promise<void>((r) => setTimeout(r, t))))(ms);
  }

  async request(method: string, url: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { ...this.options.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const maxWait = this.options.maxRateLimitWaitMs ?? 15 * 60_000;
    for (let attempt = 0; ; attempt++) {
      const hold = this.notBefore - this.now();
      if (hold > 0) await this.sleep(hold);
      let cause: string;
      let waitMs: number | undefined;
      let rateLimited = false;
      try {
        const res = await fetch(url, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.policy.timeoutMs),
        });
        const verdict = await this.options.rateLimit(res, this.now());
        if (verdict?.kind === 'pause') {
          this.notBefore = Math.max(this.notBefore, this.now() + Math.min(verdict.waitMs, maxWait));
        }
        if (verdict?.kind === 'retry') {
          if (verdict.waitMs > maxWait || attempt >= this.policy.retries) {
            const detail = await errorDetail(res);
            throw new RuntimeError(
              `${this.options.service}: ${method} ${redactUrl(url)} is rate limited (${verdict.reason}; ` +
                `would wait ${Math.ceil(verdict.waitMs / 1000)}s)${detail ? `: ${detail}` : ''}`,
            );
          }
          cause = `rate limited (${verdict.reason})`;
          waitMs = verdict.waitMs;
          rateLimited = true;
        } else if (RETRYABLE.has(res.status) && attempt < this.policy.retries) {
          cause = `HTTP ${res.status}`;
          waitMs = retryAfterMs(res.headers, this.now());
        } else {
          return res;
        }
        await res.body?.cancel().catch(() => {});
      } catch (e) {
        if (e instanceof RuntimeError) throw e;
        if (attempt >= this.policy.retries) {
          throw new RuntimeError(
            `${this.options.service}: ${method} ${redactUrl(url)} failed after ${attempt + 1} attempts: ${networkCause(e)}`,
          );
        }
        cause = networkCause(e);
      }
      // A rate limit says exactly how long to wait; add a little jitter so peers spread out.
      const delayMs = rateLimited
        ? (waitMs ?? 0) +
          Math.round((this.policy.random ?? Math.random)() * this.policy.baseDelayMs)
        : retryDelay(
            attempt,
            this.policy,
            waitMs,
            `${this.options.service}: ${method} ${redactUrl(url)}`,
          );
      this.policy.onRetry?.({ url: redactUrl(url), attempt: attempt + 1, delayMs, cause });
      this.options.logger?.debug(
        `${this.options.service}: ${method} ${redactUrl(url)}: ${cause}; retrying in ${Math.round(delayMs)}ms`,
      );
      await this.sleep(delayMs);
    }
  }

  /** Parses a JSON body of a 2xx response; anything else is an HttpError. */
  async json<T>(method: string, url: string, res: Response): Promise<T> {
    if (!res.ok) throw new HttpError(res.status, method, url, await errorDetail(res));
    try {
      return (await res.json()) as T;
    } catch (e) {
      throw new RuntimeError(
        `${this.options.service}: ${method} ${redactUrl(url)}: unreadable JSON (${(e as Error).message})`,
      );
    }
  }
}

/** Epoch-seconds header (e.g. `x-ratelimit-reset`) as ms from `now`; undefined when absent. */
export function resetHeaderWaitMs(headers: Headers, name: string, now: number): number | undefined {
  const value = headers.get(name);
  if (!value || !/^\d+(\.\d+)?$/.test(value.trim())) return undefined;
  return Math.max(0, Number(value) * 1000 - now);
}
