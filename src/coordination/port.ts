import type { GroupRun, MarkerState, RunIdentity } from '../core/runs.js';

export { MARKER_STATES, type GroupRun, type MarkerState, type RunIdentity } from '../core/runs.js';

export interface CoordinationStore {
  readonly kind: 'azure-devops' | 'github' | 'none';
  /** This run; undefined for `none`. */
  readonly self?: RunIdentity;
  /**
   * Writes this run's marker and returns only after a read-back shows it. `publishing` also
   * clears this run's `image-info-updated`.
   */
  signal(group: string, state: MarkerState): Promise<void>;
  /** The runs that hold markers in the group, with liveness. Throws on any failure. */
  listRuns(group: string): Promise<GroupRun[]>;
  /** Best effort: removes this run's markers and those of finished runs. */
  cleanup(group: string): Promise<void>;
}
