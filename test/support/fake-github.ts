/**
 * A fake GitHub REST API on 127.0.0.1, speaking the endpoints GitHubStore uses (git refs,
 * workflow runs, the jobs of a run and of a run attempt) with rate-limit headers, ETags and
 * conditional requests (`If-None-Match` → 304, which GitHub does not count against the rate
 * limit), switches for latency, injected faults
 * (primary and secondary rate limits, 5xx), token permissions and an eventually consistent
 * matching-refs. Refs live in one repository (`owner/repo`); the Actions API (runs, jobs) also
 * answers for other repositories added with `addRepository`, as a coordination repository shared
 * by the pipelines of several repositories needs. Other endpoints (e.g. the contents API in
 * fake-github-contents.ts) mount through `mount`.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';

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
  path: string;
  /** The query string, without `?` ('' for none). */
  query?: string;
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

export interface FakeGitHubRequest {
  method: string;
  /** Path below the repository, e.g. `contents/image-info.json` (undefined outside /repos/{owner}/{repo}/). */
  repoPath?: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface FakeGitHubResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** Answers a request, or returns undefined to let the next handler try. */
export type FakeGitHubHandler = (
  req: FakeGitHubRequest,
) => FakeGitHubResponse | undefined | Promise<FakeGitHubResponse | undefined>;

export interface GitHubFault {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  match?: (method: string, path: string) => boolean;
  times: number;
}

export class FakeGitHub {
  readonly owner: string;
  readonly repo: string;
  readonly token: string;
  /** Full ref name → sha. */
  readonly refs = new Map<string, string>();
  readonly runs = new Map<number, FakeRun>();
  /** Jobs of the runs of `owner/repo`, by id. */
  readonly jobs = new Map<number, FakeJob>();
  /** Other repositories whose Actions API the fake serves, by `owner/name`. */
  readonly repositories = new Map<string, FakeActions>();
  readonly requests: FakeGitHubRequestLog[] = [];
  /** The fake's clock (ms): every time it writes into runs and jobs (`updated_at`, `started_at`, ...). */
  clock: () => number = () => Date.now();
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
  /** Token permissions, as a workflow's `permissions:` block grants them. */
  permissions: { contents: 'read' | 'write' | 'none'; actions: 'read' | 'none' } = {
    contents: 'write',
    actions: 'read',
  };
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
  private waiters: Array<{
    match: (r: { method: string; path: string; query?: string }) => boolean;
    left: number;
    resolve: () => void;
  }> = [];
  private handlers: FakeGitHubHandler[] = [];
  private server?: Server;
  private base = '';
  private nextRunId = 5000;
  private nextJobId = 90_000;

  constructor(options: { owner?: string; repo?: string; token?: string } = {}) {
    this.owner = options.owner ?? 'octo';
    this.repo = options.repo ?? 'images';
    this.token = options.token ?? 'ghs_fake_secret_token';
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
    return this.base;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e) =>
        this.write(res, { status: 500, body: { message: String(e) } }),
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Adds an endpoint (tried before the built-in ones, after auth, faults and latency). */
  mount(handler: FakeGitHubHandler): void {
    this.handlers.push(handler);
  }

