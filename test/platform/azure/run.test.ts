/**
 * The task's run() in this process, with the environment the agent gives a task, against
 * docker-registry and a fake Azure DevOps; and once as the agent starts it, `node
 * dist/azure/index.cjs`, to show the bundle runs end to end.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupTag, markerTag, markersOfBuild } from '../../../src/coordination/azure-devops.js';
import { uncoveredPublishing } from '../../../src/core/protocol.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { FakeAzureDevOps, type FakeBuild } from '../../support/fake-azure-devops.js';
import { taskInProcess } from '../../support/in-process.js';
import { lifecycleMarksByHttp, registrySnapshot } from '../../support/registry-http.js';
import { endpointEnv, runTask, type TaskRun } from '../../support/runner.js';
import { seedScenario, type Scenario } from '../../support/scenario.js';
import { ociRegistry } from '../../support/seed.js';

describe('Azure Pipelines task run()', () => {
  let registry: DockerRegistry;
  let ado: FakeAzureDevOps;
  let scenario: Scenario;
  let dir: string;
  let imageInfo: string;
  let self: FakeBuild;
  const SP_KEY = 'sp-key-Very$ecret';

  const agentEnv = (withToken = true) => ({
    SYSTEM_COLLECTIONURI: ado.collectionUri,
    SYSTEM_TEAMFOUNDATIONCOLLECTIONURI: ado.collectionUri,
    SYSTEM_TEAMPROJECT: 'proj',
    BUILD_BUILDID: String(self.id),
    BUILD_BUILDNUMBER: `2026.${self.id}`,
    SYSTEM_JOBATTEMPT: '1',
    SYSTEM_DEFINITIONNAME: 'publish',
    EOL_GATE_RETRIES: '0',
    ...(withToken
      ? endpointEnv('SYSTEMVSSCONNECTION', 'OAuth', { AccessToken: ado.token }, ado.collectionUri)
      : {}),
  });
  const step = (
    inputs: Record<string, string>,
    env: Record<string, string | undefined> = {},
    withToken = true,
  ) => ({
    inputs: { registry: registry.url, imageInfo, repoPrefix: scenario.repoPrefix, ...inputs },
    env: { ...agentEnv(withToken), ...env },
  });
  // Imported by the first run: task-lib loads its inputs when first imported.
  const host = taskInProcess(() => import('../../../src/platform/azure/run.js'));
  const run = (...args: Parameters<typeof step>) => runTask({ ...step(...args), host });
  const writes = () => ado.requests.filter((r) => r.method !== 'GET');
  const errors = (r: TaskRun) => r.issues.filter((i) => i.type === 'error').map((i) => i.message);

  /** Masking comes first: every setsecret precedes the first line the user reads, and a secret shows nowhere else. */
  const expectMasked = (r: TaskRun, secrets: string[]) => {
    const firstVisible = r.lines.findIndex(
      (l) =>
        l !== '' && !l.startsWith('##vso[task.debug]') && !l.startsWith('##vso[task.setsecret]'),
    );
    for (const secret of secrets) {
      const masks = r.vso.filter((c) => c.command === 'task.setsecret' && c.message === secret);
      expect(masks.length, `setsecret for ${secret.slice(0, 4)}…`).toBeGreaterThan(0);
      expect(masks[0].line).toBeLessThan(firstVisible);
      expect(
        r.lines
          .filter((l) => l.includes(secret))
          .every((l) => l.startsWith('##vso[task.setsecret]')),
      ).toBe(true);
    }
  };

  beforeAll(async () => {
    registry = await startDockerRegistry();
    scenario = await seedScenario(ociRegistry(registry.url));
    ado = await new FakeAzureDevOps().start();
    self = ado.createBuild({ definitionName: 'publish' });
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-azp-test-'));
    imageInfo = join(dir, 'image-info.json');
    await writeFile(imageInfo, scenario.imageInfo);
  });

  afterAll(async () => {
    await ado?.close();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('bad input fails before any write, naming the input', () => {
    let before: Record<string, string[]>;
    beforeAll(async () => {
      before = await registrySnapshot(registry.url);
    });

    const cases: [string, Record<string, string>, boolean, RegExp][] = [
      [
        'a bad date',
        { eolDate: '22/11/2026' },
        true,
        /^eolDate: expected yyyy-MM-dd, got "22\/11\/2026"$/,
      ],
      [
        'an unknown command',
        { command: 'annotat' },
        true,
        /^command: expected one of annotate, signal, verify, unannotate, publish-image-info, got "annotat"$/,
      ],
      [
        'a missing service connection',
        { azureSubscription: 'acr-connection' },
        true,
        /^azureSubscription: service connection "acr-connection" is not available to this job/,
      ],
      ['no token', {}, false, /SYSTEM_ACCESSTOKEN/],
    ];
    it.each(cases)(
      '%s → task.complete Failed, exit 2, one error issue, no outputs, no summary',
      async (_name, inputs, withToken, message) => {
        const before2 = writes().length;
        const r = await run(inputs, {}, withToken);
        expect(r.result, r.stdout + r.stderr).toBe('Failed');
        expect(r.code).toBe(2);
        expect(errors(r)).toEqual([expect.stringMatching(message)]);
        expect(r.outputs).toEqual({});
        expect(r.summaries).toEqual([]);
        expect(writes().length).toBe(before2);
        expect(await registrySnapshot(registry.url)).toEqual(before);
      },
    );
  });

  it('signal publishing tags this build through the REST API with the SYSTEMVSSCONNECTION token, masked first', async () => {
    const r = await run({ command: 'signal', state: 'publishing' });
    expect(r.result, r.stdout).toBe('Succeeded');
    expect(r.code).toBe(0);
    expect(markersOfBuild('default', String(self.id), self.tags)).toContainEqual(
      expect.objectContaining({ runId: String(self.id), state: 'publishing' }),
    );
    expectMasked(r, [ado.token]);
  });

  it('annotate that times out with onTimeout skip succeeds with issues, names the blocker, writes nothing', async () => {
    const peer = ado.createBuild({ definitionName: 'publish-other' });
    ado.addTags(peer.id, [
      groupTag('default'),
      markerTag('default', { runId: String(peer.id), attempt: 1 }, 'publishing', 'job', Date.now()),
    ]);
    const before = await registrySnapshot(registry.url);
    try {
      const r = await run({
        eolDate: '2026-11-22',
        timeout: '1s',
        pollInterval: '200ms',
        onTimeout: 'skip',
      });
      expect(r.result, r.stdout).toBe('SucceededWithIssues');
      expect(r.code).toBe(0);
      expect(
        r.issues
          .filter((i) => i.type === 'warning')
          .map((i) => i.message)
          .join('\n'),
      ).toMatch(
        new RegExp(
          `timed out after \\d+s waiting for: run ${peer.id}.*Nothing was annotated \\(onTimeout: skip\\)`,
        ),
      );
      expect(r.outputs).toMatchObject({ annotated: '0', candidates: '0', planFile: '' });
      expect(r.summaries).toHaveLength(1);
      expect(r.summaries[0]).toContain(
        '**Timed out waiting for other runs: nothing was annotated.**',
      );
      // The blocker, linked to its build.
      expect(r.summaries[0]).toMatch(
        new RegExp(
          `\\| \\[run ${peer.id}[^\\]]*"publish-other[^"]*"\\]\\([^)]*_build/results\\?buildId=${peer.id}\\) \\|`,
        ),
      );
      expect(await registrySnapshot(registry.url)).toEqual(before);
    } finally {
      ado.setStatus(peer.id, 'completed');
    }
  });

  it('the bundle, as the agent starts it: annotate marks the orphans; outputs as isOutput variables, an uploaded summary, groups, markers cleaned up', async () => {
    const connection = endpointEnv('acr-connection', 'ServicePrincipal', {
      serviceprincipalid: 'app-id',
      tenantid: 'tenant-id',
      serviceprincipalkey: SP_KEY,
    });
    const planFile = join(dir, 'plan.json');
    const r = await runTask(
      step(
        { eolDate: '2026-11-22', minAge: '0', azureSubscription: 'acr-connection', planFile },
        connection,
      ),
    );
    expect(r.result, r.stdout + r.stderr).toBe('Succeeded');
    expect(r.code).toBe(0);
    expect(errors(r)).toEqual([]);

    const n = String(scenario.orphans.length);
    expect(r.outputs).toEqual({
      annotated: n,
      alreadyAnnotated: '1',
      skippedTooYoung: '0',
      unmarked: '0',
      candidates: n,
      waitedSeconds: expect.stringMatching(/^\d+$/),
      planFile,
      result: expect.any(String),
    });
    expect(JSON.parse(r.outputs.result)).toMatchObject({
      command: 'annotate',
      outcome: 'applied',
      counts: { annotated: scenario.orphans.length, alreadyAnnotated: 1 },
      planFile,
    });
    // Output variables, not job variables: `$(step.annotated)` in later steps.
    expect(
      r.vso
        .filter((c) => c.command === 'task.setvariable')
        .every((c) => c.properties.isOutput === 'true' && c.properties.issecret === 'false'),
    ).toBe(true);
    for (const key of scenario.orphans) {
      const [repository, digest] = key.split('@');
      expect(await lifecycleMarksByHttp(registry.url, repository, digest), key).toEqual([
        expect.objectContaining({ date: '2026-11-22' }),
      ]);
    }
    expect(r.summaries).toHaveLength(1);
    // The Extensions tab titles the section with the file's name.
    const uploaded = r.vso.filter((c) => c.command === 'task.uploadsummary');
    expect(basename(uploaded[0].message)).toBe('eol-gate annotate.md');
    const summary = r.summaries[0];
    expect(summary).toContain(`| annotated end-of-life | ${n} |`);
    expect(summary).toContain(
      '| repository | candidates | annotated | unmarked | already | too young | excluded |',
    );
    for (const repository of new Set(scenario.orphans.map((k) => k.split('@')[0]))) {
      const count = scenario.orphans.filter((k) => k.startsWith(`${repository}@`)).length;
      const already = repository === scenario.preAnnotated.repository ? 1 : 0;
      expect(summary).toMatch(
        new RegExp(
          `^\\| ${repository} \\| ${count} \\| ${count} \\| 0 \\| ${already} \\| 0 \\| \\d+ \\|$`,
          'm',
        ),
      );
    }
    expect(summary).toContain(`<summary>Annotated: ${n} digest(s)</summary>`);
    for (const key of scenario.orphans) expect(summary).toContain(`- \`${key}\``);
    expect(summary).toContain(`Plan file: \`${planFile}\``);
    // The plan is published as a build artifact, linked from the summary.
    const artifact = r.vso.filter((c) => c.command === 'artifact.upload');
    expect(artifact).toEqual([
      expect.objectContaining({
        properties: { containerfolder: 'eol-gate', artifactname: 'eol-gate-plan-job-1' },
        message: planFile,
      }),
    ]);
    expect(summary).toContain(
      `Plan artifact: [eol-gate-plan-job-1](${ado.collectionUri.replace(/\/?$/, '/')}proj/_build/results?buildId=${self.id}&view=artifacts&type=publishedArtifacts)`,
    );
    // Long steps report progress to the agent; the last report of each is complete.
    const progress = r.vso.filter((c) => c.command === 'task.setprogress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.properties.value).toBe('100');
    const opened = r.lines.filter((l) => l.startsWith('##[group]'));
    expect(opened).toEqual(
      expect.arrayContaining([
        '##[group]Plan',
        expect.stringMatching(/^##\[group\]Annotate \d+ digest\(s\)$/),
      ]),
    );
    expect(r.lines.filter((l) => l === '##[endgroup]')).toHaveLength(opened.length);
    // A run that annotated has said its pushes are recorded: its publishing marker is covered.
    const markers = markersOfBuild('default', String(self.id), self.tags);
    expect(markers.map((m) => m.state)).toContain('image-info-updated');
    expect(uncoveredPublishing(undefined, markers)).toEqual([]);
    expectMasked(r, [ado.token, SP_KEY]);
  });

  it('a password input is masked before anything else is printed, even when the run then fails', async () => {
    const r = await run({ username: 'ci', password: 'pa55-w0rd-value', eolDate: 'tomorrow' });
    expect(r.result).toBe('Failed');
    expectMasked(r, ['pa55-w0rd-value']);
  });

  it('without planFile the plan goes to Agent.TempDirectory, which the agent cleans after the job', async () => {
    const agentTemp = await mkdtemp(join(dir, 'agent-temp-'));
    const r = await run({ dryRun: 'true' }, { AGENT_TEMPDIRECTORY: agentTemp });
    expect(r.result, r.stdout + r.stderr).toBe('Succeeded');
    expect(dirname(r.outputs.planFile)).toBe(agentTemp);
    expect(JSON.parse(await readFile(r.outputs.planFile, 'utf8')).digests).toBeInstanceOf(Array);
  });
});
