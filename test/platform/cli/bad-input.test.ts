import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, runCli, useScenarioRegistry } from '../../support/cli.js';
import { startFakeOciAuth, type FakeOciAuth } from '../../support/fake-oci-auth.js';
import { registrySnapshot } from '../../support/registry-http.js';

/** docs/design.md invariant 6: bad input fails before any write, naming the file, flag or JSON path. */
describe('bad input: clear errors, exit codes, no write', () => {
  const f = useScenarioRegistry('eol-gate-bad-');
  let auth: FakeOciAuth;
  let before: Record<string, string[]>;
  const D = `sha256:${'a'.repeat(64)}`;

  const file = async (name: string, text: string) => {
    const path = join(f.dir, name);
    await writeFile(path, text);
    return path;
  };
  /** `annotate` of the scenario's image-info on `registry`, without coordination. */
  const annotateAt = (registry: string, args: string[], env: Record<string, string>) =>
    runCli(
      [
        'annotate',
        '--registry',
        registry,
        '--image-info',
        f.imageInfo,
        '--coordinator',
        'none',
        '--repo-prefix',
        'public',
        ...args,
      ],
      env,
    );

  beforeAll(async () => {
    before = await registrySnapshot(f.registry.url);
    auth = await startFakeOciAuth({
      upstream: f.registry.url,
      scheme: 'basic',
      username: 'ci',
      password: 's3cr3t-pa55',
    });
  });

  afterAll(async () => {
    await auth?.stop();
  });

  const cases: [string, () => Promise<string[]>, RegExp][] = [
    [
      'malformed JSON',
      async () => [
        '--image-info',
        await file('broken.json', '{"schemaVersion": "2.0", "repos": ['),
      ],
      /broken\.json: not valid JSON/,
    ],
    [
      'unknown schemaVersion',
      async () => ['--image-info', await file('v3.json', '{"schemaVersion":"3.0","repos":[]}')],
      /v3\.json: schemaVersion: unsupported schemaVersion "3\.0"/,
    ],
    [
      'missing digest',
      async () => [
        '--image-info',
        await file(
          'nodigest.json',
          JSON.stringify({
            schemaVersion: '2.0',
            repos: [
              { repo: 'x', images: [{ platforms: [{ digest: `x@${D}` }, { dockerfile: 'y' }] }] },
            ],
          }),
        ),
      ],
      /nodigest\.json: repos\[0\]\.images\[0\]\.platforms\[1\]\.digest: missing digest/,
    ],
    [
      'invalid digest string',
      async () => [
        '--image-info',
        await file(
          'baddigest.json',
          JSON.stringify({
            schemaVersion: '2.0',
            repos: [
              { repo: 'x', images: [{ manifest: { digest: 'x@sha256:123' }, platforms: [] }] },
            ],
          }),
        ),
      ],
      /baddigest\.json: repos\[0\]\.images\[0\]\.manifest\.digest: expected a digest/,
    ],
    [
      'bad date',
      async () => ['--image-info', f.imageInfo, '--eol-date', '22/11/2026'],
      /--eol-date: expected yyyy-MM-dd, got "22\/11\/2026"/,
    ],
    [
      'bad duration',
      async () => ['--image-info', f.imageInfo, '--min-age', 'an hour'],
      /--min-age: expected a duration/,
    ],
    [
      'unknown flag',
      async () => ['--image-info', f.imageInfo, '--dryrun'],
      /Unknown option '--dryrun'/,
    ],
    [
      'missing image-info file',
      async () => ['--image-info', join(f.dir, 'nope.json')],
      /nope\.json.*(does not exist|not found|ENOENT)/i,
    ],
    [
      'bad group name',
      async () => ['--image-info', f.imageInfo, '--group', 'no spaces please'],
      /--group: expected 1-64 characters/,
    ],
    [
      'bad concurrency',
      async () => ['--image-info', f.imageInfo, '--concurrency', '0'],
      /--concurrency: expected a whole number/,
    ],
    [
      'an unknown ACR tier',
      async () => ['--image-info', f.imageInfo, '--acr-tier', 'gold'],
      /--acr-tier: expected one of basic, standard, premium, got "gold"/,
    ],
    [
      'plain http to a non-loopback host',
      async () => ['--image-info', f.imageInfo, '--registry', 'http://registry.example.com'],
      /--registry: http:\/\/registry\.example\.com is not allowed/,
    ],
    [
      'a registry URL of another scheme',
      async () => ['--image-info', f.imageInfo, '--registry', 'ftp://x'],
      /--registry: ftp:\/\/x is not allowed/,
    ],
    [
      'a bad coordination repository',
      async () => ['--image-info', f.imageInfo, '--coordination-repository', 'owner-only'],
      /--coordination-repository: expected owner\/name, got "owner-only"/,
    ],
  ];

  it.each(cases)('%s → exit 2, named, nothing written', async (_name, args, message) => {
    const run = await runCli(
      [
        'annotate',
        '--registry',
        f.registry.url,
        '--coordinator',
        'none',
        '--repo-prefix',
        'public',
        ...(await args()),
      ],
      { EOL_GATE_RETRIES: '1' },
    );
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(await registrySnapshot(f.registry.url)).toEqual(before);
  });

  it('an unknown command → exit 2', async () => {
    const run = await runCli(['annotat']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown command "annotat"/);
  });

  it('an unreachable registry → exit 1 naming the host', async () => {
    const run = await annotateAt('http://127.0.0.1:9', [], { EOL_GATE_RETRIES: '0' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/127\.0\.0\.1:9.*(ECONNREFUSED|failed)/);
  });

  it('wrong credentials → exit 1, the password never printed, nothing written', async () => {
    const run = await annotateAt(auth.url, ['--username', 'ci', '--password', 'wrong-pa55word'], {
      EOL_GATE_RETRIES: '0',
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/authentication failed/i);
    expect(run.stdout + run.stderr).not.toContain('wrong-pa55word');
    expect(await registrySnapshot(f.registry.url)).toEqual(before);
  });

  it('right credentials through the same front work (the password comes from the environment too)', async () => {
    const run = ok(
      await annotateAt(auth.url, ['--username', 'ci', '--min-age', '0', '--dry-run', '--json'], {
        EOL_GATE_PASSWORD: 's3cr3t-pa55',
      }),
    );
    expect(JSON.parse(run.stdout).counts.candidates).toBeGreaterThan(0);
    expect(run.stdout + run.stderr).not.toContain('s3cr3t-pa55');
  });

  it('a registry that keeps failing during apply → exit 1, the plan file is still written', async () => {
    const open = await startFakeOciAuth({ upstream: f.registry.url, scheme: 'basic' });
    try {
      open.inject({ status: 503, times: Infinity, match: /^PUT \/v2\/.*\/manifests\// });
      const planFile = join(f.dir, 'failed-apply-plan.json');
      const run = await annotateAt(open.url, ['--min-age', '0', '--plan-file', planFile], {
        EOL_GATE_RETRIES: '0',
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/HTTP 503/);
      const plan = JSON.parse(await readFile(planFile, 'utf8'));
      expect(plan.digests.length).toBeGreaterThan(0);
      expect(await registrySnapshot(f.registry.url)).toEqual(before);
    } finally {
      await open.stop();
    }
  });
});
