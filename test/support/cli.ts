import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, expect } from 'vitest';
import { markerRef, parseMarkerRef } from '../../src/coordination/github.js';
import type { Descriptor } from '../../src/core/oci.js';
import type { CoverScope, MarkerState } from '../../src/core/runs.js';
import { OciRegistry } from '../../src/registry/oci/index.js';
import { startDockerRegistry, type DockerRegistry } from './docker-registry.js';
import { FakeGitHub, type FakeRun } from './fake-github.js';
import type { RunnerJob } from './github-job.js';
import { lifecycleMarksByHttp } from './registry-http.js';
import { runNode, type ProcessRun } from './runner.js';
import { seedScenario, writeImageInfo, type Scenario } from './scenario.js';
import { ociRegistry, pushImage } from './seed.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/index.cjs', import.meta.url));

export type CliRun = ProcessRun;

type Env = Record<string, string | undefined>;

/** Runs the bundled CLI as a user would (`node dist/cli/index.cjs …`), bounded in time. */
export function runCli(args: string[], env: Env = {}, timeoutMs = 60_000): Promise<CliRun> {
  return runNode(CLI, { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, timeoutMs, args);
}

/**
 * The CLI bundle the black-box tests run: EOL_GATE_CLI_BUNDLE points them at another one (e.g.
 * one built from a commit before a fix, to show that the tests fail there).
 */
export const BUNDLE = process.env.EOL_GATE_CLI_BUNDLE || CLI;

/** Runs BUNDLE with exactly `env`, bounded in time. */
export function runBundle(env: Env, args: string[], timeoutMs = 60_000): Promise<CliRun> {
  return runNode(BUNDLE, env, timeoutMs, args);
}

/** `eol-gate <args>` (BUNDLE) as the next step of `job`, with the env its earlier steps left. */
export function runStep(job: RunnerJob, args: string[], timeoutMs?: number): Promise<CliRun> {
  return job.step((env) => runBundle(env, args, timeoutMs));
}

/** The repository of the fake GitHub the runs belong to (and the coordination repository). */
export const HOME_REPOSITORY = 'octo/images';

/** The format of the participant ids eol-gate makes when it has no job id. */
export const PARTICIPANT = /^p[a-z2-7]{20}$/;

/** Expects exit 0 (showing the output otherwise) and returns the run. */
export function ok(run: CliRun): CliRun {
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
  return run;
}

export interface AnnotateJson {
  outcome: string;
  counts: Record<string, number>;
  waitedSeconds: number;
}

/** The JSON a `--json` run printed on stdout; no JSON there fails with the run's output. */
export function jsonOf<T = AnnotateJson>(run: CliRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`no JSON on stdout (exit ${run.code}): ${run.stdout}\n${run.stderr}`);
  }
}

/** `eol-gate signal` on the GitHub store. */
export const signalArgs = (group: string, state: string, ...more: string[]): string[] => [
  'signal',
  '--coordinator',
  'github',
  '--group',
  group,
  '--state',
  state,
  ...more,
];

/**
 * `eol-gate annotate --json` on the GitHub store, waiting at most `timeout`; `--min-age 0`,
 * `--poll-interval 100ms` and `--on-timeout skip` unless `more` gives them.
 */
export function annotateArgs(
  gate: { registry: string; imageInfo: string; group: string; timeout: string },
  ...more: string[]
): string[] {
  const unless = (flag: string, value: string) => (more.includes(flag) ? [] : [flag, value]);
  return [
    'annotate',
    '--coordinator',
    'github',
    ...unless('--min-age', '0'),
    '--json',
    '--registry',
    gate.registry,
    '--image-info',
    gate.imageInfo,
    '--group',
    gate.group,
    '--timeout',
    gate.timeout,
    ...unless('--poll-interval', '100ms'),
    ...unless('--on-timeout', 'skip'),
    ...more,
  ];
}

/**
 * A temp dir `<prefix>…` for the describe block it is called in: made before its tests, removed
 * after them. Its path is `dir()`.
 */
export function useTempDir(prefix: string): () => string {
  let dir: string | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('temp dir used before it was made');
    return dir;
  };
}

