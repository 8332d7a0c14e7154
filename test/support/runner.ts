/**
 * Runs the bundled action and task as their runners do: a plain `node dist/<host>/index.cjs`
 * with the environment the runner builds (every declared input with its default, overridden
 * by the step's inputs), then reads back what the runner would: GitHub's output and summary
 * files and workflow commands; the Azure agent's `##vso[...]` logging commands. With a `host`
 * from in-process.ts, the host's run() is called in this process instead of its bundle.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
export const ACTION_BUNDLE = root('dist/github/index.cjs');
export const TASK_BUNDLE = root('dist/azure/index.cjs');

type Env = Record<string, string | undefined>;

export interface ProcessRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The node that runs the bundles: this one, or the one in EOL_GATE_TEST_NODE (`.ci/run` sets it
 * to a Node 24 binary, the runtime action.yml and task.json also declare).
 */
export const BUNDLE_NODE = process.env.EOL_GATE_TEST_NODE || process.execPath;

/**
 * Runs `node …nodeArgs <script> …args` with exactly `env`, bounded in time; never rejects on a
 * non-zero exit.
 */
export function runNode(
  script: string,
  env: Env,
  timeoutMs: number,
  args: string[] = [],
  nodeArgs: string[] = [],
): Promise<ProcessRun> {
  if (!existsSync(script))
    throw new Error(`${script} is missing: run \`node scripts/build.mjs\` first`);
  return new Promise((resolve, reject) => {
    const child = spawn(BUNDLE_NODE, [...nodeArgs, script, ...args], {
      env: env as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a host with exactly `env` and returns what it printed and its exit code. */
export type HostRun = (env: Env) => Promise<ProcessRun>;

const baseEnv = (): Env => ({ PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8' });

// ---------------------------------------------------------------- GitHub Actions

export interface ActionRun extends ProcessRun {
  /** `GITHUB_OUTPUT`, parsed. */
  outputs: Record<string, string>;
  /** `GITHUB_STEP_SUMMARY` as written. */
  summary: string;
  /** Workflow commands on stdout (`::error::…`), in order. */
  commands: { command: string; message: string }[];
  /** Values registered with `::add-mask::`. */
  masks: string[];
}

/**
 * What the runner puts in `INPUT_*`: each action.yml input's default, `${{ github.token }}` and
 * `${{ job.check_run_id }}` evaluated (the latter is empty where the runner does not know it).
 */
export function actionInputEnv(
  inputs: Record<string, string>,
  githubToken: string,
  checkRunId = '',
): Env {
  const manifest = parse(readFileSync(root('action.yml'), 'utf8')) as {
    inputs: Record<string, { default?: string }>;
  };
  const values: Record<string, string> = {};
  for (const [name, spec] of Object.entries(manifest.inputs)) {
    if (spec.default !== undefined)
      values[name] = spec.default
        .replace('${{ github.token }}', githubToken)
        .replace('${{ job.check_run_id }}', checkRunId);
  }
  Object.assign(values, inputs);
  // The runner's naming, which @actions/core's getInput mirrors: INPUT_ + name, spaces → _, upper case.
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v]),
  );
}

/** GITHUB_OUTPUT holds `name<<delimiter\nvalue\ndelimiter` blocks. */
export function parseGitHubOutput(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^=<]+)<<(.+)$/.exec(lines[i]);
    if (m) {
      const end = lines.indexOf(m[2], i + 1);
      if (end < 0) throw new Error(`GITHUB_OUTPUT: no closing delimiter for ${m[1]}`);
      out[m[1]] = lines.slice(i + 1, end).join('\n');
      i = end;
    } else if (lines[i].includes('=')) {
      const eq = lines[i].indexOf('=');
      out[lines[i].slice(0, eq)] = lines[i].slice(eq + 1);
    }
  }
  return out;
}

export async function runAction(options: {
  inputs: Record<string, string>;
  env?: Env;
  githubToken?: string;
  /** The job's check run id, as `${{ job.check_run_id }}` evaluates (default: a fixed id, as runners since 2025-09 give). */
  checkRunId?: string;
  timeoutMs?: number;
  /** Runs the action with the runner's environment: by default its bundle, as the runner does. */
  host?: HostRun;
}): Promise<ActionRun> {
  const dir = await mkdtemp(join(tmpdir(), 'eol-gate-gha-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary.md');
  // The runner creates both files empty before the step.
  await writeFile(outputFile, '');
  await writeFile(summaryFile, '');
  const env: Env = {
    ...baseEnv(),
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    RUNNER_TEMP: dir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    ...options.env,
    ...actionInputEnv(options.inputs, options.githubToken ?? '', options.checkRunId ?? '8800001'),
  };
  const host = options.host ?? ((e) => runNode(ACTION_BUNDLE, e, options.timeoutMs ?? 60_000));
  const run = await host(env);
  const commands = run.stdout
    .split(/\r?\n/)
    .map((line) => /^::([a-z-]+)(?: [^:]*)?::(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({
      command: m[1],
      message: m[2].replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%'),
    }));
  return {
    ...run,
    outputs: parseGitHubOutput(await readFile(outputFile, 'utf8')),
    summary: await readFile(summaryFile, 'utf8'),
    commands,
    masks: commands.filter((c) => c.command === 'add-mask').map((c) => c.message),
  };
}

// ---------------------------------------------------------------- Azure Pipelines

export interface VsoCommand {
  /** e.g. `task.setvariable` */
  command: string;
  properties: Record<string, string>;
  message: string;
  /** Line number on stdout. */
  line: number;
}

export interface TaskRun extends ProcessRun {
  vso: VsoCommand[];
  /** `task.setvariable` with isOutput=true. */
  outputs: Record<string, string>;
  /** `task.complete` result (Succeeded, SucceededWithIssues, Failed). */
  result: string | undefined;
  /** Contents of the files uploaded with `task.uploadsummary`. */
  summaries: string[];
  /** `task.issue` messages by type. */
  issues: { type: string; message: string }[];
  secrets: string[];
  lines: string[];
}

const unescapeData = (s: string) =>
  s
    .replace(/%0D/g, '\r')
    .replace(/%0A/g, '\n')
    .replace(/%AZP25/g, '%');
const unescapeProperty = (s: string) => unescapeData(s.replace(/%5D/g, ']').replace(/%3B/g, ';'));

/** The agent's parser: `##vso[area.action key=value;key=value]message`, anywhere in a line. */
export function parseVso(stdout: string): VsoCommand[] {
  const out: VsoCommand[] = [];
  stdout.split(/\r?\n/).forEach((text, line) => {
    const start = text.indexOf('##vso[');
    if (start < 0) return;
    const close = text.indexOf(']', start);
    if (close < 0) return;
    const [command, ...rest] = text
      .slice(start + 6, close)
      .trim()
      .split(' ');
    const properties: Record<string, string> = {};
    for (const pair of rest.join(' ').split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0) properties[pair.slice(0, eq).trim()] = unescapeProperty(pair.slice(eq + 1));
    }
    out.push({ command, properties, message: unescapeData(text.slice(close + 1)), line });
  });
  return out;
}

/** What the agent puts in `INPUT_*`: each task.json input's defaultValue, overridden by the step's inputs. */
export function taskInputEnv(inputs: Record<string, string>): Env {
  const manifest = JSON.parse(readFileSync(root('task.json'), 'utf8')) as {
    inputs: { name: string; defaultValue?: string }[];
  };
  const values: Record<string, string> = {};
  for (const input of manifest.inputs)
    if (input.defaultValue) values[input.name] = input.defaultValue;
  Object.assign(values, inputs);
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [
      `INPUT_${k.replace(/\./g, '_').replace(/ /g, '_').toUpperCase()}`,
      v,
    ]),
  );
}

