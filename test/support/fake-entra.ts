/**
 * Workload identity federation offline: a GitHub OIDC token endpoint (what the runner serves
 * at ACTIONS_ID_TOKEN_REQUEST_URL) and a Microsoft Entra ID authority on loopback HTTPS that
 * exchanges those ID tokens for access tokens (client credentials with a JWT assertion), as
 * @azure/identity's ClientAssertionCredential and MSAL ask them.
 */
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { testCertificate } from './fake-acr/cert.js';
import { FAKE_AAD_KEY, signFakeJwt, verifyFakeJwt } from './identity-endpoint.js';
import { readBody } from './loopback.js';

/** Key the fake GitHub OIDC endpoint signs ID tokens with; the fake Entra checks it. */
const FAKE_OIDC_KEY = 'eol-gate-fake-github-oidc';

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
};
const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

export interface FakeGitHubOidc {
  /** ACTIONS_ID_TOKEN_REQUEST_URL (with its `api-version` query, as the runner's has). */
  requestUrl: string;
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN. */
  requestToken: string;
  /** The runner variables that give a job `id-token: write`. */
  env: Record<string, string>;
  /** ID tokens issued, in order, with the audience asked for. */
  issued: { token: string; audience: string | null }[];
  close(): Promise<void>;
}

/** The runner's OIDC endpoint: GET with `audience` and the request bearer → `{"value": <jwt>}`. */
export async function startFakeGitHubOidc(
  options: { subject?: string; lifetimeSeconds?: number } = {},
): Promise<FakeGitHubOidc> {
  const requestToken = randomBytes(16).toString('hex');
  const issued: FakeGitHubOidc['issued'] = [];
  const server = createHttpServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' || url.pathname !== '/idtoken') return send(404, {});
    if (req.headers.authorization !== `Bearer ${requestToken}`)
      return send(401, { message: 'bad request token' });
    const audience = url.searchParams.get('audience');
    const now = Math.floor(Date.now() / 1000);
    const token = signFakeJwt(
      {
        iss: 'https://token.actions.githubusercontent.com',
        sub: options.subject ?? 'repo:octo/app:ref:refs/heads/main',
        aud: audience ?? 'https://github.com/octo',
        iat: now,
        exp: now + (options.lifetimeSeconds ?? 300),
        jti: randomBytes(8).toString('hex'),
      },
      FAKE_OIDC_KEY,
    );
    issued.push({ token, audience });
    send(200, { count: 1, value: token });
  });
  const port = await listen(server);
  const requestUrl = `http://127.0.0.1:${port}/idtoken?api-version=2.0`;
  return {
    requestUrl,
    requestToken,
    env: { ACTIONS_ID_TOKEN_REQUEST_URL: requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken },
    issued,
    close: () => close(server),
  };
}

export interface FakeEntra {
  /** The authority host: `https://127.0.0.1:<port>`. */
  url: string;
  tenant: string;
  clientId: string;
  /** Every request, `METHOD /path`, to see what MSAL asks for. */
  requests: string[];
  /** Client-credential exchanges answered, in order: the assertion each one carried. */
  exchanges: { assertion: string; scope: string | null }[];
  close(): Promise<void>;
}

/**
 * An Entra authority that serves its OpenID configuration and a token endpoint accepting
 * `client_credentials` with a fake GitHub ID token as `client_assertion` (audience
 * `api://AzureADTokenExchange`, unexpired, for `clientId`). Access tokens are signed with
 * FAKE_AAD_KEY, so the fake ACR accepts them, and live `accessTokenSeconds`.
 */
export async function startFakeEntra(options: {
  tenant: string;
  clientId: string;
  accessTokenSeconds: number;
}): Promise<FakeEntra> {
  const cert = testCertificate();
  const requests: string[] = [];
  const exchanges: FakeEntra['exchanges'] = [];
  let base = '';
  const server = createHttpsServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    requests.push(`${req.method} ${url.pathname}`);
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const tenantBase = `${base}/${options.tenant}`;
    if (
      req.method === 'GET' &&
      url.pathname === `/${options.tenant}/v2.0/.well-known/openid-configuration`
    ) {
      return send(200, {
        issuer: `${tenantBase}/v2.0`,
        authorization_endpoint: `${tenantBase}/oauth2/v2.0/authorize`,
        token_endpoint: `${tenantBase}/oauth2/v2.0/token`,
        device_authorization_endpoint: `${tenantBase}/oauth2/v2.0/devicecode`,
        end_session_endpoint: `${tenantBase}/oauth2/v2.0/logout`,
        jwks_uri: `${base}/${options.tenant}/discovery/v2.0/keys`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt'],
      });
    }
    if (req.method === 'POST' && url.pathname === `/${options.tenant}/oauth2/v2.0/token`) {
      void readBody(req).then((body) => {
        const form = new URLSearchParams(body.toString('utf8'));
        const refuse = (code: string, description: string) =>
          send(400, { error: 'invalid_client', error_description: `${code}: ${description}` });
        if (form.get('grant_type') !== 'client_credentials')
          return refuse('AADSTS70003', 'grant_type must be client_credentials');
        if (form.get('client_id') !== options.clientId)
          return refuse('AADSTS700016', 'unknown application');
        if (
          form.get('client_assertion_type') !==
          'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
        )
          return refuse('AADSTS70002', 'client_assertion_type must be jwt-bearer');
        const assertion = form.get('client_assertion') ?? '';
        // verifyFakeJwt also refuses an expired token: what AADSTS700024 says.
        const claims = verifyFakeJwt(assertion, FAKE_OIDC_KEY);
        if (!claims) return refuse('AADSTS700024', 'client assertion is not valid or expired');
        if (claims.aud !== 'api://AzureADTokenExchange')
          return refuse('AADSTS700212', 'no matching federated identity record for audience');
        const scope = form.get('scope');
        exchanges.push({ assertion, scope });
        const resource = (scope ?? '').split(' ')[0].replace(/\/\.default$/, '');
        const exp = Math.floor(Date.now() / 1000) + options.accessTokenSeconds;
        send(200, {
          token_type: 'Bearer',
          expires_in: options.accessTokenSeconds,
          ext_expires_in: options.accessTokenSeconds,
          access_token: signFakeJwt(
            { aud: resource, tid: options.tenant, oid: `sp-${options.clientId}`, exp },
            FAKE_AAD_KEY,
          ),
        });
      });
      return;
    }
    send(404, { error: 'not_found', error_description: `${req.method} ${url.pathname}` });
  });
  const port = await listen(server as unknown as Server);
  base = `https://127.0.0.1:${port}`;
  return {
    url: base,
    tenant: options.tenant,
    clientId: options.clientId,
    requests,
    exchanges,
    close: () => close(server as unknown as Server),
  };
}
