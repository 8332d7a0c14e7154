import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  EOL_DATE_ANNOTATION,
  LIFECYCLE_ARTIFACT_TYPE,
  lifecycleManifestJson,
} from '../../../src/core/lifecycle.js';
import { MediaType } from '../../../src/core/oci.js';
import { OciRegistry } from '../../../src/registry/oci/index.js';
import { sha256Digest } from '../../../src/util/hash.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { FakeGitHub, type FakeRun } from '../../support/fake-github.js';
import { lifecycleMarksByHttp, registrySnapshot } from '../../support/registry-http.js';
import { runAction, type ActionRun } from '../../support/runner.js';
import { seedScenario, type Scenario } from '../../support/scenario.js';

/** `node dist/github/index.cjs` as the runner starts it, against docker-registry and a fake GitHub API. */
describe('GitHub Action bundle', () => {
  let registry: DockerRegistry;
  let github: FakeGitHub;
  let scenario: Scenario;
  let dir: string;
  let imageInfo: string;
  let self: FakeRun;

  const runnerEnv = () => ({
    GITHUB_API_URL: github.apiUrl,
    GITHUB_REPOSITORY: `${github.owner}/${github.repo}`,
    GITHUB_RUN_ID: String(self.id),
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_SHA: github.headSha,
    EOL_GATE_RETRIES: '0',
  });
  const run = (inputs: Record<string, string>, token = github.token) =>
    runAction({
      inputs: { registry: registry.url, imageInfo, repoPrefix: scenario.repoPrefix, ...inputs },
      env: runnerEnv(),
      githubToken: token,
    });
  const writes = () => github.requests.filter((r) => r.method !== 'GET');
  const errors = (r: ActionRun) =>
    r.commands.filter((c) => c.command === 'error').map((c) => c.message);

  beforeAll(async () => {
    registry = await startDockerRegistry();
    scenario = await seedScenario(new OciRegistry({ url: registry.url }));
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
    expect([...github.refs.keys()]).toContain(`refs/eol-gate/default/${self.id}.1.publishing`);
    // The token is masked before anything else is printed, and never printed again.
    expect(r.stdout.split('\n')[0]).toBe(`::add-mask::${github.token}`);
    expect(r.stdout.split(github.token).length - 1).toBe(1);
  });

  it('annotate waits for a publishing peer, then annotates the orphans; outputs and step summary', async () => {
    const peer = github.createRun({ name: 'publish-other' });
    github.refs.set(`refs/eol-gate/default/${peer.id}.1.publishing`, github.headSha);
    // The peer finishes once we have seen it running: its second status read says completed.
    let peerReads = 0;
    github.mount((req) => {
      if (req.method === 'GET' && req.repoPath === `actions/runs/${peer.id}` && ++peerReads === 2)
        github.complete(peer.id);
      return undefined;
    });
    const planFile = join(dir, 'plan.json');
    const r = await run({ eolDate: '2026-11-22', pollInterval: '100ms', timeout: '30s', planFile });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(errors(r)).toEqual([]);

    const n = String(scenario.orphans.length);
    expect(r.outputs).toEqual({
      annotated: n,
      alreadyAnnotated: '1',
      skippedTooYoung: '0',
      candidates: n,
      waitedSeconds: expect.stringMatching(/^\d+$/),
      planFile,
    });
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
    expect(r.summary).toMatch(/for 1 run\(s\)/);
    expect(r.summary).toContain(`run ${peer.id}`);
    expect(r.summary).toContain(`Plan file: \`${planFile}\``);
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
    const json = lifecycleManifestJson(descriptor, '2026-01-01');
    await new OciRegistry({ url: registry.url }).pushReferrer(repository, descriptor, {
      bytes: new TextEncoder().encode(json),
      digest: sha256Digest(json),
      mediaType: MediaType.ociManifest,
      artifactType: LIFECYCLE_ARTIFACT_TYPE,
      annotations: { [EOL_DATE_ANNOTATION]: '2026-01-01' },
    });
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
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(dirname(r.outputs.planFile)).toBe(runnerTemp);
    expect(JSON.parse(readFileSync(r.outputs.planFile, 'utf8')).digests).toBeInstanceOf(Array);
  });
});
