import * as core from '@actions/core';
import { runJob } from '../job.js';
import { GitHubAgent } from './github-agent.js';

/**
 * The GitHub Action host. The job has already reported a failure as an `::error::` annotation,
 * so the exit code alone fails the step (setFailed would annotate the same message twice);
 * setFailed is for what escapes the job.
 */
async function main(): Promise<void> {
  const { exitCode } = await runJob(new GitHubAgent(process.env));
  process.exitCode = exitCode;
}

main().catch((e: unknown) => core.setFailed((e as Error).message));
