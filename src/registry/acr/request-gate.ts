import type { PipelinePolicy, PipelineResponse } from '@azure/core-rest-pipeline';
import { RuntimeError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';
import {
  DEFAULT_RETRY,
  RETRYABLE_STATUS,
  retryAfterMs,
  retryLoop,
  ThrottledError,
  type RetryPolicy,
} from '../../util/http.js';
import { redactSecrets } from '../../util/redact.js';
import { requestClass, type RequestClass, type Throttle } from '../../util/throttle.js';

/** Counting semaphore: at most `limit` calls run at once, the rest queue in FIFO order. */
export class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`concurrency must be a positive integer, got ${limit}`);
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      // Hand the slot straight to the next waiter so `active` never over-counts.
      if (next) next();
      else this.active--;
    }
  }
}

/**
 * Paces every HTTP request of the pipeline by its class in the process's throttle, and teaches
 * the throttle each answer (a 429, or served). Installed as a per-retry policy, so it also paces
 * the SDK's own token exchanges and challenge round trips, which count against ACR's limits too.
 */
export function throttlePolicy(
  throttle: Throttle,
  onRequest?: (c: RequestClass) => void,
): PipelinePolicy {
  return {
    name: 'eolGateThrottle',
    async sendRequest(request, nextPolicy) {
      const c = requestClass(request.method, request.url);
      await throttle.acquire(c);
      onRequest?.(c);
      try {
        const res = await nextPolicy(request);
        throttle.record(c, res.status, res.status === 429 ? retryAfterMs(res.headers) : undefined);
        return res;
      } catch (e) {
        const status = statusOf(e);
        if (status !== undefined) throttle.record(c, status, retryAfterOf(e));
        throw e;
      }
    },
  };
}

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'REQUEST_SEND_ERROR',
]);

/** Status code of an SDK error (RestError) or of our own RegistryHttpError. */
export function statusOf(e: unknown): number | undefined {
  const err = e as { statusCode?: unknown; status?: unknown };
  if (typeof err?.statusCode === 'number') return err.statusCode;
  if (typeof err?.status === 'number') return err.status;
  return undefined;
}

/** `Retry-After` of an SDK error's response (the deserializer, inside `retryPolicy`, throws for a 429), in ms. */
function retryAfterOf(e: unknown): number | undefined {
  const headers = (e as { response?: { headers?: { get(name: string): string | undefined } } })
    ?.response?.headers;
  return headers && typeof headers.get === 'function' ? retryAfterMs(headers) : undefined;
}

/** Credential failures from @azure/identity: never retried by us (identity retries itself). */
const CREDENTIAL_ERRORS = new Set([
  'CredentialUnavailableError',
  'AuthenticationError',
  'AggregateAuthenticationError',
]);

export type Failure =
  | { kind: 'retryable'; cause: string; retryAfterMs?: number }
  | { kind: 'auth'; cause: string }
  | { kind: 'credential'; cause: string }
  | { kind: 'fatal'; cause: string };

export function classify(e: unknown): Failure {
  const err = e as Error & { code?: string; cause?: { code?: string } };
  const message = redactSecrets(
    String(err?.message ?? e)
      .split('\n')[0]
      .slice(0, 300),
  );
  if (err?.name && CREDENTIAL_ERRORS.has(err.name)) return { kind: 'credential', cause: message };
  const status = statusOf(e);
  if (status !== undefined) {
    if (RETRYABLE_STATUS.has(status))
      return { kind: 'retryable', cause: `HTTP ${status}`, retryAfterMs: retryAfterOf(e) };
    if (status === 401 || status === 403) return { kind: 'auth', cause: `HTTP ${status}` };
    return { kind: 'fatal', cause: `HTTP ${status}: ${message}` };
  }
  const code = err?.code ?? err?.cause?.code;
  if (err?.name === 'AbortError' || err?.name === 'TimeoutError')
    return { kind: 'retryable', cause: 'timed out' };
  if (code && NETWORK_CODES.has(code)) return { kind: 'retryable', cause: code };
  if (/socket hang up|ECONNRESET|other side closed|network/i.test(message))
    return { kind: 'retryable', cause: message };
  return { kind: 'fatal', cause: message };
}

