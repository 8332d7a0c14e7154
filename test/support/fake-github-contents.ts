/**
 * A fake of GitHub's repository contents API (plus git blobs), for tests and the simulator.
 * Plain http on 127.0.0.1. `gitHubContentsHandler` can be mounted on a bigger fake GitHub: it
 * returns false for requests it does not own.
 *
 * Follows https://docs.github.com/en/rest/repos/contents?apiVersion=2022-11-28,
 * https://docs.github.com/en/rest/git/blobs?apiVersion=2022-11-28 and
 * https://docs.github.com/en/rest/git/refs?apiVersion=2022-11-28#get-a-reference and
 * https://docs.github.com/en/rest/commits/commits?apiVersion=2022-11-28#list-commits for the
 * parts eol-gate uses.
 *
 * Every change to a branch is a commit (parent, date) with its own snapshot of the files, so
 * contents can be read at a commit sha (`?ref=<sha>`) and a file's history listed. A read of contents by branch or tag *name* can be served
 * from a cache (`store.nameReadCacheMs`), as GitHub's is for a while after an update; reads
 * of a ref (`git/ref/...`) and of contents at a sha are always fresh.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gitBlobId } from '../../src/imageinfo/git-blob.js';
import { serveOnLoopback } from './loopback.js';

export type TokenAccess = 'read' | 'write';

export interface FakeGitHubContentsOptions {
  /** Delay before each request is handled, in ms (a number or a function drawn per request). */
  latencyMs?: number | (() => number);
  /** When set, requests need `Authorization: Bearer <token>` with one of these tokens. */
  tokens?: Record<string, TokenAccess>;
  /** Files larger than this come back without inline content (GitHub: 1 MB). */
  largeFileBytes?: number;
  /** Prefix of the API paths (GitHub Enterprise Server: `/api/v3`). */
  basePath?: string;
}

export interface Fault {
  method?: string;
  status: number;
  /** How many matching requests fail. */
  times: number;
  /** Only requests whose path and query match (e.g. one commit's `ref=`). */
  url?: RegExp;
  headers?: Record<string, string>;
}

interface Commit {
  sha: string;
  message: string;
  path: string;
}

interface TreeCommit {
  repo: string;
  files: Map<string, string>;
  parent?: string;
  /** ISO 8601, whole seconds as GitHub gives them. */
  date: string;
  message: string;
}

/** Repository state: branches → path → blob; plus every commit made through the API. */
export class GitHubContentsStore {
  private readonly files = new Map<string, Map<string, string>>(); // "owner/repo@branch" → path → blob sha
  private readonly blobs = new Map<string, Buffer>();
  /** "owner/repo@branch" → head commit sha; "owner/repo#tag" → commit sha. */
  private readonly heads = new Map<string, string>();
  private readonly tags = new Map<string, string>();
  /** commit sha → its repository ("owner/repo"), files (path → blob sha), parent and date. */
  private readonly trees = new Map<string, TreeCommit>();
  /** "owner/repo@name:path" → the commit a by-name contents read answered from, until when. */
  private readonly nameReads = new Map<string, { commit: string; until: number }>();
  /**
   * How long (ms) a contents read by branch or tag name is answered from the commit an earlier
   * by-name read of the same file saw, updates notwithstanding (0: never). GitHub serves such
   * reads from a cache for seconds after an update.
   */
  nameReadCacheMs = 0;
  readonly commits: Commit[] = [];
  /** The commit clock (epoch ms); tests set it for known dates. */
  now: () => number = () => Date.now();
  readonly faults: Fault[] = [];
  readonly requests: Array<{ method: string; path: string; headers: IncomingMessage['headers'] }> =
    [];
  private counter = 0;

  private repoKey(owner: string, repo: string): string {
    return `${owner.toLowerCase()}/${repo.toLowerCase()}`;
  }

  private branchKey(owner: string, repo: string, branch: string): string {
    return `${this.repoKey(owner, repo)}@${branch}`;
  }

  addBranch(owner: string, repo: string, branch: string): void {
    const key = this.branchKey(owner, repo, branch);
    if (!this.files.has(key)) {
      this.files.set(key, new Map());
      this.snapshot(owner, repo, branch);
    }
  }

