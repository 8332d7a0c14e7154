import * as tl from 'azure-pipelines-task-lib';
import { InputError } from '../../core/errors.js';
import { runJob, type JobResult } from '../job.js';
import { AzureAgent } from './azure-agent.js';

/**
 * The agent judges a task by `task.complete`, so the result is set explicitly; no message, since
 * the job already logged the error as an issue.
 */
export async function run(env: Record<string, string | undefined>): Promise<number> {
  try {
    const agent = new AzureAgent(env);
    let job: JobResult;
    try {
      // A wrong service connection is bad input: fail before the job reads or writes anything.
      agent.azureServiceConnection();
      agent.dockerRegistryConnection();
      job = await runJob(agent);
    } catch (e) {
      agent.logger.error((e as Error).message);
      job = { exitCode: e instanceof InputError ? 2 : 1, result: { error: (e as Error).message } };
    }
    const result =
      job.exitCode !== 0
        ? tl.TaskResult.Failed
        : job.result.outcome === 'timed-out' || job.result.outcome === 'rolled-back'
          ? tl.TaskResult.SucceededWithIssues
          : tl.TaskResult.Succeeded;
    tl.setResult(result, '');
    return job.exitCode;
  } catch (e) {
    tl.setResult(tl.TaskResult.Failed, (e as Error).message);
    return 1;
  }
}
