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

  beforeAll(() => ado.start());
  afterAll(() => ado.close());

  /** `eol-gate signal --state <state> --group linux …more` as job `jobId` of build `buildId`. */
  const signal = (buildId: number, jobId: string, state: string, ...more: string[]) =>
    runCli(
      ['signal', '--state', state, '--group', 'linux', ...more],
      env(buildId, { SYSTEM_JOBID: jobId }),
    );

  /** This build's markers as the store reads them back from its tags. */
  const markers = (buildId: number) =>
    markersOfBuild('linux', String(buildId), ado.build(buildId).tags)
      .sort((a, b) => a.stamp - b.stamp)
      .map((m) => [m.jobId, m.state, m.scope]);

  it('publishing, then image-info-updated, tag the build through the REST API', async () => {
    const build = ado.createBuild();
    const job = ado.addJob(build.id);
    const first = await signal(build.id, job.id, 'publishing');
    expect(first.code, first.stderr).toBe(0);
    expect(ado.build(build.id).tags).toContain('eol-gate.linux');
    expect(markers(build.id)).toEqual([[job.id, 'publishing', 'job']]);
    const second = await signal(build.id, job.id, 'image-info-updated', '--scope', 'run');
    expect(second.code, second.stderr).toBe(0);
    expect(markers(build.id)).toEqual([
      [job.id, 'publishing', 'job'],
      [job.id, 'image-info-updated', 'run'],
    ]);
    const json = await signal(build.id, job.id, 'publishing', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ command: 'signal', state: 'publishing' });
    expect(first.stdout + first.stderr + second.stdout + second.stderr).not.toContain(ado.token);
  });

  it('a retried step that publishes again adds a later publishing marker, which its earlier image-info-updated does not cover', async () => {
    const build = ado.createBuild();
    const job = ado.addJob(build.id);
    for (const state of ['publishing', 'image-info-updated', 'publishing']) {
      const run = await signal(build.id, job.id, state);
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
