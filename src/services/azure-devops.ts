import { InputError, RuntimeError } from '../core/errors.js';
import type { Clock, Logger } from '../core/ports.js';
import { systemClock } from '../util/clock.js';
import {
  DEFAULT_RETRY,
  errorDetail,
  fetchWithRetry,
  HttpStatusError,
  redactUrl,
  resetHeaderWaitMs,
  retryAfterMs,
  type RetryPolicy,
} from '../util/http.js';
import { redactSecrets } from '../util/redact.js';
import { MAX_RATE_LIMIT_WAIT_MS, serviceBaseUrl } from './service-base.js';

export const API_VERSION = '7.1';
/** More continuation pages than this and a listing is called endless. */
const MAX_PAGES = 1000;

/** The hint for a bad or missing token: the pipeline did not hand the step its token. */
export const ACCESS_TOKEN_HINT =
  "map System.AccessToken into the step's env (env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)); " +
  'a token of another collection or an expired one is refused alike';

export interface AzureDevOpsClientOptions {
  /** `System.CollectionUri`, e.g. https://dev.azure.com/org/ (plain http only for loopback). */
  collectionUri: string;
  /** `System.AccessToken`, sent as Bearer; never logged. */
  token?: string;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  clock?: Clock;
  /** How errors name the collection URI input (default `System.CollectionUri`). */
  label?: string;
}

export interface AzureDevOpsCall {
  /** For errors: "read the tags of build 12", "write azure-repos:P/r/f.json@main". */
  what: string;
  /** What a 403 lacks: `"View builds"`, `"Contribute" on the repository`. */
  permission: string;
  /** A 404's hint: "check Build.BuildId / System.TeamProject". */
  notFound?: string;
  /** Error statuses that are answers the caller reads (a 404 for absent, a 409 push race). */
  expect?: readonly number[];
  /** A JSON body (sent with `content-type: application/json`). */
  body?: unknown;
  /** Default `application/json`. */
  accept?: string;
}

export interface FailedResponse {
  status: number;
  method: string;
  url: string;
  contentType?: string;
  /** Bounded and redacted (`errorDetail`). */
  detail: string;
  /** The whole body, searched for `typeKey` (never quoted). */
  body?: string;
  retryAfterMs?: number;
}

/**
 * The one Azure DevOps error mapper: an `HttpStatusError` (`typeKey` as `code`) whose message says
 * what was tried, what the service said and how to fix it. The service answers a bad or missing
 * token with a 203 (or 200) sign-in page; that, a 401 and a 403 are an InputError (the user's to
 * fix) with the HttpStatusError as `cause`.
 */
export function azureDevOpsError(
  res: FailedResponse,
  call: AzureDevOpsCall,
): HttpStatusError | InputError {
  const said = res.detail ? `; the service said: ${res.detail}` : '';
  let text: string;
  if (isSignInPage(res.status, res.contentType) || res.status === 401) {
    const how = res.status === 401 ? '' : ' (it answered with its sign-in page)';
    text = `Azure DevOps rejected the access token${how} when trying to ${call.what}: ${ACCESS_TOKEN_HINT}`;
    // The sign-in page is HTML: nothing in it is worth a log line.
    if (res.status === 401) text += said;
  } else if (res.status === 403)
    text =
      `Azure DevOps denied the build service identity permission to ${call.what}: it needs ` +
      `${call.permission}${said}`;
  else if (res.status === 404)
    text = `Azure DevOps: nothing found to ${call.what}: ${call.notFound ?? 'check the project and the name'}${said}`;
  else if (res.status === 429) {
    const wait =
      res.retryAfterMs === undefined
        ? ''
        : ` (Retry-After ${Math.ceil(res.retryAfterMs / 1000)} s)`;
    text = `Azure DevOps kept throttling the build service identity${wait} when trying to ${call.what}: try again later${said}`;
  } else text = `Azure DevOps could not ${call.what}${said}`;
  // The code comes from the whole body's `typeKey` (the bounded detail may have cut it off).
  const message = `${res.method} ${redactUrl(res.url)} failed: HTTP ${res.status} ${redactSecrets(text)}`;
  const error = new HttpStatusError(res.status, res.method, res.url, res.body ?? res.detail, {
    message,
  });
  // A token or a permission is the user's to fix (hosts exit 2), as with GitHub's client.
  const refused = isSignInPage(res.status, res.contentType) || [401, 403].includes(res.status);
  return refused ? new InputError(message, { cause: error }) : error;
}

function isSignInPage(status: number, contentType = ''): boolean {
  return status === 203 || (status >= 200 && status < 300 && contentType.includes('text/html'));
}

/** Collection responses come as `{ count, value }`; some endpoints document a bare array. */
export function listValue<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  const value = (body as { value?: unknown } | null)?.value;
  if (Array.isArray(value)) return value as T[];
  throw new RuntimeError('Azure DevOps: unexpected response shape (expected a list)');
}

