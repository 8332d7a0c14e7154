/**
 * The Protocol II schedules, each through the bundled CLI against the fake GitHub API and a
 * real docker-registry: CI operations a user performs without doing anything unusual (re-run
 * failed jobs, a lagging runs API, matrix legs, a dry run, a rollback) must never end with a
 * supported digest marked end-of-life.
 *
 * EOL_GATE_CLI_BUNDLE points the
 * file at another CLI bundle (e.g. one built from a commit before Protocol II) to show that the
 * schedules fail there.
 */
import { lifecycleReferrer } from '../../../src/registry/lifecycle-referrer.js';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  annotateArgs,
  HOME_REPOSITORY as HOME,
  jsonOf as json,
  useGitHubCli,
  type CliRun,
  type Who,
} from '../../support/cli.js';
import { proxyOnLoopback } from '../../support/loopback.js';
import { runAction } from '../../support/runner.js';
import { writeImageInfo } from '../../support/scenario.js';

/** Records every request it forwards to the registry: proof of what a run did there. */
async function recordingProxy(target: string) {
  const requests: { method: string; path: string }[] = [];
  const proxy = await proxyOnLoopback(target, (req) =>
    requests.push({ method: req.method ?? 'GET', path: req.url ?? '/' }),
  );
  return { ...proxy, requests };
}

