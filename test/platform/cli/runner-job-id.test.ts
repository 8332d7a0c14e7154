/**
 * GitHub Enterprise Server has no `job.check_run_id`. A participant id of eol-gate's own is
 * unknown to the jobs API, so a record job's run-scope cover never covers it (the protocol
 * judges covers by the service's job times) and a failed job holding one is never released. So
 * the job's first eol-gate step finds the job's real id in the jobs API of its run attempt (the
 * in-progress job whose `runner_name` is RUNNER_NAME) and keeps it in GITHUB_ENV as
 * EOL_GATE_JOB_ID for the job's later steps (test/support/github-job.ts). Bundled CLI, fake
 * GitHub API, real docker-registry.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseMarkerRef } from '../../../src/coordination/github.js';
import type { Descriptor } from '../../../src/core/oci.js';
import { OciRegistry } from '../../../src/registry/oci/index.js';
import { CLI } from '../../support/cli.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { FakeGitHub, type FakeRun } from '../../support/fake-github.js';
import { RunnerJob } from '../../support/github-job.js';
import { lifecycleMarksByHttp } from '../../support/registry-http.js';
import { runNode, type ProcessRun } from '../../support/runner.js';
import { pushImage } from '../../support/seed.js';

const BUNDLE = process.env.EOL_GATE_CLI_BUNDLE || CLI;
const HOME = 'octo/images';
const PARTICIPANT = /^p[a-z2-7]{20}$/;

type Env = Record<string, string | undefined>;

describe('no job id on a runner: the job id from the jobs API by RUNNER_NAME (bundled CLI, fake GitHub, real docker-registry)', () => {
  const github = new FakeGitHub({ owner: 'octo', repo: 'images' });
  let registry: DockerRegistry;
  let oci: OciRegistry;
  let dir: string;
  let seq = 0;

  beforeAll(async () => {
    await github.start();
    registry = await startDockerRegistry();
    oci = new OciRegistry({ url: registry.url });
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-runner-job-id-'));
  });
  afterAll(async () => {
    await github.close();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    github.refs.clear();
    github.clearActions();
    github.requests.length = 0;
  });

  /**
   * The environment a GHES runner gives every step of a job of `run`: no EOL_GATE_JOB_ID;
   * RUNNER_NAME unless `runner` is undefined.
   */
  const runnerEnv = (run: FakeRun, runner: string | undefined): Env => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: dir,
    GITHUB_ACTIONS: 'true',
    EOL_GATE_RETRIES: '0',
    GITHUB_API_URL: github.apiUrl,
    GITHUB_REPOSITORY: HOME,
    GITHUB_RUN_ID: String(run.id),
    GITHUB_RUN_ATTEMPT: String(run.run_attempt),
    GITHUB_SHA: github.headSha,
    GITHUB_TOKEN: github.token,
    RUNNER_NAME: runner,
  });

  const step = (job: RunnerJob, args: string[], timeoutMs = 60_000) =>
    job.step((env) => runNode(BUNDLE, env, timeoutMs, args));

  const ok = (run: ProcessRun) => {
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    return run;
  };

  const signalArgs = (group: string, state: string, ...more: string[]) => [
    'signal',
    '--coordinator',
    'github',
    '--group',
    group,
    '--state',
    state,
    ...more,
  ];

  const annotateArgs = (imageInfo: string, group: string, timeout: string) => [
    'annotate',
    '--coordinator',
    'github',
    '--scope',
    'run',
    '--min-age',
    '0',
    '--json',
    '--registry',
    registry.url,
    '--image-info',
    imageInfo,
    '--group',
    group,
    '--timeout',
    timeout,
    '--poll-interval',
    '100ms',
    '--on-timeout',
    'skip',
  ];

  /** The participants (run.attempt.job) of the group's marker refs, with their states. */
  const markers = (group: string) =>
    [...github.refs.keys()]
      .map((ref) => parseMarkerRef(group, ref))
      .filter((m) => m !== undefined)
      .map((m) => `${m.runId}.${m.attempt}.${m.jobId ?? '-'}.${m.state}`);

  const lookups = () => github.requests.filter((r) => /\/attempts\/\d+\/jobs$/.test(r.path));

  async function writeImageInfo(path: string, repo: string, supported: Descriptor[]) {
    await writeFile(
      path,
      JSON.stringify({
        schemaVersion: '2.0',
        repos: [
          {
            repo,
            images: supported.map((d, i) => ({
              platforms: [
                {
                  dockerfile: `src/${i}/Dockerfile`,
                  simpleTags: [`tag-${i}`],
                  digest: `mcr.microsoft.com/${repo}@${d.digest}`,
                  osType: 'Linux',
                  architecture: 'amd64',
                },
              ],
            })),
          },
        ],
      }),
    );
  }
  const marks = (repo: string, d: Descriptor) => lifecycleMarksByHttp(registry.url, repo, d.digest);
  const push = (repo: string, what: string) =>
    pushImage(oci, repo, { seed: `${repo}:${what}`, tag: what, created: '2024-05-01T00:00:00Z' });

  it('the first step finds the job id by RUNNER_NAME and keeps it; a later step reuses it without a lookup', async () => {
    const group = `found-${++seq}`;
    const run = github.createRun({ name: 'publish' });
    // Two legs running on two runners; another job of the run waits for a runner.
    const legA = github.createJob({ run_id: run.id, name: 'build (a)', runner_name: 'ghes-a' });
    const legB = github.createJob({ run_id: run.id, name: 'build (b)', runner_name: 'ghes-b' });
    github.createJob({ run_id: run.id, name: 'record', status: 'queued' });
    const a = new RunnerJob(dir, `a-${seq}`, runnerEnv(run, 'ghes-a'));
    const b = new RunnerJob(dir, `b-${seq}`, runnerEnv(run, 'ghes-b'));

    const first = ok(await step(a, signalArgs(group, 'publishing')));
    expect(a.env.EOL_GATE_JOB_ID).toBe(String(legA.id));
    expect(a.env.EOL_GATE_PARTICIPANT).toBeUndefined();
    expect(first.stderr).toContain(
      `job ${legA.id}: this job's id, found in the jobs API as the in-progress job of runner "ghes-a"; kept in GITHUB_ENV as EOL_GATE_JOB_ID`,
    );
    expect(first.stderr).not.toMatch(/warning/);
    expect(lookups().map((r) => `${r.path}?${r.query}`)).toEqual([
      `/repos/${HOME}/actions/runs/${run.id}/attempts/1/jobs?per_page=100`,
    ]);
    ok(await step(b, signalArgs(group, 'publishing')));
    expect(b.env.EOL_GATE_JOB_ID).toBe(String(legB.id));

    github.requests.length = 0;
    const later = ok(await step(a, signalArgs(group, 'image-info-updated')));
    expect(lookups()).toEqual([]);
    expect(later.stderr).not.toMatch(/jobs API|participant/);
    expect(a.env.EOL_GATE_JOB_ID).toBe(String(legA.id));
    expect(markers(group).sort()).toEqual(
      [
        `${run.id}.1.${legA.id}.publishing`,
        `${run.id}.1.${legA.id}.image-info-updated`,
        `${run.id}.1.${legB.id}.publishing`,
      ].sort(),
    );
  });

  it('a runner name no in-progress job has: a participant id, with a warning that says why and what it costs', async () => {
    const group = `not-found-${++seq}`;
    const run = github.createRun({ name: 'publish' });
    github.createJob({ run_id: run.id, name: 'build', runner_name: 'someone-else' });
    const job = new RunnerJob(dir, `nf-${seq}`, runnerEnv(run, 'ghes-a'));
    const first = ok(await step(job, signalArgs(group, 'publishing')));
    const id = job.env.EOL_GATE_PARTICIPANT;
    expect(id).toMatch(PARTICIPANT);
    expect(job.env.EOL_GATE_JOB_ID).toBeUndefined();
    expect(first.stderr).toMatch(
      /warning: this job's id was not found in the jobs API: no in-progress job of this run attempt runs on runner "ghes-a" \(4 listings over 7s\)/,
    );
    expect(first.stderr).toMatch(/never covers this job's publishing/);
    expect(lookups()).toHaveLength(4);
    // The later steps stay that participant and look nothing up.
    github.requests.length = 0;
    ok(await step(job, signalArgs(group, 'image-info-updated')));
    expect(lookups()).toEqual([]);
    expect(markers(group).sort()).toEqual(
      [`${run.id}.1.${id}.publishing`, `${run.id}.1.${id}.image-info-updated`].sort(),
    );
  }, 60_000);

  /**
   * A matrix on GHES: legs a and b push and complete; the record job (needs both, scope run)
   * records what they pushed, signals image-info-updated --scope run, then annotates.
   */
  async function ghesMatrix(runners: { a?: string; b?: string; record?: string }, timeout: string) {
    const group = `matrix-${++seq}`;
    const repo = `matrix-${seq}/app`;
    const s = await push(repo, 's');
    const o = await push(repo, 'o');
    const imageInfo = join(dir, `matrix-${seq}.json`);
    await writeImageInfo(imageInfo, repo, [s]);
    const run = github.createRun({ name: 'publish' });
    const jobA = github.createJob({ run_id: run.id, name: 'build (a)', runner_name: 'ghes-a' });
    const jobB = github.createJob({ run_id: run.id, name: 'build (b)', runner_name: 'ghes-b' });
    const legA = new RunnerJob(dir, `ma-${seq}`, runnerEnv(run, runners.a));
    const legB = new RunnerJob(dir, `mb-${seq}`, runnerEnv(run, runners.b));
    ok(await step(legA, signalArgs(group, 'publishing')));
    ok(await step(legB, signalArgs(group, 'publishing')));
    const x = await legA.step(() => push(repo, 'x'));
    const y = await legB.step(() => push(repo, 'y'));
    github.completeJob(jobA.id);
    github.completeJob(jobB.id);
    // The record job starts once both legs completed (needs: [a, b]), on a runner of its own.
    const recordJob = github.createJob({ run_id: run.id, name: 'record', runner_name: 'ghes-r' });
    const record = new RunnerJob(dir, `mr-${seq}`, runnerEnv(run, runners.record));
    await record.step(() => writeImageInfo(imageInfo, repo, [s, x, y]));
    ok(await step(record, signalArgs(group, 'image-info-updated', '--scope', 'run')));
    const started = Date.now();
    const annotated = ok(await step(record, annotateArgs(imageInfo, group, timeout)));
    return {
      run,
      ids: { a: jobA.id, b: jobB.id, record: recordJob.id },
      jobs: { legA, legB, record },
      result: JSON.parse(annotated.stdout) as { outcome: string; waitedFor: unknown[] },
      stderr: annotated.stderr,
      elapsedMs: Date.now() - started,
      marked: async () => ({
        s: await marks(repo, s),
        x: await marks(repo, x),
        y: await marks(repo, y),
        o: await marks(repo, o),
      }),
      group,
    };
  }

  it('a GHES matrix whose record job (scope run) annotates finishes without waiting for its own legs', async () => {
    const m = await ghesMatrix({ a: 'ghes-a', b: 'ghes-b', record: 'ghes-r' }, '20s');
    expect(m.result).toMatchObject({ outcome: 'applied', waitedFor: [] });
    expect(m.stderr).not.toMatch(/waiting for/);
    expect(m.elapsedMs).toBeLessThan(15_000);
    const marked = await m.marked();
    expect(marked.s).toEqual([]);
    expect(marked.x).toEqual([]);
    expect(marked.y).toEqual([]);
    expect(marked.o).toHaveLength(1);
    // Every participant is a job the jobs API knows.
    expect(m.jobs.legA.env.EOL_GATE_JOB_ID).toBe(String(m.ids.a));
    expect(m.jobs.legB.env.EOL_GATE_JOB_ID).toBe(String(m.ids.b));
    expect(m.jobs.record.env.EOL_GATE_JOB_ID).toBe(String(m.ids.record));
    expect(markers(m.group)).toContain(`${m.run.id}.1.${m.ids.a}.publishing`);
  });

  it('the same matrix with participant ids (no RUNNER_NAME) waits for its own legs until it times out', async () => {
    const m = await ghesMatrix({}, '2s');
    expect(m.result).toMatchObject({ outcome: 'timed-out' });
    expect(m.stderr).toMatch(new RegExp(`waiting for: run ${m.run.id} \\(attempt 1\\)`));
    expect(m.jobs.legA.env.EOL_GATE_PARTICIPANT).toMatch(PARTICIPANT);
    expect((await m.marked()).o).toEqual([]);
  });
});
