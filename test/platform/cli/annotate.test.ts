import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lifecycleReferrer } from '../../../src/registry/lifecycle-referrer.js';
import { ok, runCli, useScenarioRegistry } from '../../support/cli.js';
import { ociRegistry } from '../../support/seed.js';

/** The core issue's integration scenario: the bundled CLI against Debian's docker-registry. */
describe('eol-gate annotate / verify against a real docker-registry', () => {
  const f = useScenarioRegistry('eol-gate-cli-');
  const common = () => [
    '--registry',
    f.registry.url,
    '--image-info',
    f.imageInfo,
    '--repo-prefix',
    f.scenario.repoPrefix,
    '--coordinator',
    'none',
  ];

  /** annotate with the gate's minAge off: these runs are about what gets marked, not when. */
  const annotate = (args: string[], env?: Record<string, string>) =>
    runCli(['annotate', ...common(), '--min-age', '0', ...args], env);

  it('dry run writes the plan and changes nothing', async () => {
    const planFile = join(f.dir, 'dry-plan.json');
    const run = ok(await annotate(['--dry-run', '--plan-file', planFile, '--json']));
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({
      outcome: 'dry-run',
      counts: { annotated: 0, candidates: f.scenario.orphans.length },
    });
    const plan = JSON.parse(await readFile(planFile, 'utf8'));
    expect(
      plan.digests
        .map((d: { repository: string; digest: string }) => `${d.repository}@${d.digest}`)
        .sort(),
    ).toEqual(f.scenario.orphans);
    for (const key of f.scenario.orphans) expect(await f.marks(key)).toEqual([]);
  });

  it("without --plan-file the plan goes to the OS temp dir, not a CI runner's", async () => {
    const osTemp = await mkdtemp(join(f.dir, 'os-temp-'));
    const runnerTemp = await mkdtemp(join(f.dir, 'runner-temp-'));
    const run = ok(
      await annotate(['--dry-run', '--json'], {
        TMPDIR: osTemp,
        RUNNER_TEMP: runnerTemp,
        AGENT_TEMPDIRECTORY: runnerTemp,
      }),
    );
    const { planFile } = JSON.parse(run.stdout);
    expect(dirname(planFile)).toBe(osTemp);
    expect(JSON.parse(await readFile(planFile, 'utf8')).digests).toHaveLength(
      f.scenario.orphans.length,
    );
  });

  it('annotates exactly the orphans, one lifecycle referrer each, leaving the older mark alone', async () => {
    const run = ok(await annotate(['--eol-date', '2026-11-22', '--json']));
    expect(JSON.parse(run.stdout).counts).toEqual({
      annotated: f.scenario.orphans.length,
      alreadyAnnotated: 1,
      skippedTooYoung: 0,
      candidates: f.scenario.orphans.length,
      unmarked: 0,
      rolledBack: 0,
    });
    for (const key of f.scenario.orphans) {
      const found = await f.marks(key);
      expect(found, key).toHaveLength(1);
      expect(found[0].date).toBe('2026-11-22');
    }
    for (const key of f.scenario.protected) expect(await f.marks(key), key).toEqual([]);
    const pre = f.scenario.preAnnotated;
    expect(await f.marks(`${pre.repository}@${pre.digest}`)).toEqual([
      expect.objectContaining({ date: pre.date }),
    ]);
  });

  it('a second run changes nothing', async () => {
    const run = ok(await annotate(['--eol-date', '2026-11-22', '--json']));
    expect(JSON.parse(run.stdout).counts).toMatchObject({
      annotated: 0,
      alreadyAnnotated: f.scenario.orphans.length + 1,
    });
    for (const key of f.scenario.orphans) expect(await f.marks(key)).toHaveLength(1);
  });

  it('verify is clean, finds a hand-placed mark on a supported digest, and --repair removes it', async () => {
    ok(await runCli(['verify', ...common()]));

    const { repository, descriptor } = f.scenario.supportedImage;
    await ociRegistry(f.registry.url).pushReferrer(
      repository,
      descriptor,
      lifecycleReferrer(descriptor, '2026-01-01'),
    );
    const found = await runCli(['verify', ...common(), '--json']);
    expect(found.code).toBe(1);
    expect(JSON.parse(found.stdout).findings).toEqual([
      expect.objectContaining({ repository, digest: descriptor.digest, why: 'supported' }),
    ]);
    expect(found.stderr).toContain(
      `${repository}@${descriptor.digest} is supported but marked end-of-life`,
    );

    ok(await runCli(['verify', ...common(), '--repair']));
    expect(await f.marks(`${repository}@${descriptor.digest}`)).toEqual([]);
    expect((await runCli(['verify', ...common()])).code).toBe(0);
  });

  it('unannotate rolls back one digest and a re-run of annotate restores it', async () => {
    const key = f.scenario.orphans[0];
    const run = ok(
      await runCli(['unannotate', '--registry', f.registry.url, '--digest', key, '--json']),
    );
    expect(JSON.parse(run.stdout).removed).toHaveLength(1);
    expect(await f.marks(key)).toEqual([]);
    const again = await annotate(['--eol-date', '2026-11-22', '--json']);
    expect(JSON.parse(again.stdout).counts.annotated).toBe(1);
    expect(await f.marks(key)).toHaveLength(1);
  });

  it('--from-plan reads an ImageBuilder EOL file and still protects supported digests', async () => {
    const { repository, descriptor } = f.scenario.supportedImage;
    const target = f.scenario.orphans[1];
    await runCli(['unannotate', '--registry', f.registry.url, '--digest', target]);
    const eolFile = join(f.dir, 'eol-data.json');
    await writeFile(
      eolFile,
      JSON.stringify({
        EolDate: '2026-12-01T00:00:00Z',
        EolDigests: [
          { Digest: `myregistry.azurecr.io/${target}` },
          { Digest: `myregistry.azurecr.io/${repository}@${descriptor.digest}` },
        ],
      }),
    );
    const run = ok(await annotate(['--from-plan', eolFile, '--json']));
    expect(JSON.parse(run.stdout).counts.annotated).toBe(1);
    expect(await f.marks(target)).toEqual([expect.objectContaining({ date: '2026-12-01' })]);
    expect(await f.marks(`${repository}@${descriptor.digest}`)).toEqual([]);
    expect(run.stderr).toMatch(/in the plan but supported or an artifact now; not annotated/);
  });
});
