export type MarkerState = 'publishing' | 'image-info-updated';
export const MARKER_STATES: MarkerState[] = ['publishing', 'image-info-updated'];

/** This run, as the CI system names it. A retried stage keeps `runId` and bumps `attempt`. */
export interface RunIdentity {
  runId: string;
  attempt: number;
  url?: string;
}

/** Another run of the group as the store sees it: its markers and the CI system's liveness. */
export interface GroupRun {
  runId: string;
  /** The attempt the markers belong to. */
  attempt: number;
  states: MarkerState[];
  /** True while queued, in progress, waiting or cancelling (from the CI system, not the marker). */
  alive: boolean;
  /** When the run wrote `publishing` or started, if known (ISO 8601). */
  since?: string;
  url?: string;
  name?: string;
}

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