describe('Protocol II schedules through the bundled CLI (fake GitHub, real docker-registry)', () => {
  const f = useGitHubCli('eol-gate-schedules-');
  const { github, marks, annotator } = f;

  /** One repository per test: s is supported, x pushed by a publisher, o an orphan. */
  const seedRepo = (name: string, supported: ('s' | 'x')[] = ['s']) =>
    f.seed(name, ['s', 'x', 'o'], supported);

  /** A marker ref of `run` written straight into the fake. */
  const mark = f.setMarker.bind(f);

  /** `eol-gate annotate` as a job of `run` would call it (GitHub store, job id from EOL_GATE_JOB_ID). */
  const annotate = (gate: Parameters<typeof annotateArgs>[0], who: Who, ...more: string[]) =>
    f.cli(who, annotateArgs(gate, ...more));

  const gated = (registry: string, imageInfo: string, group: string, timeout: string) => ({
    registry,
    imageInfo,
    group,
    timeout,
  });

  /** Waits until the running CLI has polled the store `polls` times (or fails if it ended first). */
  async function pollsOf(run: Promise<CliRun>, path: RegExp, polls: number): Promise<void> {
    await Promise.race([
      github.waitForRequests((r) => r.method === 'GET' && path.test(r.path), polls),
      run.then((r) => {
        throw new Error(
          `annotate ended before it waited (exit ${r.code}):\n${r.stdout}\n${r.stderr}`,
        );
      }),
    ]);
  }

  describe('markers', () => {
    it('(a) re-run failed jobs: the attempt-1 push job that succeeded blocks attempt 2 until its image is recorded', async () => {
      const { repo, group, imageInfo, s, x, o } = await seedRepo('rerun');
      // Attempt 1: the push job signals publishing, pushes x (seeded above) and succeeds; the record job fails.
      const run = github.createRun({ id: 700, name: 'publish' });
      const push = github.createJob({ run_id: run.id, name: 'push' });
      mark(group, { run, jobId: push.id }, 'publishing');
      github.completeJob(push.id, 'success');
      github.completeJob(github.createJob({ run_id: run.id, name: 'record' }).id, 'failure');
      // "Re-run failed jobs": attempt 2 runs only the record job.
      github.rerun(run.id).status = 'in_progress';
      const record = github.createJob({ run_id: run.id, name: 'record' });

      const timedOut = await annotate(gated(f.registry.url, imageInfo, group, '1s'), annotator());
      expect(timedOut.code, timedOut.stderr).toBe(0);
      expect(await marks(repo, x), 'x: pushed in attempt 1, not recorded yet').toEqual([]);
      expect(json(timedOut).outcome).toBe('timed-out');
      expect(timedOut.stderr).toMatch(/timed out .*waiting for: run 700 \(attempt 1\)/);
      expect(timedOut.stderr).toContain(`job "push" ${push.id}`);
      expect(await marks(repo, x)).toEqual([]);
      expect(await marks(repo, o)).toEqual([]);

      // Now an annotator that waits: attempt 2 records x, then annotate marks the orphan only.
      const waiting = annotate(gated(f.registry.url, imageInfo, group, '60s'), annotator());
      await pollsOf(waiting, /\/actions\/runs\/700$/, 2);
      await writeImageInfo(imageInfo, repo, [s, x]);
      mark(group, { run, jobId: record.id }, 'image-info-updated', 'run');
      const done = await waiting;
      expect(done.code, done.stderr).toBe(0);
      expect(json(done)).toMatchObject({ outcome: 'applied', counts: { annotated: 1 } });
      expect(done.stderr).toMatch(/waiting: run 700 \(attempt 1\)/);
      expect(await marks(repo, x)).toEqual([]);
      expect(await marks(repo, s)).toEqual([]);
      expect(await marks(repo, o)).toHaveLength(1);
    });

    it.each(['in_progress', 'completed'] as const)(
      '(b) a marker of an attempt newer than the runs API reports (attempt 1, %s) blocks and is never deleted',
      async (status) => {
        const { repo, group, imageInfo, s, x, o } = await seedRepo('lag');
        // The API still shows attempt 1, running or even completed, while attempt 2 pushes x.
        const run = github.createRun({
          id: 600,
          run_attempt: 1,
          name: 'publish',
          status,
          conclusion: status === 'completed' ? 'failure' : null,
        });
        const job = github.createJob({ run_id: run.id, run_attempt: 2, name: 'push' });
        const ref = mark(group, { run, attempt: 2, jobId: job.id }, 'publishing');

        const result = await annotate(gated(f.registry.url, imageInfo, group, '1s'), annotator());
        expect(result.code, result.stderr).toBe(0);
        expect(await marks(repo, x), 'x: pushed by attempt 2, not recorded yet').toEqual([]);
        expect(
          github.requests
            .filter((r) => r.method === 'DELETE' && r.path.includes('/600.'))
            .map((r) => `${r.method} ${r.path}`),
        ).toEqual([]);
        expect(github.refs.has(ref)).toBe(true);
        expect(json(result).outcome).toBe('timed-out');
        expect(result.stderr).toMatch(/waiting for: run 600 \(attempt 2\)/);
        for (const d of [s, o]) expect(await marks(repo, d)).toEqual([]);
      },
    );

    it('(c) matrix legs: leg A annotates while leg B of the same run has pushed y and not recorded it', async () => {
      const { repo, group, imageInfo, s, x: y, o } = await seedRepo('matrix');
      const run = github.createRun({ id: 900, name: 'publish' });
      const legA = github.createJob({ run_id: run.id, name: 'build (debian)' });
      const legB = github.createJob({ run_id: run.id, name: 'build (fedora)' });
      mark(group, { run, jobId: legA.id }, 'publishing');
      mark(group, { run, jobId: legB.id }, 'publishing');

      const first = await annotate(gated(f.registry.url, imageInfo, group, '1s'), {
        run,
        jobId: legA.id,
      });
      expect(first.code, first.stderr).toBe(0);
      expect(await marks(repo, y), 'y: pushed by leg B, not recorded yet').toEqual([]);
      expect(json(first).outcome).toBe('timed-out');
      expect(first.stderr).toMatch(/waiting for: run 900 \(attempt 1\)/);
      expect(first.stderr).toContain(`job "build (fedora)" ${legB.id}`);
      expect(await marks(repo, y)).toEqual([]);
      expect(await marks(repo, o)).toEqual([]);

      // Leg B records y; leg A's next annotate marks the orphan only.
      await writeImageInfo(imageInfo, repo, [s, y]);
      mark(group, { run, jobId: legB.id }, 'image-info-updated');
      const second = await annotate(gated(f.registry.url, imageInfo, group, '10s'), {
        run,
        jobId: legA.id,
      });
      expect(second.code, second.stderr).toBe(0);
      expect(json(second)).toMatchObject({ outcome: 'applied', counts: { annotated: 1 } });
      expect(await marks(repo, y)).toEqual([]);
      expect(await marks(repo, o)).toHaveLength(1);
    });
  });

  it('(c) liveness: a matrix leg that failed does not keep the annotating leg waiting', async () => {
    const { repo, group, imageInfo, s, x: y, o } = await seedRepo('failed-leg');
    const run = github.createRun({ id: 910, name: 'publish' });
    const legA = github.createJob({ run_id: run.id, name: 'build (debian)' });
    const legB = github.createJob({ run_id: run.id, name: 'build (fedora)' });
    mark(group, { run, jobId: legB.id }, 'publishing');
    github.completeJob(legB.id, 'failure');
    // A timeout far longer than the test's own: only liveness lets this run finish.
    const result = await annotate(gated(f.registry.url, imageInfo, group, '30m'), {
      run,
      jobId: legA.id,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(json(result)).toMatchObject({ outcome: 'applied', waitedSeconds: 0, waitedFor: [] });
    // What the failed leg pushed and never recorded is an orphan: marking it is correct.
    expect(await marks(repo, y)).toHaveLength(1);
    expect(await marks(repo, o)).toHaveLength(1);
    expect(await marks(repo, s)).toEqual([]);
  });

  describe('markers in a coordination repository shared by two repositories', () => {
    const A = 'octo/app-a';
    const B = 'octo/app-b';
    const crossRepo = async (access: 'read' | 'not-found' | 'forbidden') => {
      const seeded = await seedRepo('cross');
      const { group, imageInfo } = seeded;
      github.addRepository(A);
      github.addRepository(B, access);
      const theirs = github.createRun({ name: 'publish' }, B);
      const push = github.createJob({ run_id: theirs.id, name: 'push' }, B);
      f.setMarker(group, { run: theirs, attempt: 1, jobId: push.id, repository: B }, 'publishing');
      const mine = github.createRun({ name: 'annotate' }, A);
      const result = await annotate(
        gated(f.registry.url, imageInfo, group, '1s'),
        { run: mine, jobId: 1, repository: A },
        '--coordination-repository',
        HOME,
      );
      return { ...seeded, theirs, result };
    };

    it('a run of repository B blocks an annotator of repository A', async () => {
      const { repo, x, o, theirs, result } = await crossRepo('read');
      expect(result.code, result.stderr).toBe(0);
      expect(await marks(repo, x), 'x: pushed by B, not recorded yet').toEqual([]);
      expect(await marks(repo, o)).toEqual([]);
      expect(json(result).outcome).toBe('timed-out');
      expect(result.stderr).toContain(`waiting for: ${B} run ${theirs.id} (attempt 1)`);
      // A's own marker went to the coordination repository, under A's name.
      expect(
        [...github.refs.keys()].filter(
          (r) => r.startsWith(`refs/eol-gate/cross-`) && r.includes(A),
        ),
      ).toHaveLength(1);
    });

    it.each(['not-found', 'forbidden'] as const)(
      "a token that cannot read B's runs (%s) fails loudly, naming B, and marks nothing",
      async (access) => {
        const { repo, x, o, result } = await crossRepo(access);
        expect(result.code).toBe(2);
        expect(result.stderr).toContain(B);
        expect(result.stderr).toMatch(/actions: read/);
        expect(result.stderr).not.toContain(github.token);
        for (const d of [x, o]) expect(await marks(repo, d)).toEqual([]);
      },
    );
  });

  it('(d) a dry run makes zero mutating requests to the store and to the registry', async () => {
    const { repo, group, imageInfo, o } = await seedRepo('dry', ['s', 'x']);
    // Markers of a completed run (what a cleanup would delete) and of a live run that recorded.
    const done = github.createRun({ status: 'completed', conclusion: 'success' });
    mark(group, { run: done, jobId: 1 }, 'publishing');
    const live = github.createRun();
    mark(group, { run: live, jobId: 2 }, 'publishing');
    mark(group, { run: live, jobId: 2 }, 'image-info-updated');
    const refs = [...github.refs.keys()].sort();
    const proxy = await recordingProxy(f.registry.url);
    try {
      const run = await annotate(
        gated(proxy.url, imageInfo, group, '10s'),
        annotator(),
        '--dry-run',
        '--plan-file',
        join(f.dir, 'dry.json'),
      );
      expect(run.code, run.stderr).toBe(0);
      expect(json(run)).toMatchObject({
        outcome: 'dry-run',
        counts: { annotated: 0, candidates: 1 },
      });
      expect(
        github.requests.filter((r) => r.method !== 'GET').map((r) => `${r.method} ${r.path}`),
      ).toEqual([]);
      expect([...github.refs.keys()].sort()).toEqual(refs);
      expect(proxy.requests.length).toBeGreaterThan(0);
      expect(
        proxy.requests
          .filter((r) => r.method !== 'GET' && r.method !== 'HEAD')
          .map((r) => `${r.method} ${r.path}`),
      ).toEqual([]);
      expect(await marks(repo, o)).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  describe('(e) a rollback re-publishes an image that carries a lifecycle mark', () => {
    async function markedSupported() {
      const { repo, group, imageInfo, s, x, o } = await seedRepo('rollback', ['s', 'x']);
      await f.oci.pushReferrer(repo, s, lifecycleReferrer(s, '2026-01-01'));
      expect(await marks(repo, s)).toHaveLength(1);
      return { repo, group, s, x, o, imageInfo };
    }

    it('annotate removes the mark by default (unmarkSupported) and reports it', async () => {
      const { repo, group, s, x, o, imageInfo } = await markedSupported();
      const run = await annotate(gated(f.registry.url, imageInfo, group, '10s'), annotator());
      expect(run.code, run.stderr).toBe(0);
      expect(await marks(repo, s), 's: supported, re-published by a rollback').toEqual([]);
      expect(json(run)).toMatchObject({
        outcome: 'applied',
        counts: { annotated: 1, unmarked: 1 },
      });
      expect(await marks(repo, x)).toEqual([]);
      expect(await marks(repo, o)).toHaveLength(1);
    });

    // The CLI's boolean flags only switch on, so unmarkSupported: false goes through the action.
    it('with unmarkSupported false (the action) the mark stays and nothing is unmarked', async () => {
      const { repo, s, o, imageInfo } = await markedSupported();
      const run = await runAction({
        inputs: {
          command: 'annotate',
          registry: f.registry.url,
          imageInfo,
          coordinator: 'none',
          minAge: '0',
          unmarkSupported: 'false',
        },
        env: { EOL_GATE_RETRIES: '0' },
      });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.outputs).toMatchObject({ annotated: '1', unmarked: '0' });
      expect(await marks(repo, s)).toHaveLength(1);
      expect(await marks(repo, o)).toHaveLength(1);
    });
  });
});
