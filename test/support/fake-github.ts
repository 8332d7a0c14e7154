/**
 * A fake GitHub REST API on 127.0.0.1 (under `basePath` for GitHub Enterprise Server): one token
 * check with the token's permissions, rate-limit headers, ETags and conditional requests
 * (`If-None-Match` → 304, which GitHub does not count against the rate limit), switches for
 * latency and injected faults (primary and secondary rate limits, 5xx). It speaks what eol-gate
 * uses, so one fake serves the coordination store and the image-info source of a run:
 * - GitHubStore: git refs of one repository (`owner/repo`) with an eventually consistent
 *   matching-refs; workflow runs and jobs, of other repositories too (`addRepository`), as a
 *   coordination repository shared by the pipelines of several repositories needs;
 * - GitHubContentsSource: the contents API, git blobs, get a reference and list commits, of any
 *   repository, kept in `contents`.
 * Tests add endpoints, or watch requests, with `mount`.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createHash } from 'node:crypto';
import { gitBlobId } from '../../src/imageinfo/git-blob.js';
import { readBody, serveOnLoopback } from './loopback.js';

export type RunStatus =
  'queued' | 'in_progress' | 'waiting' | 'requested' | 'pending' | 'completed';

export interface FakeRun {
  id: number;
  run_attempt: number;
  status: RunStatus;
  conclusion: string | null;
  name: string;
  run_started_at: string;
  /** Changes with the run's status; a completed run's is when it completed. */
  updated_at: string;
}

export type JobStatus = 'queued' | 'in_progress' | 'waiting' | 'completed';

/**
 * A workflow job (its id is the job's check run id, `job.check_run_id`). As GitHub documents the
 * job object, `started_at` is never null (a queued job reports one too; only the status says
 * whether it started) and `completed_at` is null until the job completes.
 */
export interface FakeJob {
  id: number;
  run_id: number;
  run_attempt: number;
  status: JobStatus;
  conclusion: string | null;
  name: string;
  created_at: string;
  started_at: string;
  completed_at: string | null;
  /**
   * The runner the job was assigned to (the runner's `RUNNER_NAME`); null (GitHub's answer)
   * until it is assigned. Absent here means null.
   */
  runner_name?: string | null;
}

/** One request the fake received, and the status it answered (once answered). */
export interface FakeGitHubRequestLog {
  method: string;
  /** Below `basePath`. */
  path: string;
  /** The query string, without `?` ('' for none). */
  query?: string;
  headers: IncomingHttpHeaders;
  /** Undefined until answered; 304 for a conditional request answered "not modified". */
  status?: number;
}

/** The Actions API of one repository: its runs and jobs, and what the token may read there. */
export interface FakeActions {
  readonly runs: Map<number, FakeRun>;
  readonly jobs: Map<number, FakeJob>;
  /**
   * What GET actions/runs|jobs answers a token that cannot read the repository: 404 (GitHub
   * hides private repositories it will not show) or 403 (an installation without `actions`).
   */
  access: 'read' | 'not-found' | 'forbidden';
}

/** What a token may do, as a workflow's `permissions:` block grants it. */
export interface TokenPermissions {
  contents: 'read' | 'write' | 'none';
  actions: 'read' | 'none';
}

export interface FakeGitHubRequest {
  method: string;
  /** Path below the repository, e.g. `contents/image-info.json` (undefined outside /repos/{owner}/{repo}/). */
  repoPath?: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  permissions: TokenPermissions;
}

export interface FakeGitHubResponse {
  status: number;
  headers?: Record<string, string>;
  /** JSON, or bytes (a raw file or blob). */
  body?: unknown;
}

/** Answers a request, or returns undefined to let the next handler try. */
export type FakeGitHubHandler = (
  req: FakeGitHubRequest,
) => FakeGitHubResponse | undefined | Promise<FakeGitHubResponse | undefined>;

type RequestMatch = (r: FakeGitHubRequestLog) => boolean;

export interface GitHubFault {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Which requests fail (default: any); `query` without `?`. */
  match?: (method: string, path: string, query: string) => boolean;
  times: number;
}

interface TreeCommit {
  repo: string;
  files: Map<string, string>;
  parent?: string;
  /** ISO 8601, whole seconds as GitHub gives them. */
  date: string;
  message: string;
}

/**
 * The files of every repository the contents API serves: branches → path → blob. Every change to
 * a branch is a commit (parent, date) with its own snapshot of the files, so contents can be read
 * at a commit sha (`?ref=<sha>`) and a file's history listed. A read of contents by branch or tag
 * *name* can be served from a cache (`nameReadCacheMs`), as GitHub's is for a while after an
 * update; reads of a ref (`git/ref/...`) and of contents at a sha are always fresh.
 */
export class GitHubContentsStore {
  private readonly blobs = new Map<string, Buffer>();
  /** "owner/repo@branch" → the branch's head commit; "owner/repo#tag" → the tagged commit. */
  private readonly refs = new Map<string, string>();
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
  /** The commits made through the contents API (PUT). */
  readonly commits: Array<{ sha: string; message: string; path: string }> = [];
  private counter = 0;

