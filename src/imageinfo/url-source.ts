import { InputError } from '../core/errors.js';
import { sha256Digest } from '../util/hash.js';
import {
  assertSecureUrl,
  DEFAULT_RETRY,
  errorDetail,
  fetchWithRetry,
  HttpError,
  redactUrl,
  type RetryPolicy,
} from '../util/http.js';
import { ImageInfoNotFoundError, type ImageInfoSource, type SourceSnapshot } from './source.js';

export interface UrlSourceOptions {
  retry?: RetryPolicy;
}

/**
 * An image-info served over HTTPS (read-only). The fingerprint is the content hash (an ETag alone
 * could be weak or per-replica); the ETag is only used for a conditional GET so an unchanged file
 * is not downloaded twice (the protocol re-reads it in step 5). `Cache-Control: no-cache` asks
 * caches to revalidate so a read sees the latest write. A CDN-cached raw URL is still not a fresh
 * source: see README.
 */
export class UrlSource implements ImageInfoSource {
  private readonly url: URL;
  private readonly retry: RetryPolicy;
  private cached?: { etag: string; snapshot: SourceSnapshot };

  constructor(url: string, options: UrlSourceOptions = {}) {
    try {
      this.url = new URL(url);
    } catch {
      // The text may hold a secret: do not echo it.
      throw new InputError('imageInfo: not a valid URL');
    }
    if (this.url.username || this.url.password) {
      throw new InputError(
        `imageInfo: ${redactUrl(this.url.toString())}: credentials in the URL are not allowed ` +
          '(they would end up in logs and errors)',
      );
    }
    assertSecureUrl(this.url, 'imageInfo');
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  get name(): string {
    return redactUrl(this.url.toString());
  }

  async read(): Promise<SourceSnapshot> {
    const headers: Record<string, string> = {
      'cache-control': 'no-cache',
      accept: 'application/json',
    };
    if (this.cached) headers['if-none-match'] = this.cached.etag;
    const res = await fetchWithRetry(this.url.toString(), { headers }, this.retry);
    if (res.status === 304 && this.cached) {
      await res.body?.cancel().catch(() => {});
      return this.cached.snapshot;
    }
    if (res.status === 404)
      throw new ImageInfoNotFoundError(`${this.name}: image-info not found (HTTP 404)`);
    if (!res.ok)
      throw new HttpError(res.status, 'GET', this.url.toString(), await errorDetail(res));
    const text = await res.text();
    const snapshot = { text, fingerprint: sha256Digest(text) };
    const etag = res.headers.get('etag');
    this.cached = etag ? { etag, snapshot } : undefined;
    return snapshot;
  }
}
