import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { RuntimeError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';
import {
  DEFAULT_RETRY,
  RETRYABLE_STATUS,
  retryAfterMs,
  retryDelay,
  type RetryPolicy,
} from '../../util/http.js';
import { redactSecrets } from '../../util/redact.js';
import { sleep as defaultSleep } from '../../util/sleep.js';

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
 * Spaces HTTP requests so no more than `perMinute` start in any minute (evenly: one every
 * 60 s / perMinute). Installed as a per-retry pipeline policy, so it also paces the SDK's own
 * token exchanges and challenge round trips, which count against ACR's limits too.
 */
export function rateLimitPolicy(
  perMinute: number,
  sleep: (ms: number) => Promise<void>,
): PipelinePolicy {
  if (!(perMinute > 0))
    throw new RangeError(`maxRequestsPerMinute must be positive, got ${perMinute}`);
  const interval = 60_000 / perMinute;
  let next = 0;
  return {
    name: 'eolGateRateLimit',
    async sendRequest(request, nextPolicy) {
      const now = Date.now();
      const at = Math.max(now, next);
      next = at + interval;
      if (at > now) await sleep(at - now);
      return nextPolicy(request);
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
 * The pipeline's one retry policy (the SDK's own is configured off): jittered backoff on
 * 408/429/5xx, resets and per-attempt timeouts, honouring Retry-After up to the cap. It is ours
 * rather than the SDK's because the SDK retries a 429 only when it carries Retry-After, and
 * sleeps on its own timer rather than the injectable one. It sits before the per-retry policies,
 * so every attempt is counted and paced; the token client shares it, so token exchanges retry too.
 */
export function retryPolicy(options: GateOptions): PipelinePolicy {
  const policy = options.retry ?? DEFAULT_RETRY;
  const sleep = policy.sleep ?? defaultSleep;
  return {
    name: 'eolGateRetry',
    async sendRequest(request, next) {
      const where = `${options.registry}: ${request.method} ${new URL(request.url).pathname}`;
      const caller = request.abortSignal as AbortSignal | undefined;
      for (let attempt = 0; ; attempt++) {
        attempts.set(request, attempt + 1);
        // Bounds the whole attempt, a streamed body included (a blob download that stalls).
        const timeout = AbortSignal.timeout(policy.timeoutMs);
        request.abortSignal = caller ? AbortSignal.any([caller, timeout]) : timeout;
        let failure: Failure;
        try {
          const res = await next(request);
          if (!RETRYABLE_STATUS.has(res.status) || attempt >= policy.retries) return res;
          failure = {
            kind: 'retryable',
            cause: `HTTP ${res.status}`,
            retryAfterMs: retryAfterMs(res.headers),
          };
        } catch (e) {
          if (caller?.aborted) throw e;
          failure = classify(e);
          if (failure.kind !== 'retryable' || attempt >= policy.retries) throw e;
        }
        const delayMs = retryDelay(attempt, policy, failure.retryAfterMs, where);
        policy.onRetry?.({ url: where, attempt: attempt + 1, delayMs, cause: failure.cause });
        options.logger.debug(
          `${where}: ${failure.cause}, retry ${attempt + 1} in ${Math.round(delayMs)} ms`,
        );
        await sleep(delayMs);
      }
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
