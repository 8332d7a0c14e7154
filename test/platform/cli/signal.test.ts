import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
import { markersOfBuild } from '../../../src/coordination/azure-devops.js';
import { FakeAzureDevOps } from '../../support/fake-azure-devops.js';

/** `eol-gate signal` from a pipeline script step, against the fake Azure DevOps REST API. */
describe('eol-gate signal in an Azure Pipelines script step', () => {
  const ado = new FakeAzureDevOps();
  const env = (buildId: number, extra: Record<string, string> = {}) => ({
    TF_BUILD: 'True',
    SYSTEM_COLLECTIONURI: ado.collectionUri,
    SYSTEM_TEAMPROJECT: 'proj',
    BUILD_BUILDID: String(buildId),
    SYSTEM_JOBATTEMPT: '1',
    SYSTEM_ACCESSTOKEN: ado.token,
    EOL_GATE_RETRIES: '0',
    ...extra,
  });

  beforeAll(async () => {
    await ado.start();
  });
  afterAll(async () => {
    await ado.close();
  });

  /** This build's markers as the store reads them back from its tags. */
  const markers = (buildId: number) =>
    markersOfBuild('linux', String(buildId), ado.build(buildId).tags)
      .sort((a, b) => a.stamp - b.stamp)
      .map((m) => [m.jobId, m.state, m.scope]);

  it('publishing, then image-info-updated, tag the build through the REST API', async () => {
    const build = ado.createBuild();
    const job = ado.addJob(build.id);
    const first = await runCli(
      ['signal', '--state', 'publishing', '--group', 'linux'],
      env(build.id, { SYSTEM_JOBID: job.id }),
    );
    expect(first.code, first.stderr).toBe(0);
    expect(ado.build(build.id).tags).toContain('eol-gate.linux');
    expect(markers(build.id)).toEqual([[job.id, 'publishing', 'job']]);
    const second = await runCli(
      ['signal', '--state', 'image-info-updated', '--group', 'linux', '--scope', 'run'],
      env(build.id, { SYSTEM_JOBID: job.id }),
    );
    expect(second.code, second.stderr).toBe(0);
    expect(markers(build.id)).toEqual([
      [job.id, 'publishing', 'job'],
      [job.id, 'image-info-updated', 'run'],
    ]);
    expect(
      JSON.parse(
        (
          await runCli(
            ['signal', '--state', 'publishing', '--group', 'linux', '--json'],
            env(build.id, { SYSTEM_JOBID: job.id }),
          )
        ).stdout,
      ),
    ).toMatchObject({ command: 'signal', state: 'publishing' });
    expect(first.stdout + first.stderr + second.stdout + second.stderr).not.toContain(ado.token);
  });

  it('a retried step that publishes again adds a later publishing marker, which its earlier image-info-updated does not cover', async () => {
    const build = ado.createBuild();
    const job = ado.addJob(build.id);
    for (const state of ['publishing', 'image-info-updated', 'publishing']) {
      const run = await runCli(
        ['signal', '--state', state, '--group', 'linux'],
        env(build.id, { SYSTEM_JOBID: job.id }),
      );
      expect(run.code, run.stderr).toBe(0);
    }
    const tags = markersOfBuild('linux', String(build.id), ado.build(build.id).tags);
    const last = (state: string) =>
      Math.max(...tags.filter((m) => m.state === state).map((m) => m.stamp));
    expect(last('publishing')).toBeGreaterThan(last('image-info-updated'));
  });

  it.each([
    [['signal', '--group', 'linux'], {}, /--state is required for signal/],
    [
      ['signal', '--state', 'done'],
      {},
      /--state: expected one of publishing, image-info-updated, got "done"/,
    ],
    [
      ['signal', '--state', 'publishing', '--group', 'bad/group'],
      {},
      /--group: expected 1-64 characters/,
    ],
    [['signal', '--state', 'publishing'], { SYSTEM_ACCESSTOKEN: '' }, /SYSTEM_ACCESSTOKEN/],
  ])('bad input %j → exit 2, nothing written', async (args, extra, message) => {
    const build = ado.createBuild();
    const run = await runCli(args, env(build.id, extra));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(ado.build(build.id).tags).toEqual([]);
  });

  it('outside a pipeline, signal says there is nothing to coordinate with', async () => {
    const run = await runCli(['signal', '--state', 'publishing']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/no coordinator/);
  });
});
