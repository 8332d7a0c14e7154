import { InputError, RuntimeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { assertJobId, markerName, parseMarkerName } from '../core/markers.js';
import {
  assertGroupName,
  deletableMarkers,
  jobsToAsk,
  joinParticipants,
  participantKey,
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
  /** The job's check run id (`job.check_run_id`); without it the whole run is one participant. */
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
  name?: string;
  display_title?: string;
}

interface WorkflowJob {
  id: number;
  status?: string;
  conclusion?: string | null;
  name?: string;
  html_url?: string;
}

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
 * call; run liveness from `GET /actions/runs/{id}`, job liveness from `GET /actions/jobs/{id}`.
 * Listing never writes; `cleanup` deletes the refs of runs GitHub reports completed.
 */
export class GitHubStore implements CoordinationStore {
  readonly kind = 'github' as const;
  readonly self: ParticipantIdentity;
  private readonly coordinationRepo: string;
  /** The workflow's repository, where this run's status lives. */
  private readonly ownRepo: string;
  private readonly octokit: GitHubClient;
  private resolvedMarkerSha?: Promise<string>;
  private readonly logger?: Logger;
  private readonly readBack: { attempts: number; delayMs: number };
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;

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
    this.self = {
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
  }

  async signal(group: string, state: MarkerState, scope: CoverScope = 'job'): Promise<void> {
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
  /** Read-only (a dry run lists too): liveness is asked only for uncovered `publishing` markers. */
  async listRuns(group: string): Promise<GroupRun[]> {
    const markers = (await this.markerRefs(group)).map((r) => r.marker);
    const pending = uncoveredPublishing(this.self, markers);
    const runs = await this.runStatuses(pending);
    const jobs = new Map<string, JobStatus | undefined>();
    for (const p of jobsToAsk(pending, markers, runs))
      jobs.set(
        participantKey(p),
        await this.jobStatus(p.repository ?? this.coordinationRepo, p.jobId!),
      );
    return joinParticipants(this.self, markers, runs, jobs);
  }

  /** Deletes the refs of runs GitHub reports completed (never on a 404 alone; never this run's). */
  async cleanup(group: string): Promise<void> {
    try {
      const refs = await this.markerRefs(group);
      const others = refs.filter((r) => runKey(r.marker) !== runKey(this.self));
      const runs = await this.runStatuses(others.map((r) => r.marker));
      const deletable = new Set(
        deletableMarkers(
          others.map((r) => r.marker),
          runs,
        ),
      );
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
   * Run status of each distinct run (sequential on purpose: GitHub's secondary limits punish
   * concurrent bursts). This run is alive by definition, so it costs no request.
   */
  private async runStatuses(markers: RawMarker[]): Promise<Map<string, RunStatus | undefined>> {
    const status = new Map<string, RunStatus | undefined>();
    for (const m of markers) {
      const key = runKey(m);
      if (status.has(key)) continue;
      status.set(
        key,
        key === runKey(this.self)
          ? { alive: true }
          : await this.runStatus(m.repository ?? this.coordinationRepo, m.runId),
      );
    }
    return status;
  }

  /** GET /repos/{owner}/{repo}/git/matching-refs/{ref}, every page Octokit's paginator finds. */
  private async matchingRefs(prefix: string): Promise<GitRef[]> {
    const path = prefix.split('/').map(encodeURIComponent).join('/');
    // The query keeps the prefix's trailing slash, which Octokit's URL template would strip
    // (without it `eol-gate/g` would list group `g2` too).
    const route = `GET /repos/${this.coordinationRepo}/git/matching-refs/${path}?per_page=100`;
    const all: GitRef[] = [];
    let pages = 0;
    await this.call('list marker refs', async () => {
      for await (const page of this.octokit.paginate.iterator(route)) {
        // A list cut short would hide a publishing run (invariant 5): fail instead.
        if (++pages > 100)
          throw new RuntimeError(`GitHub: matching-refs ${prefix} has more than 100 pages`);
        if (!Array.isArray(page.data))
          throw new RuntimeError('GitHub: matching-refs did not answer a list');
        all.push(...(page.data as GitRef[]));
      }
    });
    return all;
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

  /**
   * GET /repos/{owner}/{repo}/actions/runs/{run_id}. A 404 is not proof that the run finished
   * (undefined: it keeps blocking); for another repository it means the token cannot read it,
   * which fails the run rather than guess.
   */
  private async runStatus(repository: string, runId: string): Promise<RunStatus | undefined> {
    let run: WorkflowRun | undefined;
    await this.call(
      `read the status of run ${runId} of ${repository}`,
      async () => {
        run = (await this.octokit.request(`GET /repos/${repository}/actions/runs/${runId}`))
          .data as WorkflowRun;
      },
      (e) => {
        if (e.status !== 404) return false;
        if (repository !== this.ownRepo)
          throw new InputError(
            `GitHub: run ${runId} of ${repository} holds a marker in group refs of ${this.coordinationRepo}, but the token cannot read it (HTTP 404): ` +
              `give the token actions: read on every participating repository (a GitHub App installation token or a fine-grained token)`,
          );
        return true;
      },
    );
    if (!run) return undefined;
    if (typeof run.status !== 'string' || typeof run.run_attempt !== 'number') {
      throw new RuntimeError(`GitHub: run ${runId}: response without status / run_attempt`);
    }
    return {
      alive: run.status !== 'completed',
      attempt: run.run_attempt,
      since: run.run_started_at ?? run.created_at,
      url: run.html_url,
      name: run.display_title ?? run.name,
    };
  }

  /** GET /repos/{owner}/{repo}/actions/jobs/{job_id} (the job's check run id); undefined on 404. */
  private async jobStatus(repository: string, jobId: string): Promise<JobStatus | undefined> {
    let job: WorkflowJob | undefined;
    await this.call(
      `read the status of job ${jobId} of ${repository}`,
      async () => {
        job = (await this.octokit.request(`GET /repos/${repository}/actions/jobs/${jobId}`))
          .data as WorkflowJob;
      },
      (e) => e.status === 404,
    );
    if (!job) return undefined;
    if (typeof job.status !== 'string')
      throw new RuntimeError(`GitHub: job ${jobId}: response without status`);
    return {
      completed: job.status === 'completed',
      conclusion: job.conclusion ?? undefined,
      name: job.name,
      url: job.html_url,
    };
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
