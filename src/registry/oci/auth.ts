import { RuntimeError } from '../../core/errors.js';
import { singleFlight } from '../single-flight.js';
import type { Clock } from '../../core/ports.js';
import {
  assertSecureUrl,
  fetchWithRetry,
  HttpStatusError,
  type RetryPolicy,
} from '../../util/http.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (a Docker config's `identitytoken`), used instead of basic auth. */
  refreshToken?: string;
}

export interface Challenge {
  scheme: 'bearer' | 'basic';
  params: Record<string, string>;
}

/** Parses `WWW-Authenticate: Bearer realm="…",service="…",scope="…"` (or `Basic realm=…`). */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1].toLowerCase();
  if (scheme !== 'bearer' && scheme !== 'basic') return undefined;
  const params: Record<string, string> = {};
  // Values are quoted strings (which may hold commas and spaces, e.g. multiple scopes) or tokens.
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[2]); p; p = re.exec(m[2])) {
    params[p[1].toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3];
  }
  return { scheme, params };
}

export function basicHeader(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username ?? ''}:${creds.password ?? ''}`).toString('base64')}`;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * Token cache and token-endpoint client. Tokens are cached per scope key; in-flight requests
 * are shared so a burst of concurrent GETs on one repository fetches one token.
 */
export class TokenAuth {
  private readonly tokens = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly host: string,
    private readonly creds: Credentials,
    private readonly retry: RetryPolicy,
    private readonly clock: Clock,
  ) {}

  /** A cached, unexpired token for `key`, without asking the token endpoint. */
  async cached(key: string): Promise<string | undefined> {
    const entry = this.tokens.get(key);
    if (!entry) return undefined;
    try {
      const t = await entry;
      // Refresh a little early so a token does not expire between send and receipt.
      if (t.expiresAt - 10_000 > Date.now()) return t.token;
    } catch {
      // A failed fetch is reported to the caller that started it; callers here just refetch.
    }
    this.tokens.delete(key);
    return undefined;
  }

  forget(key: string): void {
    this.tokens.delete(key);
  }

  /** Fetches (or joins an in-flight fetch of) a token for `key` from the challenge's realm. */
  token(key: string, challenge: Challenge, scopes: string[]): Promise<string> {
    const entry = singleFlight(this.tokens, key, () => this.fetchToken(challenge, scopes));
    return entry.then((t) => t.token);
  }

  private async fetchToken(challenge: Challenge, scopes: string[]): Promise<CachedToken> {
    const failed = (why: string) =>
      new RuntimeError(`authentication failed for ${this.host}: ${why}`);
    const realm = challenge.params.realm;
    if (!realm) throw failed('bearer challenge without a realm');
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw failed('invalid token realm');
    }
    // Credentials go to the realm, so the realm must meet the same bar as the registry URL.
    try {
      assertSecureUrl(url, 'token realm');
    } catch (e) {
      throw failed((e as Error).message);
    }
    const headers: Record<string, string> = { Accept: 'application/json' };
    let init: RequestInit;
    if (this.creds.refreshToken) {
      // The OAuth2 form of the token endpoint (distribution's token spec): a POSTed refresh
      // token, scopes space-separated.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: this.creds.refreshToken,
        client_id: 'eol-gate',
      });
      if (challenge.params.service) form.set('service', challenge.params.service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      init = { method: 'POST', headers, body: form.toString() };
    } else {
      if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
      for (const scope of scopes) url.searchParams.append('scope', scope);
      if (this.creds.username !== undefined) headers.Authorization = basicHeader(this.creds);
      init = { method: 'GET', headers };
    }
    const res = await fetchWithRetry(url.toString(), init, this.retry, { clock: this.clock });
    if (!res.ok) await res.body?.cancel().catch(() => {});
    if (res.status === 401 || res.status === 403)
      throw failed(`the token endpoint answered HTTP ${res.status}`);
    if (!res.ok)
      throw new HttpStatusError(res.status, init.method!, `${url}`, 'from the token endpoint');
    const body = (await res.json().catch(() => undefined)) as
      { token?: unknown; access_token?: unknown; expires_in?: unknown } | undefined;
    const token = typeof body?.token === 'string' ? body.token : body?.access_token;
    if (typeof token !== 'string' || !token) throw failed('the token endpoint returned no token');
    // The token spec's default lifetime is 60 s when expires_in is missing.
    const seconds =
      typeof body?.expires_in === 'number' && body.expires_in > 0 ? body.expires_in : 60;
    return { token, expiresAt: Date.now() + seconds * 1000 };
  }
}
