import { InputError } from '../core/errors.js';
import { sha256Digest } from '../util/hash.js';
import {
  assertSecureUrl,
  DEFAULT_RETRY,
  errorDetail,
  fetchWithRetry,
  HttpStatusError,
  redactUrl,
  type RetryPolicy,
} from '../util/http.js';
import { ImageInfoNotFoundError, type ImageInfoSource, type SourceSnapshot } from './source.js';

export interface UrlSourceOptions {
  retry?: RetryPolicy;
  /** Default `imageInfo`. */
  label?: string;
}

/**
 * Read-only; every read downloads and hashes. No conditional GET: an ETag is no fingerprint, since
 * a weak one or one made from mtime and size (nginx, Apache) survives an edit, and a 304 would hand
 * back the old hash for new content. `Cache-Control: no-cache` makes caches revalidate; a
 * CDN-cached raw URL is still not fresh (see README).
 */
export class UrlSource implements ImageInfoSource {
  private readonly url: URL;
  private readonly retry: RetryPolicy;

  constructor(url: string, options: UrlSourceOptions = {}) {
    const label = options.label ?? 'imageInfo';
    try {
      this.url = new URL(url);
    } catch {
      // The text may hold a secret: do not echo it.
      throw new InputError(`${label}: not a valid URL`);
    }
    if (this.url.username || this.url.password)
      throw new InputError(
        `${label}: ${redactUrl(this.url.toString())}: credentials in the URL are not allowed ` +
          '(they would end up in logs and errors)',
      );
    assertSecureUrl(this.url, label);
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  get name(): string {
    return redactUrl(this.url.toString());
  }

  async read(): Promise<SourceSnapshot> {
    const headers = { 'cache-control': 'no-cache', accept: 'application/json' };
    const res = await fetchWithRetry(this.url.toString(), { headers }, this.retry);
    if (res.status === 404)
      throw new ImageInfoNotFoundError(`${this.name}: image-info not found (HTTP 404)`);
    if (!res.ok)
      throw new HttpStatusError(res.status, 'GET', this.url.toString(), await errorDetail(res));
    const text = await res.text();
    return { text, fingerprint: sha256Digest(text) };
  }
}
