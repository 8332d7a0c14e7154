import { InputError, RuntimeError } from '../../core/errors.js';
import type { Clock, Logger } from '../../core/ports.js';
import { systemClock } from '../../util/clock.js';
import {
  assertSecureUrl,
  DEFAULT_RETRY,
  errorDetail,
  fetchWithRetry,
  HttpStatusError,
  type RetryPolicy,
} from '../../util/http.js';
import { nextLink } from '../links.js';
import {
  basicHeader,
  parseChallenge,
  TokenAuth,
  type Challenge,
  type Credentials,
} from './auth.js';

interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /**
   * Return a 401 that follows a successfully obtained bearer token instead of throwing: the
   * credentials were fine, the account just may not do this (e.g. list the catalog).
   */
  insufficientScopeOk?: boolean;
}

/** Low-level HTTP client for one registry: auth, retries, and `Link` pagination. */
export class OciClient {
  readonly base: URL;
  readonly host: string;
  private readonly auth: TokenAuth;
  private readonly retry: RetryPolicy;
  /** Learnt from the first challenge, so later scopes get a token without a 401 round trip. */
  private bearer?: Challenge;
  private basic = false;

  constructor(
    url: string,
    private readonly creds: Credentials,
    retry: RetryPolicy | undefined,
    logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new InputError(`registry: invalid URL ${JSON.stringify(url)}`);
    }
    assertSecureUrl(parsed, 'registry');
    if (parsed.username || parsed.password) {
      throw new InputError('registry: put credentials in username/password, not in the URL');
    }
    this.base = new URL(parsed.origin);
    this.host = parsed.host;
    const policy = retry ?? DEFAULT_RETRY;
    this.retry = {
      ...policy,
      onRetry: (info) => {
        policy.onRetry?.(info);
        logger.info(
          `${this.host}: retry ${info.attempt} in ${Math.round(info.delayMs)} ms after ${info.cause} (${info.url})`,
        );
      },
    };
    this.auth = new TokenAuth(this.host, creds, this.retry, clock);
  }

  url(pathOrUrl: string): string {
    return new URL(pathOrUrl, this.base).toString();
  }

  /**
   * Sends one request with retries (429/5xx/resets) and auth. Returns the response for any
   * status but 401; a 401 after authenticating throws (never read as "absent").
   */
  async request(pathOrUrl: string, opts: RequestOptions = {}): Promise<Response> {
    const url = this.url(pathOrUrl);
    const method = opts.method ?? 'GET';
    // Credentials only go to the registry's own origin (an upload Location may point elsewhere).
    const sameOrigin = new URL(url).origin === this.base.origin;
    const key = scopeKey(new URL(url).pathname, method);

    let authorization = sameOrigin ? await this.knownAuthorization(key) : undefined;
    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { ...opts.headers };
      if (authorization) headers.Authorization = authorization;
      // Copy into a plain ArrayBuffer-backed view: fetch typing rejects SharedArrayBuffer-backed ones.
      const body = opts.body ? new Uint8Array(opts.body) : undefined;
      const res = await fetchWithRetry(url, { method, headers, body }, this.retry, {
        clock: this.clock,
      });
      if (res.status !== 401 || !sameOrigin) return res;
      const challenge = parseChallenge(res.headers.get('www-authenticate'));
      if (attempt >= 1 || !challenge) {
        if (opts.insufficientScopeOk && this.bearer && authorization?.startsWith('Bearer '))
          return res;
        await res.body?.cancel().catch(() => {});
        throw new RuntimeError(
          `authentication failed for ${this.host}: HTTP 401 on ${method} ${new URL(url).pathname}`,
        );
      }
      await res.body?.cancel().catch(() => {});
      if (challenge.scheme === 'basic') {
        if (this.creds.username === undefined) {
          throw new RuntimeError(
            `authentication failed for ${this.host}: the registry requires a username and password`,
          );
        }
        this.basic = true;
        authorization = basicHeader(this.creds);
      } else {
        this.bearer = challenge;
        // A rejected cached token (expired, revoked or too narrow) is replaced by one for the
        // scope the registry asked for.
        this.auth.forget(key);
        const scopes = challenge.params.scope
          ? challenge.params.scope.split(' ').filter(Boolean)
          : scopesOf(key);
        authorization = `Bearer ${await this.auth.token(key, challenge, scopes)}`;
      }
    }
  }

  private async knownAuthorization(key: string): Promise<string | undefined> {
    if (this.basic) return basicHeader(this.creds);
    const cached = await this.auth.cached(key);
    if (cached) return `Bearer ${cached}`;
    if (this.bearer) return `Bearer ${await this.auth.token(key, this.bearer, scopesOf(key))}`;
    return undefined;
  }

  /** Like `request` but throws `HttpStatusError` unless the status is one of `ok`. */
  async expect(pathOrUrl: string, ok: number[], opts: RequestOptions = {}): Promise<Response> {
    const res = await this.request(pathOrUrl, opts);
    if (!ok.includes(res.status))
      throw await httpError(res, opts.method ?? 'GET', this.url(pathOrUrl));
    return res;
  }

  /** Like `expect`, for answers whose status and headers are all we read: the body is dropped. */
  async send(pathOrUrl: string, ok: number[], opts: RequestOptions = {}): Promise<Response> {
    const res = await this.expect(pathOrUrl, ok, opts);
    await res.body?.cancel().catch(() => {});
    return res;
  }

  /** A GET: undefined on a 404; any other status outside 2xx throws. */
  async found(pathOrUrl: string, opts: RequestOptions = {}): Promise<Response | undefined> {
    const res = await this.request(pathOrUrl, opts);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    if (!res.ok) throw await httpError(res, 'GET', this.url(pathOrUrl));
    return res;
  }

  /**
   * Follows `Link: <…>; rel="next"` from `first`, yielding each page's JSON. Stops at a URL it
   * has already fetched so a buggy registry cannot loop forever.
   */
  async *pages<T>(
    first: string,
    opts: RequestOptions & { notFound?: 'empty' } = {},
  ): AsyncGenerator<T> {
    const seen = new Set<string>();
    for (let next: string | undefined = this.url(first); next && !seen.has(next);) {
      seen.add(next);
      const res = await this.request(next, opts);
      if (res.status === 404 && opts.notFound === 'empty') {
        await res.body?.cancel().catch(() => {});
        return;
      }
      if (!res.ok) throw await httpError(res, 'GET', next);
      const page = (await readJson(res, next)) as T;
      const link = nextLink(res.headers.get('link'));
      next = link ? new URL(link, next).toString() : undefined;
      yield page;
    }
  }
}

