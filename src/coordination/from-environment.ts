import { InputError } from '../core/errors.js';
import { parsePositiveInteger } from '../core/number.js';
import type { Clock, Logger } from '../core/ports.js';
import { RUN_CONTEXT_VARIABLES, type RunContext } from '../core/run-context.js';
import type { RetryPolicy } from '../util/http.js';
import { AzureDevOpsStore } from './azure-devops.js';
import { GitHubStore, type AttemptJob } from './github.js';
import { NoneStore } from './none.js';
import type { CoordinationStore } from './port.js';

export type CoordinatorKind = 'auto' | 'azure-devops' | 'github' | 'none';
export const COORDINATOR_KINDS: CoordinatorKind[] = ['auto', 'azure-devops', 'github', 'none'];

export interface CoordinationOverrides {
  /** Obtained by the host (the task: SYSTEMVSSCONNECTION; the action: its `token` input). */
  token?: string;
  /** Azure DevOps: projects whose builds can be peers (default: the current one). */
  projects?: string[];
  /** The job's id from an input (GitHub: `job.check_run_id`); else EOL_GATE_JOB_ID / System.JobId. */
  jobId?: string;
  /**
   * GitHub, when neither input nor EOL_GATE_JOB_ID names the job: its id as the platform found it
   * (`lookup`) or a participant id it made (kept for later steps), undefined for a whole-run
   * participant; an InputError where a whole-run participant would merge parallel jobs.
   */
  participant?: (lookup: JobLookup) => Promise<string | undefined>;
  /** GitHub: `owner/name` that holds the markers (default: GITHUB_REPOSITORY). */
  coordinationRepository?: string;
  retry?: Partial<RetryPolicy>;
  /** The job's clock: marker stamps, retries and read-backs. */
  clock?: Clock;
}

/** What a GitHub job that nothing names can find its own id with (docs/design.md §2). */
export interface JobLookup {
  /** RUNNER_NAME: undefined outside a runner. */
  runnerName?: string;
  /** The jobs of this run attempt, from the jobs API (one listing per call). */
  jobs(): Promise<AttemptJob[]>;
}

/** Throws an InputError naming the variable of each field of `values` that is unset. */
function required<K extends 'github' | 'azure'>(
  section: K,
  values: RunContext[K],
  fields: (keyof RunContext[K] & keyof (typeof RUN_CONTEXT_VARIABLES)[K])[],
  coordinator: string,
  hints: Record<string, string> = {},
): void {
  const variables = RUN_CONTEXT_VARIABLES[section] as Record<string, string>;
  const missing = fields.filter((f) => !values[f]).map((f) => variables[f as string]);
  if (missing.length === 0) return;
  const hint = missing
    .map((n) => hints[n])
    .filter(Boolean)
    .join(' ');
  throw new InputError(
    `coordinator ${coordinator}: missing environment variable${missing.length > 1 ? 's' : ''} ${missing.join(', ')}` +
      `${hint ? `. ${hint}` : ''}`,
  );
}

/**
 * `auto`: Azure DevOps in Azure Pipelines, GitHub in GitHub Actions, else `none` with a warning.
 * Missing variables are an InputError naming each, before any write. On GitHub without a job id,
 * `participant` names the job (maybe through the store's jobs API) before the store is returned.
 */
export async function createCoordinationStore(
  kind: CoordinatorKind,
  run: RunContext,
  logger: Logger,
  overrides: CoordinationOverrides = {},
): Promise<CoordinationStore> {
  if (!COORDINATOR_KINDS.includes(kind))
    throw new InputError(
      `coordinator: expected one of ${COORDINATOR_KINDS.join(', ')}, got ${JSON.stringify(kind)}`,
    );
  let chosen = kind;
  if (kind === 'auto') {
    chosen = ({ 'azure-pipelines': 'azure-devops', github: 'github', none: 'none' } as const)[
      run.platform
    ];
    if (chosen !== 'none') logger.debug(`coordinator: auto → ${chosen}`);
    else
      logger.warning(
        'coordinator: not running in Azure Pipelines or GitHub Actions, so concurrent pipelines are not coordinated ' +
          '(set coordinator to azure-devops or github to coordinate, or none to silence this warning)',
      );
  }
  if (chosen === 'none') return new NoneStore();
  if (chosen === 'azure-devops') {
    const a = { ...run.azure, token: overrides.token || run.azure.token };
    required('azure', a, ['collectionUri', 'project', 'buildId', 'token'], 'azure-devops', {
      SYSTEM_ACCESSTOKEN:
        'Map the token into the step: env: { SYSTEM_ACCESSTOKEN: $(System.AccessToken) }.',
    });
    return new AzureDevOpsStore({
      ...overrides,
      collectionUri: a.collectionUri!,
      project: a.project!,
      buildId: a.buildId!,
      jobAttempt: a.jobAttempt ? parsePositiveInteger(a.jobAttempt, 'SYSTEM_JOBATTEMPT') : 1,
      // A job of a pipeline always has System.JobId (the task, and a script step's SYSTEM_JOBID).
      jobId: overrides.jobId || a.jobId || undefined,
      token: a.token!,
      logger,
    });
  }
  const g = { ...run.github, token: overrides.token || run.github.token };
  // The attempt is required: markers written under a wrong attempt would be ignored by peers.
  required('github', g, ['repository', 'runId', 'runAttempt', 'sha', 'token'], 'github', {
    GITHUB_TOKEN:
      'Pass the token (e.g. env: { GITHUB_TOKEN: ${{ github.token }} }) with permissions contents: write, actions: read.',
  });
  const [owner, repo, ...rest] = g.repository!.split('/');
  if (!owner || !repo || rest.length > 0)
    throw new InputError(
      `GITHUB_REPOSITORY: expected owner/name, got ${JSON.stringify(g.repository)}`,
    );
  const coordination = overrides.coordinationRepository?.split('/');
  if (coordination && (coordination.length !== 2 || !coordination[0] || !coordination[1]))
    throw new InputError(
      `coordinationRepository: expected owner/name, got ${JSON.stringify(overrides.coordinationRepository)}`,
    );
  const jobId = overrides.jobId || g.jobId || undefined;
  const store = new GitHubStore({
    ...overrides,
    apiUrl: g.apiUrl || 'https://api.github.com',
    owner,
    repo,
    coordination: coordination && { owner: coordination[0], repo: coordination[1] },
    jobId,
    runId: g.runId!,
    runAttempt: parsePositiveInteger(g.runAttempt!, 'GITHUB_RUN_ATTEMPT'),
    sha: g.sha!,
    markerSha: g.markerSha || undefined,
    token: g.token!,
    logger,
  });
  if (!jobId) {
    // Made only once the store has checked its settings: the platform may keep what it
    // finds for the job's later steps.
    const found = await overrides.participant?.({
      runnerName: g.runnerName || undefined,
      jobs: () => store.attemptJobs(),
    });
    if (found) store.identifyJob(found);
    else
      logger.warning(
        'no job id (action input jobId, default ${{ job.check_run_id }}; CLI --job-id or EOL_GATE_JOB_ID) and no participant id: the whole run is one participant, the parallel jobs of this run are not told apart',
      );
  }
  return store;
}