  /** `now`: the fake's clock (epoch ms), for commit dates and the by-name read cache. */
  constructor(private readonly now: () => number) {}

  /** `owner/repo` (any case), then `suffix`. */
  private key(owner: string, repo: string, suffix = ''): string {
    return `${owner}/${repo}`.toLowerCase() + suffix;
  }

  addBranch(owner: string, repo: string, branch: string): void {
    if (!this.hasBranch(owner, repo, branch)) this.commit(owner, repo, branch, () => {});
  }

  /** A new commit on the branch, of its head's files as `change` leaves them (its sha). */
  private commit(
    owner: string,
    repo: string,
    branch: string,
    change: (files: Map<string, string>) => void,
    message = 'update',
  ): string {
    const key = this.key(owner, repo, `@${branch}`);
    const parent = this.refs.get(key);
    const files = new Map(parent === undefined ? [] : this.trees.get(parent)!.files);
    change(files);
    const sha = gitBlobId(`commit ${++this.counter}`);
    const date = new Date(this.now()).toISOString().replace(/\.\d{3}Z$/, 'Z');
    this.trees.set(sha, { repo: this.key(owner, repo), files, parent, date, message });
    this.refs.set(key, sha);
    return sha;
  }

  /** The commit a branch points at. */
  head(owner: string, repo: string, branch: string): string | undefined {
    return this.refs.get(this.key(owner, repo, `@${branch}`));
  }

  /** A lightweight tag on a commit. */
  addTag(owner: string, repo: string, tag: string, commit: string): void {
    this.refs.set(this.key(owner, repo, `#${tag}`), commit);
  }

  /** `heads/<branch>` or `tags/<tag>` → commit sha (undefined when no such ref). */
  resolveRef(owner: string, repo: string, ref: string): string | undefined {
    const m = /^(heads|tags)\/(.+)$/.exec(ref);
    return m
      ? this.refs.get(this.key(owner, repo, (m[1] === 'heads' ? '@' : '#') + m[2]))
      : undefined;
  }

  /** The commit `ref` names: a commit sha of this repository, else a branch or tag name. */
  private commitOf(owner: string, repo: string, ref: string): string | undefined {
    if (this.trees.get(ref)?.repo === this.key(owner, repo)) return ref;
    return this.head(owner, repo, ref) ?? this.refs.get(this.key(owner, repo, `#${ref}`));
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
    let sha = this.commitOf(owner, repo, start);
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
  filesAt(owner: string, repo: string, ref: string, path: string): Map<string, string> | undefined {
    let commit = this.commitOf(owner, repo, ref);
    if (commit !== undefined && commit !== ref) {
      const key = this.key(owner, repo, `@${ref}:${path}`);
      const cached = this.nameReads.get(key);
      if (cached && this.now() < cached.until) commit = cached.commit;
      else if (this.nameReadCacheMs > 0)
        this.nameReads.set(key, { commit, until: this.now() + this.nameReadCacheMs });
    }
    return commit === undefined ? undefined : this.trees.get(commit)!.files;
  }

  hasBranch(owner: string, repo: string, branch: string): boolean {
    return this.head(owner, repo, branch) !== undefined;
  }

  hasRepo(owner: string, repo: string): boolean {
    return [...this.refs.keys()].some((k) => k.startsWith(this.key(owner, repo, '@')));
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
    this.commit(owner, repo, branch, (files) => files.set(path, sha), message);
    return sha;
  }

  /** Deletes a file from a branch in a new commit (its sha). */
  deleteFile(owner: string, repo: string, branch: string, path: string): string {
    return this.commit(owner, repo, branch, (files) => files.delete(path), `delete ${path}`);
  }

  getFile(owner: string, repo: string, branch: string, path: string): string | undefined {
    const sha = this.fileSha(owner, repo, branch, path);
    return sha === undefined ? undefined : this.blobs.get(sha)!.toString('utf8');
  }

  fileSha(owner: string, repo: string, branch: string, path: string): string | undefined {
    const head = this.head(owner, repo, branch);
    return head === undefined ? undefined : this.trees.get(head)!.files.get(path);
  }

  blob(sha: string): Buffer | undefined {
    return this.blobs.get(sha);
  }
}

const error = (status: number, message: string): FakeGitHubResponse => ({
  status,
  body: { message, documentation_url: 'https://docs.github.com/rest' },
});
const UNAUTHORIZED = error(401, 'Bad credentials');
const FORBIDDEN = error(403, 'Resource not accessible by integration');
const NOT_FOUND = error(404, 'Not Found');

function found<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`fake GitHub: no ${what}`);
  return value;
}
/** Over this size the contents API answers JSON without the content (GitHub: 1 MB). */
const LARGE_FILE_BYTES = 1024 * 1024;

/** GitHub wraps base64 content at 60 characters. */
function wrapBase64(bytes: Buffer): string {
  return bytes.toString('base64').replace(/.{1,60}/g, '$&\n');
}

function isBase64(text: string): boolean {
  const compact = text.replace(/\n/g, '');
  return Buffer.from(compact, 'base64').toString('base64') === compact;
}

