import { InputError } from '../core/errors.js';
import { sha256Digest } from '../util/hash.js';
import { assertSecureUrl, errorDetail, fetchWithRetry, HttpError, redactUrl } from '../util/http.js';
import type { ImageInfoSource, SourceSnapshot } from './source.js';

/**
 * An image-info served over HTTPS. The fingerprint is the content hash (an ETag alone could
 * be weak or per-replica); `Cache-Control: no-cache` asks caches to revalidate so a read
 * sees the latest write. A CDN-cached raw URL is still not a fresh source: see README.
 */
export class UrlSource implements ImageInfoSource {
  private readonly url: URL;

  constructor(url: string) {
    this.url = new URL(url);
    assertSecureUrl(this.url, 'imageInfo');
  }

  get name(): string {
    return redactUrl(this.url.toString());
  }

  async read(): Promise<SourceSnapshot> {
    const res = await fetchWithRetry(this.url.toString(), { headers: { 'cache-control': 'no-cache', accept: 'application/json' } });
    if (res.status === 404) throw new InputError(`${this.name}: image-info not found (HTTP 404)`);
    if (!res.ok) throw new HttpError(res.status, 'GET', this.url.toString(), await errorDetail(res));
    const text = await res.text();
    return { text, fingerprint: sha256Digest(text) };
  }
}
