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

/** `Retry-After` of an SDK error's (or our RawHttpError's) response, in ms. */
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

/**
 * Every registry call goes through `call`: bounded concurrency, our own jittered backoff on
 * 408/429/5xx/resets/timeouts (honouring Retry-After; the SDK alone retries a 429 only when
 * it carries one), and errors that name the registry and the credential type, never a token.
 * A call that still fails throws: it is never turned into "absent" (invariant 5).
 */
export class RequestGate {
  readonly retry: RetryPolicy;
  private readonly slots: Semaphore;

  constructor(private readonly options: GateOptions) {
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.slots = new Semaphore(options.concurrency);
  }

  /** `fn` gets an abort signal bounding the attempt (the policy's `timeoutMs`). */
  call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return this.slots.run(() => this.attempt(what, fn));
  }

  private async attempt<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const policy = this.retry;
    const sleep = policy.sleep ?? defaultSleep;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn(AbortSignal.timeout(policy.timeoutMs));
      } catch (e) {
        const failure = classify(e);
        const { registry, credentialName } = this.options;
        if (failure.kind === 'credential') {
          throw new RuntimeError(
            `${registry}: ${credentialName} could not get a token: ${failure.cause}`,
          );
        }
        if (failure.kind === 'auth') {
          throw new RuntimeError(
            `${registry}: ${what} was refused (${failure.cause}) for the identity of ${credentialName}: ` +
              'check that it has the AcrPull/AcrPush (or Container Registry Repository) roles on this registry and the right tenant',
          );
        }
        if (failure.kind === 'fatal' || attempt >= policy.retries) {
          const tries = attempt + 1;
          throw new RuntimeError(
            `${registry}: ${what} failed${tries > 1 ? ` after ${tries} attempts` : ''}: ${failure.cause}`,
          );
        }
        const delayMs = retryDelay(attempt, policy, failure.retryAfterMs, `${registry}: ${what}`);
        policy.onRetry?.({
          url: `${registry} ${what}`,
          attempt: attempt + 1,
          delayMs,
          cause: failure.cause,
        });
        this.options.logger.debug(
          `${registry}: ${what}: ${failure.cause}, retry ${attempt + 1} in ${Math.round(delayMs)} ms`,
        );
        await sleep(delayMs);
      }
    }
  }
}