function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(body) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * A route below /repos/{owner}/{repo}: its answer is called with the request, owner, repo, then
 * the path's other groups, decoded. What the token needs: `contents` (read for a GET, else
 * write), `refs` (`contents` in `owner/repo`, the one repository whose marker refs it keeps),
 * `actions` (read), or nothing.
 */
interface Route {
  method: string;
  path: RegExp;
  needs: 'contents' | 'refs' | 'actions' | 'nothing';
  answer: (req: FakeGitHubRequest, ...groups: string[]) => FakeGitHubResponse;
}

/** The path of a workflow run below its repository. */
const RUN = '/actions/runs/(\\d+)';

function route(method: string, tail: string, needs: Route['needs'], answer: Route['answer']) {
  return { method, path: new RegExp(`^/repos/([^/]+)/([^/]+)${tail}$`), needs, answer };
}

export class FakeGitHub {
  readonly owner: string;
  readonly repo: string;
  readonly token: string;
  /** Prefix of the API paths (GitHub Enterprise Server: `/api/v3`). */
  readonly basePath: string;
  /** Full ref name → sha. */
  readonly refs = new Map<string, string>();
  readonly runs = new Map<number, FakeRun>();
  /** Jobs of the runs of `owner/repo`, by id. */
  readonly jobs = new Map<number, FakeJob>();
  /** Other repositories whose Actions API the fake serves, by `owner/name`. */
  readonly repositories = new Map<string, FakeActions>();
  readonly requests: FakeGitHubRequestLog[] = [];
  /**
   * The fake's clock (ms): every time it writes into runs and jobs (`updated_at`,
   * `started_at`, ...), the dates of the commits in `contents`.
   */
  clock: () => number = () => Date.now();
  /** The repositories the contents API serves. */
  readonly contents = new GitHubContentsStore(() => this.clock());
  /**
   * When true, every answer but a 304 spends one request of `rateLimit.remaining`, as GitHub
   * counts them (a 304 to a conditional request is free). Off by default: tests that set
   * `remaining` themselves read it unchanged.
   */
  spendRateLimit = false;
  /** The repository's default-branch commit; POST /git/refs accepts only known commits. */
  readonly headSha = 'a'.repeat(40);
  readonly commits = new Set<string>([this.headSha]);
  latencyMs: number | (() => number) = 0;
  /** What `token` may do. */
  permissions: TokenPermissions = { contents: 'write', actions: 'read' };
  /** Tokens besides `token` that the fake accepts, with what each may do. */
  readonly tokens = new Map<string, TokenPermissions>();
  /** A ref write stays invisible to matching-refs for this many matching-refs requests. */
  listLag = 0;
  /** Primary rate-limit budget reported in x-ratelimit-* headers. */
  rateLimit = {
    limit: 1000,
    remaining: 1000,
    resetEpochSeconds: Math.floor(Date.now() / 1000) + 3600,
  };
  private listedRefs = new Map<string, string>();
  private pendingListReads = 0;
  private faults: GitHubFault[] = [];
  private waiters: Array<{ match: RequestMatch; left: number; resolve: () => void }> = [];
  private handlers: FakeGitHubHandler[] = [];
  private origin = '';
  private stop?: () => Promise<void>;
  private nextRunId = 5000;
  private nextJobId = 90_000;

  constructor(options: { owner?: string; repo?: string; token?: string; basePath?: string } = {}) {
    this.owner = options.owner ?? 'octo';
    this.repo = options.repo ?? 'images';
    this.token = options.token ?? 'ghs_fake_secret_token';
    this.basePath = options.basePath ?? '';
  }

  /** The requests answered and counted against the rate limit (everything but a 304). */
  counted(): FakeGitHubRequestLog[] {
    return this.requests.filter((r) => r.status !== undefined && r.status !== 304);
  }

  /** The requests answered 304 Not Modified (free). */
  notModified(): FakeGitHubRequestLog[] {
    return this.requests.filter((r) => r.status === 304);
  }

  /** `GITHUB_API_URL` of the fake. */
  get apiUrl(): string {
    return `${this.origin}${this.basePath}`;
  }

  async start(): Promise<this> {
    const { origin, close } = await serveOnLoopback(async (req, res) => {
      await this.handle(req, res);
      return true;
    });
    this.origin = origin;
    this.stop = close;
    return this;
  }

  async close(): Promise<void> {
    await this.stop?.();
  }

  /** Adds an endpoint (tried before the built-in ones, after auth, faults and latency). */
  mount(handler: FakeGitHubHandler): void {
    this.handlers.push(handler);
  }

  /** `owner/repo` itself, or a repository added with `addRepository`. */
  actions(repository?: string): FakeActions {
    if (!repository || repository === `${this.owner}/${this.repo}`)
      return { runs: this.runs, jobs: this.jobs, access: 'read' };
    return found(this.repositories.get(repository), `repository ${repository}`);
  }

  /** Another repository whose runs and jobs the fake serves (refs stay in `owner/repo`). */
  addRepository(repository: string, access: FakeActions['access'] = 'read'): FakeActions {
    const actions: FakeActions = { runs: new Map(), jobs: new Map(), access };
    this.repositories.set(repository, actions);
    return actions;
  }

