import { InputError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import { assertJobId } from '../core/markers.js';
import {
  assertGroupName,
  deletableMarkers,
  joinParticipants,
  newestAttempts,
  RERUN_WINDOW_MS,
  runAliveFor,
  runKey,
  uncoveredPublishing,
  type RawMarker,
} from '../core/protocol.js';
import { GitHubService } from '../services/github.js';
import { systemClock } from '../util/clock.js';
import { coreRateLimit, pollDelayFactorFor, type RateLimitState } from './github-rate-limit.js';
import {
  COMMIT_ID,
  MarkerRefs,
  markerRef,
  OWNER_OR_REPO,
  parseMarkerRef,
} from './github-markers.js';
import { RunReader, type AttemptJob } from './github-runs.js';
import { readBackUntil, type StoreOptions } from './store-options.js';
import {
  type CoordinationStore,
  type CoverScope,
  type GroupRun,
  type MarkerState,
  type ParticipantIdentity,
} from './port.js';

export { markerRef, parseMarkerRef } from './github-markers.js';
export type { AttemptJob } from './github-runs.js';

export interface GitHubStoreOptions extends StoreOptions {
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
  runId: string | number;
  runAttempt: number;
  /** `job.check_run_id`; without it the run is one participant unless `identifyJob` names it. */
  jobId?: string;
  /** `GITHUB_SHA`: the marker refs' commit (any commit of the coordination repository). */
  sha: string;
  /**
   * EOL_GATE_MARKER_SHA: a commit of the coordination repository for marker refs. Default: `sha`;
   * the coordination repository's default branch head when elsewhere (no GITHUB_SHA there).
   */
  markerSha?: string;
  /** Needs `contents: write` (refs) and `actions: read` (run and job status). Never logged. */
  token: string;
  /** Wait for a secondary rate limit that gave no `retry-after` (GitHub: at least a minute). */
  secondaryRateLimitWaitMs?: number;
}

const PERMISSIONS_HINT =
  '`contents: write` (markers are git refs) and `actions: read` (run and job status); ' +
  'in a workflow: `permissions: { contents: write, actions: read }`';

/**
 * Markers as git refs, one per (participant, state, time), all found with one `matching-refs`
 * call; a run's liveness from `GET /actions/runs/{id}` and every job of it (all attempts, with
 * the service's start and completion times) from one `GET /actions/runs/{id}/jobs?filter=all`.
 * Every GET is conditional: a poll that finds nothing changed costs no rate limit.
 */
export class GitHubStore implements CoordinationStore {
  readonly kind = 'github' as const;
  private identity: ParticipantIdentity;
  /** Set by the first signal, listing or cleanup: the participant is fixed from then on. */
  private used = false;
  private readonly coordinationRepo: string;
  private readonly refs: MarkerRefs;
  private readonly runs: RunReader;
  private readonly clock: Clock;
  private rate?: RateLimitState;

  constructor(private readonly options: GitHubStoreOptions) {
    const coordination = options.coordination ?? { owner: options.owner, repo: options.repo };
    const gh = new GitHubService({
      ...options,
      apiUrlName: 'apiUrl',
      permissions: () => PERMISSIONS_HINT,
      // Every answer (errors, 304s and retried ones too) says how much of the rate limit is left.
      onResponse: (headers) => (this.rate = coreRateLimit(headers) ?? this.rate),
    });
    for (const [name, r] of [
      ['repository', { owner: options.owner, repo: options.repo }],
      ['coordinationRepository', coordination],
    ] as const)
      if (!OWNER_OR_REPO.test(r.owner) || !OWNER_OR_REPO.test(r.repo))
        throw new InputError(
          `${name}: expected owner/name, got ${JSON.stringify(`${r.owner}/${r.repo}`)}`,
        );
    if (!/^\d+$/.test(String(options.runId)))
      throw new InputError(`runId: expected a number, got ${JSON.stringify(options.runId)}`);
    if (!Number.isInteger(options.runAttempt) || options.runAttempt < 1)
      throw new InputError(
        `runAttempt: expected a positive integer, got ${JSON.stringify(options.runAttempt)}`,
      );
    if (options.jobId !== undefined) assertJobId(options.jobId);
    for (const [name, sha] of [
      ['sha', options.sha],
      ['EOL_GATE_MARKER_SHA', options.markerSha],
    ] as const)
      if (sha !== undefined && !COMMIT_ID.test(sha))
        throw new InputError(`${name}: expected a commit id, got ${JSON.stringify(sha)}`);
    if (!options.token) throw new InputError('token: missing (GITHUB_TOKEN)');
    this.coordinationRepo = `${coordination.owner}/${coordination.repo}`;
    const ownRepo = `${options.owner}/${options.repo}`;
    const elsewhere = ownRepo !== this.coordinationRepo;
    this.identity = {
      runId: String(options.runId),
      attempt: options.runAttempt,
      jobId: options.jobId,
      // Markers name their run's repository only when it is not the coordination repository.
      repository: elsewhere ? ownRepo : undefined,
    };
    this.clock = options.clock ?? systemClock;
    const markerSha = options.markerSha ?? (elsewhere ? undefined : options.sha);
    this.refs = new MarkerRefs(gh, this.coordinationRepo, markerSha, elsewhere);
    this.runs = new RunReader(gh, this.coordinationRepo, ownRepo);
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  get self(): ParticipantIdentity {
    return this.identity;
  }

  /** Only before the first signal, listing or cleanup, so every marker is one participant's. */
  identifyJob(jobId: string): void {
    if (this.identity.jobId !== undefined || this.used)
      throw new Error(
        `GitHubStore.identifyJob: the participant is fixed already (job ${this.identity.jobId ?? 'none'})`,
      );
    this.identity = { ...this.identity, jobId: assertJobId(jobId) };
  }

  /** The jobs of this run attempt, where a job that nothing names finds itself by its runner. */
  attemptJobs(): Promise<AttemptJob[]> {
    return this.runs.attemptJobs(this.identity.runId, this.identity.attempt);
  }

  pollDelayFactor(): number {
    return pollDelayFactorFor(this.rate, this.now());
  }

  async signal(group: string, state: MarkerState, scope: CoverScope = 'job'): Promise<void> {
    this.used = true;
    assertGroupName(group);
    // The stamp orders this marker against the run's others (a run-scoped cover counts only
    // for the `publishing` markers written before it).
    const want = markerRef(group, this.self, state, scope, this.now(), this.coordinationRepo);
    await this.refs.create(want);
    const prefix = want.replace(/^refs\//, '').replace(/[^/]*$/, '');
    await readBackUntil(
      this.options.readBack,
      this.clock,
      async () => (await this.refs.list(prefix)).some((r) => r.ref === want),
      `GitHub: signal ${state}: ${want} did not show in matching-refs`,
    );
  }

  /**
   * Read-only (a dry run lists too). Only runs of `publishing` their own participant has not
   * covered are asked about, once each (jobs while alive); of this run, its jobs only.
   */
  async listRuns(group: string): Promise<GroupRun[]> {
    this.used = true;
    const markers = (await this.markerRefs(group)).map((r) => r.marker);
    const pending = uncoveredPublishing(this.self, markers);
    const newest = newestAttempts(markers);
    const runs = await this.runs.runStatuses(this.self, pending, (m, status) =>
      runAliveFor(m, status, newest.get(runKey(m))),
    );
    return joinParticipants(this.self, markers, runs);
  }

  /**
   * Deletes refs of deleted runs and of completed runs whose markers no longer count (all covered,
   * or past the re-run window); never on a 404 alone where the repository does not answer, never
   * this run's. Jobs are read only for a completed run with an uncovered `publishing`.
   */
  async cleanup(group: string): Promise<void> {
    this.used = true;
    try {
      const refs = await this.markerRefs(group);
      const others = refs.filter((r) => runKey(r.marker) !== runKey(this.self));
      const markers = others.map((r) => r.marker);
      const uncovered = new Set(uncoveredPublishing(undefined, markers).map((m) => runKey(m)));
      const now = this.now();
      const runs = await this.runs.runStatuses(
        this.self,
        markers,
        (m, status) =>
          !status.alive &&
          uncovered.has(runKey(m)) &&
          (status.completedAt === undefined || now - status.completedAt < RERUN_WINDOW_MS),
      );
      const deletable = new Set(deletableMarkers(markers, runs, now));
      for (const r of others) if (deletable.has(r.marker)) await this.refs.delete(r.ref);
    } catch (e) {
      this.options.logger?.warning(
        `GitHub: could not clean up eol-gate refs: ${(e as Error).message}`,
      );
    }
  }

  private async markerRefs(group: string): Promise<Array<{ ref: string; marker: RawMarker }>> {
    assertGroupName(group);
    const refs: Array<{ ref: string; marker: RawMarker }> = [];
    for (const r of await this.refs.list(`eol-gate/${group}/`)) {
      const marker = parseMarkerRef(group, r.ref, this.coordinationRepo);
      if (marker) refs.push({ ref: r.ref, marker });
      else this.options.logger?.debug(`GitHub: ignoring foreign ref ${r.ref}`);
    }
    return refs;
  }
}
