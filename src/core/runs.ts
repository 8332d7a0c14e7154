/** Participants of a coordination group, as the protocol reasons about them (docs/design.md §2). */
export type MarkerState = 'publishing' | 'image-info-updated';
export const MARKER_STATES: MarkerState[] = ['publishing', 'image-info-updated'];

/**
 * What an `image-info-updated` vouches for: the signalling job's own pushes (`job`), or every
 * push of its run written before it (`run`: a dedicated record job that merges other jobs' images).
 */
export type CoverScope = 'job' | 'run';
export const COVER_SCOPES: CoverScope[] = ['job', 'run'];

/**
 * One job of one CI run. Jobs of a run push in parallel and runs are re-run, so (run, attempt,
 * job) tell participants apart; with no `jobId` from the CI, the whole run is one participant.
 */
export interface ParticipantIdentity {
  runId: string;
  attempt: number;
  jobId?: string;
  /** The run's repository (`owner/name`) when markers live in a shared coordination repository. */
  repository?: string;
  url?: string;
}

export interface RawMarker {
  runId: string;
  attempt: number;
  jobId?: string;
  repository?: string;
  state: MarkerState;
  /** Cover scope of an `image-info-updated`; `job` for `publishing`. */
  scope: CoverScope;
  /** When it was written (ms since epoch, the writer's clock). */
  stamp: number;
}

/** What the CI system says about a run; undefined in the map when it could not tell. */
export interface RunStatus {
  alive: boolean;
  /** The run's latest attempt as the API reports it (it may lag behind the markers). */
  attempt?: number;
  /** 404 while its repository answers (retention, "Delete workflow run"): never blocks. */
  deleted?: boolean;
  /** When a completed run completed (ms, the CI service's clock): it can be re-run for a while after. */
  completedAt?: number;
  /**
   * Every job the CI system reports for the run (all attempts), by job id; undefined when the
   * store did not read them. Covers and failed jobs are judged from these, never from markers.
   */
  jobs?: Map<string, JobStatus>;
  since?: string;
  url?: string;
  name?: string;
}

export interface JobStatus {
  completed: boolean;
  /** `success`, `failure`, `cancelled`, ... (GitHub conclusion / Azure DevOps result, lower-cased). */
  conclusion?: string;
  /** When the job started and completed (ms, the CI service's clock: `started_at` / `startTime`). */
  startedAt?: number;
  completedAt?: number;
  name?: string;
  url?: string;
}

/** A participant holding a `publishing` marker, joined with liveness and cover. */
export interface GroupRun extends ParticipantIdentity {
  /** Its latest `publishing` (ms since epoch, writer's clock; 0 when unknown). */
  publishingSince: number;
  /** True when a later `image-info-updated` (its own, or its run's run-scoped one) covers it. */
  covered: boolean;
  /** Run liveness: true while queued, in progress, waiting or cancelling (or not known to have ended). */
  alive: boolean;
  /** The CI system did not answer for the run (deleted, or the token cannot read it). */
  runUnknown?: boolean;
  jobFailed?: boolean;
  /** Failed or cancelled, but another job of its run (`always()` record job) may record its pushes. */
  siblingsRunning?: boolean;
  deleted?: boolean;
  blocks: boolean;
  since?: string;
  /** Where to look: the job's page when known, else the run's. */
  url?: string;
  /** The run's own page (summaries link the run and the job apart). */
  runUrl?: string;
  name?: string;
  jobName?: string;
  jobUrl?: string;
}
