/**
 * One job of a GitHub Actions run as the runner drives its steps: every step is a new process
 * given a fresh, empty `GITHUB_ENV` file; after the step ends, the runner reads the file
 * (`NAME=value` lines and `NAME<<delimiter` blocks) and sets those variables in the environment
 * of the job's LATER steps, never in the step that wrote them.
 * https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands#setting-an-environment-variable
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseGitHubOutput } from './runner.js';

type Env = Record<string, string | undefined>;

export class RunnerJob {
  /** The job's environment as its next step starts with it (GITHUB_ENV not included). */
  readonly env: Env;
  private steps = 0;

  constructor(
    /** A directory of the test's own: one env file per step goes there. */
    private readonly dir: string,
    readonly name: string,
    env: Env,
  ) {
    this.env = { ...env };
  }

  /** Runs one step with GITHUB_ENV set to a new empty file, then applies what the step wrote. */
  async step<T>(run: (env: Env) => Promise<T>): Promise<T> {
    const file = join(this.dir, `${this.name.replace(/\W+/g, '-')}-set_env_${++this.steps}`);
    await writeFile(file, '');
    try {
      return await run({ ...this.env, GITHUB_ENV: file });
    } finally {
      Object.assign(this.env, parseGitHubOutput(await readFile(file, 'utf8')));
    }
  }
}
