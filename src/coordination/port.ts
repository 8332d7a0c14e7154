import type { CoverScope, GroupRun, MarkerState, ParticipantIdentity } from '../core/runs.js';

export type { CoverScope, GroupRun, MarkerState, ParticipantIdentity } from '../core/runs.js';

export interface CoordinationStore {
  readonly kind: 'azure-devops' | 'github' | 'none';
  /** This participant (run, attempt, job); undefined for `none`. */
  readonly self?: ParticipantIdentity;
  /**
   * Writes this participant's marker and returns only after a read-back shows it. `scope`
   * says what an `image-info-updated` covers (default `job`).
   */
  signal(group: string, state: MarkerState, scope?: CoverScope): Promise<void>;
  /**
   * The participants that hold `publishing` in the group, with liveness and cover. Read-only
   * (a dry run lists too). Throws on any failure.
   */
  listRuns(group: string): Promise<GroupRun[]>;
  /** Best effort: deletes the markers of runs the CI system reports completed. Never in a dry run. */
  cleanup(group: string): Promise<void>;
  /**
   * How much longer than `pollIntervalMs` the next poll should wait (≥ 1): grows as the CI
   * service's rate-limit budget runs low, so polling never exhausts it. Absent: 1.
   */
  pollDelayFactor?(): number;
}
