/**
 * A loopback front for a real registry that adds what distribution 2.8 on its own cannot
 * show: a bearer-token (or basic) auth challenge, injected faults, and paginated tag lists.
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { readBody, serveOnLoopback } from './loopback.js';

export interface FakeOciAuthOptions {
  /** The registry to proxy to, e.g. from startDockerRegistry(). */
  upstream: string;
  /** Credentials the token endpoint (or, with `scheme: 'basic'`, the registry) requires; none = anonymous tokens. */
  username?: string;
  password?: string;
  /**
   * An OAuth2 refresh token (a Docker config's `identitytoken`) the token endpoint accepts by
   * POST (`grant_type=refresh_token`), as distribution's token spec describes.
   */
  refreshToken?: string;
  /** `bearer` (default): token challenge with the realm on this server. `basic`: plain basic auth. */
  scheme?: 'bearer' | 'basic';
  /** Which field the token response uses (both are in the wild). */
  tokenField?: 'token' | 'access_token';
  /** Refuse the `registry:catalog:*` scope, like registries that hide their catalog. */
  denyCatalog?: boolean;
  /** Serve `/tags/list` in pages of at most this size with `Link` (distribution 2.8 does not paginate tags). */
  tagsPageSize?: number;
}

export interface Fault {
  /** Answer with this status (e.g. 429, 503) ... */
  status?: number;
  /** ... and this `Retry-After` value. */
  retryAfter?: string;
  /** Or destroy the connection without an answer. */
  reset?: boolean;
  /** How many matching requests get the fault (default 1; Infinity for a persistent one). */
  times?: number;
  /** Which requests (`"GET /v2/…"`) it applies to; default all. */
  match?: RegExp;
}

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  authorization?: string;
}

export interface FakeOciAuth {
  url: string;
  inject(fault: Fault): void;
  clearFaults(): void;
  /** Every request this server answered, in order (`status` 0 for a reset). */
  readonly requests: LoggedRequest[];
  /** Tokens issued by the token endpoint. */
  readonly issuedTokens: string[];
  stop(): Promise<void>;
}

interface PendingFault extends Fault {
  remaining: number;
}

