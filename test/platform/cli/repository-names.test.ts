import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, useTempDir } from '../../support/cli.js';
import { FakeGitHub } from '../../support/fake-github.js';

const D = `sha256:${'c'.repeat(64)}`;

/**
 * Invariant 6 for repository names: an invalid one (in the image-info, in --repositories, or
 * made by --repo-prefix) fails as bad input naming the file and JSON path or the flag, before
 * the coordination marker or anything else is written.
 */
describe('eol-gate annotate: invalid repository names fail before any write', () => {
  let github: FakeGitHub;
  const dir = useTempDir('eol-gate-names-');
  let good: string;

  const file = async (name: string, repos: string[]) => {
    const path = join(dir(), name);
    await writeFile(
      path,
      JSON.stringify({
        schemaVersion: '2.0',
        repos: repos.map((repo) => ({ repo, images: [{ platforms: [{ digest: D }] }] })),
      }),
    );
    return path;
  };

  beforeAll(async () => {
    github = await new FakeGitHub().start();
    good = await file('image-info.json', ['dotnet/aspnet', 'dotnet/runtime']);
  });

  afterAll(() => github?.close());

  const annotate = (args: string[]) => {
    const run = github.createRun();
    return runCli(
      // Nothing listens on port 9: a registry request would fail, not hang.
      ['annotate', '--registry', 'http://127.0.0.1:9', '--coordinator', 'github', ...args],
      {
        EOL_GATE_RETRIES: '0',
        ...github.stepEnv(run),
        GITHUB_TOKEN: github.token,
        EOL_GATE_JOB_ID: '77',
      },
    );
  };

  const cases: [string, () => Promise<string[]>, RegExp][] = [
    [
      'an image-info repos[].repo',
      async () => [
        '--image-info',
        await file('bad-repo.json', ['dotnet/aspnet', 'dotnet/runtime', 'Dotnet/SDK']),
      ],
      /bad-repo\.json: repos\[2\]\.repo: invalid repository name "Dotnet\/SDK"/,
    ],
    [
      'a --repositories entry',
      async () => [
        '--image-info',
        good,
        '--repositories',
        'dotnet/*',
        '--repositories',
        'bad//name',
      ],
      /--repositories: invalid repository name or glob "bad\/\/name"/,
    ],
    [
      'a --repo-prefix',
      async () => ['--image-info', good, '--repo-prefix', 'Public/'],
      /--repo-prefix: invalid repository prefix "Public\/"/,
    ],
    [
      'a name --repo-prefix makes too long',
      async () => [
        '--image-info',
        await file('long.json', ['dotnet/aspnet', `dotnet/${'a'.repeat(40)}`]),
        '--repo-prefix',
        'p'.repeat(220),
      ],
      /long\.json: repos\[1\]\.repo: .*longer than 255 characters/,
    ],
  ];

  it.each(cases)('%s → exit 2, named, no marker written', async (_name, args, message) => {
    const before = github.requests.length;
    const run = await annotate(await args());
    expect(run.code, run.stderr).toBe(2);
    expect(run.stderr).toMatch(message);
    const writes = github.requests.slice(before).filter((r) => r.method !== 'GET');
    expect(writes).toEqual([]);
    expect([...github.refs.keys()].filter((r) => r.includes('eol-gate'))).toEqual([]);
  });

  it('an image-info location the CLI cannot read names --image-info', async () => {
    const run = await annotate(['--image-info', 'ftp://example.com/image-info.json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--image-info: unsupported location "ftp:"/);
    expect(github.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });
});
