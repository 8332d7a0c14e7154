import * as tl from 'azure-pipelines-task-lib';
import * as taskInternal from 'azure-pipelines-task-lib/internal.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../core/ports.js';
import type {
  AzureServiceConnection,
  BuildAgent,
  PublishedArtifact,
  RegistryLogin,
} from '../agent.js';
import {
  readDockerRegistryConnection,
  readServiceConnection,
  type EndpointReader,
} from './service-connection.js';
import type { RunContext } from '../../core/run-context.js';
import { runContextFromEnv } from '../run-context.js';

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
  // The step's progress in the run view (`##vso[task.setprogress value=N;]…`).
  progress: (percent, m) => tl.setProgress(Math.round(percent), neutralize(m)),
};

const endpoints: EndpointReader = {
  scheme: (id) => tl.getEndpointAuthorizationScheme(id, true),
  parameter: (id, key) => secret(`ENDPOINT_AUTH_PARAMETER_${id}_${key}`),
  url: (id) => tl.getEndpointUrl(id, true),
};

/** `env` is process.env: the agent maps System.* to SYSTEM_*. */
export class AzureAgent implements BuildAgent {
  readonly platform = 'azure-pipelines' as const;
  readonly logger = azureLogger;
  readonly tempDir: string;
  readonly context: RunContext;
  private readonly token?: string;
  private summaries = 0;
  private readonly connections = new Map<string, unknown>();

  constructor(readonly env: Record<string, string | undefined> = process.env) {
    this.tempDir = env.AGENT_TEMPDIRECTORY || tmpdir();
    this.context = runContextFromEnv(env, this.tempDir);
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

  async summary(markdown: string, title = 'eol-gate'): Promise<void> {
    // The Extensions tab titles a section with its file name: one directory per call, so the
    // file can be named `eol-gate annotate.md`.
    const dir = join(this.tempDir, `eol-gate-summary-${process.pid}-${++this.summaries}`);
    mkdirSync(dir, { recursive: true });
    const path = join(dir, `${title.replace(/[^\w .-]+/g, '-')}.md`);
    writeFileSync(path, markdown);
    tl.uploadSummary(path);
  }

  /** A build artifact (container) per job and attempt; the agent uploads it after the command. */
  async publishArtifact(path: string, name: string): Promise<PublishedArtifact | undefined> {
    const env = this.env;
    const job = (env.SYSTEM_JOBNAME || env.SYSTEM_JOBID || 'job').replace(/[^\w.-]+/g, '-');
    const artifact = `${name}-${job}-${env.SYSTEM_JOBATTEMPT || '1'}`;
    tl.uploadArtifact('eol-gate', path, artifact);
    const collection = env.SYSTEM_COLLECTIONURI ?? '';
    const url =
      collection && env.SYSTEM_TEAMPROJECT && env.BUILD_BUILDID
        ? `${collection.replace(/\/?$/, '/')}${encodeURIComponent(env.SYSTEM_TEAMPROJECT)}/_build/results?buildId=${env.BUILD_BUILDID}&view=artifacts&type=publishedArtifacts`
        : undefined;
    return { name: artifact, url };
  }

  platformToken(): string | undefined {
    return this.token;
  }

  /** For ACR sign-in; undefined when the input is empty. */
  azureServiceConnection(): AzureServiceConnection | undefined {
    return this.connection('azureSubscription', readServiceConnection);
  }

  /** Undefined when the input is empty. */
  dockerRegistryConnection(): RegistryLogin | undefined {
    return this.connection('dockerRegistryServiceConnection', readDockerRegistryConnection);
  }

  /** Read once: main() checks the connection before the job, the registry wiring uses it after. */
  private connection<T extends AzureServiceConnection | RegistryLogin>(
    input: string,
    read: (id: string, endpoints: EndpointReader, label: string) => T,
  ): T | undefined {
    if (!this.connections.has(input)) {
      const id = this.input(input).trim();
      this.connections.set(input, id ? read(id, endpoints, this.label(input)) : undefined);
    }
    return this.connections.get(input) as T | undefined;
  }
}
