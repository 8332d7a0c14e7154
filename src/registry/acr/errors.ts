import type { PipelineRequest } from '@azure/core-rest-pipeline';
import { isNetworkError, networkCause, RETRYABLE_STATUS, retryAfterMs } from '../../util/http.js';
import { redactSecrets } from '../../util/redact.js';

/** Status code of an SDK error (RestError `statusCode`) or of an `HttpStatusError` (`status`). */
export function statusOf(e: unknown): number | undefined {
  const err = e as { statusCode?: unknown; status?: unknown };
  if (typeof err?.statusCode === 'number') return err.statusCode;
  if (typeof err?.status === 'number') return err.status;
  return undefined;
}

/** `Retry-After` of an SDK error's response (the deserializer throws for a 429), in ms. */
export function retryAfterOf(e: unknown): number | undefined {
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

type Failure =
  | { kind: 'retryable'; cause: string; retryAfterMs?: number }
  | { kind: 'credential'; cause: string }
  | { kind: 'fatal'; cause: string };

/** The first line of an error's message, bounded and redacted. */
export function shortMessage(e: unknown): string {
  const firstLine = String((e as Error | undefined)?.message ?? e).split('\n')[0];
  return redactSecrets(firstLine.slice(0, 300));
}

/**
 * What a thrown pipeline error means: a credential failure (by @azure/identity's error name),
 * an HTTP status (by status only), a network failure (util/http.ts `isNetworkError`), or fatal.
 */
export function classify(e: unknown): Failure {
  const message = shortMessage(e);
  const name = (e as Error | undefined)?.name;
  if (name && CREDENTIAL_ERRORS.has(name)) return { kind: 'credential', cause: message };
  const status = statusOf(e);
  if (status !== undefined) {
    if (RETRYABLE_STATUS.has(status))
      return { kind: 'retryable', cause: `HTTP ${status}`, retryAfterMs: retryAfterOf(e) };
    return { kind: 'fatal', cause: `HTTP ${status}: ${message}` };
  }
  if (isNetworkError(e)) return { kind: 'retryable', cause: networkCause(e) };
  return { kind: 'fatal', cause: message };
}

/** Attempts each pipeline request took, for errors that say "after N attempts". */
const attempts = new WeakMap<object, number>();

export function noteAttempt(request: PipelineRequest, attempt: number): void {
  attempts.set(request, attempt);
}

export function attemptsOf(request: object | undefined): number {
  return (request && attempts.get(request)) ?? 1;
}

/** The request behind an SDK error (RestError keeps it, or its response does). */
export function requestOf(e: unknown): PipelineRequest | undefined {
  const err = e as { request?: PipelineRequest; response?: { request?: PipelineRequest } };
  return err?.request ?? err?.response?.request;
}

/**
 * A timeout of our own per-attempt signal, as util/http.ts's classifier knows it (a
 * `TimeoutError`); the SDK reports it as an `AbortError` like a caller's abort.
 */
export function timeoutError(request: PipelineRequest): Error {
  const error = new Error('timed out') as Error & { request: PipelineRequest };
  error.name = 'TimeoutError';
  error.request = request;
  return error;
}
