import { InputError } from '../../core/errors.js';
import type { AzureServiceConnection } from '../agent.js';

/** How the task reads endpoint data; a seam so this file needs no task-lib in unit tests. */
export interface EndpointReader {
  scheme(id: string): string | undefined;
  /** Auth parameter (e.g. `serviceprincipalid`), read without logging its value. */
  parameter(id: string, key: string): string | undefined;
}

/** The Azure Resource Manager connection kinds the ACR adapter can sign in with. */
export const AZURE_SCHEMES = ['WorkloadIdentityFederation', 'ServicePrincipal'];

/**
 * The service connection named by the `azureSubscription` input, checked before any write.
 * Errors name the input: the connection is missing or not authorized for this pipeline, or of
 * a kind the ACR adapter cannot use. Workload identity needs no secret here: @azure/identity
 * exchanges the job's access token for an OIDC assertion through SYSTEM_OIDCREQUESTURI.
 */
export function readServiceConnection(
  id: string,
  read: EndpointReader,
  label = 'azureSubscription',
): AzureServiceConnection {
  const name = JSON.stringify(id);
  const scheme = read.scheme(id);
  if (!scheme) {
    throw new InputError(
      `${label}: service connection ${name} is not available to this job (check its name or id, and that the pipeline is authorized to use it)`,
    );
  }
  if (!AZURE_SCHEMES.includes(scheme)) {
    throw new InputError(
      `${label}: service connection ${name} uses ${scheme}; expected an Azure Resource Manager connection with ${AZURE_SCHEMES.join(' or ')}`,
    );
  }
  const clientId = read.parameter(id, 'serviceprincipalid') ?? '';
  const tenantId = read.parameter(id, 'tenantid') ?? '';
  if (!clientId || !tenantId)
    throw new InputError(
      `${label}: service connection ${name} has no ${clientId ? 'tenant id' : 'service principal id'}`,
    );
  if (scheme === 'WorkloadIdentityFederation') return { id, scheme, clientId, tenantId };
  const clientSecret = read.parameter(id, 'serviceprincipalkey');
  if (!clientSecret) {
    throw new InputError(
      `${label}: service connection ${name} has no service principal secret (certificate connections are not supported; use workload identity federation)`,
    );
  }
  return { id, scheme, clientId, tenantId, clientSecret };
}
