/**
 * GitHub Enterprise Server has no `job.check_run_id`. A participant id of eol-gate's own is
 * unknown to the jobs API, so a record job's run-scope cover never covers it (the protocol
 * judges covers by the service's job times) and a failed job holding one is never released. So
 * the job's first eol-gate step finds the job's real id in the jobs API of its run attempt (the
 * in-progress job whose `runner_name` is RUNNER_NAME) and keeps it in GITHUB_ENV as
 * EOL_GATE_JOB_ID for the job's later steps (test/support/github-job.ts). Bundled CLI, fake
 * GitHub API, real docker-registry.
 */
import { describe, expect, it } from 'vitest';
import {
  annotateArgs as gatedArgs,
  HOME_REPOSITORY as HOME,
  ok,
  PARTICIPANT,
  runStep as step,
  signalArgs,
  useGitHubCli,
} from '../../support/cli.js';
import { RunnerJob } from '../../support/github-job.js';
import { writeImageInfo } from '../../support/scenario.js';

describe('no job id on a runner: the job id from the jobs API by RUNNER_NAME (bundled CLI, fake GitHub, real docker-registry)', () => {
  const f = useGitHubCli('eol-gate-runner-job-id-');
  const { github, marks, push, markers } = f;

  const annotateArgs = (imageInfo: string, group: string, timeout: string) =>
    gatedArgs({ registry: f.registry.url, imageInfo, group, timeout }, '--scope', 'run');

  const lookups = () => github.requests.filter((r) => /\/attempts\/\d+\/jobs$/.test(r.path));

  it('the first step finds the job id by RUNNER_NAME and keeps it; a later step reuses it without a lookup', async () => {
    const group = `found-${f.next()}`;
    const run = github.createRun({ name: 'publish' });
    // Two legs running on two runners; another job of the run waits for a runner.
    const legA = github.createJob({ run_id: run.id, name: 'build (a)', runner_name: 'ghes-a' });
    const legB = github.createJob({ run_id: run.id, name: 'build (b)', runner_name: 'ghes-b' });
    github.createJob({ run_id: run.id, name: 'record', status: 'queued' });
    const a = new RunnerJob(f.dir, `a-${group}`, f.runnerEnv(run, 'ghes-a'));
    const b = new RunnerJob(f.dir, `b-${group}`, f.runnerEnv(run, 'ghes-b'));

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
    const group = `not-found-${f.next()}`;
    const run = github.createRun({ name: 'publish' });
    github.createJob({ run_id: run.id, name: 'build', runner_name: 'someone-else' });
    const job = new RunnerJob(f.dir, `nf-${group}`, f.runnerEnv(run, 'ghes-a'));
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
    const { repo, group, imageInfo, s, o } = await f.seed('matrix', ['s', 'o'], ['s']);
    const run = github.createRun({ name: 'publish' });
    const jobA = github.createJob({ run_id: run.id, name: 'build (a)', runner_name: 'ghes-a' });
    const jobB = github.createJob({ run_id: run.id, name: 'build (b)', runner_name: 'ghes-b' });
    const legA = new RunnerJob(f.dir, `ma-${group}`, f.runnerEnv(run, runners.a));
    const legB = new RunnerJob(f.dir, `mb-${group}`, f.runnerEnv(run, runners.b));
    ok(await step(legA, signalArgs(group, 'publishing')));
    ok(await step(legB, signalArgs(group, 'publishing')));
    const x = await legA.step(() => push(repo, 'x'));
    const y = await legB.step(() => push(repo, 'y'));
    github.completeJob(jobA.id);
    github.completeJob(jobB.id);
    // The record job starts once both legs completed (needs: [a, b]), on a runner of its own.
    const recordJob = github.createJob({ run_id: run.id, name: 'record', runner_name: 'ghes-r' });
    const record = new RunnerJob(f.dir, `mr-${group}`, f.runnerEnv(run, runners.record));
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
