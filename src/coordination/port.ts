import type { CoverScope, GroupRun, MarkerState, ParticipantIdentity } from '../core/runs.js';

export type { CoverScope, GroupRun, MarkerState, ParticipantIdentity } from '../core/runs.js';

export interface CoordinationStore {
  readonly kind: 'azure-devops' | 'github' | 'none';
  /** This participant (run, attempt, job); undefined for `none`. */
  readonly self?: ParticipantIdentity;
  /** Returns only after a read-back shows the marker; `scope` defaults to `job`. */
  signal(group: string, state: MarkerState, scope?: CoverScope): Promise<void>;
  /** `publishing` holders with liveness and cover. Read-only (a dry run lists too); throws on failure. */
  listRuns(group: string): Promise<GroupRun[]>;
  /** Best effort: deletes the markers of runs the CI system reports completed. Never in a dry run. */
  cleanup(group: string): Promise<void>;
  /** Multiplies `pollIntervalMs` (≥ 1) as the CI's rate-limit budget runs low, never exhausting it. */
  pollDelayFactor?(): number;
}
