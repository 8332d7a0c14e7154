import * as core from '@actions/core';
import { tmpdir } from 'node:os';
import type { Logger } from '../../core/ports.js';
import type { BuildAgent } from '../agent.js';

/** @actions/core's workflow commands: `::warning::` and `::error::` become annotations. */
export const githubLogger: Logger = {
  info: (m) => core.info(m),
  warning: (m) => core.warning(m),
  error: (m) => core.error(m),
  debug: (m) => core.debug(m),
  group: (title, fn) => core.group(title, fn),
};

/** The BuildAgent of the GitHub Action: inputs from `INPUT_*`, outputs and summary through the runner's files. */
export class GitHubAgent implements BuildAgent {
  readonly platform = 'github' as const;
  readonly logger = githubLogger;
  readonly tempDir: string;
  private readonly token: string;

  constructor(readonly env: Record<string, string | undefined> = process.env) {
    this.tempDir = env.RUNNER_TEMP || tmpdir();
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

  async summary(markdown: string): Promise<void> {
    // Outside a runner (no GITHUB_STEP_SUMMARY) the summary goes to the log instead of failing the job.
    if (!this.env.GITHUB_STEP_SUMMARY) return core.info(markdown);
    await core.summary.addRaw(markdown, true).write();
  }

  platformToken(): string | undefined {
    return this.token || undefined;
  }

  /** GitHub OIDC: the runner sets these two variables only for jobs with `id-token: write`. */
  idTokenFetcher(): ((audience: string) => Promise<string>) | undefined {
    if (!this.env.ACTIONS_ID_TOKEN_REQUEST_URL || !this.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN)
      return undefined;
    // getIDToken masks each token it returns.
    return (audience) => core.getIDToken(audience);
  }
}
