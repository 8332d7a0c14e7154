import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markersOfBuild } from '../../../src/coordination/azure-devops.js';
import { parseImageInfo, supportedRefs } from '../../../src/core/image-info.js';
import { ok, runCli, useTempDir } from '../../support/cli.js';
import { FakeAzureDevOps } from '../../support/fake-azure-devops.js';

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const fragment = (arch: string, d: string) =>
  JSON.stringify({
    schemaVersion: '2.0',
    repos: [
      {
        repo: 'dotnet/app',
        images: [
          {
            platforms: [
              {
                dockerfile: `src/${arch}/Dockerfile`,
                osType: 'Linux',
                osVersion: 'azurelinux3.0',
                architecture: arch,
                simpleTags: [`8.0-${arch}`],
                digest: `mcr.microsoft.com/dotnet/app@${d}`,
              },
            ],
          },
        ],
      },
    ],
  });

/** `eol-gate publish-image-info --image-info <target> --fragment <fragment> …more`. */
const publishArgs = (target: string, fragment: string, ...more: string[]) => [
  'publish-image-info',
  '--image-info',
  target,
  '--fragment',
  fragment,
  ...more,
];

/** `eol-gate publish-image-info` from a pipeline step: merge, then signal image-info-updated. */
describe('eol-gate publish-image-info', () => {
  const ado = new FakeAzureDevOps();
  const tmp = useTempDir('eol-gate-publish-');
  beforeAll(() => ado.start());
  afterAll(() => ado.close());

  const pipelineEnv = (buildId: number) => ({
    TF_BUILD: 'True',
    SYSTEM_COLLECTIONURI: ado.collectionUri,
    SYSTEM_TEAMPROJECT: 'proj',
    BUILD_BUILDID: String(buildId),
    SYSTEM_ACCESSTOKEN: ado.token,
  });

  it('creates the target with --create, merges a second run in, and signals image-info-updated', async () => {
    const target = join(tmp(), 'image-info.json');
    await writeFile(join(tmp(), 'amd64.json'), fragment('amd64', digest('a')));
    await writeFile(join(tmp(), 'arm64.json'), fragment('arm64', digest('b')));

    const missing = await runCli(
      publishArgs(target, join(tmp(), 'amd64.json'), '--coordinator', 'none'),
    );
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist; pass --create/);

    const build = ado.createBuild();
    ok(
      await runCli(
        publishArgs(target, join(tmp(), 'amd64.json'), '--create', '--group', 'linux'),
        pipelineEnv(build.id),
      ),
    );
    // The build now carries an image-info-updated marker (whatever the marker format spells).
    expect(
      markersOfBuild('linux', String(build.id), ado.build(build.id).tags).map((m) => m.state),
    ).toContain('image-info-updated');

    const second = ok(
      await runCli(
        publishArgs(target, join(tmp(), 'arm64.json'), '--coordinator', 'none', '--json'),
      ),
    );
    expect(JSON.parse(second.stdout)).toMatchObject({
      command: 'publish-image-info',
      changed: true,
    });
    const merged = parseImageInfo(await readFile(target, 'utf8'), target);
    expect(
      supportedRefs(merged)
        .map((r) => r.digest)
        .sort(),
    ).toEqual([digest('a'), digest('b')]);
  });

  it('a fragment that is not image-info fails naming the file, and the target is untouched', async () => {
    const target = join(tmp(), 'kept.json');
    await writeFile(target, fragment('amd64', digest('c')));
    const before = await readFile(target, 'utf8');
    await writeFile(
      join(tmp(), 'bad.json'),
      '{"schemaVersion":"2.0","repos":[{"repo":"x","images":[{"platforms":[{"digest":"nope"}]}]}]}',
    );
    const run = await runCli(publishArgs(target, join(tmp(), 'bad.json'), '--coordinator', 'none'));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/bad\.json: repos\[0\]\.images\[0\]\.platforms\[0\]\.digest/);
    expect(await readFile(target, 'utf8')).toBe(before);
  });
});