export async function startFakeOciAuth(options: FakeOciAuthOptions): Promise<FakeOciAuth> {
  const upstream = new URL(options.upstream);
  const scheme = options.scheme ?? 'bearer';
  const faults: PendingFault[] = [];
  const requests: LoggedRequest[] = [];
  const issuedTokens: string[] = [];
  /** token → granted "resource:action" entries */
  const grants = new Map<string, Set<string>>();
  let self = '';

  const log = (req: IncomingMessage, status: number) =>
    requests.push({
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      status,
      authorization: req.headers.authorization,
    });

  const send = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    log(req, status);
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(body === undefined ? undefined : JSON.stringify(body));
  };

  const credentialsOk = (header: string | undefined): boolean => {
    if (options.username === undefined) return true;
    const expected = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
    return header === expected;
  };

  const readForm = async (req: IncomingMessage) =>
    new URLSearchParams((await readBody(req)).toString('utf8'));

  const issueToken = (
    req: IncomingMessage,
    res: ServerResponse,
    scopes: string[],
    field: 'token' | 'access_token',
  ) => {
    const granted = new Set<string>();
    for (const scope of scopes) {
      const parts = scope.split(':');
      const actions = parts.pop() ?? '';
      const resource = parts.join(':');
      if (options.denyCatalog && resource === 'registry:catalog') continue;
      for (const action of actions.split(',')) granted.add(`${resource}:${action}`);
    }
    const token = randomBytes(16).toString('hex');
    grants.set(token, granted);
    issuedTokens.push(token);
    send(req, res, 200, { [field]: token, expires_in: 300 });
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = new URL(req.url ?? '/', self);

    const fault = faults.find(
      (f) =>
        f.remaining > 0 && (!f.match || f.match.test(`${method} ${url.pathname}${url.search}`)),
    );
    if (fault) {
      fault.remaining--;
      if (fault.reset) {
        log(req, 0);
        req.socket.destroy();
        return;
      }
      const status = fault.status ?? 503;
      send(
        req,
        res,
        status,
        {
          errors: [
            { code: status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: 'injected fault' },
          ],
        },
        fault.retryAfter !== undefined ? { 'Retry-After': fault.retryAfter } : {},
      );
      return;
    }

    if (url.pathname === '/token' && method === 'POST') {
      void readForm(req).then((form) => {
        const ok =
          options.refreshToken !== undefined &&
          form.get('grant_type') === 'refresh_token' &&
          form.get('refresh_token') === options.refreshToken &&
          form.get('service') === 'fake-registry';
        if (!ok) return send(req, res, 401, { error: 'invalid_grant' });
        issueToken(req, res, (form.get('scope') ?? '').split(' ').filter(Boolean), 'access_token');
      });
      return;
    }
    if (url.pathname === '/token') {
      if (!credentialsOk(req.headers.authorization)) {
        send(req, res, 401, { details: 'invalid credentials' });
        return;
      }
      issueToken(req, res, url.searchParams.getAll('scope'), options.tokenField ?? 'token');
      return;
    }

    const need = required(method, url.pathname);
    if (scheme === 'basic') {
      if (!credentialsOk(req.headers.authorization)) {
        send(
          req,
          res,
          401,
          { errors: [{ code: 'UNAUTHORIZED' }] },
          { 'WWW-Authenticate': 'Basic realm="fake-registry"' },
        );
        return;
      }
    } else {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const granted = token ? grants.get(token) : undefined;
      const ok =
        granted &&
        (!need ||
          granted.has(`${need.resource}:${need.action}`) ||
          granted.has(`${need.resource}:*`));
      if (!ok) {
        const scopeParam = need ? `,scope="${need.resource}:${need.challengeActions}"` : '';
        const error = token ? `,error="${granted ? 'insufficient_scope' : 'invalid_token'}"` : '';
        send(
          req,
          res,
          401,
          { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
          {
            'WWW-Authenticate': `Bearer realm="${self}/token",service="fake-registry"${scopeParam}${error}`,
          },
        );
        return;
      }
    }

    const tags = /^\/v2\/(.+)\/tags\/list$/.exec(url.pathname);
    if (tags && options.tagsPageSize && method === 'GET') {
      void paginateTags(req, res, url, tags[1]);
      return;
    }
    proxy(req, res);
  };

  const proxy = (req: IncomingMessage, res: ServerResponse) => {
    const headers = { ...req.headers };
    delete headers.authorization;
    // Host stays ours, so distribution builds absolute Locations that point back at this proxy.
    const up = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
      (upRes) => {
        log(req, upRes.statusCode ?? 502);
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => {
      log(req, 502);
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  };

  const paginateTags = async (
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    name: string,
  ) => {
    const upRes = await fetch(new URL(`/v2/${name}/tags/list`, upstream));
    const text = await upRes.text();
    if (!upRes.ok) {
      log(req, upRes.status);
      res.writeHead(upRes.status, { 'Content-Type': 'application/json' });
      res.end(text);
      return;
    }
    const all = ((JSON.parse(text) as { tags?: string[] | null }).tags ?? []).sort();
    const n = Math.min(
      Number(url.searchParams.get('n') ?? Infinity),
      options.tagsPageSize ?? Infinity,
    );
    const last = url.searchParams.get('last');
    const rest = last ? all.filter((t) => t > last) : all;
    const page = rest.slice(0, n);
    const headers: Record<string, string> = {};
    if (rest.length > page.length) {
      headers.Link = `</v2/${name}/tags/list?n=${n}&last=${encodeURIComponent(page[page.length - 1])}>; rel="next"`;
    }
    send(req, res, 200, { name, tags: page }, headers);
  };

  const server = await serveOnLoopback(async (req, res) => (handle(req, res), true));
  self = server.origin;

  return {
    url: self,
    inject: (fault) => faults.push({ ...fault, remaining: fault.times ?? 1 }),
    clearFaults: () => faults.splice(0),
    requests,
    issuedTokens,
    stop: () => server.close(),
  };
}

/** The access a request needs, as distribution's token auth would ask for it. */
function required(
  method: string,
  pathname: string,
): { resource: string; action: string; challengeActions: string } | undefined {
  if (pathname === '/v2/_catalog')
    return { resource: 'registry:catalog', action: '*', challengeActions: '*' };
  const m = /^\/v2\/(.+?)\/(manifests|blobs|tags|referrers)\//.exec(pathname);
  if (!m) return undefined;
  const resource = `repository:${m[1]}`;
  if (method === 'GET' || method === 'HEAD')
    return { resource, action: 'pull', challengeActions: 'pull' };
  if (method === 'DELETE') return { resource, action: 'delete', challengeActions: 'delete' };
  return { resource, action: 'push', challengeActions: 'pull,push' };
}