  private iso(ms = this.clock()): string {
    return new Date(ms).toISOString();
  }

  createRun(init: Partial<FakeRun> = {}, repository?: string): FakeRun {
    const started = init.run_started_at ?? this.iso();
    const run: FakeRun = {
      id: init.id ?? this.nextRunId++,
      run_attempt: init.run_attempt ?? 1,
      status: init.status ?? 'in_progress',
      conclusion: init.conclusion ?? null,
      name: init.name ?? 'publish',
      run_started_at: started,
      updated_at: init.updated_at ?? started,
    };
    this.actions(repository).runs.set(run.id, run);
    return run;
  }

  /** The variables a runner gives each step of `run` in this fake's repository. */
  stepEnv(run: FakeRun): Record<string, string> {
    return {
      GITHUB_API_URL: this.apiUrl,
      GITHUB_REPOSITORY: `${this.owner}/${this.repo}`,
      GITHUB_RUN_ID: String(run.id),
      GITHUB_RUN_ATTEMPT: String(run.run_attempt),
      GITHUB_SHA: this.headSha,
    };
  }

  run(id: number, repository?: string): FakeRun {
    return found(this.actions(repository).runs.get(id), `run ${id}`);
  }

  complete(
    id: number,
    conclusion: 'success' | 'failure' | 'cancelled' = 'success',
    repository?: string,
  ): void {
    Object.assign(this.run(id, repository), {
      status: 'completed',
      conclusion,
      updated_at: this.iso(),
    });
  }

  /**
   * "Delete workflow run" (or retention): the run and its jobs are gone; GET answers 404 while
   * the repository still answers 200.
   */
  deleteRun(id: number, repository?: string): void {
    const actions = this.actions(repository);
    this.run(id, repository);
    actions.runs.delete(id);
    for (const [jobId, job] of actions.jobs) if (job.run_id === id) actions.jobs.delete(jobId);
  }

  /** "Re-run jobs": same run id, next attempt, queued again. Jobs of earlier attempts keep their state. */
  rerun(id: number, repository?: string): FakeRun {
    const r = this.run(id, repository);
    const now = this.iso();
    Object.assign(r, {
      run_attempt: r.run_attempt + 1,
      status: 'queued',
      conclusion: null,
      run_started_at: now,
      updated_at: now,
    });
    return r;
  }

  /**
   * A job of run `run_id` in the run's current attempt (unless `run_attempt` says otherwise),
   * started now (in progress) unless `status` says otherwise; a queued job's `started_at` is its
   * creation time, as GitHub reports it.
   */
  createJob(init: Partial<FakeJob> & { run_id: number }, repository?: string): FakeJob {
    const run = this.run(init.run_id, repository);
    const now = this.iso();
    const status = init.status ?? 'in_progress';
    const job: FakeJob = {
      id: init.id ?? this.nextJobId++,
      run_id: run.id,
      run_attempt: init.run_attempt ?? run.run_attempt,
      status,
      conclusion: init.conclusion ?? null,
      name: init.name ?? 'build',
      created_at: init.created_at ?? now,
      started_at: init.started_at ?? init.created_at ?? now,
      completed_at: init.completed_at ?? (status === 'completed' ? now : null),
      runner_name: init.runner_name ?? null,
    };
    this.actions(repository).jobs.set(job.id, job);
    return job;
  }

  job(id: number, repository?: string): FakeJob {
    return found(this.actions(repository).jobs.get(id), `job ${id}`);
  }

  completeJob(
    id: number,
    conclusion: 'success' | 'failure' | 'cancelled' | 'skipped' = 'success',
    repository?: string,
  ): FakeJob {
    return Object.assign(this.job(id, repository), {
      status: 'completed' as const,
      conclusion,
      completed_at: this.iso(),
    });
  }

  /** A queued job starts now. */
  startJob(id: number, repository?: string): FakeJob {
    return Object.assign(this.job(id, repository), {
      status: 'in_progress' as const,
      started_at: this.iso(),
    });
  }

  /**
   * A fresh fake for the next test: no refs, runs, jobs, added repositories, requests or faults;
   * the default permissions, rate limit, lag and latency (`tokens`, `contents`, mounted handlers
   * and the clock stay).
   */
  reset(): void {
    for (const state of [this.refs, this.runs, this.jobs, this.repositories]) state.clear();
    this.requests.length = 0;
    this.faults = [];
    this.permissions = { contents: 'write', actions: 'read' };
    this.rateLimit.remaining = this.rateLimit.limit;
    this.spendRateLimit = false;
    this.listLag = 0;
    this.latencyMs = 0;
  }

