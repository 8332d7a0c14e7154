import { InputError } from './errors.js';
import type { CoverScope, MarkerState, ParticipantIdentity, RawMarker } from './runs.js';

/**
 * One marker as a name (a git ref's last component, a build tag's tail):
 * `<runId>.<attempt>.<jobId|0>.<state>.<stamp>`, state being `publishing`,
 * `image-info-updated` (job scope) or `image-info-updated-run` (run scope).
 */
const NAME =
  /^(\d+)\.(\d+)\.([A-Za-z0-9-]{1,64})\.(publishing|image-info-updated|image-info-updated-run)\.(\d{1,16})$/;
const JOB_ID = /^[A-Za-z0-9-]{1,64}$/;
const NO_JOB = '0';

export function assertJobId(jobId: string, name = 'jobId'): string {
  if (!JOB_ID.test(jobId) || jobId === NO_JOB)
    throw new InputError(
      `${name}: expected 1-64 characters of [A-Za-z0-9-], got ${JSON.stringify(jobId)}`,
    );
  return jobId;
}

export function markerName(
  who: ParticipantIdentity,
  state: MarkerState,
  scope: CoverScope,
  stamp: number,
): string {
  const token = state === 'image-info-updated' && scope === 'run' ? `${state}-run` : state;
  return `${who.runId}.${who.attempt}.${who.jobId ?? NO_JOB}.${token}.${Math.max(0, Math.floor(stamp))}`;
}

/** Parses a marker name; undefined for names that are not markers (foreign refs or tags). */
export function parseMarkerName(name: string, repository?: string): RawMarker | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const run = m[4] === 'image-info-updated-run';
  return {
    runId: m[1],
    attempt: Number(m[2]),
    jobId: m[3] === NO_JOB ? undefined : m[3],
    repository,
    state: run ? 'image-info-updated' : (m[4] as MarkerState),
    scope: run ? 'run' : 'job',
    stamp: Number(m[5]),
  };
}
