import { InputError, RuntimeError } from '../core/errors.js';
import { runKey, type JobStatus, type RawMarker, type RunStatus } from '../core/protocol.js';
import type { GitHubService } from '../services/github.js';
import { HttpStatusError } from '../util/http.js';
import type { ParticipantIdentity } from './port.js';

interface WorkflowRun {
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
  id: number;
  status: string;
  conclusion?: string | null;
  /** Null until the job is assigned to a runner. */
  runner_name?: string | null;
  started_at?: string | null;
  completed_at?: string | null;
  name?: string;
  html_url?: string | null;
}

/** A job of this attempt (`.../attempts/{attempt}/jobs`): enough to find itself by its runner. */
export interface AttemptJob {
  /** Its check run id, decimal. */
  id: string;
  /** queued | in_progress | completed | waiting | requested | pending. */
  status: string;
  /** Undefined until assigned. */
  runnerName?: string;
  name?: string;
}

/** A time GitHub reports (ISO 8601) → ms; undefined when absent or unreadable. */
function timeOf(iso: string | null | undefined): number | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Job statuses in which a job has not started: GitHub reports a `started_at` for them anyway. */
const NOT_STARTED = new Set(['queued', 'waiting', 'requested', 'pending']);

/** Runs and jobs as the Actions API reports them (`actions: read`), every GET conditional. */
export class RunReader {
  constructor(
    private readonly gh: GitHubService,
    /** Where the marker refs live: a marker without a repository names a run of it. */
    private readonly coordinationRepo: string,
    /** The workflow's repository, where this run's status lives. */
    private readonly ownRepo: string,
  ) {}

  /** GET .../actions/runs/{run_id}/attempts/{attempt}/jobs (every page); GHES answers it too. */
  async attemptJobs(runId: string, attempt: number): Promise<AttemptJob[]> {
    const list = await this.jobPages(
      `/repos/${this.ownRepo}/actions/runs/${runId}/attempts/${attempt}/jobs`,
      `the jobs of attempt ${attempt} of run ${runId} of ${this.ownRepo}`,
    );
    return list.map((job) => ({
      id: String(job.id),
      status: job.status,
      runnerName: job.runner_name || undefined,
      name: job.name,
    }));
  }

  /**
   * Each distinct run's status, with jobs where `withJobs` says (sequential: GitHub's secondary
   * limits punish bursts). This run is alive by definition, so costs no request, but its jobs are
   * read. A 404 run is looked up in its repository once per call: deleted if that answers.
   */
  async runStatuses(
    self: ParticipantIdentity,
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
      if (key === runKey(self)) {
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

  /** Every page of `{ total_count, jobs }`. */
  private jobPages(path: string, what: string): Promise<WorkflowJob[]> {
    return this.gh.pages(
      path,
      what,
      (data) => {
        const jobs = (data as { jobs?: unknown } | undefined)?.jobs;
        if (!Array.isArray(jobs)) throw new RuntimeError(`GitHub: ${what}: listing without jobs`);
        for (const job of jobs as Array<Partial<Record<'id' | 'status', unknown>>>)
          if (typeof job.id !== 'number' || typeof job.status !== 'string')
            throw new RuntimeError(`GitHub: ${what}: a job without id / status`);
        return jobs as WorkflowJob[];
      },
      { query: { per_page: 100 }, conditional: true },
    );
  }

  /** GET /repos/{owner}/{repo}/actions/runs/{run_id}; 'not-found' on 404. */
  private async runStatus(repository: string, runId: string): Promise<RunStatus | 'not-found'> {
    const answer = await this.gh.request('GET', `/repos/${repository}/actions/runs/${runId}`, {
      conditional: true,
      allow: [404],
    });
    if (answer.status === 404) return 'not-found';
    const run = answer.data as WorkflowRun | undefined;
    if (typeof run?.status !== 'string' || typeof run.run_attempt !== 'number')
      throw new RuntimeError(`GitHub: run ${runId}: response without status / run_attempt`);
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
   * If its repository answers, the run was deleted (retention, "Delete workflow run"): its markers
   * never block and cleanup removes them. Else a 404 proves nothing: in the workflow's own
   * repository it keeps blocking (undefined); elsewhere the token cannot read it, which fails.
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
    const answer = await this.gh.request('GET', `/repos/${repository}`, {
      conditional: true,
      allow: [404],
    });
    return answer.status !== 404;
  }

  /**
   * GET .../actions/runs/{run_id}/jobs?filter=all (every page), by job id; 'not-found' on 404.
   * Start times count only once started: GitHub reports `started_at` for queued jobs too.
   */
  private async runJobs(
    repository: string,
    runId: string,
  ): Promise<Map<string, JobStatus> | 'not-found'> {
    const path = `/repos/${repository}/actions/runs/${runId}/jobs?filter=all`;
    let list: WorkflowJob[];
    try {
      list = await this.jobPages(path, `the jobs of run ${runId}`);
    } catch (e) {
      if (e instanceof HttpStatusError && e.status === 404) return 'not-found';
      throw e;
    }
    const jobs = new Map<string, JobStatus>();
    for (const job of list) {
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
}