/** The environment the agent gives a task for an endpoint: the JSON form and the per-parameter form. */
export function endpointEnv(
  id: string,
  scheme: string,
  parameters: Record<string, string>,
  url?: string,
): Env {
  const env: Env = {
    [`ENDPOINT_AUTH_${id}`]: JSON.stringify({ scheme, parameters }),
    [`ENDPOINT_AUTH_SCHEME_${id}`]: scheme,
  };
  for (const [key, value] of Object.entries(parameters))
    env[`ENDPOINT_AUTH_PARAMETER_${id}_${key.toUpperCase()}`] = value;
  if (url) env[`ENDPOINT_URL_${id}`] = url;
  return env;
}

export async function runTask(options: {
  inputs: Record<string, string>;
  env?: Env;
  timeoutMs?: number;
  /** Runs the task with the agent's environment: by default its bundle, as the agent does. */
  host?: HostRun;
}): Promise<TaskRun> {
  const temp = await mkdtemp(join(tmpdir(), 'eol-gate-azp-'));
  const env: Env = {
    ...baseEnv(),
    TF_BUILD: 'True',
    AGENT_TEMPDIRECTORY: temp,
    ...options.env,
    ...taskInputEnv(options.inputs),
  };
  const host = options.host ?? ((e) => runNode(TASK_BUNDLE, e, options.timeoutMs ?? 60_000));
  const run = await host(env);
  const vso = parseVso(run.stdout);
  const outputs: Record<string, string> = {};
  for (const c of vso) {
    if (c.command === 'task.setvariable' && c.properties.isOutput === 'true')
      outputs[c.properties.variable] = c.message;
  }
  const summaries: string[] = [];
  for (const c of vso.filter((v) => v.command === 'task.uploadsummary'))
    summaries.push(await readFile(c.message, 'utf8'));
  return {
    ...run,
    vso,
    outputs,
    result: vso.filter((c) => c.command === 'task.complete').at(-1)?.properties.result,
    summaries,
    issues: vso
      .filter((c) => c.command === 'task.issue')
      .map((c) => ({ type: c.properties.type, message: c.message })),
    secrets: vso.filter((c) => c.command === 'task.setsecret').map((c) => c.message),
    lines: run.stdout.split(/\r?\n/),
  };
}
