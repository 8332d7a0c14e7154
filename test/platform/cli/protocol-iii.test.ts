/**
 * Issue 18 (Protocol III), holes 1, 3, 4, 5 and 6, each through the bundled CLI against the fake
 * GitHub API and a real docker-registry. Publishers signal with the CLI as their jobs would
 * (EOL_GATE_JOB_ID: the job's check run id); the fake's runs and jobs change between CLI
 * invocations, never on a timer. EOL_GATE_CLI_BUNDLE runs another bundle: one built before
 * Protocol III (f3aeba2) fails each test (see the comment on each for what it does there).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { markerRef, parseMarkerRef } from '../../../src/coordination/github.js';
import type { Descriptor } from '../../../src/core/oci.js';
import { OciRegistry } from '../../../src/registry/oci/index.js';
import { CLI } from '../../support/cli.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { FakeGitHub, type FakeGitHubRequestLog, type FakeRun } from '../../support/fake-github.js';
import { lifecycleMarksByHttp } from '../../support/registry-http.js';
import { runNode, type ProcessRun } from '../../support/runner.js';
import { pushImage } from '../../support/seed.js';

const BUNDLE = process.env.EOL_GATE_CLI_BUNDLE || CLI;
const HOME = 'octo/images';

interface Who {
  run: FakeRun;
  jobId: number;
}

interface AnnotateJson {
  outcome: string;
  counts: Record<string, number>;
  waitedSeconds: number;
}

describe('Protocol III schedules through the bundled CLI (fake GitHub, real docker-registry)', () => {
  const github = new FakeGitHub({ owner: 'octo', repo: 'images' });
  let registry: DockerRegistry;
  let oci: OciRegistry;
  let dir: string;
  let seq = 0;

  beforeAll(async () => {
    await github.start();
    registry = await startDockerRegistry();
    oci = new OciRegistry({ url: registry.url });
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-protocol-iii-'));
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

  /** `eol-gate <args>` as a step of `who`'s job; its output never shows the token. */
  async function cli(args: string[], who: Who, timeoutMs = 30_000): Promise<ProcessRun> {
    const run = await runNode(
      BUNDLE,
      {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        TMPDIR: dir,
        EOL_GATE_RETRIES: '0',
        GITHUB_API_URL: github.apiUrl,
        GITHUB_REPOSITORY: HOME,
        GITHUB_RUN_ID: String(who.run.id),
        GITHUB_RUN_ATTEMPT: String(who.run.run_attempt),
        GITHUB_SHA: github.headSha,
        GITHUB_TOKEN: github.token,
        EOL_GATE_JOB_ID: String(who.jobId),
      },
      timeoutMs,
      args,
    );
    expect(run.stdout + run.stderr, 'the token in the output').not.toContain(github.token);
    return run;
  }

  const ok = (run: ProcessRun) => {
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    return run;
  };

  /** `eol-gate signal` as `who`'s job. */
  const signal = async (group: string, state: string, who: Who, scope = 'job') =>
    ok(
      await cli(
        ['signal', '--coordinator', 'github', '--group', group, '--state', state, '--scope', scope],
        who,
      ),
    );

  /** `eol-gate annotate` as `who`'s job, waiting at most `timeout` (then skip). */
  const annotate = (
    who: Who,
    imageInfo: string,
    group: string,
    timeout: string,
    more: string[] = [],
    pollInterval = '100ms',
  ) =>
    cli(
      [
        'annotate',
        '--coordinator',
        'github',
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
        pollInterval,
        '--on-timeout',
        'skip',
        ...(more.includes('--min-age') ? [] : ['--min-age', '0']),
        ...more,
      ],
      who,
    );

  const json = (run: ProcessRun): AnnotateJson => {
    try {
      return JSON.parse(run.stdout) as AnnotateJson;
    } catch {
      throw new Error(`no JSON on stdout (exit ${run.code}): ${run.stdout}\n${run.stderr}`);
    }
  };

  /** A fresh annotating job of another workflow's run. */
  const annotator = (): Who => {
    const run = github.createRun({ name: 'annotate' });
    return { run, jobId: github.createJob({ run_id: run.id, name: 'annotate' }).id };
  };

  const job = (run: FakeRun, name: string, status: 'queued' | 'in_progress' = 'in_progress') => ({
    run,
    jobId: github.createJob({ run_id: run.id, name, status }).id,
  });

  const push = (repo: string, what: string, created = '2024-05-01T00:00:00Z') =>
    pushImage(oci, repo, { seed: `${repo}:${what}`, tag: what, created });

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

  /** A repository with s (supported) and o (an orphan), its image-info, and a group. */
  async function setup(name: string) {
    const repo = `${name}-${++seq}/app`;
    const s = await push(repo, 's');
    const o = await push(repo, 'o');
    const imageInfo = join(dir, `${name}-${seq}.json`);
    await writeImageInfo(imageInfo, repo, [s]);
    return { repo, s, o, imageInfo, group: `${name}-${seq}` };
  }

  const marks = (repo: string, d: Descriptor) => lifecycleMarksByHttp(registry.url, repo, d.digest);

  /** The group's marker refs of `run`. */
  const refsOf = (group: string, run: FakeRun) =>
    [...github.refs.keys()].filter((ref) => parseMarkerRef(group, ref)?.runId === String(run.id));

  it('hole 1: a run-scope cover of record-linux does not release the windows job still running', async () => {
    // Pre-Protocol III: the cover releases windows, annotate applies and marks W.
    const { repo, s, o, imageInfo, group } = await setup('hole1');
    const run = github.createRun({ name: 'publish' });
    const linux = job(run, 'linux');
    const windows = job(run, 'windows');
    await signal(group, 'publishing', linux);
    await signal(group, 'publishing', windows);
    const L = await push(repo, 'linux');
    const W = await push(repo, 'windows');
    github.completeJob(linux.jobId, 'success');
    // record-linux (needs: linux) starts once linux completed; windows is still running.
    const recordLinux = job(run, 'record-linux');
    await writeImageInfo(imageInfo, repo, [s, L]);
    await signal(group, 'image-info-updated', recordLinux, 'run');

    const first = ok(await annotate(annotator(), imageInfo, group, '1s'));
    expect(await marks(repo, W), 'W: pushed by windows, still running, not recorded').toEqual([]);
    expect(json(first).outcome).toBe('timed-out');
    expect(first.stderr).toContain(`job "windows" ${windows.jobId}`);
    expect(first.stderr, 'linux completed before the cover: covered').not.toContain(
      `job "linux" ${linux.jobId}`,
    );
    for (const d of [s, L, o]) expect(await marks(repo, d)).toEqual([]);

    // windows completes; a record job that needs it starts after and records W: only o is marked.
    github.completeJob(windows.jobId, 'success');
    const recordWindows = job(run, 'record-windows');
    await writeImageInfo(imageInfo, repo, [s, L, W]);
    await signal(group, 'image-info-updated', recordWindows, 'run');
    const second = ok(await annotate(annotator(), imageInfo, group, '10s'));
    expect(json(second)).toMatchObject({ outcome: 'applied', counts: { annotated: 1 } });
    for (const d of [s, L, W]) expect(await marks(repo, d)).toEqual([]);
    expect(await marks(repo, o)).toHaveLength(1);
  });

  it('hole 3: cleanup keeps the marker that "re-run failed jobs" needs; attempt 2 blocks until x is recorded', async () => {
    // Pre-Protocol III: the first annotate's cleanup deletes the run's refs; after the re-run
    // nothing blocks and the second annotate marks x.
    const { repo, s, o, imageInfo, group } = await setup('hole3');
    const run = github.createRun({ name: 'publish' });
    // Attempt 1: the push job signals, pushes x (young) and succeeds; the record job fails.
    const pushJob = job(run, 'push');
    await signal(group, 'publishing', pushJob);
    const x = await push(repo, 'x', new Date().toISOString());
    github.completeJob(pushJob.jobId, 'success');
    github.completeJob(job(run, 'record').jobId, 'failure');
    github.complete(run.id, 'failure');
    const markersOfAttempt1 = refsOf(group, run);
    expect(markersOfAttempt1).toHaveLength(1);

    // An annotate runs to the end (its cleanup included); minAge spares x, still young.
    const first = ok(await annotate(annotator(), imageInfo, group, '10s', ['--min-age', '1h']));
    expect(json(first)).toMatchObject({
      outcome: 'applied',
      counts: { annotated: 1, skippedTooYoung: 1 },
    });
    expect(await marks(repo, o)).toHaveLength(1);
    const keptByCleanup = refsOf(group, run);

    // "Re-run failed jobs": attempt 2 is alive, its record job queued.
    github.rerun(run.id);
    const record2 = job(run, 'record', 'queued');
    const second = ok(await annotate(annotator(), imageInfo, group, '1s'));
    expect(await marks(repo, x), 'x: pushed in attempt 1, recorded by attempt 2 soon').toEqual([]);
    expect(json(second).outcome).toBe('timed-out');
    expect(second.stderr).toContain(`job "push" ${pushJob.jobId}`);
    expect(keptByCleanup, 'cleanup deleted an uncovered marker of a re-runnable run').toEqual(
      markersOfAttempt1,
    );

    // The record job of attempt 2 starts, records x and covers the push job of attempt 1.
    github.run(run.id).status = 'in_progress';
    github.startJob(record2.jobId);
    await writeImageInfo(imageInfo, repo, [s, x]);
    await signal(group, 'image-info-updated', record2, 'run');
    const third = ok(await annotate(annotator(), imageInfo, group, '10s'));
    expect(json(third)).toMatchObject({
      outcome: 'applied',
      counts: { annotated: 0, alreadyAnnotated: 1 },
    });
    for (const d of [s, x]) expect(await marks(repo, d)).toEqual([]);
  });

  it('hole 4: a failed leg blocks while an if: always() record job of its run may still record it', async () => {
    // Pre-Protocol III: a failed job never blocks; the first annotate applies and marks x.
    const { repo, s, o, imageInfo, group } = await setup('hole4');
    const run = github.createRun({ name: 'publish' });
    const leg = job(run, 'build (debian)');
    await signal(group, 'publishing', leg);
    const x = await push(repo, 'x');
    github.completeJob(leg.jobId, 'failure');
    // record (needs: build, if: always()) is queued, then running, and will record x.
    const record = job(run, 'record', 'queued');
    for (const phase of ['queued', 'in_progress']) {
      if (phase === 'in_progress') github.startJob(record.jobId);
      const r = ok(await annotate(annotator(), imageInfo, group, '1s'));
      expect(await marks(repo, x), `x while record is ${phase}`).toEqual([]);
      expect(json(r).outcome).toBe('timed-out');
      expect(r.stderr).toContain(`job "build (debian)" ${leg.jobId}`);
      expect(r.stderr).toMatch(/its job failed; it blocks until the other jobs of its run end/);
    }
    for (const d of [s, o]) expect(await marks(repo, d)).toEqual([]);

    await writeImageInfo(imageInfo, repo, [s, x]);
    await signal(group, 'image-info-updated', record, 'run');
    const done = ok(await annotate(annotator(), imageInfo, group, '10s'));
    expect(json(done)).toMatchObject({ outcome: 'applied', counts: { annotated: 1 } });
    for (const d of [s, x]) expect(await marks(repo, d)).toEqual([]);
    expect(await marks(repo, o)).toHaveLength(1);
  });

  it('hole 5: a deleted run never blocks; cleanup removes its refs, a dry run does not', async () => {
    // Pre-Protocol III: the deleted run's 404 counts as alive; the dry run waits out its timeout.
    const { repo, s, o, imageInfo, group } = await setup('hole5');
    const run = github.createRun({ name: 'publish' });
    const leg = job(run, 'push');
    await signal(group, 'publishing', leg);
    const x = await push(repo, 'x');
    github.completeJob(leg.jobId, 'failure');
    github.complete(run.id, 'failure');
    github.deleteRun(run.id);
    const refs = refsOf(group, run);
    expect(refs).toHaveLength(1);
    const timeout = 10_000;

    github.requests.length = 0;
    let began = Date.now();
    const dry = ok(await annotate(annotator(), imageInfo, group, '10s', ['--dry-run']));
    const dryMs = Date.now() - began;
    expect(json(dry)).toMatchObject({ outcome: 'dry-run', waitedSeconds: 0 });
    expect(dryMs, 'the dry run waited out its timeout').toBeLessThan(timeout);
    expect(github.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(refsOf(group, run)).toEqual(refs);
    for (const d of [s, x, o]) expect(await marks(repo, d)).toEqual([]);

    began = Date.now();
    const real = ok(await annotate(annotator(), imageInfo, group, '10s'));
    expect(Date.now() - began, 'annotate waited out its timeout').toBeLessThan(timeout);
    expect(json(real)).toMatchObject({
      outcome: 'applied',
      waitedSeconds: 0,
      counts: { annotated: 2 },
    });
    expect(refsOf(group, run), "the deleted run's refs after cleanup").toEqual([]);
    // What the failed, deleted run pushed and never recorded is an orphan.
    for (const d of [x, o]) expect(await marks(repo, d)).toHaveLength(1);
    expect(await marks(repo, s)).toEqual([]);
  });

  it('hole 6: two runs of 8 legs publishing cost at most 3 counted requests a poll after the first', async () => {
    // Pre-Protocol III: 19 counted requests every poll (refs, 2 runs, 16 jobs).
    const { repo, s, o, imageInfo, group } = await setup('hole6');
    let stamp = Date.now() - 60_000;
    for (const name of ['linux', 'windows']) {
      const run = github.createRun({ name: `publish ${name}` });
      for (let leg = 0; leg < 8; leg++) {
        const id = github.createJob({ run_id: run.id, name: `${name} (${leg})` }).id;
        const ref = markerRef(
          group,
          { runId: String(run.id), attempt: 1, jobId: String(id), repository: HOME },
          'publishing',
          'job',
          stamp++,
          HOME,
        );
        github.refs.set(ref, github.headSha);
      }
    }
    github.requests.length = 0;
    const r = ok(await annotate(annotator(), imageInfo, group, '3s', [], '250ms'));
    expect(json(r).outcome).toBe('timed-out');

    // One poll: a listing of the group's refs and what follows it up to the next listing (the
    // signal's read-back lists too, and asks about no run).
    const polls: FakeGitHubRequestLog[][] = [];
    for (const q of github.requests) {
      if (q.method === 'GET' && q.path.includes(`/git/matching-refs/eol-gate/${group}/`))
        polls.push([q]);
      else polls.at(-1)?.push(q);
    }
    const counted = polls
      .filter((p) => p.some((q) => q.path.includes('/actions/runs/')))
      .map((p) => p.filter((q) => q.status !== undefined && q.status !== 304).length);
    expect(counted.length, `polls: ${JSON.stringify(counted)}`).toBeGreaterThanOrEqual(4);
    expect(
      counted.slice(1).every((n) => n <= 3),
      `counted requests per poll: ${JSON.stringify(counted)}`,
    ).toBe(true);
    for (const d of [s, o]) expect(await marks(repo, d)).toEqual([]);
  });
});
