import type { IncomingMessage, ServerResponse } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, useTempDir } from '../../support/cli.js';
import { serveOnLoopback } from '../../support/loopback.js';

const USER = 'ci';
const PASSWORD = 'Pa55-w0rd-7781';
const TOKEN = 'ghs_fakeToken0123456789';
const AZURE_TOKEN = 'azdoFakeAccessToken9876';
const KEY = 'apiKeyValue4242';
const SIG = 'sasSignature5151';
const NEVER = [
  PASSWORD,
  Buffer.from(PASSWORD).toString('base64'),
  Buffer.from(`${USER}:${PASSWORD}`).toString('base64'),
  TOKEN,
  AZURE_TOKEN,
  KEY,
  SIG,
];

/**
 * A server that fails every request with a body echoing it, as proxies and misconfigured
 * servers do: the URL with its query, the `Authorization` header, and what it decoded from it.
 * Registry paths first challenge for Basic credentials.
 */
async function handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const authorization = req.headers.authorization ?? '';
  if (req.url?.startsWith('/v2/') && !authorization) {
    res.writeHead(401, { 'www-authenticate': 'Basic realm="echo"' }).end();
    return true;
  }
  const [scheme, value = ''] = authorization.split(' ');
  const decoded = scheme === 'Basic' ? Buffer.from(value, 'base64').toString('utf8') : value;
  res.writeHead(500, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      hint: `credential ${decoded} is locked`,
      message: `internal error for ${req.method} ${req.url}`,
      request: { url: req.url, headers: { authorization } },
    }),
  );
  return true;
}

/** Invariant 7 through the bundled CLI: nothing a server echoes reaches stderr, stdout or --json. */
describe('eol-gate keeps secrets out of its output', () => {
  let server: Awaited<ReturnType<typeof serveOnLoopback>>;
  const dir = useTempDir('eol-gate-secrets-');
  let imageInfo: string;

  beforeAll(async () => {
    server = await serveOnLoopback(handle);
    imageInfo = join(dir(), 'image-info.json');
    await writeFile(
      imageInfo,
      JSON.stringify({ schemaVersion: '2.0', repos: [{ repo: 'dotnet/aspnet', images: [] }] }),
    );
  });

  afterAll(() => server?.close());

  const verify = (args: string[], env: Record<string, string> = {}) =>
    runCli(['verify', '--coordinator', 'none', ...args], { EOL_GATE_RETRIES: '0', ...env });

  const expectClean = (run: { stdout: string; stderr: string }) => {
    const output = run.stdout + run.stderr;
    for (const secret of NEVER) expect(output, output).not.toContain(secret);
  };

  it.each([
    ['--password', ['--password', PASSWORD], {}],
    ['EOL_GATE_PASSWORD', [], { EOL_GATE_PASSWORD: PASSWORD }],
  ])(
    'a registry echoing the Basic header (password from %s): neither the password nor its base64',
    async (_from, extra, env) => {
      for (const json of [false, true]) {
        const run = await verify(
          [
            '--registry',
            server.origin,
            '--image-info',
            imageInfo,
            '--username',
            USER,
            ...extra,
            ...(json ? ['--json'] : []),
          ],
          env,
        );
        expect(run.code, run.stderr).toBe(1);
        expect(run.stderr).toMatch(/HTTP 500/);
        if (json) expect(JSON.parse(run.stdout).error).toMatch(/HTTP 500/);
        expectClean(run);
      }
    },
  );

  it.each([
    [
      'an image-info URL with a key and a signature in its query',
      () => `${server.origin}/image-info.json?api_key=${KEY}&sig=${SIG}&ref=main`,
      () => ({}),
      /image-info\.json.*HTTP 500/,
    ],
    [
      'a github: image-info with GITHUB_TOKEN',
      () => 'github:octo/images/image-info.json@main',
      () => ({ GITHUB_TOKEN: TOKEN, GITHUB_API_URL: server.origin }),
      /HTTP 500/,
    ],
    [
      'an azure-repos: image-info with SYSTEM_ACCESSTOKEN',
      () => 'azure-repos:proj/images/image-info.json@main',
      () => ({ SYSTEM_ACCESSTOKEN: AZURE_TOKEN, SYSTEM_COLLECTIONURI: `${server.origin}/org/` }),
      /HTTP 500/,
    ],
  ] satisfies [string, () => string, () => Record<string, string>, RegExp][])(
    '%s, echoed back',
    async (_name, source, env, message) => {
      const run = await verify(
        ['--registry', server.origin, '--image-info', source(), '--json'],
        env(),
      );
      expect(run.code, run.stderr).toBe(1);
      expect(run.stderr).toMatch(message);
      expectClean(run);
    },
  );

  it('a secret misplaced as an argument is masked in the usage error', async () => {
    const run = await runCli(['verify', PASSWORD], { EOL_GATE_PASSWORD: PASSWORD });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unexpected argument "\*\*\*"/);
    expectClean(run);
  });

  it.each([`https://${USER}:${PASSWORD}@myacr.azurecr.io`, `${USER}:${PASSWORD}@myacr.azurecr.io`])(
    'a registry URL with credentials (%s) is refused without echoing them',
    async (registry) => {
      const run = await verify(['--registry', registry, '--image-info', imageInfo, '--json']);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/registry/);
      expectClean(run);
    },
  );
});
