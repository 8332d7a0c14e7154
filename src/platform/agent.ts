import type { Logger } from '../core/ports.js';
import type { RunContext } from '../core/run-context.js';

/** The one port per host (GitHub Action, Azure Pipelines task, CLI); everything else is shared. */
export interface BuildAgent {
  readonly platform: 'cli' | 'github' | 'azure-pipelines';
  /** The raw value of an input ('' when not set). */
  input(name: string): string;
  /** How the user wrote the input's name on this platform, for error messages. */
  label(name: string): string;
  /** For the job's later steps (GitHub: GITHUB_ENV, unseen by this step); false if unsupported. */
  exportVariable?(name: string, value: string): boolean;
  /** Masks a secret in every later log line. Called before anything is logged. */
  setSecret(value: string): void;
  setOutput(name: string, value: string): void;
  /** `title` names the section where attachments are listed by name (Azure's Extensions tab). */
  summary(markdown: string, title?: string): Promise<void>;
  /**
   * Named after `name`, made unique per job by the host. Never throws: undefined when the host
   * cannot (not on a runner) or the upload failed (logged); the file stays where it is.
   */
  publishArtifact?(path: string, name: string): Promise<PublishedArtifact | undefined>;
  readonly logger: Logger;
  /** The host's own settings (DOCKER_CONFIG, EOL_GATE_RETRIES...); read only in platform/. */
  readonly env: Record<string, string | undefined>;
  /** Built once by the agent: what stores and sources are made from. */
  readonly context: RunContext;
  /** Runner temp directory, for default plan files. */
  readonly tempDir: string;
  /** Token for the coordination store and repository sources (GitHub token, System.AccessToken). */
  platformToken(): string | undefined;
  /** The Azure Resource Manager service connection chosen for registry auth (Azure Pipelines). */
  azureServiceConnection?(): AzureServiceConnection | undefined;
  /** The Docker registry service connection chosen for registry auth (Azure Pipelines). */
  dockerRegistryConnection?(): RegistryLogin | undefined;
  /**
   * GitHub: `id-token: write`; undefined without. Each call asks for a new token, so a late
   * sign-in never sends an expired one.
   */
  idTokenFetcher?(): ((audience: string) => Promise<string>) | undefined;
}

export interface PublishedArtifact {
  name: string;
  url?: string;
}

/** Registry username and password from a host's own store (a Docker registry service connection). */
export interface RegistryLogin {
  /** E.g. `index.docker.io`, `myacr.azurecr.io`. */
  registry: string;
  username: string;
  password: string;
}

/** What the task reads from an `azureSubscription` service connection. Secrets already masked. */
export interface AzureServiceConnection {
  id: string;
  /** `WorkloadIdentityFederation`, `ServicePrincipal` or `ManagedServiceIdentity`. */
  scheme: string;
  /** '' for a managed identity. */
  clientId: string;
  tenantId: string;
  /** Service principal key (ServicePrincipal scheme only). */
  clientSecret?: string;
}