  /** `owner/repo` itself, or a repository added with `addRepository`. */
  actions(repository?: string): FakeActions {
    if (!repository || repository === `${this.owner}/${this.repo}`)
      return { runs: this.runs, jobs: this.jobs, access: 'read' };
    const other = this.repositories.get(repository);
    if (!other) throw new Error(`fake GitHub: no repository ${repository}`);
    return other;
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

  run(id: number, repository?: string): FakeRun {
    const r = this.actions(repository).runs.get(id);
    if (!r) throw new Error(`fake GitHub: no run ${id}`);
    return r;
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
    const j = this.actions(repository).jobs.get(id);
    if (!j) throw new Error(`fake GitHub: no job ${id}`);
    return j;
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

  /** Forgets every run, job and added repository (refs stay: clear `refs` for those). */
  clearActions(): void {
    this.runs.clear();
    this.jobs.clear();
    this.repositories.clear();
  }

  /**
   * Resolves once `count` more requests matching `match` have arrived: lets a test act on what
   * a process under test did (e.g. polled the store twice) instead of on the clock.
   */
  waitForRequests(
    match: (r: { method: string; path: string; query?: string }) => boolean,
    count = 1,
  ): Promise<void> {
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
  private write(
    res: ServerResponse,
    r: FakeGitHubResponse,
    req?: { method: string; headers: IncomingHttpHeaders; log: FakeGitHubRequestLog },
  ): void {
    if (req?.method === 'GET' && r.status === 200 && r.body !== undefined) {
      const etag =
        r.headers?.etag ??
        `W/"${createHash('sha256').update(JSON.stringify(r.body)).digest('hex').slice(0, 40)}"`;
      const asked = (req.headers['if-none-match'] ?? '')
        .split(',')
        .map((t) => t.trim().replace(/^W\//, ''));
      r = asked.includes(etag.replace(/^W\//, ''))
        ? { status: 304, headers: { ...r.headers, etag } }
        : { ...r, headers: { ...r.headers, etag } };
    }
    if (req) req.log.status = r.status;
    if (this.spendRateLimit && r.status !== 304 && this.rateLimit.remaining > 0)
      this.rateLimit.remaining--;
    const rl = this.rateLimit;
    const headers: Record<string, string> = {
      'x-ratelimit-limit': String(rl.limit),
      'x-ratelimit-remaining': String(rl.remaining),
      'x-ratelimit-reset': String(rl.resetEpochSeconds),
      'x-ratelimit-used': String(rl.limit - rl.remaining),
      'x-ratelimit-resource': 'core',
      'x-github-api-version-selected': '2022-11-28',
      ...r.headers,
    };
    if (r.body === undefined) {
      res.writeHead(r.status, headers);
      res.end();
      return;
    }
    res.writeHead(r.status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(r.body));
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
    const url = new URL(req.url ?? '/', this.base);
    const method = req.method ?? 'GET';
    const log: FakeGitHubRequestLog = { method, path: url.pathname, query: url.search.slice(1) };
    this.requests.push(log);
    for (const w of this.waiters) if (w.match(log) && --w.left === 0) w.resolve();
    this.waiters = this.waiters.filter((w) => w.left > 0);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const latency = typeof this.latencyMs === 'function' ? this.latencyMs() : this.latencyMs;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));

    const r = await this.answer(method, url, req.headers, body);
    this.write(res, r, { method, headers: req.headers, log });
  }

  private async answer(
    method: string,
    url: URL,
    headers: IncomingHttpHeaders,
    body: string,
  ): Promise<FakeGitHubResponse> {
    const auth = headers.authorization;
    if (auth !== `Bearer ${this.token}` && auth !== `token ${this.token}`) {
      return {
        status: 401,
        body: { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' },
      };
    }
    const fault = this.faults.find(
      (f) => f.times > 0 && (!f.match || f.match(method, url.pathname)),
    );
    if (fault) {
      fault.times--;
      return {
        status: fault.status,
        headers: fault.headers,
        body: fault.body ?? { message: `injected ${fault.status}` },
      };
    }
    const repoPrefix = `/repos/${this.owner}/${this.repo}/`;
    const repoPath = url.pathname.startsWith(repoPrefix)
      ? url.pathname.slice(repoPrefix.length)
      : undefined;
    const other = /^\/repos\/([^/]+\/[^/]+)\/(actions\/.*)$/.exec(url.pathname);
    for (const h of this.handlers) {
      const r = await h({
        method,
        repoPath,
        path: url.pathname,
        query: url.searchParams,
        headers,
        body,
      });
      if (r) return r;
    }
    // Get a repository: GET /repos/{owner}/{repo}
    // https://docs.github.com/rest/repos/repos#get-a-repository
    // The store reads the default branch, and whether the repository answers at all (a run that
    // answers 404 in a repository that answers 200 was deleted). A repository the token cannot
    // see answers 404; one whose Actions API it may not read (403 there) still answers 200.
    const repoMatch = /^\/repos\/([^/]+\/[^/]+)$/.exec(url.pathname);
    if (method === 'GET' && repoMatch) {
      const name = decodeURIComponent(repoMatch[1]);
      const known =
        name === `${this.owner}/${this.repo}` ||
        (this.repositories.has(name) && this.repositories.get(name)!.access !== 'not-found');
      return known
        ? { status: 200, body: { full_name: name, default_branch: 'main' } }
        : { status: 404, body: { message: 'Not Found' } };
    }
    if (repoPath === undefined) {
      const actions = other && this.repositories.get(decodeURIComponent(other[1]));
      if (!actions || method !== 'GET') return { status: 404, body: { message: 'Not Found' } };
      return this.actionsRoute(decodeURIComponent(other![1]), actions, other![2], url.searchParams);
    }
    return this.route(method, repoPath, body, url.searchParams);
  }

  private forbidden(): FakeGitHubResponse {
    return {
      status: 403,
      body: {
        message: 'Resource not accessible by integration',
        documentation_url: 'https://docs.github.com/rest',
      },
    };
  }

  private refJson(ref: string, sha: string): Record<string, unknown> {
    return {
      ref,
      node_id: Buffer.from(ref).toString('base64'),
      url: `${this.base}/repos/${this.owner}/${this.repo}/git/${ref}`,
      object: {
        sha,
        type: 'commit',
        url: `${this.base}/repos/${this.owner}/${this.repo}/git/commits/${sha}`,
      },
    };
  }

  private route(
    method: string,
    path: string,
    body: string,
    query: URLSearchParams,
  ): FakeGitHubResponse {
    // Get a commit: GET /repos/{owner}/{repo}/commits/{ref} (the default branch's head).
    // https://docs.github.com/rest/commits/commits#get-a-commit
    if (method === 'GET' && /^commits\/[^/]+$/.test(path)) {
      if (this.permissions.contents === 'none') return this.forbidden();
      const ref = decodeURIComponent(path.slice('commits/'.length));
      return ref === 'main' || this.commits.has(ref)
        ? { status: 200, body: { sha: ref === 'main' ? this.headSha : ref } }
        : { status: 422, body: { message: `No commit found for SHA: ${ref}` } };
    }
    // List matching references: GET /repos/{owner}/{repo}/git/matching-refs/{ref}
    // https://docs.github.com/rest/git/refs#list-matching-references
    // 200 with an array (empty when nothing matches); `ref` is matched as a prefix of refs/{ref}.
    if (method === 'GET' && path.startsWith('git/matching-refs/')) {
      if (this.permissions.contents === 'none') return this.forbidden();
      const prefix = `refs/${decodeURIComponent(path.slice('git/matching-refs/'.length))}`;
      const list = [...this.visibleRefs()]
        .filter(([ref]) => ref.startsWith(prefix))
        .sort(([a], [b]) => a.localeCompare(b));
      return { status: 200, body: list.map(([ref, sha]) => this.refJson(ref, sha)) };
    }
    // Create a reference: POST /repos/{owner}/{repo}/git/refs { ref, sha }
    // https://docs.github.com/rest/git/refs#create-a-reference
    // 201 with the ref; 422 "Reference already exists" / "Object does not exist" / invalid name.
    if (method === 'POST' && path === 'git/refs') {
      if (this.permissions.contents !== 'write') return this.forbidden();
      let input: { ref?: unknown; sha?: unknown };
      try {
        input = JSON.parse(body) as typeof input;
      } catch {
        return { status: 400, body: { message: 'Problems parsing JSON' } };
      }
      const { ref, sha } = input;
      if (typeof ref !== 'string' || !ref.startsWith('refs/') || ref.split('/').length < 3) {
        return { status: 422, body: { message: 'Reference name is invalid' } };
      }
      if (typeof sha !== 'string' || !this.commits.has(sha))
        return { status: 422, body: { message: 'Object does not exist' } };
      if (this.refs.has(ref)) return { status: 422, body: { message: 'Reference already exists' } };
      this.beforeRefWrite();
      this.refs.set(ref, sha);
      return {
        status: 201,
        headers: { location: `${this.base}/repos/${this.owner}/${this.repo}/git/${ref}` },
        body: this.refJson(ref, sha),
      };
    }
    // Delete a reference: DELETE /repos/{owner}/{repo}/git/refs/{ref} (ref without "refs/")
    // https://docs.github.com/rest/git/refs#delete-a-reference
    // 204; 422 "Reference does not exist".
    if (method === 'DELETE' && path.startsWith('git/refs/')) {
      if (this.permissions.contents !== 'write') return this.forbidden();
      const ref = `refs/${decodeURIComponent(path.slice('git/refs/'.length))}`;
      if (!this.refs.has(ref))
        return { status: 422, body: { message: 'Reference does not exist' } };
      this.beforeRefWrite();
      this.refs.delete(ref);
      return { status: 204 };
    }
    if (method === 'GET' && path.startsWith('actions/'))
      return this.actionsRoute(`${this.owner}/${this.repo}`, this.actions(), path, query);
    return { status: 404, body: { message: 'Not Found' } };
  }

  private jobJson(repository: string, job: FakeJob): Record<string, unknown> {
    return {
      ...job,
      runner_name: job.runner_name ?? null,
      url: `${this.base}/repos/${repository}/actions/jobs/${job.id}`,
      html_url: `https://github.com/${repository}/actions/runs/${job.run_id}/job/${job.id}`,
      run_url: `${this.base}/repos/${repository}/actions/runs/${job.run_id}`,
    };
  }

  private actionsRoute(
    repository: string,
    actions: FakeActions,
    path: string,
    query: URLSearchParams,
  ): FakeGitHubResponse {
    const notFound = {
      status: 404,
      body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
    };
    if (actions.access === 'not-found') return notFound;
    if (actions.access === 'forbidden' || this.permissions.actions === 'none')
      return this.forbidden();
    // Get a workflow run: GET /repos/{owner}/{repo}/actions/runs/{run_id}
    // https://docs.github.com/rest/actions/workflow-runs#get-a-workflow-run
    // status: queued | in_progress | completed | waiting | requested | pending; run_attempt counts
    // re-runs; updated_at changes with the status (a completed run's: when it completed).
    const runMatch = /^actions\/runs\/(\d+)$/.exec(path);
    if (runMatch) {
      const run = actions.runs.get(Number(runMatch[1]));
      if (!run) return notFound;
      return {
        status: 200,
        body: {
          ...run,
          display_title: run.name,
          html_url: `https://github.com/${repository}/actions/runs/${run.id}`,
          created_at: run.run_started_at,
        },
      };
    }
    // Get a job for a workflow run: GET /repos/{owner}/{repo}/actions/jobs/{job_id}
    // https://docs.github.com/rest/actions/workflow-jobs#get-a-job-for-a-workflow-run
    // status: queued | in_progress | completed | waiting | requested | pending;
    // conclusion: success | failure | cancelled | skipped | timed_out | ... | null.
    const jobMatch = /^actions\/jobs\/(\d+)$/.exec(path);
    if (jobMatch) {
      const job = actions.jobs.get(Number(jobMatch[1]));
      return job ? { status: 200, body: this.jobJson(repository, job) } : notFound;
    }
    // List jobs for a workflow run: GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs
    // https://docs.github.com/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run
    // `filter`: latest (default: the jobs of the most recent attempt) | all (every attempt's);
    // `per_page` (default 30, max 100), `page` (from 1); 200 { total_count, jobs }, with a
    // `Link` header (rel="next", rel="last") when there are more pages; 404 for an unknown run.
    const jobsMatch = /^actions\/runs\/(\d+)\/jobs$/.exec(path);
    if (jobsMatch) {
      const run = actions.runs.get(Number(jobsMatch[1]));
      if (!run) return notFound;
      const filter = query.get('filter') ?? 'latest';
      if (filter !== 'latest' && filter !== 'all')
        return { status: 422, body: { message: `Invalid filter: ${filter}` } };
      return this.jobsPage(
        repository,
        [...actions.jobs.values()].filter(
          (j) => j.run_id === run.id && (filter === 'all' || j.run_attempt === run.run_attempt),
        ),
        path,
        query,
      );
    }
    // List jobs for a workflow run attempt:
    // GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt_number}/jobs
    // https://docs.github.com/rest/actions/workflow-jobs#list-jobs-for-a-workflow-run-attempt
    // (GitHub Enterprise Server too). `per_page` (default 30, max 100), `page` (from 1); 200
    // { total_count, jobs } (each job with `runner_name`, null until assigned), with a `Link`
    // header when there are more pages; 404 for an unknown run or an attempt it has not reached.
    const attemptMatch = /^actions\/runs\/(\d+)\/attempts\/(\d+)\/jobs$/.exec(path);
    if (attemptMatch) {
      const run = actions.runs.get(Number(attemptMatch[1]));
      const attempt = Number(attemptMatch[2]);
      if (!run || attempt < 1 || attempt > run.run_attempt) return notFound;
      return this.jobsPage(
        repository,
        [...actions.jobs.values()].filter((j) => j.run_id === run.id && j.run_attempt === attempt),
        path,
        query,
      );
    }
    return notFound;
  }

  /** One page of a jobs listing (by id), with GitHub's `Link` header to the next and last pages. */
  private jobsPage(
    repository: string,
    jobs: FakeJob[],
    path: string,
    query: URLSearchParams,
  ): FakeGitHubResponse {
    const perPage = Math.min(100, Math.max(1, Number(query.get('per_page') ?? 30) || 30));
    const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
    const all = [...jobs].sort((a, b) => a.id - b.id);
    const last = Math.max(1, Math.ceil(all.length / perPage));
    const pageUrl = (n: number) => {
      const q = new URLSearchParams(query);
      q.set('page', String(n));
      return `${this.base}/repos/${repository}/${path}?${q}`;
    };
    const link =
      page < last ? `<${pageUrl(page + 1)}>; rel="next", <${pageUrl(last)}>; rel="last"` : '';
    return {
      status: 200,
      headers: link ? { link } : {},
      body: {
        total_count: all.length,
        jobs: all
          .slice((page - 1) * perPage, page * perPage)
          .map((job) => this.jobJson(repository, job)),
      },
    };
  }
}
