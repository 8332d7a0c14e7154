import { InputError } from '../core/errors.js';
import { parsePositiveInteger } from '../core/number.js';
import type { Logger } from '../core/ports.js';
import type { RetryPolicy } from '../util/http.js';
import { AzureDevOpsStore } from './azure-devops.js';
import { GitHubStore } from './github.js';
import { NoneStore } from './none.js';
import type { CoordinationStore } from './port.js';

export type CoordinatorKind = 'auto' | 'azure-devops' | 'github' | 'none';
export const COORDINATOR_KINDS: CoordinatorKind[] = ['auto', 'azure-devops', 'github', 'none'];

export interface CoordinationOverrides {
  /** A token the host obtained itself (the task: from the SYSTEMVSSCONNECTION endpoint; the action: its `token` input). */
  token?: string;
  /** Azure DevOps: projects whose builds can be peers (default: the current one). */
  projects?: string[];
  /** The job's id from an input (GitHub: `job.check_run_id`); else EOL_GATE_JOB_ID / System.JobId. */
  jobId?: string;
  /** GitHub: `owner/name` that holds the markers (default: GITHUB_REPOSITORY). */
  coordinationRepository?: string;
  retry?: Partial<RetryPolicy>;
}

type Env = Record<string, string | undefined>;

function required(
  env: Env,
  names: string[],
  coordinator: string,
  hints: Record<string, string> = {},
): void {
  const missing = names.filter((n) => !env[n]);
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

function positiveInt(value: string | undefined, name: string, fallback?: number): number {
  if (value === undefined || value === '') {
    if (fallback !== undefined) return fallback;
    throw new InputError(`${name}: missing`);
  }
  return parsePositiveInteger(value, name);
}

/**
 * Picks and configures the coordination store from the CI environment. `auto`: Azure DevOps
 * when TF_BUILD is set, GitHub when GITHUB_ACTIONS is set, else `none` with a warning.
 * Missing variables are an InputError naming each one; nothing has been written then.
 */
export function createCoordinationStore(
  kind: CoordinatorKind,
  env: Env,
  logger: Logger,
  overrides: CoordinationOverrides = {},
): CoordinationStore {
  if (!COORDINATOR_KINDS.includes(kind)) {
    throw new InputError(
      `coordinator: expected one of ${COORDINATOR_KINDS.join(', ')}, got ${JSON.stringify(kind)}`,
    );
  }
  let chosen = kind;
  if (kind === 'auto') {
    chosen = env.TF_BUILD ? 'azure-devops' : env.GITHUB_ACTIONS ? 'github' : 'none';
    if (chosen === 'none') {
      logger.warning(
        'coordinator: not running in Azure Pipelines or GitHub Actions, so concurrent pipelines are not coordinated ' +
          '(set coordinator to azure-devops or github to coordinate, or none to silence this warning)',
      );
    } else {
      logger.debug(`coordinator: auto → ${chosen}`);
    }
  }
  if (chosen === 'none') return new NoneStore();
  const e: Env = { ...env };
  if (chosen === 'azure-devops') {
    if (overrides.token) e.SYSTEM_ACCESSTOKEN = overrides.token;
    required(
      e,
      ['SYSTEM_COLLECTIONURI', 'SYSTEM_TEAMPROJECT', 'BUILD_BUILDID', 'SYSTEM_ACCESSTOKEN'],
      'azure-devops',
      {
        SYSTEM_ACCESSTOKEN:
          'Map the token into the step: env: { SYSTEM_ACCESSTOKEN: $(System.AccessToken) }.',
      },
    );
    return new AzureDevOpsStore({
      collectionUri: e.SYSTEM_COLLECTIONURI!,
      project: e.SYSTEM_TEAMPROJECT!,
      buildId: e.BUILD_BUILDID!,
      // Tags belong to the build, not the attempt; the attempt only names the run in logs.
      jobAttempt: positiveInt(e.SYSTEM_JOBATTEMPT, 'SYSTEM_JOBATTEMPT', 1),
      jobId: overrides.jobId || e.SYSTEM_JOBID || undefined,
      token: e.SYSTEM_ACCESSTOKEN!,
      projects: overrides.projects,
      retry: overrides.retry,
      logger,
    });
  }
  if (overrides.token) e.GITHUB_TOKEN = overrides.token;
  // The attempt is required: markers written under a wrong attempt would be ignored by peers.
  required(
    e,
    ['GITHUB_REPOSITORY', 'GITHUB_RUN_ID', 'GITHUB_RUN_ATTEMPT', 'GITHUB_SHA', 'GITHUB_TOKEN'],
    'github',
    {
      GITHUB_TOKEN:
        'Pass the token (e.g. env: { GITHUB_TOKEN: ${{ github.token }} }) with permissions contents: write, actions: read.',
    },
  );
  const [owner, repo, ...rest] = e.GITHUB_REPOSITORY!.split('/');
  if (!owner || !repo || rest.length > 0) {
    throw new InputError(
      `GITHUB_REPOSITORY: expected owner/name, got ${JSON.stringify(e.GITHUB_REPOSITORY)}`,
    );
  }
  const coordination = overrides.coordinationRepository?.split('/');
  if (coordination && (coordination.length !== 2 || !coordination[0] || !coordination[1]))
    throw new InputError(
      `coordinationRepository: expected owner/name, got ${JSON.stringify(overrides.coordinationRepository)}`,
    );
  const jobId = overrides.jobId || e.EOL_GATE_JOB_ID || undefined;
  if (!jobId)
    logger.warning(
      'no job id (action input jobId, default ${{ job.check_run_id }}; CLI --job-id or EOL_GATE_JOB_ID): the parallel jobs of this run are not told apart',
    );
  return new GitHubStore({
    apiUrl: e.GITHUB_API_URL || 'https://api.github.com',
    owner,
    repo,
    coordination: coordination && { owner: coordination[0], repo: coordination[1] },
    jobId,
    runId: e.GITHUB_RUN_ID!,
    runAttempt: positiveInt(e.GITHUB_RUN_ATTEMPT, 'GITHUB_RUN_ATTEMPT'),
    // Marker refs point at a commit of the coordination repository; GITHUB_SHA is one only there.
    sha: e.EOL_GATE_MARKER_SHA || e.GITHUB_SHA!,
    token: e.GITHUB_TOKEN!,
    retry: overrides.retry,
    logger,
  });
}
