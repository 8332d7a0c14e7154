import { RUN_CONTEXT_VARIABLES, type RunContext } from '../core/run-context.js';

type Env = Record<string, string | undefined>;

/** Reads each field of `section` from its variable; empty values count as unset. */
function section<K extends 'github' | 'azure'>(env: Env, key: K): RunContext[K] {
  const out: Record<string, string> = {};
  for (const [field, variable] of Object.entries(RUN_CONTEXT_VARIABLES[key])) {
    if (env[variable]) out[field] = env[variable];
  }
  return out as RunContext[K];
}

/** The RunContext of a process whose CI variables are `env` (each agent calls it once). */
export function runContextFromEnv(env: Env, tempDir: string): RunContext {
  return {
    platform: env.TF_BUILD ? 'azure-pipelines' : env.GITHUB_ACTIONS ? 'github' : 'none',
    tempDir,
    github: section(env, 'github'),
    azure: section(env, 'azure'),
  };
}
