/**
 * The run as its CI describes it, built once by the host's agent (src/platform) from the
 * environment: nothing below the platform layer reads environment variables. Values are raw
 * strings as the CI gives them; the store that needs one checks it and names its variable.
 */
export interface RunContext {
  /** The CI running this process ('none' outside one): what coordinator `auto` picks. */
  platform: 'github' | 'azure-pipelines' | 'none';
  /** The runner's temp directory. */
  tempDir: string;
  github: {
    apiUrl?: string;
    /** `owner/name`. */
    repository?: string;
    runId?: string;
    runAttempt?: string;
    sha?: string;
    /** A commit of the coordination repository for marker refs (EOL_GATE_MARKER_SHA). */
    markerSha?: string;
    /**
     * The job's check run id when no input gives it (EOL_GATE_JOB_ID: the user's, or kept by an
     * earlier eol-gate step of the job that found it in the jobs API).
     */
    jobId?: string;
    /**
     * The runner's name (RUNNER_NAME): a runner runs one job at a time, so where nothing names
     * the job, its in-progress job of this run attempt in the jobs API is this job.
     */
    runnerName?: string;
    token?: string;
  };
  azure: {
    collectionUri?: string;
    project?: string;
    buildId?: string;
    jobAttempt?: string;
    jobId?: string;
    token?: string;
  };
}

/** The environment variable each field comes from, for errors that say what to set. */
export const RUN_CONTEXT_VARIABLES = {
  github: {
    apiUrl: 'GITHUB_API_URL',
    repository: 'GITHUB_REPOSITORY',
    runId: 'GITHUB_RUN_ID',
    runAttempt: 'GITHUB_RUN_ATTEMPT',
    sha: 'GITHUB_SHA',
    markerSha: 'EOL_GATE_MARKER_SHA',
    jobId: 'EOL_GATE_JOB_ID',
    runnerName: 'RUNNER_NAME',
    token: 'GITHUB_TOKEN',
  },
  azure: {
    collectionUri: 'SYSTEM_COLLECTIONURI',
    project: 'SYSTEM_TEAMPROJECT',
    buildId: 'BUILD_BUILDID',
    jobAttempt: 'SYSTEM_JOBATTEMPT',
    jobId: 'SYSTEM_JOBID',
    token: 'SYSTEM_ACCESSTOKEN',
  },
} as const satisfies {
  [K in 'github' | 'azure']: Record<keyof RunContext[K], string>;
};
