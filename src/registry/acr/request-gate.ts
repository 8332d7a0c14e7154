import type { PipelineRequest, PipelineResponse } from '@azure/core-rest-pipeline';
import { RuntimeError } from '../../core/errors.js';
import { HttpStatusError, RETRYABLE_STATUS, ThrottledError } from '../../util/http.js';
import { attemptsOf, classify, requestOf, shortMessage, statusOf } from './errors.js';

/** Counting semaphore: at most `limit` calls run at once, the rest queue in FIFO order. */
class Semaphore {
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

interface GateOptions {
  registry: string;
  credentialName: string;
  concurrency: number;
}

/**
 * Every registry call goes through `call`: bounded concurrency, and errors that name the
 * registry, the call and the credential type, never a token (retries happen below, in the
 * pipeline's `retryPolicy`). A call that still fails throws: it is never turned into "absent"
 * (invariant 5). Every non-2xx answer becomes an `HttpStatusError` (util/http.ts).
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

  /** The error for an answer of `status` to `what` (a raw response, or an SDK RestError's). */
  statusError(
    what: string,
    status: number,
    request: PipelineRequest | undefined,
    response: PipelineResponse | undefined,
    sdkMessage?: string,
  ): HttpStatusError {
    const { registry, credentialName } = this.options;
    const failed = this.failed(what, request);
    const body = response?.bodyAsText ?? '';
    let message: string;
    if (status === 401 || status === 403) {
      message =
        `${registry}: ${what} was refused (HTTP ${status}) for the identity of ${credentialName}: ` +
        'check that it has the AcrPull/AcrPush (or Container Registry Repository) roles on this registry and the right tenant';
    } else if (RETRYABLE_STATUS.has(status) || !sdkMessage) {
      message = `${failed}: HTTP ${status}`;
    } else {
      message = `${failed}: HTTP ${status}: ${sdkMessage}`;
    }
    return new HttpStatusError(
      status,
      request?.method ?? 'GET',
      request?.url ?? `https://${registry}/`,
      body,
      { message },
    );
  }

  private explain(what: string, e: unknown): Error {
    if (e instanceof ThrottledError)
      return new RuntimeError(`${this.options.registry}: ${what} failed: ${e.reason}`);
    // Ours already (a raw answer's HttpStatusError, a RuntimeError of the adapter).
    if (e instanceof RuntimeError) return e;
    const failure = classify(e);
    const { registry, credentialName } = this.options;
    if (failure.kind === 'credential') {
      return new RuntimeError(
        `${registry}: ${credentialName} could not get a token: ${failure.cause}`,
      );
    }
    const status = statusOf(e);
    if (status !== undefined) {
      const response = (e as { response?: PipelineResponse }).response;
      return this.statusError(what, status, requestOf(e), response, shortMessage(e));
    }
    return new RuntimeError(`${this.failed(what, requestOf(e))}: ${failure.cause}`);
  }

  private failed(what: string, request: PipelineRequest | undefined): string {
    const tries = attemptsOf(request);
    return `${this.options.registry}: ${what} failed${tries > 1 ? ` after ${tries} attempts` : ''}`;
  }
}
