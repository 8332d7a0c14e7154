/**
 * The action's run() in this process, with the environment the runner gives a step, against
 * docker-registry and a fake GitHub API; and once as the runner starts it, `node
 * dist/github/index.cjs`, to show the bundle runs end to end.
 */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markerRef, parseMarkerRef } from '../../../src/coordination/github.js';
import { run as runHost } from '../../../src/platform/github/run.js';
import { lifecycleReferrer } from '../../../src/registry/lifecycle-referrer.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { FakeGitHub, type FakeRun } from '../../support/fake-github.js';
import { actionInProcess } from '../../support/in-process.js';
import { lifecycleMarksByHttp, registrySnapshot } from '../../support/registry-http.js';
import { runAction, type ActionRun } from '../../support/runner.js';
import { seedScenario, type Scenario } from '../../support/scenario.js';
import { ociRegistry } from '../../support/seed.js';
import { FakeArtifactService } from './fake-artifact-service.js';

describe('GitHub Action run()', () => {
  let registry: DockerRegistry;
  let github: FakeGitHub;
  let scenario: Scenario;
  let dir: string;
  let imageInfo: string;
  let self: FakeRun;

  const runnerEnv = () => ({ ...github.stepEnv(self), EOL_GATE_RETRIES: '0' });
  const host = actionInProcess(runHost);
  const run = (inputs: Record<string, string>, token = github.token) =>
    runAction({
      inputs: { registry: registry.url, imageInfo, repoPrefix: scenario.repoPrefix, ...inputs },
      env: runnerEnv(),
      githubToken: token,
      host,
    });
  const writes = () => github.requests.filter((r) => r.method !== 'GET');
  const errors = (r: ActionRun) =>
    r.commands.filter((c) => c.command === 'error').map((c) => c.message);

  beforeAll(async () => {
    registry = await startDockerRegistry();
    scenario = await seedScenario(ociRegistry(registry.url));
    github = await new FakeGitHub().start();
    self = github.createRun({ name: 'publish' });
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-gha-test-'));
    imageInfo = join(dir, 'image-info.json');
    await writeFile(imageInfo, scenario.imageInfo);
  });

  afterAll(async () => {
    await github?.close();
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('bad input fails before any write, naming the input', () => {
    let before: Record<string, string[]>;
    beforeAll(async () => {
      before = await registrySnapshot(registry.url);
    });

    const cases: [string, Record<string, string>, string | undefined, RegExp][] = [
      [
        'a bad date',
        { eolDate: '22/11/2026' },
        undefined,
        /^eolDate: expected yyyy-MM-dd, got "22\/11\/2026"$/,
      ],
      [
        'an unknown command',
        { command: 'annotat' },
        undefined,
        /^command: expected one of annotate, signal, verify, unannotate, publish-image-info, got "annotat"$/,
      ],
      ['a bad duration', { minAge: 'an hour' }, undefined, /^minAge: expected a duration/],
      [
        'a bad boolean',
        { dryRun: 'yes' },
        undefined,
        /^dryRun: expected true or false, got "yes"$/,
      ],
      ['no token', {}, '', /GITHUB_TOKEN/],
    ];
    it.each(cases)(
      '%s → exit 2, one error annotation, no output, no summary',
      async (_name, inputs, token, message) => {
        const before2 = writes().length;
        const r = await run(inputs, token);
        expect(r.code, r.stdout + r.stderr).toBe(2);
        expect(errors(r)).toEqual([expect.stringMatching(message)]);
        expect(r.outputs).toEqual({});
        expect(r.summary).toBe('');
        expect(writes().length).toBe(before2);
        expect(await registrySnapshot(registry.url)).toEqual(before);
      },
    );
  });

  it("signal publishing creates this run's marker ref with the token", async () => {
    const r = await run({ command: 'signal', state: 'publishing' });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect([...github.refs.keys()].map((ref) => parseMarkerRef('default', ref))).toContainEqual(
      expect.objectContaining({ runId: String(self.id), attempt: 1, state: 'publishing' }),
    );
    // The token is masked before anything else is printed, and never printed again.
    expect(r.stdout.split('\n')[0]).toBe(`::add-mask::${github.token}`);
    expect(r.stdout.split(github.token).length - 1).toBe(1);
  });

  it('the bundle, as the runner starts it: annotate waits for a publishing peer, then annotates the orphans; outputs, the step summary, the plan artifact', async () => {
    const peer = github.createRun({ name: 'publish-other' });
    const peerJob = github.createJob({ run_id: peer.id, name: 'build (linux)' });
    github.refs.set(
      markerRef(
        'default',
        { runId: String(peer.id), attempt: 1, jobId: String(peerJob.id) },
        'publishing',
        'job',
        Date.now() - 90_000,
      ),
      github.headSha,
    );
    const artifacts = await new FakeArtifactService().start();
    // The peer records and finishes once we have seen it running: by its second status read it
    // has signalled image-info-updated and completed (an uncovered marker of a completed run is
    // kept while the run can be re-run; a covered one is cleaned up).
    let peerReads = 0;
    github.mount((req) => {
      if (req.method === 'GET' && req.repoPath === `actions/runs/${peer.id}` && ++peerReads === 2) {
        github.refs.set(
          markerRef(
            'default',
            { runId: String(peer.id), attempt: 1, jobId: String(peerJob.id) },
            'image-info-updated',
            'job',
            Date.now(),
          ),
          github.headSha,
        );
        github.completeJob(peerJob.id);
        github.complete(peer.id);
      }
      return undefined;
    });
    const planFile = join(dir, 'plan.json');
    let r: ActionRun;
    try {
      r = await runAction({
        inputs: {
          registry: registry.url,
          imageInfo,
          repoPrefix: scenario.repoPrefix,
          eolDate: '2026-11-22',
          minAge: '0',
          pollInterval: '100ms',
          timeout: '30s',
          planFile,
        },
        env: {
          ...runnerEnv(),
          GITHUB_SERVER_URL: 'https://github.com',
          GITHUB_JOB: 'annotate',
          ACTIONS_RUNTIME_TOKEN: FakeArtifactService.runtimeToken(),
          ACTIONS_RESULTS_URL: artifacts.url,
        },
        githubToken: github.token,
      });
    } finally {
      await artifacts.close();
    }
    expect(r.code, r.stdout + r.stderr).toBe(0);
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
    // `result` is the --json object.
    const result = JSON.parse(r.outputs.result);
    expect(result).toMatchObject({
      command: 'annotate',
      outcome: 'applied',
      counts: { annotated: scenario.orphans.length },
      planFile,
      // Named per job (its check run id) and attempt: matrix legs share GITHUB_JOB.
      planArtifact: { name: expect.stringMatching(/^eol-gate-plan-\d+-1\.json$/) },
    });

    // The plan went to the artifact service as is: the same bytes as the plan file, no zip.
    expect(artifacts.artifacts).toHaveLength(1);
    const [uploaded] = artifacts.artifacts;
    expect(uploaded).toMatchObject({
      name: result.planArtifact.name,
      runBackendId: 'run-backend-1',
      jobBackendId: 'job-backend-1',
    });
    expect(uploaded.content.toString('utf8')).toBe(readFileSync(planFile, 'utf8'));
    const artifactUrl = `https://github.com/${github.owner}/${github.repo}/actions/runs/${self.id}/artifacts/${uploaded.id}`;
    expect(result.planArtifact.url).toBe(artifactUrl);
    expect(r.summary).toContain(`Plan artifact: [${uploaded.name}](${artifactUrl})`);
    expect(JSON.parse(readFileSync(planFile, 'utf8')).digests).toHaveLength(
      scenario.orphans.length,
    );
    for (const key of scenario.orphans) {
      const [repository, digest] = key.split('@');
      expect(await lifecycleMarksByHttp(registry.url, repository, digest), key).toEqual([
        expect.objectContaining({ date: '2026-11-22' }),
      ]);
    }

    expect(r.stdout).toContain(`waiting: run ${peer.id}`);
    expect(r.summary).toContain(`## eol-gate annotate: `);
    expect(r.summary).toContain(`| annotated end-of-life | ${n} |`);
    // Per repository: repository | candidates | annotated | unmarked | already | too young | excluded.
    const perRepository = Object.fromEntries(
      [
        ...r.summary.matchAll(
          /^\| (public\/[^ |]+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$/gm,
        ),
      ].map((m) => [m[1], m.slice(2).map(Number)]),
    );
    const orphansIn = (repository: string) =>
      scenario.orphans.filter((k) => k.startsWith(`${repository}@`)).length;
    expect(Object.keys(perRepository).sort()).toEqual(
      [...new Set(scenario.orphans.map((k) => k.split('@')[0]))]
        .concat(scenario.preAnnotated.repository)
        .filter((v, i, all) => all.indexOf(v) === i)
        .sort(),
    );
    for (const [repository, [candidates, annotated, unmarked, already, young]] of Object.entries(
      perRepository,
    )) {
      expect([candidates, annotated, unmarked, young], repository).toEqual([
        orphansIn(repository),
        orphansIn(repository),
        0,
        0,
      ]);
      expect(already, repository).toBe(repository === scenario.preAnnotated.repository ? 1 : 0);
    }
    // The participant waited for, linked to its run and its job, and how long it had published.
    expect(r.summary).toMatch(/for 1 participant\(s\)/);
    expect(r.summary).toContain(
      `| [run ${peer.id} (attempt 1) "publish-other"](https://github.com/${github.owner}/${github.repo}/actions/runs/${peer.id}) | [build (linux) ${peerJob.id}](https://github.com/${github.owner}/${github.repo}/actions/runs/${peer.id}/job/${peerJob.id}) |`,
    );
    expect(r.summary).toMatch(new RegExp(`job/${peerJob.id}\\) \\| \\S+Z \\| 1m\\d+s \\|`));
    // The annotated digests, collapsed.
    const listed =
      /<details>\n<summary>Annotated: (\d+) digest\(s\)<\/summary>\n\n((?:- .*\n)+)\n<\/details>/.exec(
        r.summary,
      );
    expect(listed?.[1]).toBe(n);
    expect(
      listed![2]
        .trim()
        .split('\n')
        .map((l) => /^- `(.+)`$/.exec(l)?.[1])
        .sort(),
    ).toEqual([...scenario.orphans].sort());
    expect(r.summary).toContain(`Plan file: \`${planFile}\``);
    expect(r.summary).toContain('To roll this run back, run unannotate with `fromPlan`');
    // Grouped logs: every group opened is closed.
    const groups = r.commands.filter((c) => c.command === 'group').map((c) => c.message);
    expect(groups).toEqual(
      expect.arrayContaining(['Plan', expect.stringMatching(/^Annotate \d+ digest\(s\)$/)]),
    );
    expect(r.commands.filter((c) => c.command === 'endgroup')).toHaveLength(groups.length);
    // The finished peer's marker is cleaned up by whoever sees it.
    expect([...github.refs.keys()].filter((ref) => ref.includes(`/${peer.id}.`))).toEqual([]);
  });

  it('verify with a finding fails the step with exit 1 and an error annotation', async () => {
    // A mark on a supported digest, planted by hand (eol-gate itself never places one).
    const { repository, descriptor } = scenario.supportedImage;
    await ociRegistry(registry.url).pushReferrer(
      repository,
      descriptor,
      lifecycleReferrer(descriptor, '2026-01-01'),
    );
    const found = await run({ command: 'verify' });
    expect(found.code).toBe(1);
    expect(errors(found).join('\n')).toMatch(/supported digest\(s\) are marked end-of-life/);
    expect(found.summary).toContain(`\`${repository}@${descriptor.digest}\``);

    const repaired = await run({ command: 'verify', repair: 'true' });
    expect(repaired.code, repaired.stdout).toBe(0);
    expect(await lifecycleMarksByHttp(registry.url, repository, descriptor.digest)).toEqual([]);
  });

  it('without planFile the plan goes to RUNNER_TEMP, which the runner cleans after the job', async () => {
    const runnerTemp = await mkdtemp(join(dir, 'runner-temp-'));
    const r = await runAction({
      inputs: {
        registry: registry.url,
        imageInfo,
        repoPrefix: scenario.repoPrefix,
        dryRun: 'true',
      },
      env: { ...runnerEnv(), RUNNER_TEMP: runnerTemp },
      githubToken: github.token,
      host,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(dirname(r.outputs.planFile)).toBe(runnerTemp);
    // Not on a runner with the artifact service: the upload is skipped, the run does not fail.
    expect(r.stdout).toContain('uploadPlan: no Actions artifact service here');
    expect(
      r.commands.filter((c) => c.command === 'warning' && /upload|artifact/i.test(c.message)),
    ).toEqual([]);
    expect(JSON.parse(readFileSync(r.outputs.planFile, 'utf8')).digests).toBeInstanceOf(Array);
  });
});
