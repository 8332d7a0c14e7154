import * as core from '@actions/core';
import { runJob } from '../job.js';
import { GitHubAgent } from './github-agent.js';

/**
 * The job already reported a failure as an `::error::` annotation, so the exit code alone fails
 * the step; what escapes the job is annotated here (as core.setFailed prints it).
 */
export async function run(env: Record<string, string | undefined>): Promise<number> {
  try {
    const { exitCode } = await runJob(new GitHubAgent(env));
    return exitCode;
  } catch (e) {
    core.error((e as Error).message);
    return 1;
  }
}
