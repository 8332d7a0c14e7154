import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeAcr, type FakeAcr } from '../../support/fake-acr/index.js';
import {
  startFakeEntra,
  startFakeGitHubOidc,
  type FakeEntra,
  type FakeGitHubOidc,
} from '../../support/fake-entra.js';
import { runAction } from '../../support/runner.js';
import { seedScenario, type Scenario } from '../../registry/acr/helpers.js';

const TENANT = '72f988bf-0000-4000-8000-000000000001';
const CLIENT = '0a1b2c3d-0000-4000-8000-0000000000aa';

/**
 * `node dist/github/index.cjs` signing in to ACR with azureClientId/azureTenantId: every Entra
 * exchange carries an ID token fetched from the runner's OIDC endpoint just for it.
 */
describe('GitHub Action bundle: ACR sign-in with GitHub OIDC', () => {
  let oidc: FakeGitHubOidc;
  let entra: FakeEntra;
  let acr: FakeAcr;
  let scenario: Scenario;

  beforeAll(async () => {
    oidc = await startFakeGitHubOidc();
    // Access and ACR refresh tokens shorter than the 5-minute refresh windows of MSAL and the
    // ACR SDK: each new repository scope makes the credential go back to Entra, as a sign-in
    // late in a long job does once the first tokens have aged.
    entra = await startFakeEntra({ tenant: TENANT, clientId: CLIENT, accessTokenSeconds: 120 });
    acr = await startFakeAcr({ tenant: TENANT, refreshTokenSeconds: 120 });
    scenario = seedScenario(acr);
  });

  afterAll(async () => {
    await acr?.close();
    await entra?.close();
    await oidc?.close();
  });

  const run = (inputs: Record<string, string>, env: Record<string, string>) =>
    runAction({
      inputs: {
        command: 'verify',
        registry: acr.url,
        registryType: 'acr',
        imageInfo: scenario.imageInfo,
        concurrency: '1',
        ...inputs,
      },
      env: { NODE_EXTRA_CA_CERTS: acr.caPath, EOL_GATE_RETRIES: '0', ...env },
      githubToken: 'unused-github-token',
    });

  it('exchanges a fresh ID token at the Entra authority for every credential refresh', async () => {
    const r = await run(
      { azureClientId: CLIENT, azureTenantId: TENANT, azureAuthorityHost: entra.url },
      oidc.env,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('verify: ');

    // Two repositories, each its own scope: at least two exchanges, each with a new assertion.
    expect(entra.exchanges.length).toBeGreaterThanOrEqual(2);
    const assertions = entra.exchanges.map((e) => e.assertion);
    expect(new Set(assertions).size).toBe(assertions.length);
    // Each assertion is an ID token the runner's endpoint issued for this exchange: issued in
    // exchange order, never reused. (MSAL also asks for one while it configures its client for
    // the request, hence up to two fetches per exchange; every one of them is fresh.)
    const issued = oidc.issued.map((i) => i.token);
    const positions = assertions.map((a) => issued.indexOf(a));
    expect(positions.every((p) => p >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(issued.length).toBeLessThanOrEqual(2 * assertions.length);
    expect(new Set(oidc.issued.map((i) => i.audience))).toEqual(
      new Set(['api://AzureADTokenExchange']),
    );
    expect(new Set(entra.exchanges.map((e) => e.scope))).toEqual(
      new Set(['https://containerregistry.azure.net/.default']),
    );
    // The ACR accepted each Entra token at /oauth2/exchange.
    expect(acr.counts.exchange).toBe(entra.exchanges.length);
    // The sovereign-cloud path: the named authority only, no instance discovery elsewhere.
    expect(entra.requests).toContain(`GET /${TENANT}/v2.0/.well-known/openid-configuration`);
    // Every ID token was masked before it could be logged.
    for (const { token } of oidc.issued) expect(r.masks).toContain(token);
  });

  it('fails before any registry request when the job has no id-token: write', async () => {
    const before = acr.total;
    const r = await run({ azureClientId: CLIENT, azureTenantId: TENANT }, {});
    expect(r.code, r.stdout + r.stderr).toBe(2);
    expect(r.commands.filter((c) => c.command === 'error').map((c) => c.message)).toEqual([
      'azureClientId: this job has no OIDC token to sign in with; give the workflow job "permissions: id-token: write"',
    ]);
    expect(acr.total).toBe(before);
  });

  it('refuses azureClientId without azureTenantId', async () => {
    const r = await run({ azureClientId: CLIENT }, oidc.env);
    expect(r.code).toBe(2);
    expect(r.commands.find((c) => c.command === 'error')?.message).toBe(
      'azureTenantId is required with azureClientId',
    );
  });
});
