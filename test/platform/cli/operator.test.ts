import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ok, runCli, useScenarioRegistry } from '../../support/cli.js';
import { registrySnapshot } from '../../support/registry-http.js';

/**
 * The adoption path of docs/adopting.md through the bundled CLI against docker-registry: the
 * guard refuses a plan over maxAnnotations and writes nothing; the reviewed plan is applied with
 * --from-plan; `unannotate --from-plan` (dry run first) and `--date` put the registry back as
 * it was before the run.
 */
describe('eol-gate: the guard, applying a reviewed plan, one-step rollback', () => {
  const f = useScenarioRegistry('eol-gate-operator-');
  let pristine: Record<string, string[]>;
  const common = () => [
    '--registry',
    f.registry.url,
    '--image-info',
    f.imageInfo,
    '--repo-prefix',
    f.scenario.repoPrefix,
    '--coordinator',
    'none',
    // The registry-held cache is eol-gate's own repository: off, so snapshots compare exactly.
    '--cache-repository',
    'none',
  ];
  const unannotate = (...args: string[]) =>
    runCli(['unannotate', '--registry', f.registry.url, ...args]);
  const allMarks = async () =>
    Object.fromEntries(
      await Promise.all(f.scenario.orphans.map(async (k) => [k, await f.marks(k)])),
    );
  const repositoryOf = (key: string) => key.split('@')[0];

  beforeAll(async () => {
    pristine = await registrySnapshot(f.registry.url);
  });

  const planFile = () => join(f.dir, 'reviewed-plan.json');

  it('maxAnnotations: a plan over the limit is written, nothing is annotated, the run fails and says how to proceed', async () => {
    const r = await runCli([
      'annotate',
      ...common(),
      '--eol-date',
      '2026-11-22',
      '--max-annotations',
      '30%',
      '--plan-file',
      planFile(),
    ]);
    expect(r.code, r.stderr).toBe(1);
    // Nothing written: no tag, no referrer, no fallback index anywhere.
    expect(await registrySnapshot(f.registry.url)).toEqual(pristine);
    for (const key of f.scenario.orphans) expect(await f.marks(key), key).toEqual([]);
    // The plan is there to review, whole.
    const plan = JSON.parse(await readFile(planFile(), 'utf8'));
    expect(
      plan.digests
        .map((d: { repository: string; digest: string }) => `${d.repository}@${d.digest}`)
        .sort(),
    ).toEqual([...f.scenario.orphans].sort());
    // The error names the repositories over the limit and the ways forward.
    expect(r.stderr).toMatch(
      /error: the plan marks more than --max-annotations 30% allows in .*public\/dotnet\/app-copy \(1 of 2\).*nothing was annotated\. Review the plan .*reviewed-plan\.json; apply it with --from-plan, or raise --max-annotations/,
    );
    // Each repository's warning names the flag, as the action's names the input.
    expect(r.stderr).toMatch(
      /warning: public\/dotnet\/app-copy: the plan marks 1 of 2 manifest\(s\), more than --max-annotations 30% allows/,
    );
    // public/dotnet/app: 2 of 9 is within 30%; app-copy (1 of 2) and monitor/base (2 of 5) are not.
    expect(r.stdout).toContain(
      '**Refused: the plan exceeds --max-annotations 30%. Nothing was annotated or unmarked.**',
    );
    expect(r.stdout).toContain('| public/dotnet/app-copy | 1 | 2 | 0 |');
    expect(r.stdout).toContain('| public/dotnet/monitor/base | 2 | 5 | 1 |');
    expect(r.stdout).not.toMatch(/^\| public\/dotnet\/app \| \d+ \| \d+ \| \d+ \|$/m);
    expect(r.stdout).toContain('To apply exactly this plan, run annotate with `--from-plan`');
    expect(r.stdout).toContain(
      `<summary>Planned, not annotated: ${f.scenario.orphans.length} digest(s)</summary>`,
    );
  });

  it('--json carries the refusal: outcome, the repositories over the limit, the plan file', async () => {
    const r = ok(
      await runCli(['annotate', ...common(), '--max-annotations', '1', '--dry-run', '--json']),
    );
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ command: 'annotate', outcome: 'dry-run' });
    expect(result.overLimit).toEqual([
      { repository: 'public/dotnet/app', planned: 2, manifests: 9, allowed: 1 },
      { repository: 'public/dotnet/monitor/base', planned: 2, manifests: 5, allowed: 1 },
    ]);
    expect(await registrySnapshot(f.registry.url)).toEqual(pristine);
  });

  it('the reviewed plan is applied with --from-plan, which the guard does not limit', async () => {
    const r = ok(
      await runCli([
        'annotate',
        ...common(),
        '--from-plan',
        planFile(),
        '--max-annotations',
        '30%',
      ]),
    );
    expect(r.stderr).toContain('not applied to a run from a reviewed plan');
    for (const key of f.scenario.orphans)
      expect(await f.marks(key), key).toEqual([expect.objectContaining({ date: '2026-11-22' })]);
    expect(r.stdout).toContain('To roll this run back, run unannotate with `--from-plan`');
  });

  it('unannotate --from-plan --dry-run lists exactly the marks the plan placed and removes nothing', async () => {
    const before = await registrySnapshot(f.registry.url);
    const placed = await allMarks();
    const r = ok(await unannotate('--from-plan', planFile(), '--dry-run', '--json'));
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      command: 'unannotate',
      dryRun: true,
      mode: 'from-plan',
      missing: [],
    });
    expect(
      result.removed
        .map((m: { repository: string; digest: string; referrer: string }) => [
          `${m.repository}@${m.digest}`,
          m.referrer,
        ])
        .sort(),
    ).toEqual(f.scenario.orphans.map((k) => [k, placed[k][0].digest]).sort());
    expect(await registrySnapshot(f.registry.url)).toEqual(before);
    expect(await allMarks()).toEqual(placed);
  });

  it('unannotate --from-plan restores the registry to its state before the run; the older mark stays', async () => {
    const r = ok(await unannotate('--from-plan', planFile()));
    expect(await registrySnapshot(f.registry.url)).toEqual(pristine);
    for (const key of f.scenario.orphans) expect(await f.marks(key), key).toEqual([]);
    const { repository, digest } = f.scenario.preAnnotated;
    expect(await f.marks(`${repository}@${digest}`)).toHaveLength(1);
    expect(r.stdout).toContain(`## eol-gate unannotate: `);
    expect(r.stdout).toContain(`removed ${f.scenario.orphans.length} lifecycle mark(s)`);
    for (const repo of new Set(f.scenario.orphans.map(repositoryOf))) {
      const n = f.scenario.orphans.filter((k) => repositoryOf(k) === repo).length;
      expect(r.stdout).toContain(`| ${repo} | ${n} |`);
    }
    expect(r.stdout).toContain(
      `<summary>Removed: ${f.scenario.orphans.length} digest(s)</summary>`,
    );

    // Run again: nothing left of that plan, said per digest; nothing else touched.
    const again = ok(await unannotate('--from-plan', planFile(), '--json'));
    const result = JSON.parse(again.stdout);
    expect(result.removed).toEqual([]);
    expect(result.missing).toHaveLength(f.scenario.orphans.length);
    expect(await registrySnapshot(f.registry.url)).toEqual(pristine);
  });

  it('unannotate --date removes every mark of that date in scope, and only those', async () => {
    ok(await runCli(['annotate', ...common(), '--eol-date', '2026-12-01']));
    for (const key of f.scenario.orphans)
      expect(await f.marks(key), key).toEqual([expect.objectContaining({ date: '2026-12-01' })]);

    // Another date in scope removes nothing.
    const other = ok(
      await unannotate('--date', '2026-12-02', '--repositories', 'public/**', '--json'),
    );
    expect(JSON.parse(other.stdout).removed).toEqual([]);

    const r = ok(await unannotate('--date', '2026-12-01', '--repositories', 'public/**'));
    expect(await registrySnapshot(f.registry.url)).toEqual(pristine);
    expect(r.stdout).toContain('every mark dated 2026-12-01: removed');
  });

  it('unannotate --date needs a scope, and a plan of another registry is refused, before any delete', async () => {
    const noScope = await unannotate('--date', '2026-12-01');
    expect(noScope.code).toBe(2);
    expect(noScope.stderr).toContain('--date: give --repositories or --image-info');
    const foreign = join(f.dir, 'foreign-plan.json');
    const plan = JSON.parse(await readFile(planFile(), 'utf8'));
    await writeFile(foreign, JSON.stringify({ ...plan, registry: 'myacr.azurecr.io' }));
    const r = await unannotate('--from-plan', foreign);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--from-plan: .*foreign-plan\.json is a plan for myacr\.azurecr\.io, not /,
    );
    expect(await registrySnapshot(f.registry.url)).toEqual(pristine);
  });
});
