import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { startDockerRegistry, type DockerRegistry } from './docker-registry.js';
import { readBody, serveOnLoopback } from './loopback.js';

/** A package version as the fake keeps it. */
export interface FakeVersion {
  id: number;
  repository: string;
  digest: string;
  tags: string[];
  createdAt: string;
}

export interface FakeGhcrOptions {
  /** Owners that are organizations (`/orgs/...`); every other owner is a user (`/users/...`). */
  orgs?: string[];
  /** The token the Packages API wants as `Authorization: Bearer`; none: any request passes. */
  token?: string;
  /** Where API requests the fake does not serve go (e.g. a fake GitHub's origin). */
  apiFallback?: string;
  /** Answer version DELETEs with 403 (a token without admin on the package). */
  refuseVersionDeletes?: boolean;
}

/**
 * GHCR in front of a real docker-registry (deletes enabled): `/v2/...` is proxied to it, but
 * manifest DELETE answers 405 UNSUPPORTED as GHCR does. Every manifest PUT through it becomes
 * a package version (tags move between versions), which the GitHub Packages API routes list
 * (documented shape, `per_page`/`page` with `Link`) and delete (on the backend too).
 */
export class FakeGhcr {
  private backend_?: DockerRegistry;
  private server?: Awaited<ReturnType<typeof serveOnLoopback>>;
  private origin_?: string;
  private nextId = 1000;
  /** Versions per repository. */
  readonly packages = new Map<string, FakeVersion[]>();
  /** Every request, as `METHOD path`. */
  readonly requests: string[] = [];
  /** Called with every request before it is served (e.g. to act when a run starts writing). */
  onRequest?: (method: string, path: string) => void;
  /** Answer version DELETEs with 403 (a token without admin on the package); settable. */
  refuseVersionDeletes: boolean;
  /** The `created_at` of the next new versions, per digest; default now. */
  private readonly createdAt = new Map<string, string>();

  constructor(private readonly options: FakeGhcrOptions = {}) {
    this.refuseVersionDeletes = options.refuseVersionDeletes ?? false;
  }

  get url(): string {
    if (!this.origin_) throw new Error('FakeGhcr used before start()');
    return this.origin_;
  }
  /** The Packages API base (GITHUB_API_URL): the same origin. */
  get apiUrl(): string {
    return this.url;
  }
  get backend(): DockerRegistry {
    if (!this.backend_) throw new Error('FakeGhcr used before start()');
    return this.backend_;
  }

  async start(): Promise<void> {
    this.backend_ = await startDockerRegistry();
    this.server = await serveOnLoopback((req, res) => this.handle(req, res).then(() => true));
    this.origin_ = this.server.origin;
  }

  async close(): Promise<void> {
    await this.server?.close();
    await this.backend_?.stop();
  }

  /** The versions of `repository`, newest first (as the API lists them). */
  versions(repository: string): FakeVersion[] {
    return [...(this.packages.get(repository) ?? [])].sort((a, b) => b.id - a.id);
  }

  version(repository: string, digest: string): FakeVersion | undefined {
    return this.packages.get(repository)?.find((v) => v.digest === digest);
  }

  /** Sets `created_at` of a version, or of the version `digest` becomes when first pushed. */
  setCreated(repository: string, digest: string, iso: string): void {
    const v = this.version(repository, digest);
    if (v) v.createdAt = iso;
    else this.createdAt.set(`${repository}@${digest}`, iso);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    this.onRequest?.(req.method ?? 'GET', url.pathname);
    if (url.pathname.startsWith('/v2/')) return this.registry(req, res, url);
    const m = /^\/(orgs|users)\/([^/]+)\/packages\/container\/([^/]+)\/versions(?:\/(\d+))?$/.exec(
      url.pathname,
    );
    if (m) return this.api(req, res, url, m[1] as 'orgs' | 'users', m[2], m[3], m[4]);
    if (this.options.apiFallback) return this.proxy(req, res, this.options.apiFallback);
    json(res, 404, { message: 'Not Found' });
  }

