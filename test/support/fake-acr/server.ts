import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAKE_AAD_KEY, signFakeJwt, verifyFakeJwt } from '../identity-endpoint.js';
import { readBody } from '../loopback.js';
import { testCertificate } from './cert.js';

/**
 * A fake Azure Container Registry over HTTPS on 127.0.0.1 that speaks the subset
 * @azure/container-registry and eol-gate use, the way ACR answers it: the 401 challenge and
 * the `/oauth2/exchange` → `/oauth2/token` flow (and the anonymous one), scoped access tokens,
 * `/acr/v1` listings with ACR's `Link` pagination, `/v2` manifests, blobs with relative upload
 * `Location`s, and the referrers API. Faults are injected per test.
 */

export type RequestKind =
  | 'exchange'
  | 'token'
  | 'catalog'
  | 'list-manifests'
  | 'manifest-properties'
  | 'manifest-get'
  | 'manifest-head'
  | 'manifest-put'
  | 'manifest-delete'
  | 'blob-head'
  | 'blob-get'
  | 'blob-upload'
  | 'referrers'
  | 'other';

export type FaultKind = '429' | '429-retry-after' | '500' | '503' | 'reset' | 'latency';

export interface Fault {
  kind: FaultKind;
  /** Which requests: a kind, a predicate, or every request. */
  match?: RequestKind | ((info: { kind: RequestKind; method: string; path: string }) => boolean);
  /** How many matching requests it hits (default 1). */
  times?: number;
  /** Skip this many matching requests first (hit the n-th one). */
  after?: number;
  retryAfterSeconds?: number;
  /** For `latency`. */
  ms?: number;
}

/** ACR's request classes, as eol-gate's limiters sort them (src/util/throttle.ts). */
export type BudgetClass = 'read' | 'write' | 'referrers' | 'token';

/**
 * Per-class budgets the way ACR meters them: at most `perWindow[class]` requests admitted in any
 * sliding `windowMs` (a minute on ACR); past it, `429 TOOMANYREQUESTS`, without `Retry-After`
 * unless `retryAfterSeconds` is set. Refused requests do not count against the budget.
 */
export interface BudgetThrottle {
  perWindow: Partial<Record<BudgetClass, number>>;
  windowMs?: number;
  retryAfterSeconds?: number;
}

/** Basic tier budgets per minute (reads, writes; referrer lookups per identity; token requests). */
export const BASIC_BUDGETS: Record<BudgetClass, number> = {
  read: 1_000,
  write: 100,
  referrers: 250,
  token: 1_000,
};

export interface FakeAcrOptions {
  /** Tenant whose Entra tokens the exchange accepts (the identity endpoint's tenant). */
  tenant?: string;
  /** Entra audience the exchange accepts. */
  audience?: string;
  /**
   * Lifetime of the refresh tokens `/oauth2/exchange` issues (default 3 h). Under 5 minutes the
   * SDK exchanges a new Entra token at every challenge, as it does late in a long job.
   */
  refreshTokenSeconds?: number;
  /** Anonymous pull (grant_type=password with no refresh token). */
  anonymousPull?: boolean;
  /** Added to every response. */
  latencyMs?: number;
  /** Every `every`-th request waits `ms` more. */
  spike?: { every: number; ms: number };
  /** Largest `n` for listings (ACR caps pages). */
  maxPageSize?: number;
  referrersPageSize?: number;
  /** Per-class budgets (off by default). */
  throttle?: BudgetThrottle;
}

interface StoredManifest {
  digest: string;
  bytes: Buffer;
  mediaType: string;
  configMediaType?: string;
  artifactType?: string;
  subject?: string;
  annotations?: Record<string, string>;
  references?: string[];
  created: Date;
  updated: Date;
}

interface Repo {
  manifests: Map<string, StoredManifest>;
  tags: Map<string, string>;
  blobs: Map<string, Buffer>;
}

interface Grant {
  /** `repository:<name>` or `registry:catalog` → actions. */
  access: Map<string, Set<string>>;
}

const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const INDEX_TYPES = new Set([
  OCI_INDEX,
  'application/vnd.docker.distribution.manifest.list.v2+json',
]);