  /** Records the branch's current files as a new commit and moves the branch to it. */
  private snapshot(owner: string, repo: string, branch: string, message = 'update'): string {
    const key = this.branchKey(owner, repo, branch);
    const sha = this.nextCommitSha();
    this.trees.set(sha, {
      repo: this.repoKey(owner, repo),
      files: new Map(this.files.get(key)),
      parent: this.heads.get(key),
      date: new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      message,
    });
    this.heads.set(key, sha);
    return sha;
  }

  /** The commit a branch points at. */
  head(owner: string, repo: string, branch: string): string | undefined {
    return this.heads.get(this.branchKey(owner, repo, branch));
  }

  /** A lightweight tag on a commit. */
  addTag(owner: string, repo: string, tag: string, commit: string): void {
    this.tags.set(`${this.repoKey(owner, repo)}#${tag}`, commit);
  }

  /** `heads/<branch>` or `tags/<tag>` → commit sha (undefined when no such ref). */
  resolveRef(owner: string, repo: string, ref: string): string | undefined {
    const m = /^(heads|tags)\/(.+)$/.exec(ref);
    if (!m) return undefined;
    return m[1] === 'heads'
      ? this.head(owner, repo, m[2])
      : this.tags.get(`${this.repoKey(owner, repo)}#${m[2]}`);
  }

  /** The files of a commit of this repository (undefined when the sha is not one). */
  private tree(owner: string, repo: string, commit: string): Map<string, string> | undefined {
    const t = this.trees.get(commit);
    return t?.repo === this.repoKey(owner, repo) ? t.files : undefined;
  }

  /**
   * The commits reachable from `start` (a commit sha, branch or tag), newest first, that changed
   * `path` (added, modified or deleted it) when given; undefined when `start` names nothing.
   */
  log(
    owner: string,
    repo: string,
    start: string,
    path?: string,
  ): Array<{ sha: string } & TreeCommit> | undefined {
    let sha: string | undefined = this.tree(owner, repo, start)
      ? start
      : (this.head(owner, repo, start) ?? this.resolveRef(owner, repo, `tags/${start}`));
    if (sha === undefined) return undefined;
    const out: Array<{ sha: string } & TreeCommit> = [];
    while (sha !== undefined) {
      const c: TreeCommit = this.trees.get(sha)!;
      const before = c.parent ? this.trees.get(c.parent)!.files.get(path ?? '') : undefined;
      if (path === undefined || c.files.get(path) !== before) out.push({ sha, ...c });
      sha = c.parent;
    }
    return out;
  }

  /**
   * The files a contents read with `?ref=` sees: at the commit when `ref` is a commit sha; else
   * at the branch (or tag) head — or, within {@link nameReadCacheMs} of an earlier by-name read
   * of the same file, at the commit that read saw.
   */
  filesAt(
    owner: string,
    repo: string,
    ref: string,
    path: string,
    now = Date.now(),
  ): Map<string, string> | undefined {
    const byCommit = this.tree(owner, repo, ref);
    if (byCommit) return byCommit;
    const commit = this.head(owner, repo, ref) ?? this.resolveRef(owner, repo, `tags/${ref}`);
    if (commit === undefined) return undefined;
    const key = `${this.repoKey(owner, repo)}@${ref}:${path}`;
    const cached = this.nameReads.get(key);
    if (cached && now < cached.until) return this.tree(owner, repo, cached.commit);
    if (this.nameReadCacheMs > 0)
      this.nameReads.set(key, { commit, until: now + this.nameReadCacheMs });
    return this.tree(owner, repo, commit);
  }

  hasBranch(owner: string, repo: string, branch: string): boolean {
    return this.files.has(this.branchKey(owner, repo, branch));
  }

  hasRepo(owner: string, repo: string): boolean {
    const prefix = `${owner.toLowerCase()}/${repo.toLowerCase()}@`;
    return [...this.files.keys()].some((k) => k.startsWith(prefix));
  }

