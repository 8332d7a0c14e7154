import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok, runCli, useScenarioRegistry } from '../../support/cli.js';
import { startFakeOciAuth, type FakeOciAuth } from '../../support/fake-oci-auth.js';

const USER = 'ci-bot';
const PASSWORD = 'hunter2-docker-login';
const REFRESH = 'identity-token-from-oras-login';
const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * The bundled CLI against registries behind auth, with credentials only from a Docker config
 * file, as `docker login`, docker/login-action, Docker@2 and `oras login` leave them.
 */
describe('eol-gate with the credentials of a Docker login', () => {
  const f = useScenarioRegistry('eol-gate-docker-config-');
  let basic: FakeOciAuth;
  let bearer: FakeOciAuth;

  beforeAll(async () => {
    basic = await startFakeOciAuth({
      upstream: f.registry.url,
      scheme: 'basic',
      username: USER,
      password: PASSWORD,
    });
    bearer = await startFakeOciAuth({
      upstream: f.registry.url,
      // Basic credentials nobody has: only the identity token gets a token.
      username: 'nobody',
      password: randomPassword(),
      refreshToken: REFRESH,
    });
  });

  afterAll(async () => {
    await basic?.stop();
    await bearer?.stop();
  });

  function randomPassword(): string {
    return Math.random().toString(36).slice(2);
  }

  /** A DOCKER_CONFIG directory holding `config`. */
  async function dockerConfig(name: string, config: unknown): Promise<string> {
    const path = join(f.dir, name);
    await mkdir(path, { recursive: true });
    await writeFile(join(path, 'config.json'), JSON.stringify(config));
    return path;
  }

  const verify = (registry: FakeOciAuth, env: Record<string, string>) =>
    runCli(
      [
        'verify',
        '--registry',
        registry.url,
        '--image-info',
        f.imageInfo,
        '--repo-prefix',
        f.scenario.repoPrefix,
      ],
      // HOME points at an empty directory: no ~/.docker/config.json but the one given.
      { HOME: f.dir, EOL_GATE_RETRIES: '0', ...env },
    );
  const host = (registry: FakeOciAuth) => new URL(registry.url).host;

  it('basic auth with the `auth` entry of DOCKER_CONFIG/config.json', async () => {
    const config = await dockerConfig('basic', {
      auths: { [`http://${host(basic)}`]: { auth: b64(`${USER}:${PASSWORD}`) } },
    });
    const before = basic.requests.length;
    const r = ok(await verify(basic, { DOCKER_CONFIG: config }));
    expect(r.stderr).toContain(
      `signing in with the username and password of "http://${host(basic)}"`,
    );
    const seen = basic.requests.slice(before);
    expect(seen.some((q) => q.status === 200 && q.path.startsWith('/v2/'))).toBe(true);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it('the same registry without a Docker config fails on authentication', async () => {
    const r = await verify(basic, {});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`authentication failed for ${host(basic)}`);
  });

  it('an identity token (`identitytoken`) is exchanged at the token endpoint by POST', async () => {
    const config = await dockerConfig('identity', {
      auths: { [host(bearer)]: { auth: b64('<token>:'), identitytoken: REFRESH } },
    });
    const before = bearer.requests.length;
    const r = ok(await verify(bearer, { DOCKER_CONFIG: config }));
    const tokenRequests = bearer.requests.slice(before).filter((q) => q.path.startsWith('/token'));
    expect(tokenRequests.length).toBeGreaterThan(0);
    expect(tokenRequests.every((q) => q.method === 'POST' && q.status === 200)).toBe(true);
    expect(r.stdout + r.stderr).not.toContain(REFRESH);
  });

  it('an entry kept by a credential helper is named in a warning, not run', async () => {
    const config = await dockerConfig('helper', {
      auths: {},
      credHelpers: { [host(basic)]: 'secretservice' },
    });
    const r = await verify(basic, { DOCKER_CONFIG: config });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `warning: ${host(basic)}: the Docker config ${join(config, 'config.json')} keeps this registry's credentials in the credential helper docker-credential-secretservice, which eol-gate does not run; set --username and --password`,
    );
  });

  it('a malformed entry fails as bad input naming the file and JSON path', async () => {
    const config = await dockerConfig('broken', {
      auths: { [host(basic)]: { auth: b64('no-colon-here') } },
    });
    const r = await verify(basic, { DOCKER_CONFIG: config });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${join(config, 'config.json')}: auths["${host(basic)}"].auth: expected base64 of username:password`,
    );
  });
});
