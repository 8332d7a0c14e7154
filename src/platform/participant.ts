import { randomBytes } from 'node:crypto';
import type { JobLookup } from '../coordination/from-environment.js';
import type { AttemptJob } from '../coordination/github.js';
import { InputError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import { RUN_CONTEXT_VARIABLES } from '../core/run-context.js';
import { systemClock } from '../util/clock.js';
import type { BuildAgent } from './agent.js';

/** Carries a step's participant id to the job's later steps (the runner exports GITHUB_ENV). */
export const PARTICIPANT_VARIABLE = 'EOL_GATE_PARTICIPANT';

/** Carries the job id a step found in the jobs API to later steps, which then look nothing up. */
export const JOB_ID_VARIABLE = RUN_CONTEXT_VARIABLES.github.jobId;

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const ID_LENGTH = 20;
/**
 * `p` and 20 base32 letters (100 random bits): a valid marker job id, never a real one (GitHub
 * check run ids are decimal, Azure's System.JobId is a GUID).
 */
export const PARTICIPANT_ID = new RegExp(`^p[a-z2-7]{${ID_LENGTH}}$`);

/** `bytes` default: node:crypto's random source. */
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
 * For a job no job id names (GHES has no `job.check_run_id`; a CLI user may give no `--job-id`);
 * docs/design.md §2. An earlier step left it in EOL_GATE_PARTICIPANT, else this step makes it and
 * keeps it through GITHUB_ENV. Without GITHUB_ENV: undefined (whole run) for a command writing no
 * marker or `scope run`, else an InputError: the run's parallel jobs would merge into one
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

/** This job among its run attempt's jobs, or why it cannot be told. */
export type RunnerMatch = { id: string } | { reason: string };

/**
 * A runner runs one job at a time, so the one in-progress job assigned to it is this job. None
 * (not assigned yet) or several (runner names not unique) tell nothing.
 */
export function jobOfRunner(jobs: AttemptJob[], runnerName: string): RunnerMatch {
  const mine = jobs.filter((j) => j.status === 'in_progress' && j.runnerName === runnerName);
  if (mine.length === 1) return { id: mine[0].id };
  const runner = `runner ${JSON.stringify(runnerName)}`;
  if (mine.length === 0)
    return { reason: `no in-progress job of this run attempt runs on ${runner}` };
  return {
    reason: `${mine.length} in-progress jobs of this run attempt (${mine.map((j) => j.id).join(', ')}) run on ${runner}`,
  };
}

export interface JobLookupPolicy {
  /** Listings read at most (the API may show the runner a moment after the job starts). */
  attempts: number;
  /** Wait before the second listing; doubles after each. */
  delayMs: number;
}

/** Four listings over 7 s at most: 1 s, 2 s, 4 s apart. */
export const JOB_LOOKUP: JobLookupPolicy = { attempts: 4, delayMs: 1000 };

/**
 * Re-reads the listing while it tells nothing, up to `policy.attempts`; a failed listing ends the
 * search (the client retried it already).
 */
export async function findJobId(
  runnerName: string,
  jobs: () => Promise<AttemptJob[]>,
  policy: JobLookupPolicy = JOB_LOOKUP,
  clock: Clock = systemClock,
): Promise<RunnerMatch> {
  let delay = policy.delayMs;
  let waited = 0;
  for (let read = 1; ; read++) {
    let match: RunnerMatch;
    try {
      match = jobOfRunner(await jobs(), runnerName);
    } catch (e) {
      return { reason: `the jobs API could not be read: ${(e as Error).message}` };
    }
    if ('id' in match) return match;
    if (read >= policy.attempts)
      return {
        reason: `${match.reason} (${read} listing${read > 1 ? `s over ${Math.round(waited / 1000)}s` : ''})`,
      };
    await clock.sleep(delay);
    waited += delay;
    delay *= 2;
  }
}

/**
 * For a GitHub job no input or EOL_GATE_JOB_ID names (docs/design.md §2). On a runner, the real id
 * from the jobs API (`findJobId`), kept in GITHUB_ENV as EOL_GATE_JOB_ID so later steps look
 * nothing up: the protocol judges run-scope covers and failed jobs by the service's record of the
 * job. Else, or when an earlier step fell back, `participantId`, which the service does not know.
 */
export async function jobParticipant(
  agent: BuildAgent,
  need: ParticipantNeed,
  lookup: JobLookup,
  policy: JobLookupPolicy = JOB_LOOKUP,
  clock: Clock = systemClock,
): Promise<string | undefined> {
  // An earlier step of this job fell back: every marker of the job stays that participant's.
  if (agent.env[PARTICIPANT_VARIABLE]) return participantId(agent, need);
  if (!lookup.runnerName) {
    agent.logger.debug(
      `no ${RUN_CONTEXT_VARIABLES.github.runnerName} (not on a runner): this job's id is not looked up in the jobs API`,
    );
    return participantId(agent, need);
  }
  const found = await findJobId(lookup.runnerName, () => lookup.jobs(), policy, clock);
  if ('id' in found) {
    const kept = agent.exportVariable?.(JOB_ID_VARIABLE, found.id) ?? false;
    agent.logger.info(
      `job ${found.id}: this job's id, found in the jobs API as the in-progress job of runner ${JSON.stringify(lookup.runnerName)}` +
        (kept ? `; kept in GITHUB_ENV as ${JOB_ID_VARIABLE} for the job's later steps` : ''),
    );
    return found.id;
  }
  agent.logger.warning(
    `this job's id was not found in the jobs API: ${found.reason}. Falling back to an id of eol-gate's own, which the CI service does not know: ` +
      `a run-scope image-info-updated of another job (a record job) never covers this job's publishing, and if this job fails, its publishing keeps blocking annotators until the run completes. ` +
      `Set ${agent.label('jobId')} (the job's check run id) to avoid this`,
  );
  return participantId(agent, need);
}