/**
 * Bearer `System.AccessToken`, api-version 7.1, every request through util/http's retry loop with
 * a client-wide hold (a throttled success slows the next ones), every refusal through
 * `azureDevOpsError`. https://learn.microsoft.com/rest/api/azure/devops/?view=azure-devops-rest-7.1
 */
export class AzureDevOpsClient {
  readonly collection: string;
  private readonly policy: RetryPolicy;
  private readonly gate = { notBefore: 0 };

  constructor(private readonly options: AzureDevOpsClientOptions) {
    this.collection = serviceBaseUrl(
      options.collectionUri,
      options.label ?? 'System.CollectionUri',
    );
    this.policy = { ...DEFAULT_RETRY, maxRetryAfterMs: MAX_RATE_LIMIT_WAIT_MS, ...options.retry };
  }

  /** `{collection}/{project}/_apis/{path}?{query}&api-version=7.1`; undefined values are left out. */
  url(
    project: string,
    path: string,
    query: Record<string, string | number | undefined> = {},
  ): string {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    q.set('api-version', API_VERSION);
    return `${this.collection}/${encodeURIComponent(project)}/_apis/${path}?${q}`;
  }

  /** A 2xx or an expected status; anything else (the sign-in page too) throws the mapped error. */
  async send(method: string, url: string, call: AzureDevOpsCall): Promise<Response> {
    const headers: Record<string, string> = { accept: call.accept ?? 'application/json' };
    if (this.options.token) headers.authorization = `Bearer ${this.options.token}`;
    if (call.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetchWithRetry(
      url,
      { method, headers, body: call.body === undefined ? undefined : JSON.stringify(call.body) },
      this.policy,
      {
        service: 'Azure DevOps',
        logger: this.options.logger,
        clock: this.options.clock,
        gate: this.gate,
        waitHint: (r, now) =>
          r.status === 429
            ? (resetHeaderWaitMs(r.headers, 'x-ratelimit-reset', now) ?? 10_000)
            : undefined,
      },
    );
    const contentType = res.headers.get('content-type') ?? undefined;
    const signIn = isSignInPage(res.status, contentType);
    if ((res.ok && !signIn) || call.expect?.includes(res.status)) return res;
    let detail = '';
    let body: string | undefined;
    if (signIn) await res.body?.cancel().catch(() => {});
    else {
      const copy = res.clone();
      detail = await errorDetail(res);
      body = await copy.text().catch(() => undefined);
    }
    const now = (this.options.clock ?? systemClock).now().getTime();
    const retryAfter = retryAfterMs(res.headers, now);
    const failed = { status: res.status, method, url, contentType, detail, body };
    throw azureDevOpsError({ ...failed, retryAfterMs: retryAfter }, call);
  }

  /** A 2xx's JSON body (undefined for an expected error status, its body released). */
  async json<T>(method: string, url: string, call: AzureDevOpsCall): Promise<T | undefined> {
    const res = await this.send(method, url, call);
    if (!res.ok) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    return this.parse<T>(method, url, res);
  }

  /** An unreadable body is a RuntimeError naming the request. */
  async parse<T>(method: string, url: string, res: Response): Promise<T> {
    try {
      return (await res.json()) as T;
    } catch (e) {
      throw new RuntimeError(
        `Azure DevOps: ${method} ${redactUrl(url)}: unreadable JSON (${(e as Error).message})`,
      );
    }
  }

  /** Every item of a listing that pages with `x-ms-continuationtoken` (`continuationToken=`). */
  async listAll<T>(
    project: string,
    path: string,
    query: Record<string, string | number | undefined>,
    call: AzureDevOpsCall,
  ): Promise<T[]> {
    const items: T[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const url = this.url(project, path, { ...query, continuationToken: token });
      const res = await this.send('GET', url, call);
      items.push(...listValue<T>(await this.parse('GET', url, res)));
      token = res.headers.get('x-ms-continuationtoken') ?? undefined;
      if (!token) return items;
    }
    throw new RuntimeError(`Azure DevOps: ${call.what} did not end after ${MAX_PAGES} pages`);
  }

  /** Up to `max` items paged by `$top`/`$skip` (`page` names them); a short page ends it. */
  async listSkip<T>(
    project: string,
    path: string,
    query: Record<string, string | number | undefined>,
    page: { top: string; skip: string; size?: number },
    max: number,
    call: AzureDevOpsCall,
  ): Promise<T[]> {
    const items: T[] = [];
    while (items.length < max) {
      const top = Math.min(page.size ?? 100, max - items.length);
      const url = this.url(project, path, { ...query, [page.top]: top, [page.skip]: items.length });
      const got = listValue<T>(await this.json('GET', url, call));
      items.push(...got.slice(0, top));
      if (got.length < top) break;
    }
    return items;
  }
}
