import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import Bottleneck from 'bottleneck';
import type { Logger } from '../core/ports.js';
import { DEFAULT_RETRY, type RetryPolicy } from './http.js';
import { redactSecrets } from './redact.js';
import { sleep as defaultSleep } from './sleep.js';

export type GitHubClient = ReturnType<typeof getOctokit>;

/** What Octokit throws for an HTTP error status (or a network failure, as status 500). */
export interface RequestError extends Error {
  status: number;
  response?: { headers: Record<string, string | number | undefined>; data?: unknown };
}

export function isRequestError(e: unknown): e is RequestError {
  const err = e as { name?: unknown; status?: unknown } | undefined;
  return err?.name === 'HttpError' && typeof err.status === 'number';
}

export interface GitHubClientOptions {
  /** REST API base URL (GHES: https://host/api/v3). */
  apiUrl: string;
  /** Sent as `Authorization: Bearer`; never logged. Without it requests are anonymous. */
  token?: string;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** Wait for a secondary rate limit that gave no `retry-after` (GitHub: at least a minute). */
  secondaryRateLimitWaitMs?: number;
  /** A rate-limit wait longer than this fails the request instead of hanging the pipeline. */
  maxRateLimitWaitMs?: number;
}

/** Statuses plugin-retry must leave alone: answers, not failures (429 is the throttler's). */
const DO_NOT_RETRY = [400, 401, 403, 404, 405, 409, 410, 412, 413, 415, 422, 429, 451];

/**
 * Octokit with plugin-retry (5xx, resets, timeouts: quadratic backoff from the policy's base
 * delay) and plugin-throttling (primary and secondary rate limits). The throttler's waits go
 * through the policy's `sleep`, so tests see them; its write pacing is off, as GitHub's
 * secondary limits are about bursts and every caller here writes one request at a time.
 */
export function githubClient(options: GitHubClientOptions): GitHubClient {
  const policy: RetryPolicy = { ...DEFAULT_RETRY, ...options.retry };
  const sleep = policy.sleep ?? defaultSleep;
  const random = policy.random ?? Math.random;
  const maxWait = options.maxRateLimitWaitMs ?? 15 * 60_000;
  const onLimit =
    (kind: string) =>
    async (
      retryAfterSeconds: number,
      request: { method?: string; url?: string },
      _octokit: unknown,
      retryCount: number,
    ): Promise<boolean> => {
      const waitMs = retryAfterSeconds * 1000;
      if (waitMs > maxWait || retryCount >= policy.retries) return false;
      // Jitter, so peers told the same wait do not all come back at the same instant.
      const delayMs = waitMs + Math.round(random() * policy.baseDelayMs);
      options.logger?.debug(
        `GitHub: ${request.method} ${request.url}: ${kind} rate limit; retrying in ${delayMs}ms`,
      );
      await sleep(delayMs);
      return true;
    };
  const token = options.token;
  // Bearer, as GitHub documents it (Octokit's token auth would send `token <value>`).
  const authStrategy = () => ({
    hook: (
      request: GitHubClient['request'],
      route: Parameters<GitHubClient['request']>[0],
      parameters?: Parameters<GitHubClient['request']>[1],
    ) => {
      const endpoint = request.endpoint.merge(route as string, parameters);
      if (token) endpoint.headers.authorization = `Bearer ${token}`;
      return request(endpoint as typeof endpoint & { url: string });
    },
  });
  return getOctokit(
    token ?? '',
    {
      // getOctokit insists on a token or `auth`; the strategy above decides what is sent.
      auth: token ? undefined : 'anonymous',
      authStrategy,
      baseUrl: options.apiUrl.replace(/\/+$/, ''),
      userAgent: 'eol-gate',
      request: {
        // A per-attempt timeout (the signal Octokit passes, if any, still aborts).
        fetch: (url: string | URL, init: RequestInit = {}) => {
          const timeout = AbortSignal.timeout(policy.timeoutMs);
          const signal = init.signal ? AbortSignal.any([init.signal, timeout]) : timeout;
          return fetch(url, { ...init, signal });
        },
      },
      retry: {
        retries: policy.retries,
        retryAfterBaseValue: policy.baseDelayMs,
        doNotRetry: DO_NOT_RETRY,
      },
      throttle: {
        // The handlers sleep; Bottleneck must not wait again on top.
        retryAfterBaseValue: 0,
        fallbackSecondaryRateRetryAfter: (options.secondaryRateLimitWaitMs ?? 60_000) / 1000,
        write: new Bottleneck.Group({ maxConcurrent: 1, minTime: 0 }),
        onRateLimit: onLimit('primary'),
        onSecondaryRateLimit: onLimit('secondary'),
      },
    },
    retry,
    throttling,
  );
}

/** A rate limit the throttler gave up waiting for (a reset too far ahead, too many tries). */
export function isRateLimit(e: RequestError): boolean {
  if (e.status !== 403 && e.status !== 429) return false;
  const headers = e.response?.headers ?? {};
  return (
    e.status === 429 ||
    headers['x-ratelimit-remaining'] === '0' ||
    headers['retry-after'] !== undefined ||
    /\brate limit\b/i.test(e.message)
  );
}

/** The server's message from an Octokit error, bounded and redacted for logs. */
export function requestErrorDetail(e: RequestError): string {
  return redactSecrets(e.message.replace(/\s+/g, ' ')).slice(0, 300);
}
