import { InputError, RuntimeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { assertJobId, markerName, parseMarkerName } from '../core/markers.js';
import {
  assertGroupName,
  deletableMarkers,
  joinParticipants,
  RERUN_WINDOW_MS,
  runAliveFor,
  runKey,
  uncoveredPublishing,
  type JobStatus,
  type RawMarker,
  type RunStatus,
} from '../core/protocol.js';
import {
  githubClient,
  isRateLimit,
  isRequestError,
  requestErrorDetail,
  type GitHubClient,
  type RequestError,
} from '../util/github.js';
import { assertSecureUrl, HttpStatusError, type RetryPolicy } from '../util/http.js';
import {
  type CoordinationStore,
  type CoverScope,
  type GroupRun,
  type MarkerState,
  type ParticipantIdentity,
} from './port.js';

export interface GitHubStoreOptions {
  /** `GITHUB_API_URL` (GHES: https://host/api/v3); http only for loopback. */
  apiUrl: string;
  /** The workflow's repository (`GITHUB_REPOSITORY`): where this run's status is read. */
  owner: string;
  repo: string;
  /**
   * Where the marker refs live when pipelines of several repositories form one group
   * (`coordinationRepository`); markers then name their run's repository. Default: `owner/repo`.
   */
  coordination?: { owner: string; repo: string };
  /** `GITHUB_RUN_ID`. */
  runId: string | number;
  /** `GITHUB_RUN_ATTEMPT`. */
  runAttempt: number;
  /**
   * The job's check run id (`job.check_run_id`); without it the whole run is one participant,
   * unless `identifyJob` names the job before the store is used.
   */
  jobId?: string;
  /** `GITHUB_SHA`: the commit the marker refs point at (any commit of the coordination repository). */
  sha: string;
  /**
   * A commit of the coordination repository for the marker refs to point at (EOL_GATE_MARKER_SHA).
   * Default: `sha` in the workflow's own repository; the head of the coordination repository's
   * default branch when markers live elsewhere (GITHUB_SHA does not exist there).
   */
  markerSha?: string;
  /** Needs `contents: write` (refs) and `actions: read` (run and job status). Never logged. */
  token: string;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  readBack?: { attempts?: number; delayMs?: number };
  now?: () => number;
  /** Wait for a secondary rate limit that gave no `retry-after` (GitHub: at least a minute). */
  secondaryRateLimitWaitMs?: number;
}

const PERMISSIONS_HINT =
  'the token needs `contents: write` (markers are git refs) and `actions: read` (run and job status); ' +
  'in a workflow: `permissions: { contents: write, actions: read }`';

interface GitRef {
  ref: string;
  object?: { sha?: string };
}

interface WorkflowRun {
  id: number;
  status?: string;
  run_attempt?: number;
  html_url?: string;
  run_started_at?: string;
  created_at?: string;
  updated_at?: string;
  name?: string;
  display_title?: string;
}

/** A job of `GET /actions/runs/{run_id}/jobs` (GitHub documents `started_at` as never null). */
interface WorkflowJob {
  id?: unknown;
  run_attempt?: number;
  status?: unknown;
  conclusion?: string | null;
  /** Null until the job is assigned to a runner. */
  runner_name?: string | null;
  started_at?: string | null;
  completed_at?: string | null;
  name?: string;
  html_url?: string | null;
}

/**
 * A job of this run attempt as `GET /actions/runs/{run_id}/attempts/{attempt}/jobs` lists it:
 * enough for a job to find its own id by the runner that runs it.
 */
export interface AttemptJob {
  /** The job's id (its check run id), decimal. */
  id: string;
  /** queued | in_progress | completed | waiting | requested | pending. */
  status: string;
  /** The runner it was assigned to; undefined until it is assigned. */
  runnerName?: string;
  name?: string;
}

/** What a GET answered last for one URL: sent back as `If-None-Match`, reused on a 304. */
interface Cached {
  etag: string;
  data: unknown;
  link?: string;
}

/** The primary rate limit as the last response reported it (`x-ratelimit-*`). */
export interface RateLimitState {
  limit: number;
  remaining: number;
  /** When the window resets (ms since the epoch, from `x-ratelimit-reset`). */
  resetMs?: number;
}

/** GitHub's primary rate limit counts requests per hour. */
const RATE_LIMIT_WINDOW_MS = 3600_000;
/** The most a low budget stretches the poll interval (30 s → 10 min). */
export const MAX_POLL_DELAY_FACTOR = 20;
/** More pages than this in one listing fails it rather than judging from part of it. */
const MAX_PAGES = 100;

/**
 * How much to stretch the poll interval so that the rate-limit budget lasts until it resets
 * (the budget is shared with every other job using the token in the repository). 1 while at
 * least half of the limit remains, or at least the share of the window still to run (spending
 * at the pace that lasts); otherwise the factor by which the pace must slow for what remains to
 * last until the reset, at most MAX_POLL_DELAY_FACTOR.
 */
export function pollDelayFactorFor(rate: RateLimitState | undefined, nowMs: number): number {
  if (!rate || !(rate.limit > 0) || !(rate.remaining >= 0)) return 1;
  const left = rate.remaining / rate.limit;
  if (left >= 0.5) return 1;
  const windowLeft =
    rate.resetMs === undefined
      ? 1
      : Math.min(1, Math.max(0, (rate.resetMs - nowMs) / RATE_LIMIT_WINDOW_MS));
  if (left >= windowLeft) return 1;
  return Math.min(MAX_POLL_DELAY_FACTOR, windowLeft / Math.max(left, 1 / rate.limit));
}

/** The URL of rel="next" in a `Link` header. */
function nextLink(link: string | undefined): string | undefined {
  return link?.match(/<([^<>]+)>\s*;\s*rel="next"/)?.[1];
}

/** A time GitHub reports (ISO 8601) → ms; undefined when absent or unreadable. */
function timeOf(iso: string | null | undefined): number | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Job statuses in which a job has not started: GitHub reports a `started_at` for them anyway. */
const NOT_STARTED = new Set(['queued', 'waiting', 'requested', 'pending']);

const OWNER_OR_REPO = /^[A-Za-z0-9_.-]+$/;

/**
 * `refs/eol-gate/<group>/<marker>`, or `refs/eol-gate/<group>/<owner>/<repo>/<marker>` for a run
 * of another repository than the coordination repository → the marker (its `repository` set
 * only for such runs); undefined for foreign refs.
 */
export function parseMarkerRef(
  group: string,
  ref: string,
  coordinationRepository?: string,
): RawMarker | undefined {
  const prefix = `refs/eol-gate/${group}/`;
  if (!ref.startsWith(prefix)) return undefined;
  const parts = ref.slice(prefix.length).split('/');
  if (parts.length === 1) return parseMarkerName(parts[0]);
  if (parts.length === 3 && OWNER_OR_REPO.test(parts[0]) && OWNER_OR_REPO.test(parts[1])) {
    const repository = `${parts[0]}/${parts[1]}`;
    return parseMarkerName(
      parts[2],
      repository === coordinationRepository ? undefined : repository,
    );
  }
  return undefined;
}

export function markerRef(
  group: string,
  who: ParticipantIdentity,
  state: MarkerState,
  scope: CoverScope,
  stamp: number,
  coordinationRepository?: string,
): string {
  const repo =
    who.repository && who.repository !== coordinationRepository ? `${who.repository}/` : '';
  return `refs/eol-gate/${group}/${repo}${markerName(who, state, scope, stamp)}`;
}

/**
 * Markers as git refs, one per (participant, state, time), all found with one `matching-refs`
 * call; a run's liveness from `GET /actions/runs/{id}` and every job of it (all attempts, with
 * the service's start and completion times) from one `GET /actions/runs/{id}/jobs?filter=all`.
 * Every GET is conditional (`If-None-Match` with the ETag of its last answer, kept for the life
 * of the store): a poll that finds nothing changed costs 304s, which GitHub does not count
 * against the rate limit. Listing never writes; `cleanup` deletes the refs of deleted runs and of
 * completed runs whose markers can no longer count.
 */
export class GitHubStore implements CoordinationStore {
  readonly kind = 'github' as const;
  private identity: ParticipantIdentity;
  /** Set by the first signal, listing or cleanup: the participant is fixed from then on. */
  private used = false;
  private readonly coordinationRepo: string;
  /** The workflow's repository, where this run's status lives. */
  private readonly ownRepo: string;
  private readonly octokit: GitHubClient;
  private resolvedMarkerSha?: Promise<string>;
  private readonly logger?: Logger;
  private readonly readBack: { attempts: number; delayMs: number };
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  /** By URL: the last answer of every GET, for conditional requests. */
  private readonly cache = new Map<string, Cached>();
  private rate?: RateLimitState;

  constructor(private readonly options: GitHubStoreOptions) {
    let url: URL;
    try {
      url = new URL(options.apiUrl);
    } catch {
      throw new InputError(`apiUrl: not a URL: ${JSON.stringify(options.apiUrl)}`);
    }
    assertSecureUrl(url, 'apiUrl');
    const coordination = options.coordination ?? { owner: options.owner, repo: options.repo };
    for (const [name, r] of [
      ['repository', { owner: options.owner, repo: options.repo }],
      ['coordinationRepository', coordination],
    ] as const) {
      if (!OWNER_OR_REPO.test(r.owner) || !OWNER_OR_REPO.test(r.repo))
        throw new InputError(
          `${name}: expected owner/name, got ${JSON.stringify(`${r.owner}/${r.repo}`)}`,
        );
    }
    if (!/^\d+$/.test(String(options.runId)))
      throw new InputError(`runId: expected a number, got ${JSON.stringify(options.runId)}`);
    if (!Number.isInteger(options.runAttempt) || options.runAttempt < 1) {
      throw new InputError(
        `runAttempt: expected a positive integer, got ${JSON.stringify(options.runAttempt)}`,
      );
    }
    if (options.jobId !== undefined) assertJobId(options.jobId);
    for (const [name, sha] of [
      ['sha', options.sha],
      ['EOL_GATE_MARKER_SHA', options.markerSha],
    ] as const)
      if (sha !== undefined && !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha))
        throw new InputError(`${name}: expected a commit id, got ${JSON.stringify(sha)}`);
    if (!options.token) throw new InputError('token: missing (GITHUB_TOKEN)');
    this.coordinationRepo = `${coordination.owner}/${coordination.repo}`;
    this.ownRepo = `${options.owner}/${options.repo}`;
    this.logger = options.logger;
    this.identity = {
      runId: String(options.runId),
      attempt: options.runAttempt,
      jobId: options.jobId,
      // Markers name their run's repository only when it is not the coordination repository.
      repository: this.ownRepo === this.coordinationRepo ? undefined : this.ownRepo,
    };
    this.readBack = {
      attempts: options.readBack?.attempts ?? 8,
      delayMs: options.readBack?.delayMs ?? 250,
    };
    this.sleep = options.retry?.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = options.now ?? Date.now;
    this.octokit = githubClient({
      apiUrl: url.toString(),
      token: options.token,
      retry: options.retry,
      logger: options.logger,
      secondaryRateLimitWaitMs: options.secondaryRateLimitWaitMs,
    });
    // Every answer (error statuses, 304s and the throttler's retries included) says how much of
    // the rate limit is left.
    this.octokit.hook.after('request', (response) => this.noteRateLimit(response.headers));
    this.octokit.hook.error('request', (error) => {
      if (isRequestError(error)) this.noteRateLimit(error.response?.headers);
      throw error;
    });
  }

  get self(): ParticipantIdentity {
    return this.identity;
  }

  /**
   * Names the job this store speaks for where no job id was given, once it is found (in
   * `attemptJobs`): only before the first signal, listing or cleanup, so that every marker of
   * this store belongs to one participant.
   */
  identifyJob(jobId: string): void {
    if (this.identity.jobId !== undefined || this.used)
      throw new Error(
        `GitHubStore.identifyJob: the participant is fixed already (job ${this.identity.jobId ?? 'none'})`,
      );
    this.identity = { ...this.identity, jobId: assertJobId(jobId) };
  }

  /**
   * The jobs of this run attempt (every page):
   * GET /repos/{owner}/{repo}/actions/runs/{run_id}/attempts/{attempt}/jobs, which GitHub
   * Enterprise Server answers too (`actions: read`). A job that nothing names finds itself
   * there by its runner (`runner_name`); conditional GETs make a repeated look cheap.
   */
  async attemptJobs(): Promise<AttemptJob[]> {
    const { runId, attempt } = this.identity;
    const what = `the jobs of attempt ${attempt} of run ${runId} of ${this.ownRepo}`;
    let list: WorkflowJob[] = [];
    await this.call(`list ${what}`, async () => {
      list = await this.jobPages(
        `/repos/${this.ownRepo}/actions/runs/${runId}/attempts/${attempt}/jobs?per_page=100`,
        what,
      );
    });
    return list.map((job) => {
      if (typeof job.id !== 'number' || typeof job.status !== 'string')
        throw new RuntimeError(`GitHub: ${what}: a job without id / status`);
      return {
        id: String(job.id),
        status: job.status,
        runnerName: job.runner_name || undefined,
        name: job.name,
      };
    });
  }

  /** How much to stretch the poll interval so the rate-limit budget lasts until it resets. */
  pollDelayFactor(): number {
    return pollDelayFactorFor(this.rate, this.now());
  }

  private noteRateLimit(headers: Record<string, unknown> | undefined): void {
    const limit = Number(headers?.['x-ratelimit-limit']);
    const remaining = Number(headers?.['x-ratelimit-remaining']);
    if (!Number.isFinite(limit) || !Number.isFinite(remaining) || limit <= 0) return;
    // Only the `core` budget paces polling (the search or graphql budgets are others).
    const resource = headers?.['x-ratelimit-resource'];
    if (resource !== undefined && resource !== 'core') return;
    const reset = Number(headers?.['x-ratelimit-reset']);
    this.rate = {
      limit,
      remaining,
      resetMs: Number.isFinite(reset) && reset > 0 ? reset * 1000 : undefined,
    };
  }

  async signal(group: string, state: MarkerState, scope: CoverScope = 'job'): Promise<void> {
    this.used = true;
    assertGroupName(group);
    // The stamp orders this marker against the run's others (a run-scoped cover counts only
    // for the `publishing` markers written before it).
    const want = markerRef(group, this.self, state, scope, this.now(), this.coordinationRepo);
    await this.createRef(want, `signal ${state}`);
    const prefix = want.replace(/^refs\//, '').replace(/[^/]*$/, '');
    let delay = this.readBack.delayMs;
    for (let i = 0; i < this.readBack.attempts; i++) {
      if ((await this.matchingRefs(prefix)).some((r) => r.ref === want)) return;
      await this.sleep(delay);
      delay = Math.min(delay * 2, 4000);
    }
    throw new RuntimeError(
      `GitHub: signal ${state}: ${want} did not show in matching-refs after ${this.readBack.attempts} reads`,
    );
  }
  /**
   * Read-only (a dry run lists too). Only the runs of `publishing` markers that their own
   * participant has not covered are asked about: each once (its status, and its jobs while it
   * counts as alive), this run's jobs only (its status costs nothing: it is alive).
   */
  async listRuns(group: string): Promise<GroupRun[]> {
    this.used = true;
    const markers = (await this.markerRefs(group)).map((r) => r.marker);
    const pending = uncoveredPublishing(this.self, markers);
    const newest = newestAttempts(markers);
    const runs = await this.runStatuses(pending, (m, status) =>
      runAliveFor(m, status, newest.get(runKey(m))),
    );
    return joinParticipants(this.self, markers, runs);
  }

  /**
   * Deletes the refs of deleted runs, and of completed runs whose markers no longer count (all
   * covered, or past GitHub's re-run window); never on a 404 alone where the repository does not
   * answer either, never this run's. Jobs are read only for a completed run that still has a
   * `publishing` marker its own participant has not covered.
   */
  async cleanup(group: string): Promise<void> {
    this.used = true;
    try {
      const refs = await this.markerRefs(group);
      const others = refs.filter((r) => runKey(r.marker) !== runKey(this.self));
      const markers = others.map((r) => r.marker);
      const uncovered = new Set(uncoveredPublishing(undefined, markers).map((m) => runKey(m)));
      const now = this.now();
      const runs = await this.runStatuses(
        markers,
        (m, status) =>
          !status.alive &&
          uncovered.has(runKey(m)) &&
          (status.completedAt === undefined || now - status.completedAt < RERUN_WINDOW_MS),
      );
      const deletable = new Set(deletableMarkers(markers, runs, now));
      for (const r of others) if (deletable.has(r.marker)) await this.deleteRef(r.ref, 'cleanup');
    } catch (e) {
      this.logger?.warning(`GitHub: could not clean up eol-gate refs: ${(e as Error).message}`);
    }
  }

  private async markerRefs(group: string): Promise<Array<{ ref: string; marker: RawMarker }>> {
    assertGroupName(group);
    const refs: Array<{ ref: string; marker: RawMarker }> = [];
    for (const r of await this.matchingRefs(`eol-gate/${group}/`)) {
      const marker = parseMarkerRef(group, r.ref, this.coordinationRepo);
      if (marker) refs.push({ ref: r.ref, marker });
      else this.logger?.debug(`GitHub: ignoring foreign ref ${r.ref}`);
    }
    return refs;
  }

  /**
   * The status of each distinct run of `markers`, with its jobs where `withJobs` says they
   * matter (sequential on purpose: GitHub's secondary limits punish concurrent bursts). This run
   * is alive by definition, so its status costs no request; its jobs are read (a sibling's
   * marker is among `markers`). A run that answers 404 is looked up in its repository, once per
   * call per repository: deleted if the repository answers.
   */
  private async runStatuses(
    markers: RawMarker[],
    withJobs: (m: RawMarker, status: RunStatus) => boolean,
  ): Promise<Map<string, RunStatus | undefined>> {
    const status = new Map<string, RunStatus | undefined>();
    const repositories = new Map<string, boolean>();
    const missing = async (repository: string, runId: string) => {
      if (!repositories.has(repository))
        repositories.set(repository, await this.repositoryAnswers(repository));
      return this.missingRun(repository, runId, repositories.get(repository)!);
    };
    for (const m of markers) {
      const key = runKey(m);
      if (status.has(key)) continue;
      const repository = m.repository ?? this.coordinationRepo;
      if (key === runKey(this.self)) {
        const jobs = await this.runJobs(repository, m.runId);
        status.set(key, { alive: true, jobs: jobs === 'not-found' ? undefined : jobs });
        continue;
      }
      let run = await this.runStatus(repository, m.runId);
      if (run !== 'not-found' && withJobs(m, run)) {
        const jobs = await this.runJobs(repository, m.runId);
        // Deleted between the two reads: as if the run had answered 404.
        if (jobs === 'not-found') run = 'not-found';
        else run.jobs = jobs;
      }
      status.set(key, run === 'not-found' ? await missing(repository, m.runId) : run);
    }
    return status;
  }

  /** GET /repos/{owner}/{repo}/git/matching-refs/{ref}, every page. */
  private async matchingRefs(prefix: string): Promise<GitRef[]> {
    const path = prefix.split('/').map(encodeURIComponent).join('/');
    // The query keeps the prefix's trailing slash, which Octokit's URL template would strip
    // (without it `eol-gate/g` would list group `g2` too).
    const url = `/repos/${this.coordinationRepo}/git/matching-refs/${path}?per_page=100`;
    let all: GitRef[] = [];
    await this.call('list marker refs', async () => {
      all = await this.pages(url, `matching-refs ${prefix}`, (data) => {
        if (!Array.isArray(data))
          throw new RuntimeError('GitHub: matching-refs did not answer a list');
        return data as GitRef[];
      });
    });
    return all;
  }

  /**
   * Every page of a listing, following `Link: rel="next"`, each page a conditional GET. A
   * listing cut short would hide a publishing run or job (invariant 5): more than MAX_PAGES
   * pages fails instead.
   */
  private async pages<T>(url: string, what: string, items: (data: unknown) => T[]): Promise<T[]> {
    const all: T[] = [];
    let next: string | undefined = url;
    for (let page = 1; next; page++) {
      if (page > MAX_PAGES)
        throw new RuntimeError(`GitHub: ${what} has more than ${MAX_PAGES} pages`);
      const answer = await this.get(next);
      all.push(...items(answer.data));
      next = nextLink(answer.link);
    }
    return all;
  }

  /** Every page of a jobs listing (`{ total_count, jobs }`). */
  private jobPages(url: string, what: string): Promise<WorkflowJob[]> {
    return this.pages(url, what, (data) => {
      const jobs = (data as { jobs?: unknown } | undefined)?.jobs;
      if (!Array.isArray(jobs)) throw new RuntimeError(`GitHub: ${what}: listing without jobs`);
      return jobs as WorkflowJob[];
    });
  }

  /**
   * GET with `If-None-Match` when an earlier answer of the same URL carried an ETag; a 304 (free:
   * GitHub does not count it against the rate limit) answers with that earlier body. The one
   * place a 304 is handled (Octokit throws it as a RequestError with status 304).
   */
  private async get(url: string): Promise<{ data: unknown; link?: string }> {
    const cached = this.cache.get(url);
    try {
      const response = await this.octokit.request(
        `GET ${url}`,
        cached ? { headers: { 'if-none-match': cached.etag } } : {},
      );
      const headers = response.headers as Record<string, string | number | undefined>;
      const link = typeof headers.link === 'string' ? headers.link : undefined;
      if (typeof headers.etag === 'string')
        this.cache.set(url, { etag: headers.etag, data: response.data, link });
      else this.cache.delete(url);
      return { data: response.data, link };
    } catch (e) {
      if (cached && isRequestError(e) && e.status === 304) return cached;
      throw e;
    }
  }

  /** POST /repos/{owner}/{repo}/git/refs; 422 "Reference already exists" means done. */
  private async createRef(ref: string, what: string): Promise<void> {
    const route = `POST /repos/${this.coordinationRepo}/git/refs`;
    await this.call(
      `${what} (create ${ref})`,
      async () => {
        await this.octokit.request(route, { ref, sha: await this.markerCommit() });
      },
      (e) => {
        if (e.status !== 422) return false;
        if (/already exists/i.test(e.message)) return true;
        const commitHint =
          /object does not exist/i.test(e.message) && this.options.coordination
            ? ' (the marker refs must point at a commit of the coordination repository; set EOL_GATE_MARKER_SHA to one of its commits)'
            : '';
        throw new RuntimeError(
          `GitHub: ${what}: POST ${route.slice(5)} for ${ref} failed: HTTP ${e.status} ${requestErrorDetail(e)}${commitHint}`,
        );
      },
    );
  }

  /**
   * The commit marker refs point at (any commit of the coordination repository will do). In
   * another repository than the workflow's, the head of its default branch, read once:
   * GET /repos/{owner}/{repo} and GET /repos/{owner}/{repo}/commits/{branch} (contents: read).
   */
  private async markerCommit(): Promise<string> {
    if (this.options.markerSha) return this.options.markerSha;
    if (this.coordinationRepo === this.ownRepo) return this.options.sha;
    this.resolvedMarkerSha ??= (async () => {
      let sha: string | undefined;
      await this.call(`read the default branch of ${this.coordinationRepo}`, async () => {
        const repo = (await this.octokit.request(`GET /repos/${this.coordinationRepo}`)).data as {
          default_branch?: string;
        };
        const branch = encodeURIComponent(repo.default_branch ?? 'main');
        const commit = (
          await this.octokit.request(`GET /repos/${this.coordinationRepo}/commits/${branch}`)
        ).data as { sha?: string };
        sha = commit.sha;
      });
      if (!sha || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha))
        throw new RuntimeError(
          `GitHub: no commit found on the default branch of ${this.coordinationRepo} for the marker refs (set EOL_GATE_MARKER_SHA)`,
        );
      return sha;
    })();
    return this.resolvedMarkerSha;
  }

  /** DELETE /repos/{owner}/{repo}/git/refs/{ref}; a ref that is already gone (422/404) is fine. */
  private async deleteRef(ref: string, what: string): Promise<void> {
    const path = ref
      .replace(/^refs\//, '')
      .split('/')
      .map(encodeURIComponent)
      .join('/');
    await this.call(
      `${what} (delete ${ref})`,
      async () => {
        await this.octokit.request(`DELETE /repos/${this.coordinationRepo}/git/refs/${path}`);
      },
      (e) => e.status === 404 || e.status === 422,
    );
  }

  /** GET /repos/{owner}/{repo}/actions/runs/{run_id}; 'not-found' on 404. */
  private async runStatus(repository: string, runId: string): Promise<RunStatus | 'not-found'> {
    let run: WorkflowRun | undefined;
    await this.call(
      `read the status of run ${runId} of ${repository}`,
      async () => {
        run = (await this.get(`/repos/${repository}/actions/runs/${runId}`)).data as WorkflowRun;
      },
      (e) => e.status === 404,
    );
    if (!run) return 'not-found';
    if (typeof run.status !== 'string' || typeof run.run_attempt !== 'number') {
      throw new RuntimeError(`GitHub: run ${runId}: response without status / run_attempt`);
    }
    const completed = run.status === 'completed';
    return {
      alive: !completed,
      attempt: run.run_attempt,
      // A completed run's last update is its completion (a re-run makes it alive again).
      completedAt: completed ? timeOf(run.updated_at) : undefined,
      since: run.run_started_at ?? run.created_at,
      url: run.html_url,
      name: run.display_title ?? run.name,
    };
  }

  /**
   * A run that answered 404. Its repository answers (`exists`): the run was deleted (retention,
   * "Delete workflow run"), so its markers never block and cleanup removes them. Otherwise a 404
   * is not proof that the run finished: in the workflow's own repository it keeps blocking
   * (undefined); in another it means the token cannot read it, which fails the run rather than
   * guess.
   */
  private missingRun(repository: string, runId: string, exists: boolean): RunStatus | undefined {
    if (exists) return { alive: false, deleted: true };
    if (repository !== this.ownRepo)
      throw new InputError(
        `GitHub: run ${runId} of ${repository} holds a marker in group refs of ${this.coordinationRepo}, but the token cannot read it (HTTP 404): ` +
          `give the token actions: read on every participating repository (a GitHub App installation token or a fine-grained token)`,
      );
    return undefined;
  }

  /** GET /repos/{owner}/{repo}: whether the repository answers (200) or not (404). */
  private async repositoryAnswers(repository: string): Promise<boolean> {
    let answered = false;
    await this.call(
      `read repository ${repository}`,
      async () => {
        await this.get(`/repos/${repository}`);
        answered = true;
      },
      (e) => e.status === 404,
    );
    return answered;
  }

  /**
   * Every job of a run, all attempts, by job id: one listing,
   * GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs?filter=all (every page); 'not-found' on
   * 404. Start times count only for a job that started: GitHub reports a `started_at` for a
   * queued job too.
   */
  private async runJobs(
    repository: string,
    runId: string,
  ): Promise<Map<string, JobStatus> | 'not-found'> {
    let list: WorkflowJob[] | undefined;
    await this.call(
      `list the jobs of run ${runId} of ${repository}`,
      async () => {
        list = await this.jobPages(
          `/repos/${repository}/actions/runs/${runId}/jobs?filter=all&per_page=100`,
          `the jobs of run ${runId}`,
        );
      },
      (e) => e.status === 404,
    );
    if (!list) return 'not-found';
    const jobs = new Map<string, JobStatus>();
    for (const job of list) {
      if (typeof job.id !== 'number' || typeof job.status !== 'string')
        throw new RuntimeError(`GitHub: run ${runId}: a job without id / status`);
      const completed = job.status === 'completed';
      jobs.set(String(job.id), {
        completed,
        conclusion: job.conclusion ?? undefined,
        startedAt: NOT_STARTED.has(job.status) ? undefined : timeOf(job.started_at),
        completedAt: completed ? timeOf(job.completed_at) : undefined,
        name: job.name,
        url: job.html_url ?? undefined,
      });
    }
    return jobs;
  }

  /**
   * Runs one API call and turns Octokit's errors into ours: `expected` answers true for an
   * error status that is an answer (e.g. a 404), or throws its own error. A 401/403 that is not
   * a rate limit names the missing permission; one the throttler gave up on is a RuntimeError.
   */
  private async call(
    what: string,
    fn: () => Promise<void>,
    expected: (e: RequestError) => boolean = () => false,
  ): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (!isRequestError(e)) throw e;
      const detail = requestErrorDetail(e);
      if (isRateLimit(e))
        throw new RuntimeError(`GitHub: ${what}: rate limited (HTTP ${e.status}): ${detail}`);
      if (e.status === 401 || e.status === 403) {
        const reason = e.status === 401 ? 'rejected the token' : 'denied access';
        throw new InputError(
          `GitHub ${reason} (HTTP ${e.status}) when trying to ${what}: ${PERMISSIONS_HINT}${detail ? `. Server said: ${detail}` : ''}`,
        );
      }
      if (expected(e)) return;
      const request = (e as { request?: { method?: string; url?: string } }).request;
      throw new HttpStatusError(e.status, request?.method ?? 'GET', request?.url ?? what, detail);
    }
  }
}

/** The newest attempt among the markers of each run. */
function newestAttempts(markers: RawMarker[]): Map<string, number> {
  const newest = new Map<string, number>();
  for (const m of markers) newest.set(runKey(m), Math.max(newest.get(runKey(m)) ?? 0, m.attempt));
  return newest;
}
