import { InputError } from '../../core/errors.js';
import type { AzureServiceConnection, RegistryLogin } from '../agent.js';

/** How the task reads endpoint data; a seam so this file needs no task-lib in unit tests. */
export interface EndpointReader {
  scheme(id: string): string | undefined;
  /** Auth parameter (e.g. `serviceprincipalid`), read without logging its value. */
  parameter(id: string, key: string): string | undefined;
  /** The endpoint's URL (a Docker registry connection's registry). */
  url?(id: string): string | undefined;
}

/** Workload identity federation, a service principal secret, or the agent's managed identity. */
const AZURE_SCHEMES = ['WorkloadIdentityFederation', 'ServicePrincipal', 'ManagedServiceIdentity'];

/** The connection's auth scheme; a connection without one is missing or not authorized. */
function schemeOf(id: string, read: EndpointReader, label: string): string {
  const scheme = read.scheme(id);
  if (scheme) return scheme;
  throw new InputError(
    `${label}: service connection ${JSON.stringify(id)} is not available to this job (check its name or id, and that the pipeline is authorized to use it)`,
  );
}

/**
 * Checked before any write; errors name the input (missing, not authorized for this pipeline, or a
 * kind the ACR adapter cannot use). Workload identity needs no secret here: @azure/identity trades
 * the job's access token for an OIDC assertion through SYSTEM_OIDCREQUESTURI.
 */
export function readServiceConnection(
  id: string,
  read: EndpointReader,
  label = 'azureSubscription',
): AzureServiceConnection {
  const name = JSON.stringify(id);
  const scheme = schemeOf(id, read, label);
  if (!AZURE_SCHEMES.includes(scheme))
    throw new InputError(
      `${label}: service connection ${name} uses the ${scheme} scheme, which eol-gate does not support; use an Azure Resource Manager connection with workload identity federation, a service principal secret or a managed identity`,
    );
  const tenantId = read.parameter(id, 'tenantid') ?? '';
  // A managed-identity connection signs in as the agent machine's identity: no client id here.
  if (scheme === 'ManagedServiceIdentity') return { id, scheme, clientId: '', tenantId };
  const clientId = read.parameter(id, 'serviceprincipalid') ?? '';
  if (!clientId || !tenantId)
    throw new InputError(
      `${label}: service connection ${name} has no ${clientId ? 'tenant id' : 'service principal id'}`,
    );
  if (scheme === 'WorkloadIdentityFederation') return { id, scheme, clientId, tenantId };
  const clientSecret = read.parameter(id, 'serviceprincipalkey');
  if (!clientSecret)
    throw new InputError(
      `${label}: service connection ${name} has no service principal secret (certificate connections are not supported; use workload identity federation)`,
    );
  return { id, scheme, clientId, tenantId, clientSecret };
}

/** `https://index.docker.io/v1/` → `index.docker.io`; `myacr.azurecr.io` stays. */
function registryHost(text: string): string {
  return text
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .split('/')[0]
    .toLowerCase();
}

/** The auth parameters that hold the registry, the username and the password, per scheme. */
const DOCKER_PARAMETERS = new Map([
  ['UsernamePassword', ['registry', 'username', 'password']],
  ['ServicePrincipal', ['loginServer', 'serviceprincipalid', 'serviceprincipalkey']],
]);

/**
 * Username and password ("Others"/"Docker Hub" kinds), or an "Azure Container Registry"
 * connection's service principal, which ACR accepts as username and password too.
 */
export function readDockerRegistryConnection(
  id: string,
  read: EndpointReader,
  label = 'dockerRegistryServiceConnection',
): RegistryLogin {
  const name = JSON.stringify(id);
  const scheme = schemeOf(id, read, label);
  const keys = DOCKER_PARAMETERS.get(scheme);
  if (!keys)
    throw new InputError(
      `${label}: service connection ${name} uses the ${scheme} scheme, which eol-gate does not support here; use a username and password connection, or azureSubscription for workload identity`,
    );
  const [given, username, password] = keys.map((key) => read.parameter(id, key) ?? '');
  // A username and password connection may name its registry by the endpoint's URL alone.
  const registry = given || (scheme === 'UsernamePassword' && read.url?.(id)) || '';
  const missing = [!registry && 'registry', !username && 'username', !password && 'password']
    .filter(Boolean)
    .join(', ');
  if (missing) throw new InputError(`${label}: service connection ${name} has no ${missing}`);
  return { registry: registryHost(registry), username, password };
}