/** A docker-registry holding the core scenario, its image-info written to a file. */
export interface ScenarioRegistry {
  registry: DockerRegistry;
  scenario: Scenario;
  /** A temp dir of the test's own. */
  dir: string;
  /** The scenario's image-info, in `dir`. */
  imageInfo: string;
  /** The lifecycle marks of `repository@digest`, as a scanner reads them over HTTP. */
  marks(key: string): Promise<{ digest: string; date: string }[]>;
}

/**
 * A docker-registry seeded with the core scenario (seedScenario) and a temp dir `<dirPrefix>…`
 * holding its image-info, for the describe block it is called in: started before its tests,
 * stopped after them. Its fields are set once the block's first beforeAll has run.
 */
export function useScenarioRegistry(dirPrefix: string): ScenarioRegistry {
  const f = {
    marks: (key: string) => {
      const [repository, digest] = key.split('@');
      return lifecycleMarksByHttp(f.registry.url, repository, digest);
    },
  } as ScenarioRegistry;
  beforeAll(async () => {
    f.registry = await startDockerRegistry();
    f.scenario = await seedScenario(ociRegistry(f.registry.url));
    f.dir = await mkdtemp(join(tmpdir(), dirPrefix));
    f.imageInfo = join(f.dir, 'image-info.json');
    await writeFile(f.imageInfo, f.scenario.imageInfo);
  });
  afterAll(async () => {
    await f.registry?.stop();
    if (f.dir) await rm(f.dir, { recursive: true, force: true });
  });
  return f;
}

/** A job of a run of the fake GitHub, as a CLI step acts for it. */
export interface Who {
  run: FakeRun;
  /** The job's id (EOL_GATE_JOB_ID); none: the step has no job id. */
  jobId?: number;
  /** The run's repository (GITHUB_REPOSITORY); HOME_REPOSITORY unless given. */
  repository?: string;
}

/**
 * What the black-box CLI tests of the GitHub store share: a fake GitHub API (HOME_REPOSITORY),
 * a real docker-registry, and a temp dir, with the ways a test acts on them. `useGitHubCli`
 * makes one for a describe block.
 */
export class GitHubCli {
  readonly github = new FakeGitHub({ owner: 'octo', repo: 'images' });
  private registry_?: DockerRegistry;
  private oci_?: OciRegistry;
  private dir_?: string;
  private stamp = Date.now() - 60_000;
  private seq = 0;

  private static need<T>(value: T | undefined): T {
    if (value === undefined) throw new Error('GitHubCli used before it was started');
    return value;
  }
  get registry(): DockerRegistry {
    return GitHubCli.need(this.registry_);
  }
  get oci(): OciRegistry {
    return GitHubCli.need(this.oci_);
  }
  /** The test's own temp dir (TMPDIR of every CLI run). */
  get dir(): string {
    return GitHubCli.need(this.dir_);
  }

  async start(dirPrefix: string): Promise<void> {
    await this.github.start();
    this.registry_ = await startDockerRegistry();
    this.oci_ = ociRegistry(this.registry_.url);
    this.dir_ = await mkdtemp(join(tmpdir(), dirPrefix));
  }

  async stop(): Promise<void> {
    await this.github.close();
    await this.registry_?.stop();
    if (this.dir_) await rm(this.dir_, { recursive: true, force: true });
  }

  /** Forgets the refs, runs, jobs and requests of the test before. */
  reset(): void {
    this.github.reset();
  }