/** Image-info never goes back in time, through the CLI: an older build is reported (log, --json) and never merged. */
describe('eol-gate publish-image-info with build times', () => {
  const tmp = useTempDir('eol-gate-publish-stale-');
  const NEW = '2026-11-22T08:00:00.0000000Z';
  const OLD = '2026-11-20T08:00:00.0000000Z';
  const timed = (d: string, created: string) => {
    const doc = JSON.parse(fragment('amd64', d)) as {
      repos: Array<{ images: Array<{ platforms: Array<Record<string, unknown>> }> }>;
    };
    doc.repos[0].images[0].platforms[0].created = created;
    return JSON.stringify(doc);
  };
  const publish = (target: string, file: string, ...extra: string[]) =>
    runCli(publishArgs(target, file, '--coordinator', 'none', '--json', ...extra));

  it.each([
    ['skip (default)', [], 0],
    ['fail', ['--on-stale', 'fail'], 1],
  ] as const)(
    'newer then older, onStale %s: the newer digest stays, the older is reported with both digests and times',
    async (_, extra, code) => {
      const target = join(tmp(), `image-info-${code}.json`);
      await writeFile(target, timed(digest('d'), NEW));
      await writeFile(join(tmp(), 'old.json'), timed(digest('e'), OLD));
      const run = await publish(target, join(tmp(), 'old.json'), ...extra);
      expect(run.code, run.stderr).toBe(code);
      const result = JSON.parse(run.stdout) as Record<string, unknown>;
      expect(result).toMatchObject({
        command: 'publish-image-info',
        changed: false,
        stale: [
          {
            kind: 'platform',
            repo: 'dotnet/app',
            dockerfile: 'src/amd64/Dockerfile',
            architecture: 'amd64',
            kept: { digest: `mcr.microsoft.com/dotnet/app@${digest('d')}`, created: NEW },
            stale: { digest: `mcr.microsoft.com/dotnet/app@${digest('e')}`, created: OLD },
          },
        ],
      });
      expect(run.stderr).toContain(`not merged mcr.microsoft.com/dotnet/app@${digest('e')}`);
      if (code === 1) expect(result.error).toMatch(/older build .*--on-stale is fail/);
      const kept = parseImageInfo(await readFile(target, 'utf8'), target);
      expect(supportedRefs(kept).map((r) => r.digest)).toEqual([digest('d')]);
    },
  );

  it('older then newer replaces; a bad created in the fragment fails naming its JSON path', async () => {
    const target = join(tmp(), 'forward.json');
    await writeFile(target, timed(digest('d'), OLD));
    await writeFile(join(tmp(), 'new.json'), timed(digest('f'), NEW));
    const run = ok(await publish(target, join(tmp(), 'new.json'), '--on-stale', 'fail'));
    expect(JSON.parse(run.stdout)).toMatchObject({ changed: true, stale: [] });
    const after = parseImageInfo(await readFile(target, 'utf8'), target);
    expect(supportedRefs(after).map((r) => r.digest)).toEqual([digest('f')]);

    await writeFile(join(tmp(), 'bad-time.json'), timed(digest('a'), 'last tuesday'));
    const bad = await publish(target, join(tmp(), 'bad-time.json'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad-time\.json: repos\[0\]\.images\[0\]\.platforms\[0\]\.created/);
    expect(supportedRefs(parseImageInfo(await readFile(target, 'utf8'), target))).toHaveLength(1);
  });

  it('without --json the summary on stdout lists the older build: both digests and both times', async () => {
    const target = join(tmp(), 'summary.json');
    await writeFile(target, timed(digest('d'), NEW));
    await writeFile(join(tmp(), 'old-summary.json'), timed(digest('e'), OLD));
    const run = ok(
      await runCli(publishArgs(target, join(tmp(), 'old-summary.json'), '--coordinator', 'none')),
    );
    expect(run.stdout).toContain('**1 older build(s) not merged**');
    expect(run.stdout).toContain(
      `| dotnet/app src/amd64/Dockerfile Linux azurelinux3.0 amd64 | \`mcr.microsoft.com/dotnet/app@${digest('d')}\` | ${NEW} | \`mcr.microsoft.com/dotnet/app@${digest('e')}\` | ${OLD} |`,
    );
  });

  it('an unknown onStale is bad input', async () => {
    const target = join(tmp(), 'x.json');
    await writeFile(target, timed(digest('d'), NEW));
    const run = await publish(target, target, '--on-stale', 'ignore');
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/on-stale/);
  });
});
