/**
 * Issue 18, hole 2: without a job id (GitHub Enterprise Server has no `job.check_run_id`, a CLI
 * user may not pass `--job-id`) the matrix legs of one run must not merge into one participant.
 * Each eol-gate step is a separate CLI process; the runner carries what a step appends to
 * GITHUB_ENV into the job's later steps (test/support/github-job.ts). Fake GitHub API, real
 * docker-registry. EOL_GATE_CLI_BUNDLE runs another bundle (e.g. one built before the fix, on
 * which the first test marks leg B's image).
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

describe('no job id: participant ids through GITHUB_ENV (bundled CLI, fake GitHub, real docker-registry)', () => {
  const github = new FakeGitHub({ owner: 'octo', repo: 'images' });
  let registry: DockerRegistry;
  let oci: OciRegistry;
  let dir: string;
  let seq = 0;

  beforeAll(async () => {
    await github.start();
    registry = await startDockerRegistry();
    oci = new OciRegistry({ url: registry.url });
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-participant-'));
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

  /** The environment the runner gives every step of a job of `run` (no EOL_GATE_JOB_ID). */
  const runnerEnv = (run: FakeRun): Env => ({
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
  });

  const cli = (env: Env, args: string[], timeoutMs = 60_000) =>
    runNode(BUNDLE, env, timeoutMs, args);

  /** `eol-gate <args>` as one step of `job`. */
  const step = (job: RunnerJob, args: string[], timeoutMs?: number) =>
    job.step((env) => cli(env, args, timeoutMs));

  const ok = (run: ProcessRun) => {
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    return run;
  };

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

  /** An annotate of another workflow's run, which has a job id. */
  function annotator(imageInfo: string, group: string, timeout: string) {
    const run = github.createRun({ name: 'annotate' });
    const job = github.createJob({ run_id: run.id, name: 'annotate' });
    return cli({ ...runnerEnv(run), EOL_GATE_JOB_ID: String(job.id) }, [
      'annotate',
      '--coordinator',
      'github',
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
    ]);
  }

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

  /** The participants (run.attempt.job) of the group's marker refs, with their states. */
  const markers = (group: string) =>
    [...github.refs.keys()]
      .map((ref) => parseMarkerRef(group, ref))
      .filter((m) => m !== undefined)
      .map((m) => `${m.runId}.${m.attempt}.${m.jobId ?? '-'}.${m.state}`);

  it('matrix legs without a job id stay two participants: leg A recording does not release leg B', async () => {
    const group = `legs-${++seq}`;
    const repo = `legs-${seq}/app`;
    const s = await push(repo, 's');
    const o = await push(repo, 'o');
    const imageInfo = join(dir, `legs-${seq}.json`);
    await writeImageInfo(imageInfo, repo, [s]);
    // One run, two matrix legs; GitHub Enterprise Server gives neither leg a job id.
    const run = github.createRun({ name: 'publish' });
    const legA = new RunnerJob(dir, `a-${seq}`, runnerEnv(run));
    const legB = new RunnerJob(dir, `b-${seq}`, runnerEnv(run));

    ok(await step(legA, signalArgs(group, 'publishing')));
    ok(await step(legB, signalArgs(group, 'publishing')));
    const x = await legA.step(() => push(repo, 'x'));
    const y = await legB.step(() => push(repo, 'y'));
    // Leg A records x and says so; leg B has pushed y and not recorded it yet.
    await legA.step(() => writeImageInfo(imageInfo, repo, [s, x]));
    ok(await step(legA, signalArgs(group, 'image-info-updated')));

    const first = await annotator(imageInfo, group, '1s');
    expect(first.code, first.stderr).toBe(0);
    expect(await marks(repo, y), 'y: pushed by leg B, not recorded yet').toEqual([]);
    expect(await marks(repo, x)).toEqual([]);
    expect(JSON.parse(first.stdout)).toMatchObject({ outcome: 'timed-out' });
    expect(first.stderr).toMatch(new RegExp(`waiting for: run ${run.id} \\(attempt 1\\)`));

    // Each leg kept one participant id of its own across its steps, none a real job id.
    const a = legA.env.EOL_GATE_PARTICIPANT;
    const b = legB.env.EOL_GATE_PARTICIPANT;
    expect(a).toMatch(PARTICIPANT);
    expect(b).toMatch(PARTICIPANT);
    expect(a).not.toBe(b);
    expect(
      markers(group)
        .filter((m) => m.startsWith(`${run.id}.`))
        .sort(),
    ).toEqual(
      [
        `${run.id}.1.${a}.publishing`,
        `${run.id}.1.${a}.image-info-updated`,
        `${run.id}.1.${b}.publishing`,
      ].sort(),
    );

    // Leg B records y; now only the orphan is marked.
    await legB.step(() => writeImageInfo(imageInfo, repo, [s, x, y]));
    const recorded = ok(await step(legB, signalArgs(group, 'image-info-updated')));
    expect(recorded.stderr).toContain(`${b}`);
    expect(recorded.stderr).toMatch(/EOL_GATE_PARTICIPANT/);
    const second = ok(await annotator(imageInfo, group, '10s'));
    expect(JSON.parse(second.stdout)).toMatchObject({
      outcome: 'applied',
      counts: { annotated: 1 },
    });
    for (const d of [s, x, y]) expect(await marks(repo, d)).toEqual([]);
    expect(await marks(repo, o)).toHaveLength(1);
  });

  it('an annotating leg without a job id waits for its sibling leg and marks only orphans', async () => {
    const group = `annotating-leg-${++seq}`;
    const repo = `annotating-leg-${seq}/app`;
    const s = await push(repo, 's');
    const o = await push(repo, 'o');
    const imageInfo = join(dir, `annotating-leg-${seq}.json`);
    await writeImageInfo(imageInfo, repo, [s]);
    const run = github.createRun({ name: 'publish' });
    const legA = new RunnerJob(dir, `a-${seq}`, runnerEnv(run));
    const legB = new RunnerJob(dir, `b-${seq}`, runnerEnv(run));
    ok(await step(legA, signalArgs(group, 'publishing')));
    ok(await step(legB, signalArgs(group, 'publishing')));
    const y = await legB.step(() => push(repo, 'y'));
    // Leg A annotates (its own publishing is covered by the image-info-updated annotate writes).
    const gated = (timeout: string) => [
      'annotate',
      '--coordinator',
      'github',
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
    const first = ok(await step(legA, gated('1s')));
    expect(await marks(repo, y), 'y: pushed by leg B, not recorded yet').toEqual([]);
    expect(JSON.parse(first.stdout)).toMatchObject({ outcome: 'timed-out' });
    await legB.step(() => writeImageInfo(imageInfo, repo, [s, y]));
    ok(await step(legB, signalArgs(group, 'image-info-updated')));
    const second = ok(await step(legA, gated('10s')));
    expect(JSON.parse(second.stdout)).toMatchObject({ outcome: 'applied' });
    expect(await marks(repo, y)).toEqual([]);
    expect(await marks(repo, o)).toHaveLength(1);
  });

  describe('neither a job id nor GITHUB_ENV (a CLI outside a runner)', () => {
    const plain = () => {
      const run = github.createRun({ name: 'publish' });
      return { run, env: runnerEnv(run) };
    };

    it.each([
      ['publishing', []],
      ['image-info-updated', []],
      ['image-info-updated', ['--scope', 'job']],
    ])(
      'signal %s %j refuses (exit 2) naming --job-id and --scope run, writing nothing',
      async (state, more) => {
        const { env } = plain();
        const r = await cli(env, signalArgs(`refuse-${++seq}`, state, ...more));
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain('--job-id');
        expect(r.stderr).toContain('--scope run');
        expect(github.refs.size).toBe(0);
        expect(github.requests.filter((q) => q.method !== 'GET')).toEqual([]);
      },
    );

    it('signal --scope run makes the whole run one participant, as before', async () => {
      const { run, env } = plain();
      const group = `whole-run-${++seq}`;
      ok(await cli(env, signalArgs(group, 'publishing', '--scope', 'run')));
      ok(await cli(env, signalArgs(group, 'image-info-updated', '--scope', 'run')));
      expect(markers(group).sort()).toEqual(
        [`${run.id}.1.-.publishing`, `${run.id}.1.-.image-info-updated`].sort(),
      );
    });

    it('annotate refuses like signal, unless --scope run; a dry run does not refuse', async () => {
      const repo = `cli-annotate-${++seq}/app`;
      const s = await push(repo, 's');
      const o = await push(repo, 'o');
      const imageInfo = join(dir, `cli-annotate-${seq}.json`);
      await writeImageInfo(imageInfo, repo, [s]);
      const { env } = plain();
      const args = [
        'annotate',
        '--coordinator',
        'github',
        '--min-age',
        '0',
        '--json',
        '--registry',
        registry.url,
        '--image-info',
        imageInfo,
        '--group',
        `cli-annotate-${seq}`,
        '--timeout',
        '5s',
      ];
      const refused = await cli(env, args);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain('--job-id');
      expect(github.requests.filter((q) => q.method !== 'GET')).toEqual([]);
      expect(await marks(repo, o)).toEqual([]);

      const dry = ok(await cli(env, [...args, '--dry-run']));
      expect(JSON.parse(dry.stdout)).toMatchObject({ outcome: 'dry-run' });
      expect(github.requests.filter((q) => q.method !== 'GET')).toEqual([]);

      const whole = ok(await cli(env, [...args, '--scope', 'run']));
      expect(JSON.parse(whole.stdout)).toMatchObject({ outcome: 'applied' });
      expect(await marks(repo, o)).toHaveLength(1);
    });

    it('an explicit --job-id is used as before', async () => {
      const { run, env } = plain();
      const group = `explicit-${++seq}`;
      ok(await cli(env, [...signalArgs(group, 'publishing'), '--job-id', '4242']));
      expect(markers(group)).toEqual([`${run.id}.1.4242.publishing`]);
    });
  });

  it('EOL_GATE_PARTICIPANT that is not a participant id is refused, naming it', async () => {
    const run = github.createRun({ name: 'publish' });
    const r = await cli(
      { ...runnerEnv(run), EOL_GATE_PARTICIPANT: '12345' },
      signalArgs(`bad-${++seq}`, 'publishing'),
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('EOL_GATE_PARTICIPANT');
    expect(github.refs.size).toBe(0);
  });
});