export const sha256 = (data: Buffer | string) =>
  `sha256:${createHash('sha256').update(data).digest('hex')}`;

export class FakeAcr {
  url = '';
  host = '';
  readonly caPem: string;
  readonly caPath: string;
  /** Requests by kind (all of them, challenged ones included). */
  counts: Record<string, number> = {};
  /** 401 challenges sent. */
  challenges = 0;
  total = 0;
  /** Faults to inject, consumed in order of registration. */
  faults: Fault[] = [];
  /** How many requests each fault actually hit. */
  readonly fired = new Map<Fault, number>();
  /** Every answered request (resets are not answered), in order. */
  log: { kind: RequestKind; method: string; path: string; status: number }[] = [];
  /**
   * Replaces the answer to an authorized listing or referrers request, to play a misbehaving
   * registry (Link cycles, empty bodies); undefined answers normally.
   */
  answerOverride?: (info: {
    kind: RequestKind;
    path: string;
    url: URL;
  }) => { status?: number; headers?: Record<string, string>; body?: string } | undefined;
  /** Per-class budgets; settable mid-test. */
  throttle?: BudgetThrottle;
  /** Per class: requests admitted under the budgets, and refused with 429 for exceeding them. */
  readonly budgetCounts: Record<BudgetClass, { admitted: number; refused: number }> = {
    read: { admitted: 0, refused: 0 },
    write: { admitted: 0, refused: 0 },
    referrers: { admitted: 0, refused: 0 },
    token: { admitted: 0, refused: 0 },
  };
  private readonly admitted: Record<BudgetClass, number[]> = {
    read: [],
    write: [],
    referrers: [],
    token: [],
  };
  /** Called for every request once counted (e.g. to kill a client mid-run). */
  onRequest?: (kind: RequestKind, method: string, path: string) => void;
  latencyMs: number;
  spike?: { every: number; ms: number };
  /** Exchanges refused since the Entra token is not for the accepted tenant. */
  tenant: string;

  private server?: Server;
  private readonly repos = new Map<string, Repo>();
  private readonly uploads = new Map<string, { repo: string; chunks: Buffer[] }>();
  private readonly refreshTokens = new Set<string>();
  private readonly grants = new Map<string, Grant>();
  private readonly vanish = new Map<string, Set<string>>();
  private readonly secret = randomBytes(16).toString('hex');
  private readonly faultHits = new Map<Fault, number>();
  private readonly sockets = new Set<import('node:stream').Duplex>();

  constructor(readonly options: FakeAcrOptions = {}) {
    const cert = testCertificate();
    this.caPem = cert.caPem;
    this.caPath = cert.caPath;
    this.latencyMs = options.latencyMs ?? 0;
    this.spike = options.spike;
    this.tenant = options.tenant ?? 'fake-tenant';
    this.throttle = options.throttle;
  }

  /** Whether the class's budget admits a request now (and counts it). */
  private admit(c: BudgetClass): boolean {
    const limit = this.throttle?.perWindow[c];
    if (limit === undefined) {
      this.budgetCounts[c].admitted++;
      return true;
    }
    const now = Date.now();
    const window = this.throttle?.windowMs ?? 60_000;
    const times = this.admitted[c];
    while (times.length > 0 && times[0] <= now - window) times.shift();
    if (times.length >= limit) {
      this.budgetCounts[c].refused++;
      return false;
    }
    times.push(now);
    this.budgetCounts[c].admitted++;
    return true;
  }

