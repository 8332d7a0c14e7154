import { InputError, RuntimeError } from '../core/errors.js';
import type { Clock, Logger } from '../core/ports.js';
import { systemClock } from '../util/clock.js';
import {
  DEFAULT_RETRY,
  HttpStatusError,
  fetchAttempt,
  networkCause,
  redactUrl,
  resetHeaderWaitMs,
  retryAfterMs,
  retryLoop,
  RETRYABLE_STATUS,
  type RetryPolicy,
} from '../util/http.js';
import { maskSecrets, redactSecrets } from '../util/redact.js';
import { requestClass } from '../util/throttle.js';
import { MAX_RATE_LIMIT_WAIT_MS, serviceBaseUrl } from './service-base.js';

export const GITHUB_API_VERSION = '2022-11-28';

/**
 * Derived by the one mapper so callers never branch on GitHub's text: `already-exists` (422
 * "Reference already exists"), `no-object` (422 "Object does not exist": unknown commit), `sha`
 * (422 about a contents `sha`), `rate-limited` (a limit the retries gave up on).
 */
export type GitHubErrorCode =
  | 'bad-credentials'
  | 'forbidden'
  | 'not-found'
  | 'conflict'
  | 'already-exists'
  | 'no-object'
  | 'sha'
  | 'unprocessable'
  | 'rate-limited';

export interface GitHubCaller {
  /** Prefix of messages (e.g. the image-info source's name); none: "GitHub ...". */
  label?: string;
  /** The hint of a 401/403/404: what the token needs for a request of this method. */
  permissions: (method: string) => string;
}

export interface GitHubServiceOptions extends GitHubCaller {
  /** REST API base URL (GHES: https://host/api/v3); http only for loopback. */
  apiUrl: string;
  /** How the API URL is named in input errors (`apiUrl`, `GITHUB_API_URL`). */
  apiUrlName: string;
  /** Sent as `Authorization: Bearer`; never logged. Without it requests are anonymous. */
  token?: string;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  clock?: Clock;
  /** Wait for a secondary rate limit that gave no `retry-after` (GitHub: at least a minute). */
  secondaryRateLimitWaitMs?: number;
  /** Every answer's headers (retried ones too): the store paces polling by the rate limit. */
  onResponse?: (headers: Headers) => void;
}

export interface GitHubRequest {
  query?: Record<string, string | number>;
  body?: unknown;
  /** The body as bytes (`application/vnd.github.raw+json`), not parsed. */
  raw?: boolean;
  /** Error statuses that are answers here (e.g. 404): returned, not thrown. */
  allow?: readonly number[];
  /** `If-None-Match` with this URL's last ETag; a 304 (not rate-limited) answers with that body. */
  conditional?: boolean;
}

export interface GitHubAnswer {
  status: number;
  /** Parsed JSON (a Buffer with `raw`); undefined for an allowed error status or an empty body. */
  data: unknown;
  next?: string;
  code?: GitHubErrorCode;
}

/** More pages than this in one listing fails it rather than judging from part of it. */
export const MAX_PAGES = 100;

/** A GitHub error body's `message`, else the text; bounded, redacted (servers may echo the token). */
function githubMessage(text: string, token?: string): string {
  let message = text;
  try {
    const body = JSON.parse(text) as { message?: unknown };
    if (typeof body?.message === 'string') message = body.message;
  } catch {
    // Not JSON (a proxy's page): the text itself.
  }
  const shown = redactSecrets(message.slice(0, 8192).replace(/\s+/g, ' '));
  return (token ? maskSecrets(shown, [token]) : shown).slice(0, 300).trim();
}

/**
 * A rate limit: 429, or 403 with `x-ratelimit-remaining: 0` (primary), a `retry-after` or
 * GitHub's "rate limit" message (secondary). The one place that reads GitHub's text for it.
 */
