import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMarkerRef } from '../../../src/coordination/github.js';
import { run as runHost } from '../../../src/platform/github/run.js';
import { FakeGitHub, type FakeRun } from '../../support/fake-github.js';
import { RunnerJob } from '../../support/github-job.js';
import { actionInProcess } from '../../support/in-process.js';
import { runAction } from '../../support/runner.js';

/**
 * The action's run() on GitHub Enterprise Server, where `${{ job.check_run_id }}` is empty: its
 * first step makes a participant id and keeps it in GITHUB_ENV (core.exportVariable's file
 * format); the job's later steps reuse it. Without GITHUB_ENV, signal refuses naming jobId.
 */
describe('GitHub Action without job.check_run_id', () => {
  const github = new FakeGitHub();
  let dir: string;
  let run: FakeRun;

  beforeAll(async () => {
    await github.start();
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-gha-participant-'));
    run = github.createRun({ name: 'publish' });
  });
  afterAll(async () => {
    await github.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const runnerEnv = () => ({ ...github.stepEnv(run), EOL_GATE_RETRIES: '0' });
  const host = actionInProcess(runHost);
  const signal = (env: Record<string, string | undefined>, group: string, state: string) =>
    runAction({
      inputs: { command: 'signal', group, state },
      env,
      githubToken: github.token,
      checkRunId: '',
      host,
    });
  const jobsOf = (group: string) =>
    [...github.refs.keys()]
      .map((ref) => parseMarkerRef(group, ref))
      .filter((m) => m !== undefined)
      .map((m) => `${m.jobId ?? '-'}.${m.state}`);

  it('the first step makes the id, the later steps of the job reuse it, another leg has its own', async () => {
    const legA = new RunnerJob(dir, 'a', runnerEnv());
    const legB = new RunnerJob(dir, 'b', runnerEnv());
    const a1 = await legA.step((env) => signal(env, 'ghes', 'publishing'));
    expect(a1.code, a1.stdout + a1.stderr).toBe(0);
    const a = legA.env.EOL_GATE_PARTICIPANT!;
    expect(a).toMatch(/^p[a-z2-7]{20}$/);
    expect(a1.stdout).toContain(`participant ${a}: made for this job`);
    expect(a1.commands.filter((c) => c.command === 'set-env')).toEqual([]);
    const b1 = await legB.step((env) => signal(env, 'ghes', 'publishing'));
    expect(b1.code, b1.stdout + b1.stderr).toBe(0);
    const b = legB.env.EOL_GATE_PARTICIPANT!;
    expect(b).toMatch(/^p[a-z2-7]{20}$/);
    expect(b).not.toBe(a);

    const a2 = await legA.step((env) => signal(env, 'ghes', 'image-info-updated'));
    expect(a2.code, a2.stdout + a2.stderr).toBe(0);
    expect(a2.stdout).toContain(`participant ${a}: from EOL_GATE_PARTICIPANT`);
    expect(legA.env.EOL_GATE_PARTICIPANT).toBe(a);
    expect(jobsOf('ghes').sort()).toEqual(
      [`${a}.publishing`, `${a}.image-info-updated`, `${b}.publishing`].sort(),
    );
  });

  it('without GITHUB_ENV, signal fails with exit 2 naming jobId and scope run; scope run is one participant', async () => {
    const refused = await signal(runnerEnv(), 'no-env', 'publishing');
    expect(refused.code, refused.stdout + refused.stderr).toBe(2);
    const errors = refused.commands.filter((c) => c.command === 'error').map((c) => c.message);
    expect(errors).toEqual([expect.stringMatching(/set jobId .*or scope run/s)]);
    expect(jobsOf('no-env')).toEqual([]);

    const whole = await runAction({
      inputs: { command: 'signal', group: 'no-env', state: 'publishing', scope: 'run' },
      env: runnerEnv(),
      githubToken: github.token,
      checkRunId: '',
      host,
    });
    expect(whole.code, whole.stdout + whole.stderr).toBe(0);
    expect(jobsOf('no-env')).toEqual(['-.publishing']);
  });
});