  async start(): Promise<this> {
    const cert = testCertificate();
    this.server = createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        if (!res.headersSent) this.error(res, 500, 'INTERNAL', String(e));
        else res.destroy();
      });
    });
    this.server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.url = `https://${this.host}`;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }

  resetCounts(): void {
    this.counts = {};
    this.log = [];
    this.challenges = 0;
    this.total = 0;
  }

  /** Paths of the requests of `kind` that got `status` (default: any but a 401 challenge). */
  answered(kind: RequestKind, status?: number): string[] {
    return this.log
      .filter(
        (e) => e.kind === kind && (status === undefined ? e.status !== 401 : e.status === status),
      )
      .map((e) => e.path);
  }

  addFault(fault: Fault): void {
    this.faults.push(fault);
  }

  /** After a listing page shows `digest`, the manifest is deleted (listed, then gone). */
  vanishAfterListing(repository: string, digest: string): void {
    const set = this.vanish.get(repository) ?? new Set<string>();
    set.add(digest);
    this.vanish.set(repository, set);
  }

  // ---- direct state access (seeding and assertions; no HTTP) ----

  private repo(name: string, create = true): Repo | undefined {
    let r = this.repos.get(name);
    if (!r && create) {
      r = { manifests: new Map(), tags: new Map(), blobs: new Map() };
      this.repos.set(name, r);
    }
    return r;
  }

  seedBlob(repository: string, data: Buffer | string): string {
    const buf = Buffer.from(data);
    const digest = sha256(buf);
    this.repo(repository)!.blobs.set(digest, buf);
    return digest;
  }

  /** Stores a manifest as a push would (same checks), dated `created`. Returns its digest. */
  seedManifest(
    repository: string,
    body: Buffer | string,
    options: { mediaType?: string; tags?: string[]; created?: Date } = {},
  ): string {
    const bytes = Buffer.from(body);
    const result = this.store(
      repository,
      bytes,
      options.mediaType,
      sha256(bytes),
      options.created ?? new Date(),
    );
    if (typeof result === 'string') throw new Error(`seedManifest: ${result}`);
    for (const tag of options.tags ?? []) this.repo(repository)!.tags.set(tag, result.digest);
    return result.digest;
  }

  deleteManifest(repository: string, digest: string): boolean {
    const repo = this.repo(repository, false);
    if (!repo?.manifests.delete(digest)) return false;
    for (const [tag, d] of repo.tags) if (d === digest) repo.tags.delete(tag);
    return true;
  }

  blob(repository: string, digest: string): Buffer | undefined {
    return this.repo(repository, false)?.blobs.get(digest);
  }

  manifest(repository: string, digest: string): StoredManifest | undefined {
    return this.repo(repository, false)?.manifests.get(digest);
  }

  referrersOf(repository: string, subject: string, artifactType?: string): StoredManifest[] {
    const repo = this.repo(repository, false);
    if (!repo) return [];
    return [...repo.manifests.values()]
      .filter((m) => m.subject === subject && (!artifactType || m.artifactType === artifactType))
      .sort((a, b) => a.digest.localeCompare(b.digest));
  }

  /** A comparable picture of the registry: per repository, every manifest with what matters. */
  snapshot(): Record<
    string,
    {
      digest: string;
      mediaType: string;
      tags: string[];
      subject?: string;
      artifactType?: string;
      annotations?: Record<string, string>;
    }[]
  > {
    const out: ReturnType<FakeAcr['snapshot']> = {};
    for (const [name, repo] of [...this.repos].sort(([a], [b]) => a.localeCompare(b))) {
      out[name] = [...repo.manifests.values()]
        .sort((a, b) => a.digest.localeCompare(b.digest))
        .map((m) => ({
          digest: m.digest,
          mediaType: m.mediaType,
          tags: [...repo.tags]
            .filter(([, d]) => d === m.digest)
            .map(([t]) => t)
            .sort(),
          ...(m.subject ? { subject: m.subject } : {}),
          ...(m.artifactType ? { artifactType: m.artifactType } : {}),
          ...(m.annotations ? { annotations: m.annotations } : {}),
        }));
    }
    return out;
  }

  private store(
    repository: string,
    bytes: Buffer,
    contentType: string | undefined,
    digest: string,
    now: Date,
  ): StoredManifest | string {
    let json: {
      mediaType?: string;
      artifactType?: string;
      config?: { digest?: string; mediaType?: string };
      layers?: { digest?: string }[];
      manifests?: { digest?: string }[];
      subject?: { digest?: string };
      annotations?: Record<string, string>;
    };
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      return 'MANIFEST_INVALID: not JSON';
    }
    const mediaType = json.mediaType ?? contentType;
    if (!mediaType) return 'MANIFEST_INVALID: no media type';
    if (json.mediaType && contentType && contentType !== json.mediaType)
      return 'MANIFEST_INVALID: Content-Type does not match mediaType';
    const repo = this.repo(repository)!;
    if (INDEX_TYPES.has(mediaType)) {
      for (const m of json.manifests ?? [])
        if (!m.digest || !repo.manifests.has(m.digest)) return `MANIFEST_UNKNOWN: ${m.digest}`;
    } else {
      if (!json.config?.digest || !repo.blobs.has(json.config.digest))
        return `MANIFEST_BLOB_UNKNOWN: config ${json.config?.digest}`;
      for (const l of json.layers ?? [])
        if (!l.digest || !repo.blobs.has(l.digest))
          return `MANIFEST_BLOB_UNKNOWN: layer ${l.digest}`;
    }
    const existing = repo.manifests.get(digest);
    const m: StoredManifest = {
      digest,
      bytes,
      mediaType,
      configMediaType: json.config?.mediaType,
      artifactType: json.artifactType,
      subject: json.subject?.digest,
      annotations: json.annotations,
      references: INDEX_TYPES.has(mediaType)
        ? (json.manifests ?? []).map((x) => x.digest!)
        : undefined,
      created: existing?.created ?? now,
      updated: now,
    };
    repo.manifests.set(digest, m);
    return m;
  }

  // ---- HTTP ----

  private kindOf(method: string, path: string): RequestKind {
    if (path === '/oauth2/exchange') return 'exchange';
    if (path === '/oauth2/token') return 'token';
    if (path === '/acr/v1/_catalog') return 'catalog';
    if (/^\/acr\/v1\/.+\/_manifests$/.test(path)) return 'list-manifests';
    if (/^\/acr\/v1\/.+\/_manifests\/[^/]+$/.test(path)) return 'manifest-properties';
    if (/^\/v2\/.+\/referrers\/[^/]+$/.test(path)) return 'referrers';
    if (/^\/v2\/.+\/blobs\/uploads/.test(path)) return 'blob-upload';
    if (/^\/v2\/.+\/blobs\/[^/]+$/.test(path)) return method === 'HEAD' ? 'blob-head' : 'blob-get';
    if (/^\/v2\/.+\/manifests\/[^/]+$/.test(path)) {
      return (
        (
          {
            GET: 'manifest-get',
            HEAD: 'manifest-head',
            PUT: 'manifest-put',
            DELETE: 'manifest-delete',
          } as const
        )[method as 'GET'] ?? 'other'
      );
    }
    return 'other';
  }

  private takeFault(kind: RequestKind, method: string, path: string): Fault | undefined {
    for (const f of this.faults) {
      const m = f.match;
      const hit =
        m === undefined || (typeof m === 'string' ? m === kind : m({ kind, method, path }));
      if (!hit) continue;
      const seen = this.faultHits.get(f) ?? 0;
      this.faultHits.set(f, seen + 1);
      if (seen < (f.after ?? 0)) continue;
      if (seen >= (f.after ?? 0) + (f.times ?? 1)) continue;
      this.fired.set(f, (this.fired.get(f) ?? 0) + 1);
      return f;
    }
    return undefined;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    // Path parameters arrive percent-encoded (the SDK encodes `a/b` as `a%2Fb`): decode once.
    const path = decodeURIComponent(url.pathname);
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const kind = this.kindOf(method, path);
    this.total++;
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    this.onRequest?.(kind, method, path);
    res.on('finish', () => this.log.push({ kind, method, path, status: res.statusCode }));

    let delay = this.latencyMs;
    if (this.spike && this.total % this.spike.every === 0) delay += this.spike.ms;
    const fault = this.takeFault(kind, method, path);
    if (fault?.kind === 'latency') delay += fault.ms ?? 1000;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const budget: BudgetClass =
      kind === 'exchange' || kind === 'token'
        ? 'token'
        : kind === 'referrers' ||
            (kind === 'manifest-get' && /\/manifests\/sha256-[0-9a-f]{64}$/.test(path))
          ? 'referrers'
          : method === 'GET' || method === 'HEAD'
            ? 'read'
            : 'write';
    if (!fault && !this.admit(budget)) {
      if (this.throttle?.retryAfterSeconds !== undefined)
        res.setHeader('Retry-After', String(this.throttle.retryAfterSeconds));
      return this.error(res, 429, 'TOOMANYREQUESTS', 'too many requests');
    }
    if (fault) {
      switch (fault.kind) {
        case 'reset':
          req.socket.destroy();
          return;
        case '429':
          return this.error(res, 429, 'TOOMANYREQUESTS', 'too many requests');
        case '429-retry-after':
          res.setHeader('Retry-After', String(fault.retryAfterSeconds ?? 1));
          return this.error(res, 429, 'TOOMANYREQUESTS', 'too many requests');
        case '500':
          return this.error(res, 500, 'INTERNAL', 'internal error');
        case '503':
          return this.error(res, 503, 'UNAVAILABLE', 'service unavailable');
        case 'latency':
          break;
      }
    }

    if (kind === 'exchange') return this.exchange(res, body);
    if (kind === 'token') return this.token(res, body);
    if (method === 'GET' && path === '/v2/') {
      if (this.authorize(req, res, undefined)) this.send(res, 200, {});
      return;
    }

    let m: RegExpExecArray | null;
    if (kind === 'catalog') {
      if (!this.authorize(req, res, { resource: 'registry:catalog', actions: ['*'] })) return;
      return this.catalog(res, url);
    }
    if ((m = /^\/acr\/v1\/(.+)\/_manifests(?:\/([^/]+))?$/.exec(path))) {
      const name = m[1];
      if (!this.authorize(req, res, { resource: `repository:${name}`, actions: ['metadata_read'] }))
        return;
      if (this.overridden(res, kind, path, url)) return;
      return m[2] ? this.manifestProperties(res, name, m[2]) : this.listManifests(res, name, url);
    }
    if ((m = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(path)) && method === 'GET') {
      if (!this.authorize(req, res, { resource: `repository:${m[1]}`, actions: ['pull'] })) return;
      if (this.overridden(res, kind, path, url)) return;
      return this.referrers(res, m[1], m[2], url);
    }
    if ((m = /^\/v2\/(.+)\/blobs\/uploads\/?([^/]*)$/.exec(path))) {
      if (!this.authorize(req, res, { resource: `repository:${m[1]}`, actions: ['pull', 'push'] }))
        return;
      return this.upload(res, method, m[1], m[2], url, body);
    }
    if (
      (m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path)) &&
      (method === 'GET' || method === 'HEAD')
    ) {
      if (!this.authorize(req, res, { resource: `repository:${m[1]}`, actions: ['pull'] })) return;
      const blob = this.repo(m[1], false)?.blobs.get(m[2]);
      if (!blob)
        return this.error(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry', method === 'HEAD');
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': blob.length,
        'docker-content-digest': m[2],
      });
      res.end(method === 'HEAD' ? undefined : blob);
      return;
    }
    if ((m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path))) {
      const [, name, reference] = m;
      if (method === 'PUT') {
        if (
          !this.authorize(req, res, { resource: `repository:${name}`, actions: ['pull', 'push'] })
        )
          return;
        return this.putManifest(req, res, name, reference, body);
      }
      if (method === 'DELETE') {
        if (!this.authorize(req, res, { resource: `repository:${name}`, actions: ['delete'] }))
          return;
        if (!this.deleteManifest(name, reference))
          return this.error(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
        res.writeHead(202, { 'content-length': 0 });
        res.end();
        return;
      }
      if (method === 'GET' || method === 'HEAD') {
        if (!this.authorize(req, res, { resource: `repository:${name}`, actions: ['pull'] }))
          return;
        const repo = this.repo(name, false);
        const digest = reference.startsWith('sha256:') ? reference : repo?.tags.get(reference);
        const stored = digest ? repo?.manifests.get(digest) : undefined;
        if (!stored)
          return this.error(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown', method === 'HEAD');
        res.writeHead(200, {
          'content-type': stored.mediaType,
          'content-length': stored.bytes.length,
          'docker-content-digest': stored.digest,
        });
        res.end(method === 'HEAD' ? undefined : stored.bytes);
        return;
      }
    }
    this.error(res, 404, 'NOT_FOUND', `no route for ${method} ${path}`);
  }

  private overridden(res: ServerResponse, kind: RequestKind, path: string, url: URL): boolean {
    const answer = this.answerOverride?.({ kind, path, url });
    if (!answer) return false;
    const body = answer.body ?? '';
    res.writeHead(answer.status ?? 200, {
      'content-type': 'application/json',
      ...answer.headers,
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
    return true;
  }

  private send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  private error(
    res: ServerResponse,
    status: number,
    code: string,
    message: string,
    head = false,
  ): void {
    if (head) {
      res.writeHead(status, { 'content-length': 0 });
      res.end();
      return;
    }
    this.send(res, status, { errors: [{ code, message, detail: null }] });
  }

  /** Checks the bearer token covers `need`; otherwise answers 401 with ACR's challenge. */
  private authorize(
    req: IncomingMessage,
    res: ServerResponse,
    need: { resource: string; actions: string[] } | undefined,
  ): boolean {
    const auth = req.headers.authorization;
    const grant = auth?.startsWith('Bearer ') ? this.grants.get(auth.slice(7)) : undefined;
    if (grant && (!need || need.actions.every((a) => grant.access.get(need.resource)?.has(a))))
      return true;
    this.challenges++;
    const scope = need ? `${need.resource}:${need.actions.join(',')}` : undefined;
    res.setHeader(
      'WWW-Authenticate',
      `Bearer realm="https://${this.host}/oauth2/token",service="${this.host}"${scope ? `,scope="${scope}"` : ''}`,
    );
    this.error(res, 401, 'UNAUTHORIZED', 'authentication required', req.method === 'HEAD');
    return false;
  }

  private exchange(res: ServerResponse, body: Buffer): void {
    const form = new URLSearchParams(body.toString('utf8'));
    if (form.get('grant_type') !== 'access_token' || form.get('service') !== this.host) {
      return this.error(
        res,
        400,
        'BAD_REQUEST',
        'grant_type=access_token and service are required',
      );
    }
    const aad = verifyFakeJwt(form.get('access_token') ?? '', FAKE_AAD_KEY);
    const audience = this.options.audience ?? 'https://containerregistry.azure.net';
    if (!aad || aad.tid !== this.tenant || String(aad.aud).replace(/\/$/, '') !== audience) {
      return this.error(res, 401, 'UNAUTHORIZED', 'the Entra token is not valid for this registry');
    }
    const refresh = signFakeJwt(
      {
        exp: Math.floor(Date.now() / 1000) + (this.options.refreshTokenSeconds ?? 3 * 3600),
        sub: aad.oid,
        tenant: aad.tid,
        iss: this.host,
      },
      this.secret,
    );
    this.refreshTokens.add(refresh);
    this.send(res, 200, { refresh_token: refresh });
  }

  private token(res: ServerResponse, body: Buffer): void {
    const form = new URLSearchParams(body.toString('utf8'));
    const grantType = form.get('grant_type');
    const anonymous = grantType === 'password' && !form.get('refresh_token');
    if (
      anonymous
        ? !this.options.anonymousPull
        : grantType !== 'refresh_token' || !this.refreshTokens.has(form.get('refresh_token') ?? '')
    ) {
      return this.error(res, 401, 'UNAUTHORIZED', 'invalid refresh token');
    }
    const access = new Map<string, Set<string>>();
    for (const scope of (form.get('scope') ?? '').split(' ').filter(Boolean)) {
      const i = scope.lastIndexOf(':');
      const resource = scope.slice(0, i);
      let actions = scope.slice(i + 1).split(',');
      if (anonymous) actions = actions.filter((a) => a === 'pull' || a === 'metadata_read');
      access.set(resource, new Set([...(access.get(resource) ?? []), ...actions]));
    }
    const token = signFakeJwt(
      { exp: Math.floor(Date.now() / 1000) + 3600, jti: randomBytes(8).toString('hex') },
      this.secret,
    );
    this.grants.set(token, { access });
    this.send(res, 200, { access_token: token });
  }

  private catalog(res: ServerResponse, url: URL): void {
    const n = this.pageSize(url);
    const last = url.searchParams.get('last');
    const names = [...this.repos.keys()].sort().filter((r) => !last || r > last);
    const page = names.slice(0, n);
    const headers: Record<string, string> = {};
    if (names.length > n)
      headers.link = `</acr/v1/_catalog?last=${page[page.length - 1]}&n=${n}>; rel="next"`;
    this.send(res, 200, { repositories: page }, headers);
  }

  private pageSize(url: URL): number {
    const max = this.options.maxPageSize ?? 1000;
    const n = Number(url.searchParams.get('n') ?? 100);
    return Number.isInteger(n) && n > 0 ? Math.min(n, max) : 100;
  }

  private item(repo: Repo, m: StoredManifest): Record<string, unknown> {
    const tags = [...repo.tags].filter(([, d]) => d === m.digest).map(([t]) => t);
    return {
      digest: m.digest,
      imageSize: m.bytes.length + 1024,
      createdTime: m.created.toISOString(),
      lastUpdateTime: m.updated.toISOString(),
      mediaType: m.mediaType,
      ...(m.configMediaType ? { configMediaType: m.configMediaType } : {}),
      ...(tags.length ? { tags } : {}),
      ...(m.references
        ? {
            references: m.references.map((digest) => ({
              digest,
              architecture: 'amd64',
              os: 'linux',
            })),
          }
        : {}),
      changeableAttributes: {
        deleteEnabled: true,
        writeEnabled: true,
        readEnabled: true,
        listEnabled: true,
      },
    };
  }

  private listManifests(res: ServerResponse, name: string, url: URL): void {
    const repo = this.repo(name, false);
    if (!repo) return this.error(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    const orderby = url.searchParams.get('orderby') ?? '';
    const n = this.pageSize(url);
    const last = url.searchParams.get('last');
    const all = [...repo.manifests.values()].sort((a, b) => {
      const byTime = a.updated.getTime() - b.updated.getTime();
      if (orderby === 'timeasc' && byTime) return byTime;
      if (orderby === 'timedesc' && byTime) return -byTime;
      return a.digest.localeCompare(b.digest);
    });
    let start = 0;
    if (last) {
      const i = all.findIndex((m) => m.digest === last);
      // `last` was deleted meanwhile: continue after where it would sort (digest order).
      start = i >= 0 ? i + 1 : all.findIndex((m) => m.digest > last);
      if (start < 0) start = all.length;
    }
    const page = all.slice(start, start + n);
    const headers: Record<string, string> = {};
    if (start + n < all.length) {
      headers.link = `</acr/v1/${name}/_manifests?last=${page[page.length - 1].digest}&n=${n}&orderby=${orderby}>; rel="next"`;
    }
    this.send(
      res,
      200,
      { registry: this.host, imageName: name, manifests: page.map((m) => this.item(repo, m)) },
      headers,
    );
    const vanishing = this.vanish.get(name);
    for (const m of page) {
      if (vanishing?.delete(m.digest)) this.deleteManifest(name, m.digest);
    }
  }

  private manifestProperties(res: ServerResponse, name: string, digest: string): void {
    const repo = this.repo(name, false);
    const m = repo?.manifests.get(digest);
    if (!repo || !m) return this.error(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
    this.send(res, 200, { registry: this.host, imageName: name, manifest: this.item(repo, m) });
  }

  private referrers(res: ServerResponse, name: string, subject: string, url: URL): void {
    if (!/^sha256:[a-f0-9]{64}$/.test(subject))
      return this.error(res, 400, 'DIGEST_INVALID', 'invalid digest');
    const artifactType = url.searchParams.get('artifactType') ?? undefined;
    const all = this.referrersOf(name, subject, artifactType);
    const n = this.options.referrersPageSize ?? 100;
    const last = url.searchParams.get('last');
    const start = last ? all.findIndex((m) => m.digest > last) : 0;
    const page = start < 0 ? [] : all.slice(start, start + n);
    const headers: Record<string, string> = { 'content-type': OCI_INDEX };
    if (artifactType) headers['oci-filters-applied'] = 'artifactType';
    if (start >= 0 && start + n < all.length) {
      const q = new URLSearchParams({
        ...(artifactType ? { artifactType } : {}),
        n: String(n),
        last: page[page.length - 1].digest,
      });
      headers.link = `</v2/${name}/referrers/${subject}?${q}>; rel="next"`;
    }
    const text = JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: page.map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.bytes.length,
        ...(m.artifactType ? { artifactType: m.artifactType } : {}),
        ...(m.annotations ? { annotations: m.annotations } : {}),
      })),
    });
    res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private upload(
    res: ServerResponse,
    method: string,
    name: string,
    uuid: string,
    url: URL,
    body: Buffer,
  ): void {
    const location = (id: string) =>
      `/v2/${name}/blobs/uploads/${id}?_nouploadcache=false&_state=${randomBytes(6).toString('hex')}`;
    if (method === 'POST' && !uuid) {
      // Cross-repository mount, as ACR does it: 201 when `from` holds the blob, else a session.
      const mount = url.searchParams.get('mount');
      const from = url.searchParams.get('from');
      const source = mount && from ? this.repo(from, false)?.blobs.get(mount) : undefined;
      if (mount && source) {
        this.repo(name)!.blobs.set(mount, source);
        res.writeHead(201, {
          location: `/v2/${name}/blobs/${mount}`,
          'docker-content-digest': mount,
          'content-length': 0,
        });
        res.end();
        return;
      }
      const id = randomBytes(12).toString('hex');
      this.uploads.set(id, { repo: name, chunks: [] });
      res.writeHead(202, {
        location: location(id),
        'docker-upload-uuid': id,
        range: '0-0',
        'content-length': 0,
      });
      res.end();
      return;
    }
    const upload = this.uploads.get(uuid);
    if (!upload || upload.repo !== name)
      return this.error(res, 404, 'BLOB_UPLOAD_UNKNOWN', 'blob upload unknown');
    if (method === 'PATCH') {
      upload.chunks.push(body);
      const size = upload.chunks.reduce((s, c) => s + c.length, 0);
      res.writeHead(202, {
        location: location(uuid),
        'docker-upload-uuid': uuid,
        range: `0-${Math.max(0, size - 1)}`,
        'content-length': 0,
      });
      res.end();
      return;
    }
    if (method === 'PUT') {
      upload.chunks.push(body);
      const data = Buffer.concat(upload.chunks);
      const digest = url.searchParams.get('digest');
      if (digest !== sha256(data))
        return this.error(
          res,
          400,
          'DIGEST_INVALID',
          'provided digest did not match uploaded content',
        );
      this.uploads.delete(uuid);
      this.repo(name)!.blobs.set(digest, data);
      res.writeHead(201, {
        location: `/v2/${name}/blobs/${digest}`,
        'docker-content-digest': digest,
        'content-length': 0,
      });
      res.end();
      return;
    }
    this.error(res, 405, 'UNSUPPORTED', 'unsupported');
  }

  private putManifest(
    req: IncomingMessage,
    res: ServerResponse,
    name: string,
    reference: string,
    body: Buffer,
  ): void {
    const digest = sha256(body);
    const isDigest = reference.startsWith('sha256:');
    if (isDigest && reference !== digest)
      return this.error(res, 400, 'DIGEST_INVALID', 'manifest digest does not match the body');
    const contentType = req.headers['content-type']?.split(';')[0].trim();
    const stored = this.store(name, body, contentType, digest, new Date());
    if (typeof stored === 'string') {
      const [code, ...rest] = stored.split(': ');
      return this.error(res, 400, code, rest.join(': '));
    }
    if (!isDigest) this.repo(name)!.tags.set(reference, digest);
    const headers: Record<string, string | number> = {
      location: `/v2/${name}/manifests/${digest}`,
      'docker-content-digest': digest,
      'content-length': 0,
    };
    if (stored.subject) headers['oci-subject'] = stored.subject;
    res.writeHead(201, headers);
    res.end();
  }
}

export async function startFakeAcr(options: FakeAcrOptions = {}): Promise<FakeAcr> {
  return new FakeAcr(options).start();
}
