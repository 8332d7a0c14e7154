/** Runs of a coordination group, as the protocol reasons about them (docs/design.md §2). */
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
