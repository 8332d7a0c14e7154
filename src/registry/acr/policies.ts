import type { PipelinePolicy, PipelineResponse } from '@azure/core-rest-pipeline';
import type { Clock, Logger } from '../../core/ports.js';
import {
  DEFAULT_RETRY,
  RETRYABLE_STATUS,
  retryAfterMs,
  retryLoop,
  type RetryPolicy,
} from '../../util/http.js';
import { requestClass, type RequestClass, type Throttle } from '../../util/throttle.js';
import { classify, noteAttempt, retryAfterOf, statusOf, timeoutError } from './errors.js';

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

interface RetryPolicyOptions {
  registry: string;
  retry?: RetryPolicy;
  logger: Logger;
  clock?: Clock;
}

/**
 * The pipeline's retry policy (the SDK's own is configured off), on the one loop of
 * util/http.ts `retryLoop`: jittered backoff on 408/429/5xx, resets and per-attempt timeouts,
 * honouring Retry-After up to the cap. It is ours rather than the SDK's because the SDK retries
 * a 429 only when it carries Retry-After, and sleeps on its own timer rather than the injectable
 * one. It sits before the per-retry throttle policy, so every attempt is paced; the token client
 * shares it, so token exchanges retry too.
 */
export function retryPolicy(options: RetryPolicyOptions): PipelinePolicy {
  const policy = options.retry ?? DEFAULT_RETRY;
  return {
    name: 'eolGateRetry',
    async sendRequest(request, next) {
      const where = `${options.registry}: ${request.method} ${new URL(request.url).pathname}`;
      const caller = request.abortSignal as AbortSignal | undefined;
      const c = requestClass(request.method, request.url);
      let attempt = 0;
      // Pacing is the per-retry throttle policy's, so the loop does not pace.
      return retryLoop<PipelineResponse>({
        where,
        url: where,
        requestClass: c,
        policy,
        pace: false,
        logger: options.logger,
        clock: options.clock,
        attempt: async () => {
          noteAttempt(request, ++attempt);
          // A class held after a 429 is waited out before the attempt's timeout starts.
          await policy.throttle?.holdOver(c);
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
            const error = timeout.aborted && statusOf(e) === undefined ? timeoutError(request) : e;
            const failure = classify(error);
            if (failure.kind !== 'retryable') throw error;
            return {
              status: statusOf(error),
              error,
              failure: { cause: failure.cause, retryAfterMs: failure.retryAfterMs },
            };
          }
        },
      });
    },
  };
}
