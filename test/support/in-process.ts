/**
 * Runs a host's `run()` in this process, as runner.ts's runAction and runTask would start its
 * bundle: process.env is exactly the environment the runner gives (restored afterwards), and
 * what the host writes to stdout and stderr is captured. @actions/core and task-lib read
 * process.env and write to process.stdout, so one run at a time.
 */
import * as core from '@actions/core';
import type { HostRun, ProcessRun } from './runner.js';

type Env = Record<string, string | undefined>;
type Run = (env: Env) => Promise<number>;

function setProcessEnv(env: Env): void {
  for (const name of Object.keys(process.env)) delete process.env[name];
  for (const [name, value] of Object.entries(env))
    if (value !== undefined) process.env[name] = value;
}

/** Calls `run` with `env` as process.env and stdout and stderr captured; restores both after. */
export async function inProcess(env: Env, run: () => Promise<number>): Promise<ProcessRun> {
  const saved = { ...process.env };
  const printed = { stdout: '', stderr: '' };
  const writes = { stdout: process.stdout.write, stderr: process.stderr.write };
  for (const stream of ['stdout', 'stderr'] as const) {
    process[stream].write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      printed[stream] += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof process.stdout.write;
  }
  setProcessEnv(env);
  try {
    return { code: await run(), ...printed };
  } finally {
    process.stdout.write = writes.stdout;
    process.stderr.write = writes.stderr;
    setProcessEnv(saved);
  }
}

/** The action's run() as runAction's host. */
export function actionInProcess(run: Run): HostRun {
  return (env) =>
    inProcess(env, () => {
      // @actions/core's summary keeps the GITHUB_STEP_SUMMARY it first read; each step has its own.
      (core.summary as unknown as { _filePath?: string })._filePath = undefined;
      core.summary.emptyBuffer();
      return run(process.env);
    });
}

/**
 * The task's run() as runTask's host. task-lib moves the inputs and endpoints out of process.env
 * into its vault when it is first imported; each later run loads them again. `load` imports the
 * task's module: lazily, so that task-lib first loads with a run's environment.
 */
export function taskInProcess(load: () => Promise<{ run: Run }>): HostRun {
  return (env) =>
    inProcess(env, async () => {
      await loadTaskLib();
      const { run } = await load();
      return run(process.env);
    });
}

async function loadTaskLib(): Promise<void> {
  const loaded = (globalThis as { _vsts_task_lib_loaded?: boolean })._vsts_task_lib_loaded;
  // Imported first, task-lib loads the data itself (and internal.js's exports include its vault).
  await import('azure-pipelines-task-lib');
  if (!loaded) return;
  const internal = await import('azure-pipelines-task-lib/internal.js');
  const live = internal.default as unknown as typeof internal;
  // An ES module's view of a CommonJS module's exports is fixed at import: the task's modules
  // keep the vault of the first load, so that vault takes the new one's key and contents.
  const vault = internal._vault;
  live._loadData();
  Object.assign(vault, live._vault);
  live._vault = vault;
}
