import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';
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

  it('publishing, then image-info-updated, tag the build through the REST API', async () => {
    const build = ado.createBuild();
    const first = await runCli(
      ['signal', '--state', 'publishing', '--group', 'linux'],
      env(build.id),
    );
    expect(first.code, first.stderr).toBe(0);
    expect(ado.build(build.id).tags).toEqual(['eol-gate.linux.publishing']);
    const second = await runCli(
      ['signal', '--state', 'image-info-updated', '--group', 'linux'],
      env(build.id),
    );
    expect(second.code, second.stderr).toBe(0);
    expect(ado.build(build.id).tags.sort()).toEqual([
      'eol-gate.linux.image-info-updated',
      'eol-gate.linux.publishing',
    ]);
    expect(first.stdout + first.stderr + second.stdout + second.stderr).not.toContain(ado.token);
  });

  it('a retried stage signalling publishing again clears image-info-updated', async () => {
    const build = ado.createBuild({
      tags: ['eol-gate.linux.publishing', 'eol-gate.linux.image-info-updated'],
    });
    const run = await runCli(
      ['signal', '--state', 'publishing', '--group', 'linux'],
      env(build.id),
    );
    expect(run.code, run.stderr).toBe(0);
    expect(ado.build(build.id).tags).toEqual(['eol-gate.linux.publishing']);
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