  setFile(
    owner: string,
    repo: string,
    branch: string,
    path: string,
    content: string | Buffer,
    message?: string,
  ): string {
    this.addBranch(owner, repo, branch);
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    const sha = gitBlobId(bytes);
    this.blobs.set(sha, bytes);
    this.files.get(this.branchKey(owner, repo, branch))!.set(path, sha);
    this.snapshot(owner, repo, branch, message);
    return sha;
  }

  /** Deletes a file from a branch in a new commit (its sha). */
  deleteFile(owner: string, repo: string, branch: string, path: string): string {
    this.files.get(this.branchKey(owner, repo, branch))?.delete(path);
    return this.snapshot(owner, repo, branch, `delete ${path}`);
  }

  getFile(owner: string, repo: string, branch: string, path: string): string | undefined {
    const sha = this.files.get(this.branchKey(owner, repo, branch))?.get(path);
    return sha === undefined ? undefined : this.blobs.get(sha)!.toString('utf8');
  }

  fileSha(owner: string, repo: string, branch: string, path: string): string | undefined {
    return this.files.get(this.branchKey(owner, repo, branch))?.get(path);
  }

  blob(sha: string): Buffer | undefined {
    return this.blobs.get(sha);
  }

  nextCommitSha(): string {
    return gitBlobId(`commit ${++this.counter}`);
  }
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': Buffer.isBuffer(body)
      ? 'application/vnd.github.raw'
      : 'application/json; charset=utf-8',
    'content-length': String(data.length),
    ...headers,
  });
  res.end(data);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** GitHub wraps base64 content at 60 characters. */
function wrapBase64(bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 60) lines.push(b64.slice(i, i + 60));
  return lines.length ? `${lines.join('\n')}\n` : '';
}

