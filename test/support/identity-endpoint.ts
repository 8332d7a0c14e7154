import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Key the fake Entra ID signs its access tokens with, so the fake ACR can tell a token from
 * this endpoint from any other string (both are test support).
 */
export const FAKE_AAD_KEY = 'eol-gate-fake-aad';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

export function signFakeJwt(payload: Record<string, unknown>, key: string): string {
  const head = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(payload)}`;
  return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
}

/** Verifies a token made by signFakeJwt; undefined when forged, malformed or expired. */
export function verifyFakeJwt(token: string, key: string): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  const expected = createHmac('sha256', key).update(`${parts[0]}.${parts[1]}`).digest('base64url');
  if (expected !== parts[2]) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
    if (typeof payload.exp !== 'number' || payload.exp * 1000 < Date.now()) return undefined;
    return payload;
  } catch {
    return undefined;
  }
}

export interface IdentityEndpoint {
  url: string;
  /** The secret the App Service host puts in IDENTITY_HEADER. */
  header: string;
  /** Variables that make DefaultAzureCredential use this endpoint (App Service managed identity). */
  env: Record<string, string>;
  /** Token requests answered. */
  requests: number;
  /** When set, every token request fails with this HTTP status (a credential that cannot get a token). */
  failWith?: number;
  close(): Promise<void>;
}

/**
 * A local managed-identity endpoint in the App Service form (`IDENTITY_ENDPOINT` +
 * `IDENTITY_HEADER`, api-version 2019-08-01): DefaultAzureCredential gets a real-looking token
 * offline, through its ordinary code path.
 */
export async function startIdentityEndpoint(
  options: { tenant?: string; objectId?: string } = {},
): Promise<IdentityEndpoint> {
  const header = randomBytes(16).toString('hex');
  const tenant = options.tenant ?? 'fake-tenant';
  const endpoint: IdentityEndpoint = {
    url: '',
    header,
    env: {},
    requests: 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    endpoint.requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers['x-identity-header'] !== header)
      return send(401, {
        error: 'invalid_request',
        error_description: 'missing X-IDENTITY-HEADER',
      });
    if (endpoint.failWith)
      return send(endpoint.failWith, {
        error: 'unavailable',
        error_description: 'identity not available',
      });
    const resource = url.searchParams.get('resource');
    if (url.searchParams.get('api-version') !== '2019-08-01' || !resource) {
      return send(400, {
        error: 'invalid_request',
        error_description: 'api-version 2019-08-01 and resource are required',
      });
    }
    const expiresOn = Math.floor(Date.now() / 1000) + 3600;
    const token = signFakeJwt(
      { aud: resource, tid: tenant, oid: options.objectId ?? 'fake-object-id', exp: expiresOn },
      FAKE_AAD_KEY,
    );
    send(200, {
      access_token: token,
      expires_on: String(expiresOn),
      resource,
      token_type: 'Bearer',
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref(); // a shared endpoint must not keep a test process alive
  endpoint.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`;
  endpoint.env = { IDENTITY_ENDPOINT: endpoint.url, IDENTITY_HEADER: header };
  return endpoint;
}
