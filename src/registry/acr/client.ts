import type { TokenCredential } from '@azure/core-auth';
import type { PipelineResponse } from '@azure/core-rest-pipeline';
import {
  ContainerRegistryClient,
  ContainerRegistryContentClient,
  type ContainerRegistryClientOptions,
  type GetManifestResult,
} from '@azure/container-registry';
import { RuntimeError } from '../../core/errors.js';
import type { Clock, Logger } from '../../core/ports.js';
import { DEFAULT_RETRY, type RetryPolicy } from '../../util/http.js';
import { Throttle } from '../../util/throttle.js';
import { statusOf } from './errors.js';
import { retryPolicy, throttlePolicy } from './policies.js';
import { nextPath, pageBody, sendRaw, type RawRequest } from './raw.js';
import { RequestGate } from './request-gate.js';

interface AcrClientOptions {
  /** `https://host[:port]` (see normalizeEndpoint). */
  endpoint: string;
  credential: TokenCredential | undefined;
  credentialName: string;
  audience?: string;
  concurrency: number;
  maxRequestsPerMinute?: number;
  throttle?: Throttle;
  retry?: RetryPolicy;
  clock?: Clock;
  logger: Logger;
  ca?: string;
}

/**
 * @azure/container-registry set up for eol-gate: its retry policy off and ours (policies.ts)
 * on, requests paced, every call through the gate (bounded concurrency, errors that name the
 * registry and the identity), raw requests through the same pipeline.
 */
export class AcrClient {
  readonly endpoint: string;
  readonly displayName: string;
  private readonly credential: TokenCredential | undefined;
  private readonly clientOptions: ContainerRegistryClientOptions;
  private readonly registry: ContainerRegistryClient;
  private readonly contentClients = new Map<string, ContainerRegistryContentClient>();
  /** Every registry call goes through it: bounded concurrency, errors explained. */
  readonly gate: RequestGate;

  constructor(o: AcrClientOptions) {
    this.endpoint = o.endpoint;
    this.displayName = new URL(o.endpoint).host;
    this.credential = o.credential;
    const throttle =
      o.throttle ?? new Throttle({ maxRequestsPerMinute: o.maxRequestsPerMinute, clock: o.clock });
    this.gate = new RequestGate({
      registry: this.displayName,
      credentialName: o.credentialName,
      concurrency: o.concurrency,
    });
    const retry = { ...(o.retry ?? DEFAULT_RETRY), throttle };
    this.clientOptions = {
      audience: o.audience,
      // The SDK's retry policy is off: `retryPolicy` is the one loop.
      retryOptions: { maxRetries: 0 },
      additionalPolicies: [
        {
          policy: retryPolicy({
            registry: this.displayName,
            retry,
            logger: o.logger,
            clock: o.clock,
          }),
          position: 'perCall',
        },
        { policy: throttlePolicy(throttle), position: 'perRetry' },
      ],
      userAgentOptions: { userAgentPrefix: 'eol-gate' },
      ...(o.ca ? { tlsOptions: { ca: o.ca } } : {}),
    };
    this.registry = this.credential
      ? new ContainerRegistryClient(this.endpoint, this.credential, this.clientOptions)
      : new ContainerRegistryClient(this.endpoint, this.clientOptions);
  }

  /** Pages of repository names, from `continuationToken` on. */
  repositoryPages(pageSize: number, continuationToken: string | undefined) {
    return this.registry.listRepositoryNames().byPage({ maxPageSize: pageSize, continuationToken });
  }

  content(repository: string): ContainerRegistryContentClient {
    let client = this.contentClients.get(repository);
    if (!client) {
      // The SDK accepts no credential for anonymous pull, though its type says otherwise.
      client = new ContainerRegistryContentClient(
        this.endpoint,
        repository,
        this.credential as TokenCredential,
        this.clientOptions,
      );
      this.contentClients.set(repository, client);
    }
    return client;
  }

  /** GET a manifest; undefined only on a 404. The SDK checks the bytes against a digest. */
  getManifest(
    repository: string,
    reference: string,
    what = `get manifest ${repository}@${reference}`,
  ): Promise<GetManifestResult | undefined> {
    const content = this.content(repository);
    return this.gate.call(what, () => unless404(() => content.getManifest(reference)));
  }

  /** A whole blob; undefined only on a 404. */
  getBlob(repository: string, digest: string, what: string): Promise<Buffer | undefined> {
    return this.gate.call(what, () =>
      unless404(async () => {
        const blob = await this.content(repository).downloadBlob(digest, {});
        const chunks: Buffer[] = [];
        for await (const chunk of blob.content) chunks.push(Buffer.from(chunk as Uint8Array));
        return Buffer.concat(chunks);
      }),
    );
  }

  /** PUT a manifest (by digest, or as `tag`); the digest the registry stored. */
  async setManifest(
    repository: string,
    bytes: Buffer,
    mediaType: string,
    what: string,
    tag?: string,
  ): Promise<string> {
    const pushed = await this.gate.call(what, () =>
      this.content(repository).setManifest(bytes, tag ? { mediaType, tag } : { mediaType }),
    );
    return pushed.digest;
  }

  /** DELETE a manifest; the SDK treats 404 as success, so deleting twice is fine. */
  async deleteManifest(repository: string, digest: string, what: string): Promise<void> {
    await this.gate.call(what, () => this.content(repository).deleteManifest(digest));
  }

  /**
   * A raw request (raw.ts) through the gate; a status outside 2xx and `okStatus` is an
   * HttpStatusError.
   */
  raw(
    repository: string,
    request: RawRequest,
    what: string,
    okStatus: number[] = [],
  ): Promise<PipelineResponse> {
    return this.gate.call(what, async () => {
      const res = await sendRaw(this.content(repository), this.endpoint, request);
      if ((res.status >= 200 && res.status < 300) || okStatus.includes(res.status)) return res;
      throw this.gate.statusError(what, res.status, res.request, res);
    });
  }

  /**
   * The JSON pages from `path` on, following `Link: rel="next"`. With `absentOn404`, a 404 to
   * the first page ends the listing with none (any later one is a failure).
   */
  async *pages(
    repository: string,
    path: string,
    accept: string,
    what: string,
    absentOn404 = false,
  ): AsyncGenerator<unknown[]> {
    let next: string | undefined = path;
    let first = true;
    const visited = new Set<string>();
    while (next) {
      if (visited.has(next))
        throw new RuntimeError(`${this.displayName}: ${what}: the registry's page links loop`);
      visited.add(next);
      const request: RawRequest = { method: 'GET', path: next, accept };
      const res = await this.raw(repository, request, what, first && absentOn404 ? [404] : []);
      if (res.status === 404) return;
      first = false;
      yield pageBody(res, `${this.displayName}: ${what}`).manifests ?? [];
      next = nextPath(res);
    }
  }
}

async function unless404<T>(fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    if (statusOf(e) === 404) return undefined;
    throw e;
  }
}
