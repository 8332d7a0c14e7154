import { RuntimeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import {
  DEFAULT_RETRY,
  errorDetail,
  fetchWithRetry,
  HttpStatusError,
  redactUrl,
  type RetryPolicy,
  type TransportOptions,
} from '../util/http.js';

export interface RestClientOptions {
  /** Names the service in errors: "Azure DevOps". */
  service: string;
  headers: Record<string, string>;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** Epoch ms; injectable so tests can check reset-based waits. */
  now?: () => number;
  /** The service's wait for a 429 without `Retry-After`. */
  waitHint?: TransportOptions['waitHint'];
}

/**
 * JSON over the one transport (util/http.ts) for the coordination stores: one hold shared by
 * the client's requests, so a throttled success slows the next ones. It returns the final
 * response; callers turn error statuses into messages (never "absent").
 */
export class RestClient {
  private readonly policy: RetryPolicy;
  private readonly gate = { notBefore: 0 };

  constructor(private readonly options: RestClientOptions) {
    // A rate limit may ask for up to 15 minutes; a longer one fails instead of hanging the pipeline.
    this.policy = { ...DEFAULT_RETRY, maxRetryAfterMs: 15 * 60_000, ...options.retry };
  }

  request(method: string, url: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { ...this.options.headers };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetchWithRetry(
      url,
      { method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
      this.policy,
      {
        service: this.options.service,
        logger: this.options.logger,
        now: this.options.now,
        gate: this.gate,
        waitHint: this.options.waitHint,
      },
    );
  }

  /** Parses a JSON body of a 2xx response; anything else is an HttpStatusError. */
  async json<T>(method: string, url: string, res: Response): Promise<T> {
    if (!res.ok) throw new HttpStatusError(res.status, method, url, await errorDetail(res));
    try {
      return (await res.json()) as T;
    } catch (e) {
      throw new RuntimeError(
        `${this.options.service}: ${method} ${redactUrl(url)}: unreadable JSON (${(e as Error).message})`,
      );
    }
  }
}
