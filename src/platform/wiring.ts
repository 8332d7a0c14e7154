import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { createCoordinationStore } from '../coordination/from-environment.js';
import { formatDuration } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import { createImageInfoSource, type SourceOptions } from '../imageinfo/factory.js';
import { AcrRegistry, acrAuthFromInputs, createAcrCredential } from '../registry/acr/index.js';
import type { AcrSignIn } from '../registry/acr/credentials.js';
import {
  isDockerHub,
  lookupDockerConfig,
  type DockerCredentials,
} from '../registry/docker-config.js';
import { GhcrPackages } from '../registry/ghcr/packages.js';
import { OciRegistry } from '../registry/oci/index.js';
import type { Registry } from '../registry/port.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../util/http.js';
import { configureProcessThrottle, type Throttle } from '../util/throttle.js';
import type { BuildAgent } from './agent.js';
import { registryUrl, type OptionsFor } from './options.js';
import { jobParticipant } from './participant.js';

// Every input is read for every command: verify's `anonymous` and annotate's `dryRun` are set
// (to their defaults) for the other commands too.
type RegistryOptions = OptionsFor<'annotate' | 'verify' | 'unannotate'> & { anonymous?: boolean };
type StoreOptions = OptionsFor<'annotate' | 'signal' | 'publish-image-info'> & { dryRun?: boolean };

/** The only place that knows every adapter. */
export function createRegistry(o: RegistryOptions, agent: BuildAgent): Registry {
  // readOptions checked that the URL parses.
  let url = registryUrl(o.registry);
  const host = new URL(url).host.toLowerCase();
  const hostname = host.replace(/:\d+$/, '');
  const acr =
    o.registryType === 'acr' ||
    (o.registryType === 'auto' && /\.azurecr\.(io|cn|us)$/i.test(hostname));
  const ghcr = o.registryType === 'ghcr' || (o.registryType === 'auto' && hostname === 'ghcr.io');
  const login = registryLogin(o, agent, host);
  const throttle = processThrottleFor(o, agent, acr);
  if (acr && !login) return createAcrRegistry(o, agent, throttle);
  if (o.azureClientId)
    agent.logger.warning(
      `${agent.label('azureClientId')} is for Azure Container Registry sign-in; ${host} is signed in to ${login ? 'with a username and password' : 'as a Docker registry'}`,
    );
  if (acr) {
    // ACR's Docker token endpoint takes the admin user, repository-scoped tokens and service
    // principal secrets as basic credentials; the Azure SDK takes only Entra credentials.
    agent.logger.info(
      `${host}: signing in with ${login!.source} through the registry's Docker token endpoint (ACR admin user, token or service principal)`,
    );
    const unused = (['cacheFile', 'audience'] as const).filter((n) => Boolean(o[n]));
    if (unused.length > 0)
      agent.logger.warning(
        `${unused.map((n) => agent.label(n)).join(', ')} apply to Entra sign-in to Azure Container Registry, not to a username and password; ignored`,
      );
  }
  // Docker Hub's API lives on registry-1.docker.io; `docker.io` is only its name.
  if (isDockerHub(host)) url = 'https://registry-1.docker.io';
  const creds = login ?? dockerConfigCredentials(agent, host);
  const retry = retryPolicy(agent.env);
  return new OciRegistry({
    url,
    username: creds?.username,
    password: creds?.password,
    refreshToken: creds?.refreshToken,
    concurrency: o.concurrency,
    logger: agent.logger,
    retry: { ...retry, throttle },
    manifestCache: o.cacheFile || undefined,
    registryCache: registryCache(o),
    ...(ghcr
      ? {
          // GHCR logins are GitHub tokens: the same one reads (and deletes) package versions.
          packages: new GhcrPackages({
            apiUrl: agent.context.github.apiUrl || 'https://api.github.com',
            token: creds?.password || agent.platformToken(),
            retry,
            logger: agent.logger,
          }),
        }
      : {}),
  });
}