  /**
   * Resolves once `count` more requests matching `match` have arrived: lets a test act on what
   * a process under test did (e.g. polled the store twice) instead of on the clock.
   */
  waitForRequests(match: RequestMatch, count = 1): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ match, left: count, resolve }));
  }

  /** Drops faults not yet served. */
  clearFaults(): void {
    this.faults = [];
  }

  fail(fault: Omit<GitHubFault, 'times'> & { times?: number }): void {
    this.faults.push({ times: 1, ...fault });
  }

  /** Secondary rate limit: 403 with retry-after (seconds) and GitHub's message. */
  secondaryRateLimit(retryAfterSeconds: number | undefined, times = 1, status = 403): void {
    this.fail({
      status,
      times,
      headers: retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) },
      body: {
        message:
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
      },
    });
  }

  /** Primary rate limit: 403 with x-ratelimit-remaining 0 and a reset `resetInSeconds` ahead. */
  primaryRateLimit(resetInSeconds: number, times = 1): void {
    this.fail({
      status: 403,
      times,
      headers: {
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + resetInSeconds),
      },
      body: { message: 'API rate limit exceeded for installation ID 1.' },
    });
  }

  /**
   * Answers; a 200 to a GET carries an ETag of its body, and a GET whose `If-None-Match` names
   * the ETag the answer would carry is answered 304 without a body (GitHub: "Making a
   * conditional request and receiving a 304 response does not count against your primary rate
   * limit"), with the rate-limit headers.
   */
  private write(res: ServerResponse, r: FakeGitHubResponse, req: FakeGitHubRequestLog): void {
    const raw = Buffer.isBuffer(r.body);
    let data = r.body === undefined ? undefined : raw ? (r.body as Buffer) : JSON.stringify(r.body);
    let headers = r.headers ?? {};
    if (req.method === 'GET' && r.status === 200 && data !== undefined) {
      const etag =
        headers.etag ?? `W/"${createHash('sha256').update(data).digest('hex').slice(0, 40)}"`;
      headers = { ...headers, etag };
      const asked = (req.headers['if-none-match'] ?? '')
        .split(',')
        .map((t) => t.trim().replace(/^W\//, ''));
      if (asked.includes(etag.replace(/^W\//, ''))) {
        r = { status: 304 };
        data = undefined;
      }
    }
    req.status = r.status;
    if (this.spendRateLimit && r.status !== 304 && this.rateLimit.remaining > 0)
      this.rateLimit.remaining--;
    const rl = this.rateLimit;
    const type = raw ? 'application/vnd.github.raw' : 'application/json; charset=utf-8';
    res.writeHead(r.status, {
      ...(data === undefined ? {} : { 'content-type': type }),
      'x-ratelimit-limit': String(rl.limit),
      'x-ratelimit-remaining': String(rl.remaining),
      'x-ratelimit-reset': String(rl.resetEpochSeconds),
      'x-ratelimit-used': String(rl.limit - rl.remaining),
      'x-ratelimit-resource': 'core',
      'x-github-api-version-selected': '2022-11-28',
      ...headers,
    });
    res.end(data);
  }

  /** Called before a ref write: with a lag, listings keep showing the refs as they were. */
  private beforeRefWrite(): void {
    if (this.listLag <= 0) return;
    if (this.pendingListReads === 0) this.listedRefs = new Map(this.refs);
    this.pendingListReads = this.listLag;
  }

  private visibleRefs(): Map<string, string> {
    if (this.listLag <= 0 || this.pendingListReads === 0) return this.refs;
    return --this.pendingListReads === 0 ? this.refs : this.listedRefs;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const inBase = url.pathname.startsWith(`${this.basePath}/`);
    const path = inBase ? url.pathname.slice(this.basePath.length) : url.pathname;
    const { method = 'GET', headers } = req;
    const log: FakeGitHubRequestLog = { method, path, query: url.search.slice(1), headers };
    this.requests.push(log);
    for (const w of this.waiters) if (w.match(log) && --w.left === 0) w.resolve();
    this.waiters = this.waiters.filter((w) => w.left > 0);
    const body = (await readBody(req)).toString('utf8');
    const latency = typeof this.latencyMs === 'function' ? this.latencyMs() : this.latencyMs;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));

    this.write(res, inBase ? await this.answer(log, url.searchParams, body) : NOT_FOUND, log);
  }

  /** The token check, injected faults, mounted handlers, then the routes. */
  private async answer(
    { method, path, headers }: FakeGitHubRequestLog,
    query: URLSearchParams,
    body: string,
  ): Promise<FakeGitHubResponse> {
    const token = /^(?:Bearer|token) (.+)$/.exec(headers.authorization ?? '')?.[1] ?? '';
    const permissions = token === this.token ? this.permissions : this.tokens.get(token);
    if (!permissions) return UNAUTHORIZED;
    const fault = this.faults.find(
      (f) => f.times > 0 && (!f.match || f.match(method, path, query.toString())),
    );
    if (fault) {
      fault.times--;
      const { status, headers, body = { message: `injected ${status}` } } = fault;
      return { status, headers, body };
    }
    const home = `/repos/${this.owner}/${this.repo}/`;
    const repoPath = path.startsWith(home) ? path.slice(home.length) : undefined;
    const req: FakeGitHubRequest = { method, repoPath, path, query, headers, body, permissions };
    for (const h of this.handlers) {
      const r = await h(req);
      if (r) return r;
    }
    for (const { method: m, path: pattern, needs, answer } of this.routes) {
      const match = m === method ? pattern.exec(path) : null;
      if (!match) continue;
      const [owner, repo, ...params] = match.slice(1).map(decodeURIComponent);
      const denied = this.denied(needs, method, `${owner}/${repo}`, permissions);
      return denied ?? answer(req, owner, repo, ...params);
    }
    return NOT_FOUND;
  }

  /** Why the token may not use a route (404 or 403), or undefined when it may. */
  private denied(
    needs: Route['needs'],
    method: string,
    repository: string,
    { contents, actions }: TokenPermissions,
  ): FakeGitHubResponse | undefined {
    const allowed = method === 'GET' ? contents !== 'none' : contents === 'write';
    if (needs === 'refs' && !this.isHome(repository)) return NOT_FOUND;
    if (needs === 'contents' || needs === 'refs') return allowed ? undefined : FORBIDDEN;
    if (needs !== 'actions') return undefined;
    const access = this.actionsAccess(repository);
    if (access === undefined || access === 'not-found') return NOT_FOUND;
    return access === 'forbidden' || actions === 'none' ? FORBIDDEN : undefined;
  }

  private isHome(repository: string): boolean {
    return repository === `${this.owner}/${this.repo}`;
  }

  /** How the Actions API of a repository answers (undefined: the fake does not know it). */
  private actionsAccess(repository: string): FakeActions['access'] | undefined {
    return this.isHome(repository) ? 'read' : this.repositories.get(repository)?.access;
  }

  private readonly routes: Route[] = [
    // Get a repository: https://docs.github.com/rest/repos/repos#get-a-repository
    // The store reads the default branch, and whether the repository answers at all (a run that
    // answers 404 in a repository that answers 200 was deleted). A repository the token cannot
    // see answers 404; one whose Actions API it may not read (403 there) still answers 200.
    route('GET', '', 'nothing', (_, owner, repo) => {
      const name = `${owner}/${repo}`;
      const access = this.actionsAccess(name);
      if (access === undefined || access === 'not-found') return NOT_FOUND;
      return { status: 200, body: { full_name: name, default_branch: 'main' } };
    }),
    // Get a commit (the default branch's head): https://docs.github.com/rest/commits/commits#get-a-commit
    route('GET', '/commits/([^/]+)', 'refs', (_, owner, repo, ref) => {
      return ref === 'main' || this.commits.has(ref)
        ? { status: 200, body: { sha: ref === 'main' ? this.headSha : ref } }
        : { status: 422, body: { message: `No commit found for SHA: ${ref}` } };
    }),
    // List matching references: https://docs.github.com/rest/git/refs#list-matching-references
    // 200 with an array (empty when nothing matches); `ref` is matched as a prefix of refs/{ref}.
    route('GET', '/git/matching-refs/(.+)', 'refs', (_, owner, repo, ref) => {
      const list = [...this.visibleRefs()]
        .filter(([name]) => name.startsWith(`refs/${ref}`))
        .sort(([a], [b]) => a.localeCompare(b));
      return { status: 200, body: list.map(([name, sha]) => this.refJson(name, sha)) };
    }),
    // Create a reference: https://docs.github.com/rest/git/refs#create-a-reference
    // 201 with the ref; 422 "Reference already exists" / "Object does not exist" / invalid name.
    route('POST', '/git/refs', 'refs', (req, owner, repo) => {
      const input = parseJson(req.body);
      if (!input) return { status: 400, body: { message: 'Problems parsing JSON' } };
      const { ref, sha } = input;
      if (typeof ref !== 'string' || !ref.startsWith('refs/') || ref.split('/').length < 3)
        return { status: 422, body: { message: 'Reference name is invalid' } };
      if (typeof sha !== 'string' || !this.commits.has(sha))
        return { status: 422, body: { message: 'Object does not exist' } };
      if (this.refs.has(ref)) return { status: 422, body: { message: 'Reference already exists' } };
      this.beforeRefWrite();
      this.refs.set(ref, sha);
      const location = `${this.apiUrl}/repos/${owner}/${repo}/git/${ref}`;
      return { status: 201, headers: { location }, body: this.refJson(ref, sha) };
    }),
    // Delete a reference (without "refs/"): https://docs.github.com/rest/git/refs#delete-a-reference
    // 204; 422 "Reference does not exist".
    route('DELETE', '/git/refs/(.+)', 'refs', (_, owner, repo, name) => {
      const ref = `refs/${name}`;
      if (!this.refs.has(ref))
        return { status: 422, body: { message: 'Reference does not exist' } };
      this.beforeRefWrite();
      this.refs.delete(ref);
      return { status: 204 };
    }),
    // Get a reference: https://docs.github.com/rest/git/refs#get-a-reference
    // `heads/<branch>` or `tags/<tag>` in `contents`, exactly, else 404; always fresh.
    route('GET', '/git/ref/(.+)', 'contents', (_, owner, repo, name) => {
      const sha = this.contents.resolveRef(owner, repo, name);
      if (sha === undefined) return NOT_FOUND;
      const api = `${this.apiUrl}/repos/${owner}/${repo}`;
      const object = { type: 'commit', sha, url: `${api}/git/commits/${sha}` };
      return { status: 200, body: { ref: `refs/${name}`, url: `${api}/git/refs/${name}`, object } };
    }),
    // List commits (`sha`, `path`; paged), newest first:
    // https://docs.github.com/rest/commits/commits#list-commits
    route('GET', '/commits', 'contents', (req, owner, repo) => {
      const start = req.query.get('sha') ?? 'main';
      const log = this.contents.log(owner, repo, start, req.query.get('path') ?? undefined);
      if (!log) return { status: 404, body: { message: `No commit found for SHA: ${start}` } };
      const api = `${this.apiUrl}/repos/${owner}/${repo}`;
      const { slice, headers } = this.page(log, req);
      const body = slice.map((c) => {
        const who = { name: 'eol-gate test', email: 'test@example.com', date: c.date };
        return {
          sha: c.sha,
          commit: { author: who, committer: who, message: c.message },
          url: `${api}/commits/${c.sha}`,
          parents: c.parent ? [{ sha: c.parent, url: `${api}/commits/${c.parent}` }] : [],
        };
      });
      return { status: 200, headers, body };
    }),
    // Get a blob: https://docs.github.com/rest/git/blobs#get-a-blob
    route('GET', '/git/blobs/([0-9a-f]{40})', 'contents', (req, owner, repo, sha) => {
      const bytes = this.contents.blob(sha);
      if (!bytes || !this.contents.hasRepo(owner, repo)) return NOT_FOUND;
      if (wantsRaw(req)) return { status: 200, body: bytes };
      const body = { sha, size: bytes.length, content: wrapBase64(bytes), encoding: 'base64' };
      return { status: 200, body };
    }),
    // Get repository content: https://docs.github.com/rest/repos/contents#get-repository-content
    // Over 1 MB the JSON carries `content: ""` and `encoding: "none"`; the raw media type still
    // works. `ref` is a commit sha, a branch or a tag name; by name the answer may be a cached one.
    route('GET', '/contents/(.+)', 'contents', (req, owner, repo, path) => {
      const ref = req.query.get('ref') ?? 'main';
      const files = this.contents.filesAt(owner, repo, ref, path) ?? new Map<string, string>();
      const sha = files.get(path);
      const children =
        sha === undefined ? [...files.keys()].filter((p) => p.startsWith(`${path}/`)) : [];
      // A directory: an array of entries (files only here).
      if (children.length > 0)
        return { status: 200, body: children.map((p) => ({ ...fileEntry(p), sha: files.get(p) })) };
      if (sha === undefined) return NOT_FOUND;
      const bytes = this.contents.blob(sha)!;
      if (wantsRaw(req)) return { status: 200, body: bytes };
      const large = bytes.length > LARGE_FILE_BYTES;
      const api = `${this.apiUrl}/repos/${owner}/${repo}`;
      return {
        status: 200,
        body: {
          ...fileEntry(path),
          sha,
          size: bytes.length,
          encoding: large ? 'none' : 'base64',
          content: large ? '' : wrapBase64(bytes),
          url: `${api}/contents/${path}?ref=${ref}`,
          git_url: `${api}/git/blobs/${sha}`,
          download_url: `https://raw.githubusercontent.com/${owner}/${repo}/${ref}/${path}`,
        },
      };
    }),
    // Create or update file contents:
    // https://docs.github.com/rest/repos/contents#create-or-update-file-contents
    // 200 updated, 201 created, 404, 409 (sha does not match), 422 (validation failed).
    route('PUT', '/contents/(.+)', 'contents', (req, owner, repo, path) => {
      const body = parseJson(req.body);
      if (!body) return { status: 400, body: { message: 'Problems parsing JSON' } };
      const invalid = (message: string) => ({ status: 422, body: { message, status: '422' } });
      const missing = (what: string) => invalid(`Invalid request.\n\n"${what}" wasn't supplied.`);
      if (typeof body.message !== 'string' || body.message === '') return missing('message');
      if (typeof body.content !== 'string') return missing('content');
      if (!isBase64(body.content)) return invalid('content is not valid Base64');
      const branch = typeof body.branch === 'string' ? body.branch : 'main';
      if (!this.contents.hasBranch(owner, repo, branch))
        return { status: 404, body: { message: `Branch ${branch} not found` } };
      // Nothing awaits from the check to the state change: the check-and-set is atomic, like GitHub's.
      const current = this.contents.fileSha(owner, repo, branch, path);
      if (current !== undefined && body.sha === undefined) return missing('sha');
      if (body.sha !== undefined && body.sha !== current) {
        const message = `${path} does not match ${String(body.sha)}`;
        return { status: 409, body: { message, status: '409' } };
      }
      const content = Buffer.from(body.content, 'base64');
      const sha = this.contents.setFile(owner, repo, branch, path, content, body.message);
      const commit = { sha: this.contents.head(owner, repo, branch)!, message: body.message };
      this.contents.commits.push({ ...commit, path });
      const file = { ...fileEntry(path), sha, size: content.length };
      return { status: current === undefined ? 201 : 200, body: { content: file, commit } };
    }),
    // Get a workflow run: https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run
    // status: queued | in_progress | completed | waiting | requested | pending; run_attempt counts
    // re-runs; updated_at changes with the status (a completed run's: when it completed).
    route('GET', RUN, 'actions', (_, owner, repo, id) => {
      const repository = `${owner}/${repo}`;
      const run = this.actions(repository).runs.get(Number(id));
      if (!run) return NOT_FOUND;
      const html_url = `https://github.com/${repository}/actions/runs/${run.id}`;
      const body = { ...run, display_title: run.name, html_url, created_at: run.run_started_at };
      return { status: 200, body };
    }),
    // Get a job for a workflow run:
    // https://docs.github.com/rest/actions/workflow-jobs#get-a-job-for-a-workflow-run
    // status: queued | in_progress | completed | waiting | requested | pending;
    // conclusion: success | failure | cancelled | skipped | timed_out | ... | null.
    route('GET', '/actions/jobs/(\\d+)', 'actions', (_, owner, repo, id) => {
      const job = this.actions(`${owner}/${repo}`).jobs.get(Number(id));
      return job ? { status: 200, body: this.jobJson(`${owner}/${repo}`, job) } : NOT_FOUND;
    }),
    // List jobs for a workflow run:
    // https://docs.github.com/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run
    // `filter`: latest (default: the jobs of the most recent attempt) | all (every attempt's);
    // 404 for an unknown run.
    route('GET', `${RUN}/jobs`, 'actions', (req, owner, repo, id) => {
      const run = this.actions(`${owner}/${repo}`).runs.get(Number(id));
      if (!run) return NOT_FOUND;
      const filter = req.query.get('filter') ?? 'latest';
      if (filter !== 'latest' && filter !== 'all')
        return { status: 422, body: { message: `Invalid filter: ${filter}` } };
      return this.jobList(req, `${owner}/${repo}`, run, filter === 'all' ? 0 : run.run_attempt);
    }),
    // List jobs for a workflow run attempt (GitHub Enterprise Server too):
    // https://docs.github.com/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run-attempt
    // Each job with `runner_name` (null until assigned); 404 for an unknown run or an attempt it
    // has not reached.
    route('GET', `${RUN}/attempts/(\\d+)/jobs`, 'actions', (req, owner, repo, id, n) => {
      const run = this.actions(`${owner}/${repo}`).runs.get(Number(id));
      const attempt = Number(n);
      if (!run || attempt < 1 || attempt > run.run_attempt) return NOT_FOUND;
      return this.jobList(req, `${owner}/${repo}`, run, attempt);
    }),
  ];

  private refJson(ref: string, sha: string): Record<string, unknown> {
    const api = `${this.apiUrl}/repos/${this.owner}/${this.repo}`;
    return {
      ref,
      node_id: Buffer.from(ref).toString('base64'),
      url: `${api}/git/${ref}`,
      object: { sha, type: 'commit', url: `${api}/git/commits/${sha}` },
    };
  }

  private jobJson(repository: string, job: FakeJob): Record<string, unknown> {
    const api = `${this.apiUrl}/repos/${repository}`;
    return {
      ...job,
      runner_name: job.runner_name ?? null,
      url: `${api}/actions/jobs/${job.id}`,
      html_url: `https://github.com/${repository}/actions/runs/${job.run_id}/job/${job.id}`,
      run_url: `${api}/actions/runs/${job.run_id}`,
    };
  }

  /** The jobs of a run, of one attempt (0: all), by id: paged, in `{ total_count, jobs }`. */
  private jobList(
    req: FakeGitHubRequest,
    repository: string,
    run: FakeRun,
    attempt: number,
  ): FakeGitHubResponse {
    const all = [...this.actions(repository).jobs.values()]
      .filter((j) => j.run_id === run.id && (attempt === 0 || j.run_attempt === attempt))
      .sort((a, b) => a.id - b.id);
    const { slice, headers } = this.page(all, req);
    const jobs = slice.map((j) => this.jobJson(repository, j));
    return { status: 200, headers, body: { total_count: all.length, jobs } };
  }

  /**
   * One page of a listing: `per_page` (default 30, max 100), `page` (from 1), with GitHub's
   * `Link` header (rel next and last, prev and first) where there are other pages.
   */
  private page<T>(
    items: T[],
    { path, query }: FakeGitHubRequest,
  ): { slice: T[]; headers: Record<string, string> } {
    const perPage = Math.min(100, Math.max(1, Number(query.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (n: number, rel: string) => {
      const q = new URLSearchParams(query);
      q.set('page', String(n));
      return `<${this.apiUrl}${path}?${q}>; rel="${rel}"`;
    };
    const links = [
      ...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : []),
      ...(page > 1 ? [link(page - 1, 'prev'), link(1, 'first')] : []),
    ];
    return {
      slice: items.slice((page - 1) * perPage, page * perPage),
      headers: links.length > 0 ? { link: links.join(', ') } : {},
    };
  }
}

/** A file's entry in the contents API. */
function fileEntry(path: string): { type: 'file'; name?: string; path: string } {
  return { type: 'file', name: path.split('/').pop(), path };
}

/** Whether a request asks for the raw media type (`application/vnd.github.raw`, `+json` too). */
function wantsRaw(req: FakeGitHubRequest): boolean {
  return /application\/vnd\.github(\.v3)?\.raw/.test(req.headers.accept ?? '');
}
