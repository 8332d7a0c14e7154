import type { TokenCredential } from '@azure/core-auth';
import {
  AzurePipelinesCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
} from '@azure/identity';
import { InputError } from '../../core/errors.js';

/** How eol-gate authenticates to an Azure Container Registry. */
export type AcrAuth =
  /** DefaultAzureCredential: `AZURE_*` variables, workload identity (azure/login OIDC), managed identity, Azure CLI… */
  | { kind: 'default'; tenantId?: string; managedIdentityClientId?: string }
  /** Workload identity federation through an Azure Pipelines service connection. */
  | {
      kind: 'azure-pipelines';
      serviceConnectionId: string;
      clientId: string;
      tenantId: string;
      systemAccessToken: string;
    }
  | { kind: 'client-secret'; tenantId: string; clientId: string; clientSecret: string }
  /** No credential: the registry's anonymous pull (read-only commands such as `verify`). */
  | { kind: 'anonymous' };

export interface AcrCredential {
  /** undefined = anonymous access. */
  credential: TokenCredential | undefined;
  /** The credential type, for errors and logs (never a secret). */
  name: string;
}

export interface CredentialOptions {
  /** Entra ID authority for sovereign clouds, e.g. `https://login.chinacloudapi.cn`. */
  authorityHost?: string;
}

function required(kind: string, fields: Record<string, string | undefined>): void {
  const missing = Object.entries(fields)
    .filter(([, v]) => !v)
    .map(([k]) => k);
  if (missing.length > 0) throw new InputError(`${kind} credential: missing ${missing.join(', ')}`);
}

/**
 * Builds the credential. Only the shape of the inputs is checked here; whether a token can be
 * had is found out on the first registry call, whose error names the registry and this type.
 */
export function createAcrCredential(auth: AcrAuth, options: CredentialOptions = {}): AcrCredential {
  const authorityHost = options.authorityHost;
  switch (auth.kind) {
    case 'default':
      return {
        name: 'DefaultAzureCredential',
        credential: new DefaultAzureCredential({
          authorityHost,
          ...(auth.tenantId ? { tenantId: auth.tenantId } : {}),
          ...(auth.managedIdentityClientId
            ? { managedIdentityClientId: auth.managedIdentityClientId }
            : {}),
        }),
      };
    case 'azure-pipelines':
      required('AzurePipelinesCredential', {
        serviceConnectionId: auth.serviceConnectionId,
        clientId: auth.clientId,
        tenantId: auth.tenantId,
        'System.AccessToken': auth.systemAccessToken,
      });
      return {
        name: 'AzurePipelinesCredential',
        credential: new AzurePipelinesCredential(
          auth.tenantId,
          auth.clientId,
          auth.serviceConnectionId,
          auth.systemAccessToken,
          {
            authorityHost,
          },
        ),
      };
    case 'client-secret':
      required('ClientSecretCredential', {
        tenantId: auth.tenantId,
        clientId: auth.clientId,
        clientSecret: auth.clientSecret,
      });
      return {
        name: 'ClientSecretCredential',
        credential: new ClientSecretCredential(auth.tenantId, auth.clientId, auth.clientSecret, {
          authorityHost,
        }),
      };
    case 'anonymous':
      return { name: 'anonymous access', credential: undefined };
  }
}

/**
 * Picks the credential from an environment: a service connection when one is named (Azure
 * Pipelines, `System.AccessToken` mapped into the step), else DefaultAzureCredential.
 */
export function acrAuthFromInputs(inputs: {
  anonymous?: boolean;
  serviceConnectionId?: string;
  clientId?: string;
  tenantId?: string;
  systemAccessToken?: string;
  clientSecret?: string;
}): AcrAuth {
  if (inputs.anonymous) return { kind: 'anonymous' };
  if (inputs.serviceConnectionId) {
    return {
      kind: 'azure-pipelines',
      serviceConnectionId: inputs.serviceConnectionId,
      clientId: inputs.clientId ?? '',
      tenantId: inputs.tenantId ?? '',
      systemAccessToken: inputs.systemAccessToken ?? '',
    };
  }
  if (inputs.clientSecret) {
    return {
      kind: 'client-secret',
      tenantId: inputs.tenantId ?? '',
      clientId: inputs.clientId ?? '',
      clientSecret: inputs.clientSecret,
    };
  }
  return { kind: 'default', tenantId: inputs.tenantId, managedIdentityClientId: inputs.clientId };
}