export function isRateLimited(status: number, headers: Headers, message: string): boolean {
  if (status === 429) return true;
  return (
    status === 403 &&
    (headers.get('x-ratelimit-remaining') === '0' ||
      headers.has('retry-after') ||
      /\brate limit\b/i.test(message))
  );
}

function codeOf(status: number, headers: Headers, message: string): GitHubErrorCode | undefined {
  if (isRateLimited(status, headers, message)) return 'rate-limited';
  if (status === 401) return 'bad-credentials';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 409) return 'conflict';
  if (status !== 422) return undefined;
  if (/already exists/i.test(message)) return 'already-exists';
  if (/object does not exist/i.test(message)) return 'no-object';
  if (/\bsha\b/i.test(message)) return 'sha';
  return 'unprocessable';
}

/**
 * The one GitHub error mapper: an `HttpStatusError` (`code` as above) with the hint to fix. A 401,
 * or a 403 that is not a rate limit, is an InputError (hosts exit 2) naming the token permission,
 * with that HttpStatusError as its `cause`.
 */
export function githubError(
  status: number,
  method: string,
  url: string,
  headers: Headers,
  bodyText: string,
  caller: GitHubCaller & { token?: string },
): HttpStatusError | InputError {
  const message = githubMessage(bodyText, caller.token);
  const code = codeOf(status, headers, message);
  const where = url.replace(/[?#].*$/, '');
  let hint = '';
  if (code === 'bad-credentials' || code === 'forbidden')
    hint = `the token needs ${caller.permissions(method)}`;
  else if (code === 'not-found')
    hint = `no such resource, or the token cannot see it (it needs ${caller.permissions(method)})`;
  else if (code === 'rate-limited')
    hint = 'GitHub rate limit: try again after its reset, or spread the runs';
  const detail = [message, hint && `(${hint})`].filter(Boolean).join(' ');
  const error = new HttpStatusError(status, method, where, detail);
  (error as { code?: string }).code = code;
  if (code !== 'bad-credentials' && code !== 'forbidden') return error;
  const prefix = caller.label ? `${caller.label}: ` : '';
  const what = code === 'bad-credentials' ? 'rejected the token' : 'denied access';
  return new InputError(
    `${prefix}GitHub ${what} (HTTP ${status}) on ${method} ${redactUrl(where)}: ${hint}` +
      (message ? `. GitHub said: ${message}` : ''),
    { cause: error },
  );
}

/**
 * GHES too; conditional GETs, `Link` pagination, retries through util/http's loop (rate limits
 * wait for `retry-after`, the primary reset or a minute for a secondary one, at most 15 minutes),
 * every error answer through `githubError`.
 */
export class GitHubService {
  readonly baseUrl: string;
  private readonly policy: RetryPolicy;
  private readonly clock: Clock;
  /** The last answer of every conditional GET, by URL. */
  private readonly cache = new Map<string, { etag: string; answer: GitHubAnswer }>();

  constructor(private readonly options: GitHubServiceOptions) {
    this.baseUrl = serviceBaseUrl(options.apiUrl, options.apiUrlName);
    this.policy = { ...DEFAULT_RETRY, maxRetryAfterMs: MAX_RATE_LIMIT_WAIT_MS, ...options.retry };
    this.clock = options.clock ?? systemClock;
  }

  /** `path` (from the API root, with its own query if any) or an absolute URL → the URL. */
  url(path: string, query?: GitHubRequest['query']): string {
    const url = /^https?:\/\//.test(path) ? path : `${this.baseUrl}${path}`;
    if (!query) return url;
    const params = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
    return `${url}${url.includes('?') ? '&' : '?'}${params}`;
  }

  async request(method: string, path: string, req: GitHubRequest = {}): Promise<GitHubAnswer> {
    const url = this.url(path, req.query);
    const cached = req.conditional ? this.cache.get(url) : undefined;
    const headers: Record<string, string> = {
      accept: req.raw ? 'application/vnd.github.raw+json' : 'application/vnd.github+json',
      'user-agent': 'eol-gate',
      'x-github-api-version': GITHUB_API_VERSION,
    };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (cached) headers['if-none-match'] = cached.etag;
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const { res, text } = await this.send(method, url, { method, headers, body });
    if (res.status === 304 && cached) return cached.answer;
    if (!res.ok) {
      const error = githubError(res.status, method, url, res.headers, text ?? '', this.options);
      if (error instanceof HttpStatusError && req.allow?.includes(res.status))
        return { status: res.status, data: undefined, code: error.code as GitHubErrorCode };
      throw error;
    }
    const answer: GitHubAnswer = {
      status: res.status,
      data: req.raw
        ? Buffer.from(await res.arrayBuffer())
        : parseJson(await res.text(), method, url),
      next: res.headers.get('link')?.match(/<([^<>]+)>\s*;\s*rel="next"/)?.[1],
    };
    const etag = res.headers.get('etag');
    if (req.conditional && etag) this.cache.set(url, { etag, answer });
    else if (req.conditional) this.cache.delete(url);
    return answer;
  }

  /**
   * Follows `Link: rel="next"` until `enough`. A listing cut short would hide what it lists, so
   * more than MAX_PAGES pages fails instead.
   */
  async pages<T>(
    path: string,
    what: string,
    items: (data: unknown) => T[],
    options: {
      query?: GitHubRequest['query'];
      conditional?: boolean;
      enough?: (all: T[]) => boolean;
      /** Default `MAX_PAGES`. */
      maxPages?: number;
    } = {},
  ): Promise<T[]> {
    const all: T[] = [];
    let next: string | undefined = this.url(path, options.query);
    const maxPages = options.maxPages ?? MAX_PAGES;
    for (let page = 1; next && !options.enough?.(all); page++) {
      if (page > maxPages)
        throw new RuntimeError(`GitHub: ${what} has more than ${maxPages} pages`);
      const answer = await this.request('GET', next, { conditional: options.conditional });
      all.push(...items(answer.data));
      next = answer.next;
    }
    return all;
  }

  /** An error answer comes with its body read. */
  private send(
    method: string,
    url: string,
    init: RequestInit,
  ): Promise<{ res: Response; text?: string }> {
    const where = `GitHub: ${method} ${redactUrl(url)}`;
    return retryLoop({
      where,
      url: redactUrl(url),
      requestClass: requestClass(method, url),
      policy: this.policy,
      pace: true,
      logger: this.options.logger,
      clock: this.clock,
      attempt: async () => {
        const sent = await fetchAttempt(url, init, this.policy.timeoutMs, where);
        if (!('res' in sent)) return sent;
        const { res } = sent;
        this.options.onResponse?.(res.headers);
        if (res.status < 400) return { value: { res }, status: res.status };
        const text = await res.text().catch(() => '');
        const value = { res, text };
        const limited = isRateLimited(res.status, res.headers, githubMessage(text));
        if (!limited && !RETRYABLE_STATUS.has(res.status)) return { value, status: res.status };
        return {
          value,
          status: res.status,
          failure: { cause: `HTTP ${res.status}`, retryAfterMs: this.waitFor(res, limited) },
        };
      },
      networkError: (e, attempts) =>
        new RuntimeError(`${where} failed after ${attempts} attempts: ${networkCause(e)}`),
    });
  }

  /** `retry-after`; else a primary limit's reset (or backoff); else a minute for a secondary. */
  private waitFor(res: Response, limited: boolean): number | undefined {
    const wait = retryAfterMs(res.headers);
    if (wait !== undefined || !limited) return wait;
    if (res.headers.get('x-ratelimit-remaining') === '0')
      return resetHeaderWaitMs(res.headers, 'x-ratelimit-reset', this.clock.now().getTime());
    return this.options.secondaryRateLimitWaitMs ?? 60_000;
  }
}

function parseJson(text: string, method: string, url: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RuntimeError(`GitHub: ${method} ${redactUrl(url)}: the answer is not JSON`);
  }
}
