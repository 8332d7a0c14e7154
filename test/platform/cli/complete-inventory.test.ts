import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Descriptor } from '../../../src/core/oci.js';
import { OciRegistry } from '../../../src/registry/oci/index.js';
import { jsonOf, ok, runBundle } from '../../support/cli.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { FakeGitHub } from '../../support/fake-github.js';
import { lifecycleMarksByHttp } from '../../support/registry-http.js';
import { imageInfoText } from '../../support/scenario.js';
import { ociRegistry, pushImage, pushIndex } from '../../support/seed.js';

interface Result {
  outcome: string;
  counts: Record<string, number>;
  retired: { repository: string; manifests: number }[];
  notes: string[];
}

/**
 * What a registry that lists only tags hides (distribution, here Debian's docker-registry),
 * run as a user runs it: the bundled CLI, a fresh agent each run (no cache file), the
 * registry-held cache on (its default repository).
 */
describe('a complete inventory on a registry that lists only tags', () => {
  let registry: DockerRegistry;
  let reg: OciRegistry;
  let dir: string;
  let n = 0;

  beforeAll(async () => {
    registry = await startDockerRegistry();
    reg = ociRegistry(registry.url);
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-inventory-'));
  });
  afterAll(async () => {
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** Writes an image-info naming `repos`' images; returns its path. */
  const imageInfo = async (repos: Record<string, Descriptor[]>) => {
    const path = join(dir, `image-info-${++n}.json`);
    await writeFile(path, imageInfoText(repos));
    return path;
  };
  /** `annotate --json` of `info` in `group`, `--min-age 0` unless `more` sets one. */
  const annotateRun = (group: string, info: string, more: string[] = [], env = {}) =>
    runBundle({ PATH: process.env.PATH, HOME: dir, ...env }, [
      'annotate',
      '--registry',
      registry.url,
      '--image-info',
      info,
      '--group',
      group,
      '--coordinator',
      'none',
      '--json',
      ...(more.includes('--min-age') ? [] : ['--min-age', '0']),
      ...more,
    ]);
  const annotate = async (group: string, info: string, ...more: string[]) => {
    const run = ok(await annotateRun(group, info, more));
    return { run, result: jsonOf<Result>(run) };
  };
  const marked = async (repository: string, d: Descriptor) =>
    (await lifecycleMarksByHttp(registry.url, repository, d.digest)).length > 0;

  it('marks the image whose tag moved on the next run', async () => {
    const v1 = await pushImage(reg, 'moved/app', { tag: 'latest', seed: 'moved-v1' });
    await annotate('moved', await imageInfo({ 'moved/app': [v1] }));

    // The next build moves `latest` and records v2; v1 keeps no tag.
    const v2 = await pushImage(reg, 'moved/app', { tag: 'latest', seed: 'moved-v2' });
    const second = await annotate('moved', await imageInfo({ 'moved/app': [v2] }));
    expect(second.result.counts.annotated).toBe(1);
    expect(await marked('moved/app', v1)).toBe(true);
    expect(await marked('moved/app', v2)).toBe(false);

    // Marked and remembered: the next run lists it without a request and plans nothing.
    const third = await annotate('moved', await imageInfo({ 'moved/app': [v2] }));
    expect(third.result.counts).toMatchObject({ annotated: 0, alreadyAnnotated: 1 });
  });

  it('leaves the moved-tag orphan unseen without the cache (what a tag listing can show)', async () => {
    const v1 = await pushImage(reg, 'nocache/app', { tag: 'latest', seed: 'nocache-v1' });
    await annotate(
      'nocache',
      await imageInfo({ 'nocache/app': [v1] }),
      '--cache-repository',
      'none',
    );
    const v2 = await pushImage(reg, 'nocache/app', { tag: 'latest', seed: 'nocache-v2' });
    const second = await annotate(
      'nocache',
      await imageInfo({ 'nocache/app': [v2] }),
      '--cache-repository',
      'none',
    );
    expect(second.result.counts.annotated).toBe(0);
    expect(await marked('nocache/app', v1)).toBe(false);
  });

  for (const mode of ['mark', 'ignore'] as const) {
    it(`a repository that left the image-info: retiredRepositories ${mode}`, async () => {
      const keep = await pushImage(reg, `${mode}/keep`, { tag: '1', seed: `${mode}-keep` });
      const gone = [
        await pushImage(reg, `${mode}/gone`, { tag: '1', seed: `${mode}-gone-1` }),
        await pushImage(reg, `${mode}/gone`, { tag: '2', seed: `${mode}-gone-2` }),
      ];
      const goneIndex = await pushIndex(reg, `${mode}/gone`, gone, 'multi');
      await annotate(
        `retired-${mode}`,
        await imageInfo({ [`${mode}/keep`]: [keep], [`${mode}/gone`]: [goneIndex] }),
      );

      // The product reached its end of life: the image-info stops naming the repository.
      const second = await annotate(
        `retired-${mode}`,
        await imageInfo({ [`${mode}/keep`]: [keep] }),
        '--retired-repositories',
        mode,
      );
      for (const d of [...gone, goneIndex])
        expect(await marked(`${mode}/gone`, d)).toBe(mode === 'mark');
      expect(await marked(`${mode}/keep`, keep)).toBe(false);
      expect(second.result.counts.annotated).toBe(mode === 'mark' ? 3 : 0);
      expect(second.result.retired).toEqual(
        mode === 'mark' ? [{ repository: `${mode}/gone`, manifests: 3 }] : [],
      );
      if (mode === 'mark')
        expect(second.run.stderr).toContain(`${mode}/gone left the image-info: 3 image(s)`);
    });
  }

  it('the guard counts a retired repository like any other', async () => {
    const keep = await pushImage(reg, 'guard/keep', { tag: '1', seed: 'guard-keep' });
    const gone = await pushImage(reg, 'guard/gone', { tag: '1', seed: 'guard-gone' });
    await annotate('guard', await imageInfo({ 'guard/keep': [keep], 'guard/gone': [gone] }));
    const run = await annotateRun('guard', await imageInfo({ 'guard/keep': [keep] }), [
      '--max-annotations',
      '50%',
    ]);
    expect(jsonOf<Result>(run).outcome).toBe('refused');
    expect(await marked('guard/gone', gone)).toBe(false);
  });

  it('an index pushed seconds ago is not marked under minAge 1h, though its images say 1970', async () => {
    const supported = await pushImage(reg, 'young/app', { tag: 'current', seed: 'young-s' });
    const info = await imageInfo({ 'young/app': [supported] });
    await annotate('young', info, '--min-age', '1h');

    const children = [
      await pushImage(reg, 'young/app', { seed: 'young-c1', created: '1970-01-01T00:00:00Z' }),
      await pushImage(reg, 'young/app', { seed: 'young-c2', created: '1970-01-01T00:00:00Z' }),
    ];
    const index = await pushIndex(reg, 'young/app', children, 'nightly');
    const planFile = join(dir, 'young-plan.json');
    const before = Date.now();
    const run = await annotate('young', info, '--min-age', '1h', '--plan-file', planFile);
    expect(run.result.counts).toMatchObject({ annotated: 0, skippedTooYoung: 3 });
    for (const d of [index, ...children]) expect(await marked('young/app', d)).toBe(false);
    const plan = JSON.parse(await readFile(planFile, 'utf8')) as {
      tooYoung: { digest: string; reason: string }[];
    };
    expect(plan.tooYoung.map((e) => e.digest).sort()).toEqual(
      [index, ...children].map((d) => d.digest).sort(),
    );
    // First seen by this very run: eligible an hour from then.
    for (const e of plan.tooYoung) {
      const seen = /^first seen (\S+): eligible after minAge, at (\S+)$/.exec(e.reason);
      expect(seen, e.reason).not.toBeNull();
      expect(Date.parse(seen![1])).toBeGreaterThanOrEqual(before);
      expect(Date.parse(seen![1])).toBeLessThanOrEqual(Date.now());
      expect(Date.parse(seen![2]) - Date.parse(seen![1])).toBe(3_600_000);
    }

    // Without the memory the configs' 1970 would have made all three old enough.
    const blind = await annotate(
      'young',
      info,
      '--min-age',
      '1h',
      '--cache-repository',
      'none',
      '--dry-run',
    );
    expect(blind.result.counts.candidates).toBe(3);
  });

  it("a group's first run defers what it has never seen under minAge", async () => {
    const old = await pushImage(reg, 'first/app', {
      tag: 'old',
      seed: 'first-old',
      created: '2020-01-01T00:00:00Z',
    });
    const current = await pushImage(reg, 'first/app', { tag: 'current', seed: 'first-current' });
    const run = await annotate(
      'first',
      await imageInfo({ 'first/app': [current] }),
      '--min-age',
      '1h',
    );
    expect(run.result.counts).toMatchObject({ annotated: 0, skippedTooYoung: 1 });
    expect(await marked('first/app', old)).toBe(false);
  });

  it('a first run with a git image-info finds the untagged images older versions named', async () => {
    const github = await new FakeGitHub().start();
    try {
      // Three builds of `latest`, each recorded in its own commit of the image-info.
      const builds: Descriptor[] = [];
      for (const seed of ['git-1', 'git-2', 'git-3']) {
        builds.push(await pushImage(reg, 'git/app', { tag: 'latest', seed }));
        github.contents.setFile(
          'octo',
          'images',
          'main',
          'image-info.json',
          imageInfoText({ 'git/app': [builds.at(-1)!] }),
        );
      }
      const env = { GITHUB_API_URL: github.apiUrl, GITHUB_TOKEN: github.token };
      const source = 'github:octo/images/image-info.json@main';
      const run = (group: string, ...more: string[]) => annotateRun(group, source, more, env);

      // Without the history a first run sees only what a tag shows: the current build.
      const blind = jsonOf<Result>(ok(await run('git-off', '--history-depth', '0', '--dry-run')));
      expect(blind.counts.candidates).toBe(0);

      const first = ok(await run('git'));
      expect(jsonOf<Result>(first).counts.annotated).toBe(2);
      expect(await marked('git/app', builds[0])).toBe(true);
      expect(await marked('git/app', builds[1])).toBe(true);
      expect(await marked('git/app', builds[2])).toBe(false);
      expect(first.stderr).toContain('older version(s) read');
    } finally {
      await github.close();
    }
  });

  it('a file image-info says what a first run cannot see', async () => {
    const d = await pushImage(reg, 'file/app', { tag: 'latest', seed: 'file-1' });
    const run = await annotate('file', await imageInfo({ 'file/app': [d] }));
    expect(run.result.notes).toEqual([
      expect.stringContaining("untagged images from before this group's first run cannot be seen"),
    ]);
  });
});
