import * as tl from 'azure-pipelines-task-lib';
import * as taskInternal from 'azure-pipelines-task-lib/internal.js';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../core/ports.js';
import type { AzureServiceConnection, BuildAgent, RegistryLogin } from '../agent.js';
import {
  readDockerRegistryConnection,
  readServiceConnection,
  type EndpointReader,
} from './service-connection.js';

/**
 * task-lib's getInput and getEndpointAuthorizationParameter print `##vso[task.debug]name=value`
 * before we could mask the value; secrets are read from its vault instead, where it put them.
 */
function secret(envName: string): string | undefined {
  return taskInternal._vault.retrieveSecret(envName.toUpperCase()) || undefined;
}

// A log line carrying `##vso[` (say, from a server's error body) would be run as a command.
const neutralize = (m: string) => m.replace(/##vso\[/gi, '##vso [');

export const azureLogger: Logger = {
  info: (m) => process.stdout.write(`${neutralize(m)}\n`),
  warning: (m) => tl.warning(m),
  error: (m) => tl.error(m),
  debug: (m) => tl.debug(m),
  group: async (title, fn) => {
    process.stdout.write(`##[group]${neutralize(title)}\n`);
    try {
      return await fn();
    } finally {
      process.stdout.write('##[endgroup]\n');
    }
  },
};

const endpoints: EndpointReader = {
  scheme: (id) => tl.getEndpointAuthorizationScheme(id, true),
  parameter: (id, key) => secret(`ENDPOINT_AUTH_PARAMETER_${id}_${key}`),
  url: (id) => tl.getEndpointUrl(id, true),
};

/** The BuildAgent of the Azure Pipelines task. `env` is process.env: the agent maps System.* to SYSTEM_*. */
export class AzureAgent implements BuildAgent {
  readonly platform = 'azure-pipelines' as const;
  readonly logger = azureLogger;
  readonly tempDir: string;
  private readonly token?: string;
  private summaries = 0;
  private connection: AzureServiceConnection | undefined | null = null;
  private dockerConnection: RegistryLogin | undefined | null = null;

  constructor(readonly env: Record<string, string | undefined> = process.env) {
    this.tempDir = env.AGENT_TEMPDIRECTORY || tmpdir();
    // Every secret is masked before the first log line.
    this.token = secret('ENDPOINT_AUTH_PARAMETER_SYSTEMVSSCONNECTION_ACCESSTOKEN');
    for (const value of [this.token, secret('INPUT_PASSWORD')]) if (value) this.setSecret(value);
    const id = this.input('azureSubscription').trim();
    if (id) this.setSecret(secret(`ENDPOINT_AUTH_PARAMETER_${id}_SERVICEPRINCIPALKEY`) ?? '');
    const docker = this.input('dockerRegistryServiceConnection').trim();
    for (const key of ['PASSWORD', 'SERVICEPRINCIPALKEY'])
      if (docker) this.setSecret(secret(`ENDPOINT_AUTH_PARAMETER_${docker}_${key}`) ?? '');
  }

  input(name: string): string {
    return name === 'password'
      ? (secret('INPUT_PASSWORD') ?? '')
      : (tl.getInput(name, false) ?? '');
  }

  label(name: string): string {
    return name;
  }

  setSecret(value: string): void {
    if (value) tl.setSecret(value);
  }

  setOutput(name: string, value: string): void {
    tl.setVariable(name, value, false, true);
  }

  async summary(markdown: string): Promise<void> {
    // One file per call: the agent attaches each uploaded file as a section of the Extensions tab.
    const path = join(this.tempDir, `eol-gate-summary-${process.pid}-${++this.summaries}.md`);
    writeFileSync(path, markdown);
    tl.uploadSummary(path);
  }

  platformToken(): string | undefined {
    return this.token;
  }

  /** The `azureSubscription` service connection for ACR sign-in; undefined when the input is empty. */
  azureServiceConnection(): AzureServiceConnection | undefined {
    // Read once: main() checks it before the job, the registry wiring uses it after.
    if (this.connection === null) {
      const id = this.input('azureSubscription').trim();
      this.connection = id
        ? readServiceConnection(id, endpoints, this.label('azureSubscription'))
        : undefined;
    }
    return this.connection;
  }

  /** The `dockerRegistryServiceConnection` login; undefined when the input is empty. */
  dockerRegistryConnection(): RegistryLogin | undefined {
    if (this.dockerConnection === null) {
      const id = this.input('dockerRegistryServiceConnection').trim();
      this.dockerConnection = id
        ? readDockerRegistryConnection(id, endpoints, this.label('dockerRegistryServiceConnection'))
        : undefined;
    }
    return this.dockerConnection;
  }
}