/**
 * Shared by every registry client: the ACR tier's documented budgets, or learnt from refusals;
 * `maxRequestsPerMinute` caps all classes. `EOL_GATE_BUDGET_WINDOW_MS` (tests only) shortens the
 * registry's budget window so a throttled run is tested in seconds.
 */
function processThrottleFor(o: RegistryOptions, agent: BuildAgent, acr: boolean): Throttle {
  if (o.acrTier && !acr)
    agent.logger.warning(
      `${agent.label('acrTier')} applies to Azure Container Registry; this registry's budgets are learnt from its answers`,
    );
  const window = Number(agent.env.EOL_GATE_BUDGET_WINDOW_MS ?? '');
  return configureProcessThrottle({
    tier: acr ? o.acrTier : undefined,
    maxRequestsPerMinute: o.maxRequestsPerMinute,
    windowMs: Number.isFinite(window) && window > 0 ? window : undefined,
  });
}

/** The registry-held cache: one copy per group in `cacheRepository` (empty: turned off). */
function registryCache(o: RegistryOptions): { repository: string; group: string } | undefined {
  return o.cacheRepository ? { repository: o.cacheRepository, group: o.group } : undefined;
}

interface Login {
  username: string;
  password: string;
  refreshToken?: undefined;
  source: string;
}

/** `username`/`password`, or the host's Docker registry connection; one source, never both. */
function registryLogin(o: RegistryOptions, agent: BuildAgent, host: string): Login | undefined {
  const connection = agent.dockerRegistryConnection?.();
  const label = agent.label('dockerRegistryServiceConnection');
  if (o.username || o.password) {
    if (connection)
      throw new InputError(
        `${label}: set either it or ${agent.label('username')}/${agent.label('password')}, not both`,
      );
    if (!o.username || !o.password)
      throw new InputError(
        `${agent.label(o.username ? 'password' : 'username')} is required with ${agent.label(o.username ? 'username' : 'password')}`,
      );
    return {
      username: o.username,
      password: o.password,
      source: `${agent.label('username')}/${agent.label('password')}`,
    };
  }
  if (!connection) return undefined;
  const same =
    connection.registry === host || (isDockerHub(connection.registry) && isDockerHub(host));
  if (!same)
    throw new InputError(
      `${label}: the service connection is for ${connection.registry}, not ${host}`,
    );
  return { username: connection.username, password: connection.password, source: label };
}

/**
 * Credentials `docker login` (or docker/login-action, Docker@2, oras login) left in
 * `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`. Credential helpers are not run.
 */
function dockerConfigCredentials(agent: BuildAgent, host: string): DockerCredentials | undefined {
  const env = agent.env;
  const file = env.DOCKER_CONFIG
    ? join(env.DOCKER_CONFIG, 'config.json')
    : join(env.HOME || homedir(), '.docker', 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      agent.logger.debug(`${host}: no Docker config at ${file}; no credentials`);
    else
      agent.logger.warning(
        `${host}: cannot read the Docker config ${file} (${code}); no credentials`,
      );
    return undefined;
  }
  const result = lookupDockerConfig(text, host, file);
  if (!result.found) {
    if (result.helper)
      agent.logger.warning(
        `${host}: the Docker config ${file} keeps this registry's credentials in the credential helper docker-credential-${result.helper}, which eol-gate does not run; set ${agent.label('username')} and ${agent.label('password')}`,
      );
    else agent.logger.debug(`${host}: no entry in the Docker config ${file}; no credentials`);
    return undefined;
  }
  const found = result.found;
  for (const value of [found.password, found.refreshToken]) if (value) agent.setSecret(value);
  agent.logger.info(
    `${host}: signing in with the ${found.refreshToken ? 'identity token' : 'username and password'} of ${JSON.stringify(result.key)} in ${file}`,
  );
  // An identity token replaces basic credentials; the username beside it is a placeholder.
  return found.refreshToken
    ? { refreshToken: found.refreshToken }
    : { username: found.username, password: found.password };
}

/**
 * Through @azure/identity: the task's service connection; GitHub OIDC with a fresh ID token per
 * sign-in when azureClientId and azureTenantId are set; else DefaultAzureCredential (azure/login,
 * AZURE_* variables, Azure CLI, managed identity), or anonymous for reads.
 */
