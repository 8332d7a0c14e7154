import { InputError, RuntimeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { assertJobId, markerName, parseMarkerName } from '../core/markers.js';
import {
  assertGroupName,
  deletableMarkers,
  joinParticipants,
  participantKey,
  runAliveFor,
  runKey,
  uncoveredPublishing,
  type JobStatus,
  type RawMarker,
  type RunStatus,
} from '../core/protocol.js';
import { assertSecureUrl, errorDetail, retryAfterMs, type RetryPolicy } from '../util/http.js';
import {
  type CoordinationStore,
  type CoverScope,
  type GroupRun,
  type MarkerState,
  type ParticipantIdentity,
} from './port.js';
import { RestClient, resetHeaderWaitMs, type RateLimitVerdict } from './rest.js';

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
  private readonly apiRoot: string;
  private readonly coordinationRepo: string;
  /** The workflow's repository, where this run's status lives. */
  private readonly ownRepo: string;
  private readonly client: RestClient;
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
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(options.sha))
      throw new InputError(`sha: expected a commit id, got ${JSON.stringify(options.sha)}`);
    if (!options.token) throw new InputError('token: missing (GITHUB_TOKEN)');
    this.apiRoot = url.toString().replace(/\/+$/, '');
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
    const secondaryWait = options.secondaryRateLimitWaitMs ?? 60_000;
    this.client = new RestClient({
      service: 'GitHub',
      headers: {
        authorization: `Bearer ${options.token}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'user-agent': 'eol-gate',
      },
      retry: options.retry,
      logger: options.logger,
      now: options.now,
      rateLimit: (res, now) => githubRateLimit(res, now, secondaryWait),
    });
  }

  private repoApi(repository: string): string {
    return `${this.apiRoot}/repos/${repository}`;
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
    const newest = new Map<string, number>();
    for (const m of markers) newest.set(runKey(m), Math.max(newest.get(runKey(m)) ?? 0, m.attempt));
    for (const p of pending) {
      if (!p.jobId || !runAliveFor(p, runs.get(runKey(p)), newest.get(runKey(p)))) continue;
      jobs.set(
        participantKey(p),
        await this.jobStatus(p.repository ?? this.coordinationRepo, p.jobId),
      );
    }
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

  /** GET /repos/{owner}/{repo}/git/matching-refs/{ref} (one call; follows `Link: next` if sent). */
  private async matchingRefs(prefix: string): Promise<GitRef[]> {
    let url: string | undefined =
      `${this.repoApi(this.coordinationRepo)}/git/matching-refs/${prefix.split('/').map(encodeURIComponent).join('/')}`;
    const all: GitRef[] = [];
    for (let page = 0; url && page < 100; page++) {
      const res = await this.client.request('GET', url);
      await this.assertAuthorized(res, 'list marker refs');
      const body = await this.client.json<unknown>('GET', url, res);
      if (!Array.isArray(body))
        throw new RuntimeError('GitHub: matching-refs did not answer a list');
      all.push(...(body as GitRef[]));
      url = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    }
    // A list cut short would hide a publishing run (invariant 5): fail instead.
    if (url) throw new RuntimeError(`GitHub: matching-refs ${prefix} has more than 100 pages`);
    return all;
  }

  /** POST /repos/{owner}/{repo}/git/refs; 422 "Reference already exists" means done. */
  private async createRef(ref: string, what: string): Promise<void> {
    const url = `${this.repoApi(this.coordinationRepo)}/git/refs`;
    const res = await this.client.request('POST', url, { ref, sha: this.options.sha });
    await this.assertAuthorized(res, `${what} (create ${ref})`);
    if (res.status === 201) {
      await res.body?.cancel().catch(() => {});
      return;
    }
    const detail = await errorDetail(res);
    if (res.status === 422 && /already exists/i.test(detail)) return;
    const commitHint =
      res.status === 422 && /object does not exist/i.test(detail) && this.options.coordination
        ? ' (the marker refs point at GITHUB_SHA, which must exist in the coordination repository; set EOL_GATE_MARKER_SHA to one of its commits)'
        : '';
    throw new RuntimeError(
      `GitHub: ${what}: POST ${url} for ${ref} failed: HTTP ${res.status} ${detail}${commitHint}`,
    );
  }

  /** DELETE /repos/{owner}/{repo}/git/refs/{ref}; a ref that is already gone (422/404) is fine. */
  private async deleteRef(ref: string, what: string): Promise<void> {
    const path = ref
      .replace(/^refs\//, '')
      .split('/')
      .map(encodeURIComponent)
      .join('/');
    const url = `${this.repoApi(this.coordinationRepo)}/git/refs/${path}`;
    const res = await this.client.request('DELETE', url);
    await this.assertAuthorized(res, `${what} (delete ${ref})`);
    if (res.status === 204 || res.status === 404 || res.status === 422) {
      await res.body?.cancel().catch(() => {});
      return;
    }
    throw new RuntimeError(
      `GitHub: ${what}: DELETE ${url} failed: HTTP ${res.status} ${await errorDetail(res)}`,
    );
  }

  /**
   * GET /repos/{owner}/{repo}/actions/runs/{run_id}. A 404 is not proof that the run finished
   * (undefined: it keeps blocking); for another repository it means the token cannot read it,
   * which fails the run rather than guess.
   */
  private async runStatus(repository: string, runId: string): Promise<RunStatus | undefined> {
    const url = `${this.repoApi(repository)}/actions/runs/${runId}`;
    const res = await this.client.request('GET', url);
    await this.assertAuthorized(res, `read the status of run ${runId} of ${repository}`);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      if (repository !== this.ownRepo)
        throw new InputError(
          `GitHub: run ${runId} of ${repository} holds a marker in group refs of ${this.coordinationRepo}, but the token cannot read it (HTTP 404): ` +
            `give the token actions: read on every participating repository (a GitHub App installation token or a fine-grained token)`,
        );
      return undefined;
    }
    const run = await this.client.json<WorkflowRun>('GET', url, res);
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
    const url = `${this.repoApi(repository)}/actions/jobs/${jobId}`;
    const res = await this.client.request('GET', url);
    await this.assertAuthorized(res, `read the status of job ${jobId} of ${repository}`);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    const job = await this.client.json<WorkflowJob>('GET', url, res);
    if (typeof job.status !== 'string')
      throw new RuntimeError(`GitHub: job ${jobId}: response without status`);
    return {
      completed: job.status === 'completed',
      conclusion: job.conclusion ?? undefined,
      name: job.name,
      url: job.html_url,
    };
  }

  /** 401/403 that are not rate limits (those were retried already) name the missing permission. */
  private async assertAuthorized(res: Response, what: string): Promise<void> {
    if (res.status !== 401 && res.status !== 403) return;
    const detail = await errorDetail(res);
    const reason = res.status === 401 ? 'rejected the token' : 'denied access';
    throw new InputError(
      `GitHub ${reason} (HTTP ${res.status}) when trying to ${what}: ${PERMISSIONS_HINT}${detail ? `. Server said: ${detail}` : ''}`,
    );
  }
}

/**
 * GitHub rate limits (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api):
 * primary = 403/429 with `x-ratelimit-remaining: 0`, wait until `x-ratelimit-reset` (epoch s);
 * secondary = 403/429 with `retry-after` (seconds), or, without it, a message naming the
 * secondary limit: wait at least a minute. A 2xx that spent the last request pauses the next.
 */
async function githubRateLimit(
  res: Response,
  now: number,
  secondaryWaitMs: number,
): Promise<RateLimitVerdict> {
  const remaining = res.headers.get('x-ratelimit-remaining');
  const reset = resetHeaderWaitMs(res.headers, 'x-ratelimit-reset', now);
  if (res.ok) {
    return remaining === '0' && reset !== undefined
      ? { kind: 'pause', waitMs: reset, reason: 'primary rate limit spent' }
      : undefined;
  }
  if (res.status !== 403 && res.status !== 429) return undefined;
  const after = retryAfterMs(res.headers, now);
  if (after !== undefined)
    return {
      kind: 'retry',
      waitMs: after,
      reason: `secondary rate limit, retry-after ${Math.ceil(after / 1000)}s`,
    };
  if (remaining === '0' && reset !== undefined)
    return { kind: 'retry', waitMs: reset, reason: 'primary rate limit exhausted' };
  const text = await res
    .clone()
    .text()
    .catch(() => '');
  if (res.status === 429 || /rate limit/i.test(text))
    return { kind: 'retry', waitMs: secondaryWaitMs, reason: 'secondary rate limit' };
  return undefined;
}