function isBase64(text: string): boolean {
  const compact = text.replace(/\n/g, '');
  return Buffer.from(compact, 'base64').toString('base64') === compact;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const CONTENTS = /^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/;
const BLOBS = /^\/repos\/([^/]+)\/([^/]+)\/git\/blobs\/([0-9a-f]{40})$/;
const REF = /^\/repos\/([^/]+)\/([^/]+)\/git\/ref\/(.+)$/;
const COMMITS = /^\/repos\/([^/]+)\/([^/]+)\/commits$/;

export function gitHubContentsHandler(
  store: GitHubContentsStore,
  options: FakeGitHubContentsOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const largeFileBytes = options.largeFileBytes ?? 1024 * 1024;
  const basePath = options.basePath ?? '';
  const latency =
    typeof options.latencyMs === 'function'
      ? options.latencyMs
      : () => (options.latencyMs as number | undefined) ?? 0;

  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (!url.pathname.startsWith(`${basePath}/repos/`)) return false;
    const path = url.pathname.slice(basePath.length);
    const contents = CONTENTS.exec(path);
    const blobs = BLOBS.exec(path);
    const ref = REF.exec(path);
    const commits = COMMITS.exec(path);
    if (!contents && !blobs && !ref && !commits) return false;
    const method = req.method ?? 'GET';
    store.requests.push({ method, path, headers: req.headers });
    const ms = latency();
    if (ms > 0) await sleep(ms);

    const fault = store.faults.find(
      (f) =>
        f.times > 0 &&
        (!f.method || f.method === method) &&
        (!f.url || f.url.test(`${path}${url.search}`)),
    );
    if (fault) {
      fault.times--;
      send(res, fault.status, { message: `injected fault ${fault.status}` }, fault.headers);
      return true;
    }

    // Authentication: https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api
    let access: TokenAccess = 'write';
    if (options.tokens) {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const found = token === undefined ? undefined : options.tokens[token];
      if (!found) {
        send(res, 401, {
          message: 'Bad credentials',
          documentation_url: 'https://docs.github.com/rest',
        });
        return true;
      }
      access = found;
    }
    const wantsRaw = /application\/vnd\.github(\.v3)?\.raw/.test(req.headers.accept ?? '');

    if (ref) {
      // GET /repos/{owner}/{repo}/git/ref/{ref}: https://docs.github.com/en/rest/git/refs#get-a-reference
      // An exact match of `heads/<branch>` or `tags/<tag>`, else 404; always fresh.
      const name = ref[3].split('/').map(decodeURIComponent).join('/');
      const commit = method === 'GET' ? store.resolveRef(ref[1], ref[2], name) : undefined;
      if (commit === undefined) {
        send(res, 404, {
          message: 'Not Found',
          documentation_url: 'https://docs.github.com/rest/git/refs#get-a-reference',
        });
        return true;
      }
      send(res, 200, {
        ref: `refs/${name}`,
        url: `${basePath}/repos/${ref[1]}/${ref[2]}/git/refs/${name}`,
        object: {
          type: 'commit',
          sha: commit,
          url: `${basePath}/repos/${ref[1]}/${ref[2]}/git/commits/${commit}`,
        },
      });
      return true;
    }

    if (commits) {
      // GET /repos/{owner}/{repo}/commits?sha=&path=&per_page=&page=: https://docs.github.com/en/rest/commits/commits#list-commits
      // Newest first; pages linked with `Link` (rel next/last, prev/first), per_page up to 100.
      const [, owner, repo] = commits;
      const filePath = url.searchParams.get('path') ?? undefined;
      const log =
        method === 'GET'
          ? store.log(owner, repo, url.searchParams.get('sha') ?? 'main', filePath)
          : undefined;
      if (!log) {
        send(res, 404, {
          message: `No commit found for SHA: ${url.searchParams.get('sha') ?? 'main'}`,
          documentation_url: 'https://docs.github.com/rest/commits/commits#list-commits',
        });
        return true;
      }
      const perPage = Math.min(100, Math.max(1, Number(url.searchParams.get('per_page') ?? 30)));
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1));
      const last = Math.max(1, Math.ceil(log.length / perPage));
      const link = (p: number) => {
        const u = new URL(`http://${req.headers.host}${url.pathname}${url.search}`);
        u.searchParams.set('page', String(p));
        return `<${u.toString()}>`;
      };
      const links: string[] = [];
      if (page < last) links.push(`${link(page + 1)}; rel="next"`, `${link(last)}; rel="last"`);
      if (page > 1) links.push(`${link(page - 1)}; rel="prev"`, `${link(1)}; rel="first"`);
      const api = `${basePath}/repos/${owner}/${repo}`;
      send(
        res,
        200,
        log.slice((page - 1) * perPage, page * perPage).map((c) => {
          const who = { name: 'eol-gate test', email: 'test@example.com', date: c.date };
          return {
            sha: c.sha,
            commit: { author: who, committer: who, message: c.message },
            url: `${api}/commits/${c.sha}`,
            parents: c.parent ? [{ sha: c.parent, url: `${api}/commits/${c.parent}` }] : [],
          };
        }),
        links.length ? { link: links.join(', ') } : {},
      );
      return true;
    }

    if (blobs) {
      // GET /repos/{owner}/{repo}/git/blobs/{file_sha}: https://docs.github.com/en/rest/git/blobs#get-a-blob
      const bytes = store.blob(blobs[3]);
      if (method !== 'GET') send(res, 404, { message: 'Not Found' });
      else if (!bytes || !store.hasRepo(blobs[1], blobs[2]))
        send(res, 404, { message: 'Not Found' });
      else if (wantsRaw) send(res, 200, bytes);
      else
        send(res, 200, {
          sha: blobs[3],
          size: bytes.length,
          content: wrapBase64(bytes),
          encoding: 'base64',
        });
      return true;
    }

    const [, owner, repo, rawPath] = contents!;
    const filePath = rawPath.split('/').map(decodeURIComponent).join('/');

    if (method === 'GET') {
      // GET /repos/{owner}/{repo}/contents/{path}?ref=: https://docs.github.com/en/rest/repos/contents#get-repository-content
      // Over 1 MB the JSON carries `content: ""` and `encoding: "none"`; the raw media type still works.
      // `ref` is a commit sha, a branch or a tag name; by name the answer may be a cached one.
      const ref = url.searchParams.get('ref') ?? 'main';
      const files = store.filesAt(owner, repo, ref, filePath) ?? new Map<string, string>();
      const sha = files.get(filePath);
      const children =
        sha === undefined ? [...files.keys()].filter((p) => p.startsWith(`${filePath}/`)) : [];
      if (children.length > 0) {
        // A directory: an array of entries (files only here).
        send(
          res,
          200,
          children.map((p) => ({
            type: 'file',
            name: p.split('/').pop(),
            path: p,
            sha: files.get(p),
          })),
        );
        return true;
      }
      if (sha === undefined) {
        send(res, 404, {
          message: 'Not Found',
          documentation_url: 'https://docs.github.com/rest/repos/contents#get-repository-content',
        });
        return true;
      }
      const bytes = store.blob(sha)!;
      if (wantsRaw) {
        send(res, 200, bytes);
        return true;
      }
      const large = bytes.length > largeFileBytes;
      send(res, 200, {
        type: 'file',
        name: filePath.split('/').pop(),
        path: filePath,
        sha,
        size: bytes.length,
        encoding: large ? 'none' : 'base64',
        content: large ? '' : wrapBase64(bytes),
        url: `${basePath}/repos/${owner}/${repo}/contents/${rawPath}?ref=${ref}`,
        git_url: `${basePath}/repos/${owner}/${repo}/git/blobs/${sha}`,
        download_url: `https://raw.githubusercontent.com/${owner}/${repo}/${ref}/${filePath}`,
      });
      return true;
    }

    if (method === 'PUT') {
      // PUT /repos/{owner}/{repo}/contents/{path}: https://docs.github.com/en/rest/repos/contents#create-or-update-file-contents
      // 200 updated, 201 created, 404, 409 (sha does not match), 422 (validation failed).
      if (access !== 'write') {
        send(res, 403, {
          message: 'Resource not accessible by integration',
          documentation_url:
            'https://docs.github.com/rest/repos/contents#create-or-update-file-contents',
        });
        return true;
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(await readBody(req)) as Record<string, unknown>;
      } catch {
        send(res, 400, { message: 'Problems parsing JSON' });
        return true;
      }
      const invalid = (what: string) =>
        send(res, 422, {
          message: `Invalid request.\n\n"${what}" wasn't supplied.`,
          status: '422',
        });
      if (typeof body.message !== 'string' || body.message === '')
        return (invalid('message'), true);
      if (typeof body.content !== 'string') return (invalid('content'), true);
      if (!isBase64(body.content)) {
        send(res, 422, { message: 'content is not valid Base64', status: '422' });
        return true;
      }
      const branch = typeof body.branch === 'string' ? body.branch : 'main';
      if (!store.hasBranch(owner, repo, branch)) {
        send(res, 404, { message: `Branch ${branch} not found` });
        return true;
      }
      // From here to the state change nothing awaits: the check-and-set is atomic, like GitHub's.
      const current = store.fileSha(owner, repo, branch, filePath);
      if (current !== undefined && body.sha === undefined) return (invalid('sha'), true);
      if (body.sha !== undefined && body.sha !== current) {
        send(res, 409, {
          message: `${filePath} does not match ${String(body.sha)}`,
          documentation_url:
            'https://docs.github.com/rest/repos/contents#create-or-update-file-contents',
          status: '409',
        });
        return true;
      }
      const sha = store.setFile(
        owner,
        repo,
        branch,
        filePath,
        Buffer.from(body.content, 'base64'),
        body.message,
      );
      const commitSha = store.head(owner, repo, branch)!;
      store.commits.push({ sha: commitSha, message: body.message, path: filePath });
      send(res, current === undefined ? 201 : 200, {
        content: {
          name: filePath.split('/').pop(),
          path: filePath,
          sha,
          size: store.blob(sha)!.length,
          type: 'file',
        },
        commit: { sha: commitSha, message: body.message },
      });
      return true;
    }

    send(res, 404, { message: 'Not Found' });
    return true;
  };
}

export interface FakeGitHubContents {
  url: string;
  store: GitHubContentsStore;
  close(): Promise<void>;
}

export async function startFakeGitHubContents(
  options: FakeGitHubContentsOptions = {},
  store = new GitHubContentsStore(),
): Promise<FakeGitHubContents> {
  const handle = gitHubContentsHandler(store, options);
  const { origin, close } = await serveOnLoopback(handle);
  return { url: `${origin}${options.basePath ?? ''}`, store, close };
}