  private async registry(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (manifest && req.method === 'DELETE') {
      json(res, 405, {
        errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }],
      });
      return;
    }
    if (!manifest || req.method !== 'PUT') return this.proxy(req, res, this.backend.url);
    const body = await readBody(req);
    const up = await forward(this.backend.url, req, body);
    const digest = up.headers['docker-content-digest'];
    if (up.status === 201 && typeof digest === 'string') {
      const [, repository, reference] = manifest;
      this.record(repository, digest, reference.startsWith('sha256:') ? undefined : reference);
    }
    res.writeHead(up.status, up.headers);
    res.end(up.body);
  }

  private record(repository: string, digest: string, tag?: string): void {
    let list = this.packages.get(repository);
    if (!list) this.packages.set(repository, (list = []));
    let v = list.find((x) => x.digest === digest);
    if (!v) {
      const key = `${repository}@${digest}`;
      v = {
        id: this.nextId++,
        repository,
        digest,
        tags: [],
        createdAt: this.createdAt.get(key) ?? new Date().toISOString(),
      };
      this.createdAt.delete(key);
      list.push(v);
    }
    if (tag && !v.tags.includes(tag)) {
      // A tag names one version: it moves.
      for (const other of list) other.tags = other.tags.filter((t) => t !== tag);
      v.tags.push(tag);
    }
  }

  private async api(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    kind: 'orgs' | 'users',
    owner: string,
    pkg: string,
    id: string | undefined,
  ): Promise<void> {
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`) {
      json(res, 401, { message: 'Bad credentials' });
      return;
    }
    const isOrg = (this.options.orgs ?? []).includes(owner);
    const repository = `${owner}/${decodeURIComponent(pkg)}`;
    const list = this.packages.get(repository);
    if (isOrg !== (kind === 'orgs') || !list || list.length === 0) {
      json(res, 404, { message: 'Package not found.' });
      return;
    }
    if (id !== undefined) {
      if (req.method !== 'DELETE') {
        json(res, 405, { message: 'Method not allowed' });
        return;
      }
      const v = list.find((x) => String(x.id) === id);
      if (!v) {
        json(res, 404, { message: 'Package version not found.' });
        return;
      }
      if (this.refuseVersionDeletes) {
        json(res, 403, { message: 'Must have admin rights to Repository.' });
        return;
      }
      const del = await fetch(`${this.backend.url}/v2/${repository}/manifests/${v.digest}`, {
        method: 'DELETE',
      });
      await del.body?.cancel();
      list.splice(list.indexOf(v), 1);
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method !== 'GET') {
      json(res, 405, { message: 'Method not allowed' });
      return;
    }
    const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30) || 30);
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const all = this.versions(repository);
    const slice = all.slice((page - 1) * perPage, page * perPage);
    const base = `${this.url}/${kind}/${owner}/packages/container/${pkg}`;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    const last = Math.max(1, Math.ceil(all.length / perPage));
    if (page < last) {
      const at = (p: number) => {
        const u = new URL(url.toString().replace('http://fake', this.url));
        u.searchParams.set('page', String(p));
        return u.toString();
      };
      headers.link = `<${at(page + 1)}>; rel="next", <${at(last)}>; rel="last"`;
    }
    res.writeHead(200, headers);
    res.end(
      JSON.stringify(
        slice.map((v) => ({
          id: v.id,
          name: v.digest,
          url: `${base}/versions/${v.id}`,
          package_html_url: `https://github.com/${owner}/packages/container/package/${pkg}`,
          created_at: v.createdAt,
          updated_at: v.createdAt,
          html_url: `https://github.com/${owner}/packages/container/${pkg}/${v.id}`,
          metadata: { package_type: 'container', container: { tags: [...v.tags] } },
        })),
      ),
    );
  }

  private async proxy(req: IncomingMessage, res: ServerResponse, target: string): Promise<void> {
    const body = await readBody(req);
    const up = await forward(target, req, body);
    res.writeHead(up.status, up.headers);
    res.end(up.body);
  }
}

/** Starts a FakeGhcr (its docker-registry too). */
export async function startFakeGhcr(options: FakeGhcrOptions = {}): Promise<FakeGhcr> {
  const fake = new FakeGhcr(options);
  await fake.start();
  return fake;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** Sends `req` (with `body`) to `target`; the whole answer. */
function forward(
  target: string,
  req: IncomingMessage,
  body: Buffer,
): Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }> {
  const upstream = new URL(target);
  return new Promise((resolve, reject) => {
    // The client's Host is kept: the backend's Location headers then name the fake.
    const headers = { ...req.headers };
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    if (body.length > 0 || req.method === 'PUT' || req.method === 'POST' || req.method === 'PATCH')
      headers['content-length'] = String(body.length);
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: `${upstream.pathname.replace(/\/$/, '')}${req.url}`,
        headers,
      },
      (up) => {
        const chunks: Buffer[] = [];
        up.on('data', (c: Buffer) => chunks.push(c));
        up.on('end', () => {
          const h = { ...up.headers };
          delete h['transfer-encoding'];
          delete h.connection;
          resolve({ status: up.statusCode ?? 502, headers: h, body: Buffer.concat(chunks) });
        });
        up.on('error', reject);
      },
    );
    out.on('error', reject);
    out.end(body);
  });
}
