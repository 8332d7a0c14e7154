import type { Logger } from '../core/ports.js';
import type { RunContext } from '../core/run-context.js';

/**
 * What a host offers the job: the one port per platform (GitHub Action, Azure Pipelines task,
 * CLI). Hosts implement it in a few lines; everything else is shared.
 */
export interface BuildAgent {
  readonly platform: 'cli' | 'github' | 'azure-pipelines';
  /** The raw value of an input ('' when not set). */
  input(name: string): string;
  /** How the user wrote the input's name on this platform, for error messages. */
  label(name: string): string;
  /**
   * Sets an environment variable for the job's later steps (GitHub: a line of the runner's
   * GITHUB_ENV file; the current step does not see it). False where the host cannot.
   */
  exportVariable?(name: string, value: string): boolean;
  /** Masks a secret in every later log line. Called before anything is logged. */
  setSecret(value: string): void;
  setOutput(name: string, value: string): void;
  /**
   * Appends markdown to the run's summary page. `title` names the section where the platform
   * lists attachments by name (Azure Pipelines: the Extensions tab shows the file name).
   */
  summary(markdown: string, title?: string): Promise<void>;
  /**
   * Publishes a file as a build artifact named after `name` (made unique per job by the host).
   * Never throws: undefined when the host cannot (not on a runner) or the upload failed, which
   * it logs; the file stays where it is.
   */
  publishArtifact?(path: string, name: string): Promise<PublishedArtifact | undefined>;
  readonly logger: Logger;
  /** The host's own settings (DOCKER_CONFIG, EOL_GATE_RETRIES...); read only in platform/. */
  readonly env: Record<string, string | undefined>;
  /** The run as the CI describes it, built once by the agent: what stores and sources are made from. */
  readonly context: RunContext;
  /** Where default plan files go (runner temp directory). */
  readonly tempDir: string;
  /** Token for the coordination store and repository sources (GitHub token, System.AccessToken). */
  platformToken(): string | undefined;
  /** The Azure Resource Manager service connection chosen for registry auth (Azure Pipelines). */
  azureServiceConnection?(): AzureServiceConnection | undefined;
  /** The Docker registry service connection chosen for registry auth (Azure Pipelines). */
  dockerRegistryConnection?(): RegistryLogin | undefined;
  /**
   * The job's OIDC token fetcher (GitHub: `id-token: write`), undefined when the job has none.
   * Each call asks the platform for a new token, so a late sign-in never sends an expired one.
   */
  idTokenFetcher?(): ((audience: string) => Promise<string>) | undefined;
}

/** Where an uploaded artifact is: its name, and a page that shows it when the host knows one. */
export interface PublishedArtifact {
  name: string;
  url?: string;
}

/** Registry username and password from a host's own store (a Docker registry service connection). */
export interface RegistryLogin {
  /** The host it is for, e.g. `index.docker.io` or `myacr.azurecr.io`. */
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
