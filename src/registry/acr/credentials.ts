import type { TokenCredential } from '@azure/core-auth';
import {
  AzurePipelinesCredential,
  ClientAssertionCredential,
  ClientSecretCredential,
  DefaultAzureCredential,
  ManagedIdentityCredential,
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
  /**
   * Workload identity federation with an assertion fetched on every token request (GitHub
   * OIDC): a token exchange late in a long job gets a fresh assertion, not an expired one.
   */
  | {
      kind: 'client-assertion';
      tenantId: string;
      clientId: string;
      getAssertion: () => Promise<string>;
    }
  /** The agent's managed identity (an Azure Pipelines managed-identity service connection). */
  | { kind: 'managed-identity' }
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
  const authorityHost = options.authorityHost || undefined;
  // A named authority is taken as given: MSAL's instance discovery asks the public cloud about
  // it, which sovereign and private clouds cannot answer.
  const authority = authorityHost ? { authorityHost, disableInstanceDiscovery: true } : {};
  switch (auth.kind) {
    case 'default': {
      const { tenantId, managedIdentityClientId } = auth;
      return {
        name: 'DefaultAzureCredential',
        credential: new DefaultAzureCredential({
          ...authority,
          ...(tenantId ? { tenantId } : {}),
          ...(managedIdentityClientId ? { managedIdentityClientId } : {}),
        }),
      };
    }
    case 'azure-pipelines': {
      const { serviceConnectionId, clientId, tenantId, systemAccessToken } = auth;
      const name = 'AzurePipelinesCredential';
      required(name, {
        serviceConnectionId,
        clientId,
        tenantId,
        'System.AccessToken': systemAccessToken,
      });
      const args = [tenantId, clientId, serviceConnectionId, systemAccessToken] as const;
      return { name, credential: new AzurePipelinesCredential(...args, authority) };
    }
    case 'client-secret': {
      const { tenantId, clientId, clientSecret } = auth;
      required('ClientSecretCredential', { tenantId, clientId, clientSecret });
      const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, authority);
      return { name: 'ClientSecretCredential', credential };
    }
    case 'client-assertion': {
      const { tenantId, clientId, getAssertion } = auth;
      required('ClientAssertionCredential', { tenantId, clientId });
      const credential = new ClientAssertionCredential(tenantId, clientId, getAssertion, authority);
      return { name: 'ClientAssertionCredential', credential };
    }
    case 'managed-identity':
      return { name: 'ManagedIdentityCredential', credential: new ManagedIdentityCredential() };
    case 'anonymous':
      return { name: 'anonymous access', credential: undefined };
  }
}

/** What a host knows about how to sign in; `acrAuthFromInputs` picks one credential from it. */
export interface AcrSignIn {
  anonymous?: boolean;
  /** An Azure Pipelines service connection (secrets already masked). */
  connection?: {
    id: string;
    scheme: string;
    clientId: string;
    tenantId: string;
    clientSecret?: string;
  };
  systemAccessToken?: string;
  /** Federated sign-in with a platform OIDC token (GitHub `azureClientId`/`azureTenantId`). */
  federated?: { clientId: string; tenantId: string; getAssertion: () => Promise<string> };
}

/**
 * Picks the credential: anonymous when asked; an Azure Pipelines service connection by its
 * scheme; federated GitHub OIDC; else DefaultAzureCredential (azure/login, AZURE_* variables,
 * managed identity, Azure CLI).
 */
export function acrAuthFromInputs(inputs: AcrSignIn): AcrAuth {
  if (inputs.anonymous) return { kind: 'anonymous' };
  const c = inputs.connection;
  if (c?.scheme === 'WorkloadIdentityFederation') {
    return {
      kind: 'azure-pipelines',
      serviceConnectionId: c.id,
      clientId: c.clientId,
      tenantId: c.tenantId,
      systemAccessToken: inputs.systemAccessToken ?? '',
    };
  }
  if (c?.scheme === 'ServicePrincipal') {
    return {
      kind: 'client-secret',
      tenantId: c.tenantId,
      clientId: c.clientId,
      clientSecret: c.clientSecret ?? '',
    };
  }
  if (c?.scheme === 'ManagedServiceIdentity') return { kind: 'managed-identity' };
  if (c) throw new InputError(`service connection scheme ${c.scheme} is not supported`);
  if (inputs.federated) return { kind: 'client-assertion', ...inputs.federated };
  return { kind: 'default' };
}
