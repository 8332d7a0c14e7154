import { InputError } from '../../core/errors.js';

/** What the ACR adapter needs from an Azure Resource Manager service connection. */
export interface ServiceConnection {
  serviceConnectionId: string;
  /** `WorkloadIdentityFederation`, `ServicePrincipal` or `ManagedServiceIdentity`. */
  authScheme: string;
  clientId: string;
  tenantId: string;
  /** Only for a ServicePrincipal connection with a secret; already masked. */
  servicePrincipalKey?: string;
  /**
   * Workload identity federation: POST `${oidcRequestUri}?api-version=7.1&serviceConnectionId=<id>`
   * with the job's access token (agent.platformToken()) answers `{ oidcToken }`, the client assertion.
   */
  oidcRequestUri?: string;
}

/** How the task reads endpoint data; a seam so this file needs no task-lib in unit tests. */
export interface EndpointReader {
  scheme(id: string): string | undefined;
  /** Auth parameter (e.g. `serviceprincipalid`), read without logging its value. */
  parameter(id: string, key: string): string | undefined;
  env: Record<string, string | undefined>;
}

export const AZURE_SCHEMES = ['WorkloadIdentityFederation', 'ServicePrincipal', 'ManagedServiceIdentity'];

/**
 * The service connection named by the `azureSubscription` input, checked before any write.
 * Errors name the input: the connection is missing, not authorized for this pipeline, or of a
 * kind ACR cannot use.
 */
export function readServiceConnection(id: string, read: EndpointReader, label = 'azureSubscription'): ServiceConnection {
  const scheme = read.scheme(id);
  if (!scheme) {
    throw new InputError(
      `${label}: service connection ${JSON.stringify(id)} is not available to this job ` +
        '(check its name or id, and that the pipeline is authorized to use it)',
    );
  }
  if (!AZURE_SCHEMES.includes(scheme)) {
    throw new InputError(`${label}: service connection ${JSON.stringify(id)} uses ${scheme}; expected an Azure Resource Manager connection (${AZURE_SCHEMES.join(', ')})`);
  }
  const clientId = read.parameter(id, 'serviceprincipalid') ?? '';
  const tenantId = read.parameter(id, 'tenantid') ?? '';
  if (scheme !== 'ManagedServiceIdentity' && (!clientId || !tenantId)) {
    throw new InputError(`${label}: service connection ${JSON.stringify(id)} has no ${clientId ? 'tenant id' : 'service principal id'}`);
  }
  const key = scheme === 'ServicePrincipal' ? read.parameter(id, 'serviceprincipalkey') : undefined;
  return {
    serviceConnectionId: id,
    authScheme: scheme,
    clientId,
    tenantId,
    ...(key ? { servicePrincipalKey: key } : {}),
    ...(read.env.SYSTEM_OIDCREQUESTURI ? { oidcRequestUri: read.env.SYSTEM_OIDCREQUESTURI } : {}),
  };
}