/** Which token a request needs: `repository:<name>:<actions>` or the catalog scope. */
function scopeKey(pathname: string, method: string): string {
  if (/^\/v2\/_catalog\/?$/.test(pathname)) return 'registry:catalog:*';
  const m = /^\/v2\/(.+?)\/(manifests|blobs|tags|referrers)\//.exec(pathname);
  if (!m) return '';
  const name = decodeURIComponent(m[1]);
  const upper = method.toUpperCase();
  if (upper === 'GET' || upper === 'HEAD') return `repository:${name}:pull`;
  if (upper === 'DELETE') return `repository:${name}:delete`;
  return `repository:${name}:pull,push`;
}

function scopesOf(key: string): string[] {
  return key ? [key] : [];
}

export async function httpError(res: Response, method: string, url: string) {
  return new HttpStatusError(res.status, method, url, await errorDetail(res));
}

export async function readJson(res: Response, url: string): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new RuntimeError(`${url}: the registry answered invalid JSON`);
  }
}

/** The registry error code of a 4xx body (`{"errors":[{"code":"NAME_UNKNOWN"}]}`), if any. */
export async function errorCode(res: Response): Promise<string | undefined> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { errors?: { code?: unknown }[] };
    const code = body.errors?.[0]?.code;
    return typeof code === 'string' ? code : undefined;
  } catch {
    return undefined;
  }
}
