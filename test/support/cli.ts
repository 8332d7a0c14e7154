import { fileURLToPath } from 'node:url';
import { runNode, type ProcessRun } from './runner.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/index.cjs', import.meta.url));

export type CliRun = ProcessRun;

/** Runs the bundled CLI as a user would (`node dist/cli/index.cjs …`), bounded in time. */
export function runCli(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 60_000,
): Promise<CliRun> {
  return runNode(CLI, { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeoutMs, args);
}
