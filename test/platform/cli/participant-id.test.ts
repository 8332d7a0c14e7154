/**
 * Hole 2 of Protocol III (docs/design.md §7): without a job id (GitHub Enterprise Server has no `job.check_run_id`, a CLI
 * user may not pass `--job-id`) the matrix legs of one run must not merge into one participant.
 * Each eol-gate step is a separate CLI process; the runner carries what a step appends to
 * GITHUB_ENV into the job's later steps (test/support/github-job.ts). Fake GitHub API, real
 * docker-registry. EOL_GATE_CLI_BUNDLE runs another bundle (e.g. one built before the fix, on
 * which the first test marks leg B's image).
 */
import { describe, expect, it } from 'vitest';
import {
  annotateArgs,
  ok,
  PARTICIPANT,
  runBundle as cli,
  runStep as step,
  signalArgs,
  useGitHubCli,
} from '../../support/cli.js';
import { RunnerJob } from '../../support/github-job.js';
import { writeImageInfo } from '../../support/scenario.js';

describe('no job id: participant ids through GITHUB_ENV (bundled CLI, fake GitHub, real docker-registry)', () => {
  const f = useGitHubCli('eol-gate-participant-');
  const { github, marks, push, markers } = f;

  /** An annotate of another workflow's run, which has a job id. */
  function annotator(imageInfo: string, group: string, timeout: string) {
    const { run, jobId } = f.annotator();
    return cli(
      { ...f.runnerEnv(run), EOL_GATE_JOB_ID: String(jobId) },
      annotateArgs({ registry: f.registry.url, imageInfo, group, timeout }),
    );
  }

  /**
   * A repository with s (supported) and o (an orphan), and one run whose two matrix legs have
   * signalled publishing; GitHub Enterprise Server gives neither leg a job id.
   */
  async function twoLegs(name: string) {
    const seeded = await f.seed(name, ['s', 'o'], ['s']);
    const run = github.createRun({ name: 'publish' });
    const legA = new RunnerJob(f.dir, `a-${seeded.group}`, f.runnerEnv(run));
    const legB = new RunnerJob(f.dir, `b-${seeded.group}`, f.runnerEnv(run));
    ok(await step(legA, signalArgs(seeded.group, 'publishing')));
    ok(await step(legB, signalArgs(seeded.group, 'publishing')));
    return { ...seeded, run, legA, legB };
  }

  it('matrix legs without a job id stay two participants: leg A recording does not release leg B', async () => {
    const { repo, group, imageInfo, s, o, run, legA, legB } = await twoLegs('legs');
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
    const { repo, group, imageInfo, s, o, legA, legB } = await twoLegs('annotating-leg');
    const y = await legB.step(() => push(repo, 'y'));
    // Leg A annotates (its own publishing is covered by the image-info-updated annotate writes).
    const gated = (timeout: string) =>
      annotateArgs({ registry: f.registry.url, imageInfo, group, timeout });
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
      return { run, env: f.runnerEnv(run) };
    };

    it.each([
      ['publishing', []],
      ['image-info-updated', []],
      ['image-info-updated', ['--scope', 'job']],
    ])(
      'signal %s %j refuses (exit 2) naming --job-id and --scope run, writing nothing',
      async (state, more) => {
        const { env } = plain();
        const r = await cli(env, signalArgs(`refuse-${f.next()}`, state, ...more));
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toContain('--job-id');
        expect(r.stderr).toContain('--scope run');
        expect(github.refs.size).toBe(0);
        expect(github.requests.filter((q) => q.method !== 'GET')).toEqual([]);
      },
    );

    it('signal --scope run makes the whole run one participant', async () => {
      const { run, env } = plain();
      const group = `whole-run-${f.next()}`;
      ok(await cli(env, signalArgs(group, 'publishing', '--scope', 'run')));
      ok(await cli(env, signalArgs(group, 'image-info-updated', '--scope', 'run')));
      expect(markers(group).sort()).toEqual(
        [`${run.id}.1.-.publishing`, `${run.id}.1.-.image-info-updated`].sort(),
      );
    });

    it('annotate refuses like signal, unless --scope run; a dry run does not refuse', async () => {
      const { repo, group, imageInfo, o } = await f.seed('cli-annotate', ['s', 'o'], ['s']);
      const { env } = plain();
      const args = annotateArgs({ registry: f.registry.url, imageInfo, group, timeout: '5s' });
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

    it('an explicit --job-id is used', async () => {
      const { run, env } = plain();
      const group = `explicit-${f.next()}`;
      ok(await cli(env, [...signalArgs(group, 'publishing'), '--job-id', '4242']));
      expect(markers(group)).toEqual([`${run.id}.1.4242.publishing`]);
    });
  });

  it('EOL_GATE_PARTICIPANT that is not a participant id is refused, naming it', async () => {
    const run = github.createRun({ name: 'publish' });
    const r = await cli(
      { ...f.runnerEnv(run), EOL_GATE_PARTICIPANT: '12345' },
      signalArgs(`bad-${f.next()}`, 'publishing'),
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain('EOL_GATE_PARTICIPANT');
    expect(github.refs.size).toBe(0);
  });
});