export interface GateOptions {
  registry: string;
  credentialName: string;
  concurrency: number;
  retry?: RetryPolicy;
  logger: Logger;
}

/** Attempts each pipeline request took, for errors that say "after N attempts". */
const attempts = new WeakMap<object, number>();

function attemptsOf(e: unknown): number {
  const err = e as { request?: object; response?: { request?: object } };
  const request = err?.request ?? err?.response?.request;
  return (request && attempts.get(request)) ?? 1;
}

/**
 * The pipeline's retry policy (the SDK's own is configured off), on the one loop of
 * util/http.ts `retryLoop`: jittered backoff on
 * 408/429/5xx, resets and per-attempt timeouts, honouring Retry-After up to the cap. It is ours
 * rather than the SDK's because the SDK retries a 429 only when it carries Retry-After, and
 * sleeps on its own timer rather than the injectable one. It sits before the per-retry policies,
 * so every attempt is counted and paced; the token client shares it, so token exchanges retry too.
 */
export function retryPolicy(options: GateOptions): PipelinePolicy {
  const policy = options.retry ?? DEFAULT_RETRY;
  return {
    name: 'eolGateRetry',
    async sendRequest(request, next) {
      const where = `${options.registry}: ${request.method} ${new URL(request.url).pathname}`;
      const caller = request.abortSignal as AbortSignal | undefined;
      let attempt = 0;
      // The same loop as every other request (util/http.ts); pacing is the per-retry throttle policy's.
      return retryLoop<PipelineResponse>({
        where,
        url: where,
        requestClass: requestClass(request.method, request.url),
        policy,
        pace: false,
        logger: options.logger,
        attempt: async () => {
          attempts.set(request, ++attempt);
          // A class held after a 429 is waited out before the attempt's timeout starts.
          await policy.throttle?.holdOver(requestClass(request.method, request.url));
          // Bounds the whole attempt, a streamed body included (a blob download that stalls).
          const timeout = AbortSignal.timeout(policy.timeoutMs);
          request.abortSignal = caller ? AbortSignal.any([caller, timeout]) : timeout;
          try {
            const res = await next(request);
            if (!RETRYABLE_STATUS.has(res.status)) return { value: res, status: res.status };
            return {
              value: res,
              status: res.status,
              failure: { cause: `HTTP ${res.status}`, retryAfterMs: retryAfterMs(res.headers) },
            };
          } catch (e) {
            if (caller?.aborted) throw e;
            const failure = classify(e);
            if (failure.kind !== 'retryable') throw e;
            return {
              status: statusOf(e),
              error: e,
              failure: { cause: failure.cause, retryAfterMs: failure.retryAfterMs },
            };
          }
        },
      });
    },
  };
}

/**
 * Every registry call goes through `call`: bounded concurrency, and errors that name the
 * registry, the call and the credential type, never a token (retries happen below, in
 * `retryPolicy`). A call that still fails throws: it is never turned into "absent" (invariant 5).
 */
export class RequestGate {
  private readonly slots: Semaphore;

  constructor(private readonly options: GateOptions) {
    this.slots = new Semaphore(options.concurrency);
  }

  call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.slots.run(async () => {
      try {
        return await fn();
      } catch (e) {
        throw this.explain(what, e);
      }
    });
  }

  private explain(what: string, e: unknown): Error {
    if (e instanceof ThrottledError)
      return new RuntimeError(`${this.options.registry}: ${what} failed: ${e.reason}`);
    if (e instanceof RuntimeError) return e;
    const failure = classify(e);
    const { registry, credentialName } = this.options;
    if (failure.kind === 'credential') {
      return new RuntimeError(
        `${registry}: ${credentialName} could not get a token: ${failure.cause}`,
      );
    }
    if (failure.kind === 'auth') {
      return new RuntimeError(
        `${registry}: ${what} was refused (${failure.cause}) for the identity of ${credentialName}: ` +
          'check that it has the AcrPull/AcrPush (or Container Registry Repository) roles on this registry and the right tenant',
      );
    }
    const tries = attemptsOf(e);
    return new RuntimeError(
      `${registry}: ${what} failed${tries > 1 ? ` after ${tries} attempts` : ''}: ${failure.cause}`,
    );
  }
}
