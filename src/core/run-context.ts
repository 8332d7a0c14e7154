/**
 * The run as its CI describes it, built once by the host's agent: nothing below src/platform reads
 * the environment. Raw strings; the store that needs one checks it and names its variable.
 */
export interface RunContext {
  /** The CI running this process ('none' outside one): what coordinator `auto` picks. */
  platform: 'github' | 'azure-pipelines' | 'none';
  tempDir: string;
  github: {
    apiUrl?: string;
    repository?: string;
    runId?: string;
    runAttempt?: string;
    sha?: string;
    /** A commit of the coordination repository for marker refs (EOL_GATE_MARKER_SHA). */
    markerSha?: string;
    /** Check run id when no input gives it (EOL_GATE_JOB_ID: the user's, or an earlier step's). */
    jobId?: string;
    /** RUNNER_NAME: a runner runs one job at a time, so its in-progress job here is this job. */
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