  /** The environment of a CLI step of `who`'s job (EOL_GATE_JOB_ID only with a job id). */
  env(who: Who): Env {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: this.dir,
      EOL_GATE_RETRIES: '0',
      GITHUB_API_URL: this.github.apiUrl,
      GITHUB_REPOSITORY: who.repository ?? HOME_REPOSITORY,
      GITHUB_RUN_ID: String(who.run.id),
      GITHUB_RUN_ATTEMPT: String(who.run.run_attempt),
      GITHUB_SHA: this.github.headSha,
      GITHUB_TOKEN: this.github.token,
      EOL_GATE_JOB_ID: who.jobId === undefined ? undefined : String(who.jobId),
    };
  }

  /**
   * The environment a runner gives every step of a job of `run` when there is no job id (GitHub
   * Enterprise Server): no EOL_GATE_JOB_ID; RUNNER_NAME unless `runnerName` is undefined.
   */
  runnerEnv(run: FakeRun, runnerName?: string): Env {
    return { ...this.env({ run }), GITHUB_ACTIONS: 'true', RUNNER_NAME: runnerName };
  }

  /** `eol-gate <args>` as a step of `who`'s job. */
  cli(who: Who, args: string[], timeoutMs = 60_000): Promise<CliRun> {
    return runBundle(this.env(who), args, timeoutMs);
  }

  /** A fresh annotating job of another workflow's run. */
  annotator = (): { run: FakeRun; jobId: number } => {
    const run = this.github.createRun({ name: 'annotate' });
    return { run, jobId: this.github.createJob({ run_id: run.id, name: 'annotate' }).id };
  };

  /** Pushes image `what` (also its tag) to `repo` of the registry. */
  push = (repo: string, what: string, created = '2024-05-01T00:00:00Z'): Promise<Descriptor> =>
    pushImage(this.oci, repo, { seed: `${repo}:${what}`, tag: what, created });

  /** The lifecycle marks of `repo@d` as a scanner reads them over HTTP. */
  marks = (repo: string, d: Descriptor): Promise<{ digest: string; date: string }[]> =>
    lifecycleMarksByHttp(this.registry.url, repo, d.digest);

  /**
   * A repository `<name>-<n>/app` of its own (and group `<name>-<n>`) with `images` pushed in
   * that order, and an image-info file in the temp dir that lists `supported`.
   */
  async seed<K extends string>(
    name: string,
    images: readonly K[],
    supported: readonly K[],
  ): Promise<{ repo: string; group: string; imageInfo: string } & { [P in K]: Descriptor }> {
    const n = ++this.seq;
    const repo = `${name}-${n}/app`;
    const pushed = {} as { [P in K]: Descriptor };
    for (const what of images) pushed[what] = await this.push(repo, what);
    const imageInfo = join(this.dir, `${name}-${n}.json`);
    await writeImageInfo(
      imageInfo,
      repo,
      supported.map((k) => pushed[k]),
    );
    return { repo, group: `${name}-${n}`, imageInfo, ...pushed };
  }

  /** A number of its own for a name (group, repository) that no other test uses. */
  next(): number {
    return ++this.seq;
  }

  /**
   * Writes a marker ref of `who` straight into the fake (per-participant format, coordination
   * repository HOME_REPOSITORY) and returns it.
   */
  setMarker(
    group: string,
    who: Who & { attempt?: number },
    state: MarkerState,
    scope: CoverScope = 'job',
  ): string {
    const ref = markerRef(
      group,
      {
        runId: String(who.run.id),
        attempt: who.attempt ?? who.run.run_attempt,
        jobId: who.jobId === undefined ? undefined : String(who.jobId),
        repository: who.repository ?? HOME_REPOSITORY,
      },
      state,
      scope,
      this.stamp++,
      HOME_REPOSITORY,
    );
    this.github.refs.set(ref, this.github.headSha);
    return ref;
  }

  /** The group's markers as `run.attempt.job.state` (`-` for no job). */
  markers = (group: string): string[] =>
    [...this.github.refs.keys()]
      .map((ref) => parseMarkerRef(group, ref))
      .filter((m) => m !== undefined)
      .map((m) => `${m.runId}.${m.attempt}.${m.jobId ?? '-'}.${m.state}`);
}

/**
 * A GitHubCli for the describe block it is called in: started before its tests (temp dir
 * `<dirPrefix>…`), stopped after them, reset before each.
 */
export function useGitHubCli(dirPrefix: string): GitHubCli {
  const f = new GitHubCli();
  beforeAll(() => f.start(dirPrefix));
  afterAll(() => f.stop());
  beforeEach(() => f.reset());
  return f;
}
