import type { Logger } from '../core/ports.js';

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
  /** Masks a secret in every later log line. Called before anything is logged. */
  setSecret(value: string): void;
  setOutput(name: string, value: string): void;
  /** Appends markdown to the run's summary page. */
  summary(markdown: string): Promise<void>;
  readonly logger: Logger;
  readonly env: Record<string, string | undefined>;
  /** Where default plan files go (runner temp directory). */
  readonly tempDir: string;
  /** Token for the coordination store and repository sources (GitHub token, System.AccessToken). */
  platformToken(): string | undefined;
  /** The Azure Resource Manager service connection chosen for registry auth (Azure Pipelines). */
  azureServiceConnection?(): AzureServiceConnection | undefined;
}

/** What the task reads from an `azureSubscription` service connection. Secrets already masked. */
export interface AzureServiceConnection {
  id: string;
  /** `WorkloadIdentityFederation` or `ServicePrincipal`. */
  scheme: string;
  clientId: string;
  tenantId: string;
  /** Service principal key (ServicePrincipal scheme only). */
  clientSecret?: string;
}
