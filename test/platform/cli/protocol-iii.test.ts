/**
 * Protocol III (docs/design.md §7), holes 1, 3, 4, 5 and 6, each through the bundled CLI against the fake
 * GitHub API and a real docker-registry. Publishers signal with the CLI as their jobs would
 * (EOL_GATE_JOB_ID: the job's check run id); the fake's runs and jobs change between CLI
 * invocations, never on a timer. EOL_GATE_CLI_BUNDLE runs another bundle: one built before
 * Protocol III (f3aeba2) fails each test (see the comment on each for what it does there).
 */
import { describe, expect, it } from 'vitest';
import { parseMarkerRef } from '../../../src/coordination/github.js';
import type { FakeGitHubRequestLog, FakeRun } from '../../support/fake-github.js';
import {
  annotateArgs,
  jsonOf as json,
  ok,
  signalArgs,
  useGitHubCli,
  type CliRun,
  type Who,
} from '../../support/cli.js';
import { writeImageInfo } from '../../support/scenario.js';

describe('Protocol III schedules through the bundled CLI (fake GitHub, real docker-registry)', () => {
  const f = useGitHubCli('eol-gate-protocol-iii-');
  const { github, annotator, push, marks } = f;

  /** `eol-gate <args>` as a step of `who`'s job; its output never shows the token. */
  async function cli(args: string[], who: Who, timeoutMs = 30_000): Promise<CliRun> {
    const run = await f.cli(who, args, timeoutMs);
    expect(run.stdout + run.stderr, 'the token in the output').not.toContain(github.token);
    return run;
  }

  /** `eol-gate signal` as `who`'s job. */
  const signal = async (group: string, state: string, who: Who, scope = 'job') =>
    ok(await cli(signalArgs(group, state, '--scope', scope), who));

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
      annotateArgs(
        { registry: f.registry.url, imageInfo, group, timeout },
        '--poll-interval',
        pollInterval,
        ...more,
      ),
      who,
    );

  const job = (run: FakeRun, name: string, status: 'queued' | 'in_progress' = 'in_progress') => ({
    run,
    jobId: github.createJob({ run_id: run.id, name, status }).id,
  });

  /** A repository with s (supported) and o (an orphan), its image-info, and a group. */
  const setup = (name: string) => f.seed(name, ['s', 'o'], ['s']);

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

    // An annotate runs to the end (its cleanup included); minAge spares x, still young. Without
    // the group's memory its age is its config's: with it, o (first seen now) would wait too.
    const first = ok(
      await annotate(annotator(), imageInfo, group, '10s', [
        '--min-age',
        '1h',
        '--cache-repository',
        'none',
      ]),
    );
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
    for (const name of ['linux', 'windows']) {
      const run = github.createRun({ name: `publish ${name}` });
      for (let leg = 0; leg < 8; leg++) {
        const id = github.createJob({ run_id: run.id, name: `${name} (${leg})` }).id;
        f.setMarker(group, { run, attempt: 1, jobId: id }, 'publishing');
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