function createAcrRegistry(o: RegistryOptions, agent: BuildAgent, throttle: Throttle): Registry {
  const connection = agent.azureServiceConnection?.();
  let federated: AcrSignIn['federated'];
  if (o.azureClientId && !connection && !o.anonymous) {
    const fetchIdToken = agent.idTokenFetcher?.();
    if (!fetchIdToken)
      throw new InputError(
        `${agent.label('azureClientId')}: this job has no OIDC token to sign in with; give the workflow job "permissions: id-token: write"`,
      );
    federated = {
      clientId: o.azureClientId,
      tenantId: o.azureTenantId,
      getAssertion: () => fetchIdToken('api://AzureADTokenExchange'),
    };
  }
  const auth = acrAuthFromInputs({
    anonymous: o.anonymous,
    connection,
    systemAccessToken: agent.platformToken(),
    federated,
  });
  const authorityHost = o.azureAuthorityHost || undefined;
  const { credential, name } = createAcrCredential(auth, { authorityHost });
  return new AcrRegistry({
    endpoint: o.registry,
    credential,
    credentialName: name,
    audience: o.audience || undefined,
    concurrency: o.concurrency,
    throttle,
    manifestCache: o.cacheFile || undefined,
    registryCache: registryCache(o),
    retry: {
      ...retryPolicy(agent.env),
      // Throttling waits are what an operator on a small ACR tier needs to see (info, not debug).
      onRetry: (r) =>
        agent.logger.info(
          `${r.url}: ${r.cause}; waiting ${formatDuration(r.delayMs)} before retry ${r.attempt}`,
        ),
    },
    logger: agent.logger,
  });
}

/** `EOL_GATE_RETRIES` tunes how long a run rides out an outage (default 6 retries, ~30 s). */
export function retryPolicy(env: Record<string, string | undefined>): RetryPolicy {
  const text = env.EOL_GATE_RETRIES;
  if (text === undefined || text === '') return DEFAULT_RETRY;
  const retries = Number(text);
  if (!Number.isInteger(retries) || retries < 0 || retries > 20)
    throw new InputError(
      `EOL_GATE_RETRIES: expected a whole number from 0 to 20, got ${JSON.stringify(text)}`,
    );
  return { ...DEFAULT_RETRY, retries };
}

/** Repository sources use the platform token unless a dedicated one is in the environment. */
export function sourceOptions(agent: BuildAgent, clock: Clock): SourceOptions {
  const { github, azure } = agent.context;
  const token = agent.platformToken();
  return {
    githubApiUrl: github.apiUrl,
    githubToken: github.token || (agent.platform === 'github' ? token : undefined),
    azureCollectionUri: azure.collectionUri,
    azureToken: azure.token || (agent.platform === 'azure-pipelines' ? token : undefined),
    retry: retryPolicy(agent.env),
    clock,
    label: agent.label('imageInfo'),
  };
}

export function createSources(o: { imageInfo: string[] }, agent: BuildAgent, clock: Clock) {
  const options = sourceOptions(agent, clock);
  return o.imageInfo.map((spec) => createImageInfoSource(spec, options));
}

export function createStore(o: StoreOptions, agent: BuildAgent, clock: Clock) {
  return createCoordinationStore(o.coordinator, agent.context, agent.logger, {
    token: agent.platformToken(),
    projects: o.projects.length > 0 ? o.projects : undefined,
    jobId: o.jobId || undefined,
    // Without a job id: the job's id found in the jobs API by its runner, else a participant id,
    // either kept in GITHUB_ENV; or a refusal for a command that writes markers (an annotate
    // writes image-info-updated; a dry run writes nothing).
    participant: (lookup) =>
      jobParticipant(
        agent,
        { writes: o.command !== 'annotate' || !o.dryRun, wholeRun: o.scope === 'run' },
        lookup,
      ),
    coordinationRepository: o.coordinationRepository || undefined,
    retry: retryPolicy(agent.env),
    clock,
  });
}
