import * as core from '@actions/core';
import { copyFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Logger } from '../../core/ports.js';
import type { BuildAgent, PublishedArtifact } from '../agent.js';
import type { RunContext } from '../../core/run-context.js';
import { JOB_ID_VARIABLE, PARTICIPANT_VARIABLE } from '../participant.js';
import { runContextFromEnv } from '../run-context.js';

/** @actions/core's workflow commands: `::warning::` and `::error::` become annotations. */
export const githubLogger: Logger = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  error: (m) => core.error(m),
  debug: (m) => core.debug(m),
  group: (title, fn) => core.group(title, fn),
};

/** Inputs from `INPUT_*`; outputs and summary through the runner's files. */
export class GitHubAgent implements BuildAgent {
  readonly platform = 'github' as const;
  readonly logger = githubLogger;
  readonly tempDir: string;
  readonly context: RunContext;
  private readonly token: string;

  constructor(readonly env: Record<string, string | undefined> = process.env) {
    this.tempDir = env.RUNNER_TEMP || tmpdir();
    this.context = runContextFromEnv(env, this.tempDir);
    // Masked first: nothing has been logged yet.
    this.token = core.getInput('token');
    this.setSecret(this.token);
  }

  input(name: string): string {
    return core.getInput(name);
  }

  label(name: string): string {
    return name;
  }

  setSecret(value: string): void {
    if (value) core.setSecret(value);
  }

  setOutput(name: string, value: string): void {
    core.setOutput(name, value);
  }

  /** A line of the runner's GITHUB_ENV file; never the disabled `::set-env::` command. */
  exportVariable(name: string, value: string): boolean {
    // core.exportVariable writes the file process.env names, and falls back to set-env without one.
    if (!this.env.GITHUB_ENV || !process.env.GITHUB_ENV) return false;
    core.exportVariable(name, value);
    return true;
  }

  async summary(markdown: string, _title?: string): Promise<void> {
    // Outside a runner (no GITHUB_STEP_SUMMARY) the summary goes to the log instead of failing the job.
    if (!this.env.GITHUB_STEP_SUMMARY) return core.info(markdown);
    await core.summary.addRaw(markdown, true).write();
  }

  platformToken(): string | undefined {
    return this.token || undefined;
  }

  /**
   * As is (no zip), named per job and attempt: matrix legs share GITHUB_JOB, so the check run id
   * (or the id an earlier eol-gate step found or made) tells them apart.
   */
  async publishArtifact(path: string, name: string): Promise<PublishedArtifact | undefined> {
    const env = this.env;
    if (!env.ACTIONS_RUNTIME_TOKEN || !env.ACTIONS_RESULTS_URL) {
      core.info(
        `uploadPlan: no Actions artifact service here (ACTIONS_RUNTIME_TOKEN, ACTIONS_RESULTS_URL unset); the plan stays at ${path}`,
      );
      return undefined;
    }
    const jobId = this.input('jobId') || env[JOB_ID_VARIABLE] || env[PARTICIPANT_VARIABLE];
    const job = (jobId || env.GITHUB_JOB || 'job').replace(/[^\w.-]+/g, '-');
    const fileName = `${name}-${job}-${env.GITHUB_RUN_ATTEMPT || '1'}.json`;
    try {
      // With skipArchive the artifact takes the file's name: upload a copy named for the job.
      const copy = join(await mkdtemp(join(this.tempDir, 'eol-gate-artifact-')), fileName);
      await copyFile(path, copy);
      const { DefaultArtifactClient } = await import('@actions/artifact');
      const client = new DefaultArtifactClient();
      const { id } = await client.uploadArtifact(fileName, [copy], dirname(copy), {
        skipArchive: true,
      });
      const server = env.GITHUB_SERVER_URL || 'https://github.com';
      const url =
        id !== undefined && env.GITHUB_REPOSITORY && env.GITHUB_RUN_ID
          ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/artifacts/${id}`
          : undefined;
      core.info(`plan uploaded as the artifact ${fileName}${url ? `: ${url}` : ''}`);
      return { name: fileName, url };
    } catch (e) {
      core.warning(
        `uploadPlan: the plan could not be uploaded (${(e as Error).message}); it stays at ${path}`,
      );
      return undefined;
    }
  }

  /** GitHub OIDC: the runner sets these two variables only for jobs with `id-token: write`. */
  idTokenFetcher(): ((audience: string) => Promise<string>) | undefined {
    if (!this.env.ACTIONS_ID_TOKEN_REQUEST_URL || !this.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
      return undefined;
    // getIDToken masks each token it returns.
    return (audience) => core.getIDToken(audience);
  }
}
