import { createCoordinationStore } from '../coordination/from-environment.js';
import type { CoordinationStore } from '../coordination/port.js';
import { InputError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { createImageInfoSource, type SourceOptions } from '../imageinfo/factory.js';
import type { ImageInfoSource } from '../imageinfo/source.js';
import { AcrRegistry, acrAuthFromInputs, createAcrCredential } from '../registry/acr/index.js';
import { OciRegistry } from '../registry/oci/index.js';
import type { Registry } from '../registry/port.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../util/http.js';
import type { BuildAgent } from './agent.js';
import type { JobOptions } from './options.js';

/** Adapters chosen from inputs and environment: the only place that knows them all. */
export function createRegistry(o: JobOptions, agent: BuildAgent): Registry {
  const url = /^[a-z]+:\/\//i.test(o.registry) ? o.registry : `https://${o.registry}`;
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new InputError(
      `${agent.label('registry')}: not a registry host or URL: ${JSON.stringify(o.registry)}`,
    );
  }
  const acr =
    o.registryType === 'acr' || (o.registryType === 'auto' && /\.azurecr\.(io|cn|us)$/i.test(host));
  if (acr) return createAcrRegistry(o, agent);
  return new OciRegistry({
    url,
    username: o.username || undefined,
    password: o.password || undefined,
    concurrency: o.concurrency,
    logger: agent.logger,
    retry: retryPolicy(agent.env),
  });
}

/**
 * Azure Container Registry through @azure/identity: the task's service connection on Azure
 * Pipelines, else DefaultAzureCredential (azure/login with OIDC, AZURE_* variables, Azure CLI,
 * managed identity), or anonymous for reads.
 */
function createAcrRegistry(o: JobOptions, agent: BuildAgent): Registry {
  const connection = agent.azureServiceConnection?.();
  const auth = acrAuthFromInputs({
    anonymous: o.anonymous,
    ...(connection?.scheme === 'WorkloadIdentityFederation'
      ? {
          serviceConnectionId: connection.id,
          clientId: connection.clientId,
          tenantId: connection.tenantId,
          systemAccessToken: agent.platformToken(),
        }
      : connection
        ? {
            clientId: connection.clientId,
            tenantId: connection.tenantId,
            clientSecret: connection.clientSecret,
          }
        : {}),
  });
  const { credential, name } = createAcrCredential(auth);
  return new AcrRegistry({
    endpoint: o.registry,
    credential,
    credentialName: name,
    audience: o.audience || undefined,
    concurrency: o.concurrency,
    maxRequestsPerMinute: o.maxRequestsPerMinute,
    manifestCache: o.cacheFile || undefined,
    retry: retryPolicy(agent.env),
    logger: agent.logger,
  });
}

/** `EOL_GATE_RETRIES` tunes how long a run rides out an outage (default 6 retries, ~30 s). */
export function retryPolicy(env: Record<string, string | undefined>): RetryPolicy {
  const text = env.EOL_GATE_RETRIES;
  if (text === undefined || text === '') return DEFAULT_RETRY;
  const retries = Number(text);
  if (!Number.isInteger(retries) || retries < 0 || retries > 20) {
    throw new InputError(
      `EOL_GATE_RETRIES: expected a whole number from 0 to 20, got ${JSON.stringify(text)}`,
    );
  }
  return { ...DEFAULT_RETRY, retries };
}

/** Repository sources use the platform token unless a dedicated one is in the environment. */
export function sourceOptions(agent: BuildAgent): SourceOptions {
  const env = agent.env;
  const token = agent.platformToken();
  return {
    githubApiUrl: env.GITHUB_API_URL,
    githubToken: env.GITHUB_TOKEN || (agent.platform === 'github' ? token : undefined),
    azureCollectionUri: env.SYSTEM_COLLECTIONURI,
    azureToken:
      env.SYSTEM_ACCESSTOKEN || (agent.platform === 'azure-pipelines' ? token : undefined),
    retry: retryPolicy(env),
  };
}

export function createSources(o: JobOptions, agent: BuildAgent): ImageInfoSource[] {
  const options = sourceOptions(agent);
  return o.imageInfo.map((spec) => createImageInfoSource(spec, options));
}

export function createStore(o: JobOptions, agent: BuildAgent, logger: Logger): CoordinationStore {
  return createCoordinationStore(o.coordinator, agent.env, logger, {
    token: agent.platformToken(),
    projects: o.projects.length > 0 ? o.projects : undefined,
    retry: retryPolicy(agent.env),
  });
}
