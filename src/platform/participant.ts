import { randomBytes } from 'node:crypto';
import { InputError } from '../core/errors.js';
import type { BuildAgent } from './agent.js';

/**
 * Carries the participant id that an eol-gate step made to the job's later steps: the runner
 * sets what a step appends to GITHUB_ENV in the environment of the steps after it.
 */
export const PARTICIPANT_VARIABLE = 'EOL_GATE_PARTICIPANT';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const ID_LENGTH = 20;
/**
 * `p` and 20 base32 letters (100 random bits): a valid job id of the marker formats, and never
 * a real CI job id (GitHub check run ids are decimal, Azure's System.JobId is a GUID).
 */
export const PARTICIPANT_ID = new RegExp(`^p[a-z2-7]{${ID_LENGTH}}$`);

/** A new participant id from `bytes` (default: node:crypto's random source). */
export function newParticipantId(bytes: Uint8Array = randomBytes(ID_LENGTH)): string {
  if (bytes.length < ID_LENGTH) throw new Error(`newParticipantId: need ${ID_LENGTH} bytes`);
  let id = 'p';
  for (let i = 0; i < ID_LENGTH; i++) id += BASE32[bytes[i] & 31];
  return id;
}

export interface ParticipantNeed {
  /** The command writes markers (signal, annotate but a dry run, publish-image-info). */
  writes: boolean;
  /** `scope run`: the user says the whole run may be one participant. */
  wholeRun: boolean;
}

/**
 * The participant id of a job that no job id names (GitHub Enterprise Server has no
 * `job.check_run_id`; a CLI user may give no `--job-id`); docs/design.md §2. An earlier eol-gate
 * step of the job made it and left it in EOL_GATE_PARTICIPANT; else this step makes it and keeps
 * it for the job's later steps through GITHUB_ENV. Without GITHUB_ENV there is nowhere to keep
 * it: undefined (the whole run is one participant) for a command that writes no marker or with
 * `scope run`, else an InputError, because the parallel jobs of the run would merge into one
 * participant and one job's `image-info-updated` would cover what another has not recorded.
 */
export function participantId(agent: BuildAgent, need: ParticipantNeed): string | undefined {
  const kept = agent.env[PARTICIPANT_VARIABLE];
  if (kept) {
    if (!PARTICIPANT_ID.test(kept))
      throw new InputError(
        `${PARTICIPANT_VARIABLE}: expected a participant id made by eol-gate (p and ${ID_LENGTH} of a-z, 2-7), got ${JSON.stringify(kept)}; ` +
          `eol-gate sets it for a job's later steps; to name the job yourself, set ${agent.label('jobId')}`,
      );
    agent.logger.info(
      `participant ${kept}: from ${PARTICIPANT_VARIABLE}, made by an earlier eol-gate step of this job (no job id)`,
    );
    return kept;
  }
  const id = newParticipantId();
  if (agent.exportVariable?.(PARTICIPANT_VARIABLE, id)) {
    agent.logger.info(
      `participant ${id}: made for this job (no job id) and kept in GITHUB_ENV as ${PARTICIPANT_VARIABLE} for the job's later steps`,
    );
    return id;
  }
  if (need.writes && !need.wholeRun)
    throw new InputError(
      `no job id, and no GITHUB_ENV to keep a participant id in for this job's later steps, so the parallel jobs of this run cannot be told apart: ` +
        `set ${agent.label('jobId')} (GitHub: the job's check run id; any id of 1-64 letters, digits and dashes that is the same in every eol-gate step of the job and differs between the run's jobs), ` +
        `or ${agent.label('scope')} run to make the whole run one participant (only where its jobs do not publish in parallel)`,
    );
  return undefined;
}
