import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { ImageInfoNotFoundError } from '../../src/imageinfo/source.js';
import { UrlSource } from '../../src/imageinfo/url-source.js';
import { sha256Digest } from '../../src/util/hash.js';
import { HttpStatusError } from '../../src/util/http.js';
import { FAST_RETRY } from '../support/doubles.js';
import { serveOnLoopback } from '../support/loopback.js';

let server: Awaited<ReturnType<typeof serveOnLoopback>>;
let base: string;
let body = '{"v":1}';
let status = 200;
/**
 * How the server makes its ETag: from the content (what the source used to rely on), a weak
 * validator that stays the same across edits (W/"..."), or nginx/Apache style from mtime and
 * size, which does not change when a file is rewritten with as many bytes within one second.
 */
let etagMode: 'content' | 'weak' | 'mtime' = 'content';
const seen: Array<{ url?: string; ifNoneMatch?: string; cacheControl?: string }> = [];

/** A loopback file server with ETags (http: allowed for loopback only). */
beforeAll(async () => {
  server = await serveOnLoopback(async (req, res) => {
    seen.push({
      url: req.url,
      ifNoneMatch: req.headers['if-none-match'],
      cacheControl: req.headers['cache-control'],
    });
    if (status !== 200) {
      res.writeHead(status).end('nope');
      return true;
    }
    const etag =
      etagMode === 'weak'
        ? 'W/"v1"'
        : etagMode === 'mtime'
          ? `"6650f1a2-${Buffer.byteLength(body).toString(16)}"`
          : `"${sha256Digest(body).slice(7, 23)}"`;
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { etag }).end();
      return true;
    }
    res.writeHead(200, { etag, 'content-type': 'application/json' }).end(body);
    return true;
  });
  base = server.origin;
});

afterAll(() => server.close());

beforeEach(() => {
  body = '{"v":1}';
  status = 200;
  etagMode = 'content';
  seen.length = 0;
});

const urlSource = (name = 'image-info.json') =>
  new UrlSource(`${base}/${name}`, { retry: FAST_RETRY });

describe('UrlSource', () => {
  it('reads with a content-hash fingerprint, revalidating caches', async () => {
    const snap = await urlSource().read();
    expect(snap).toEqual({ text: '{"v":1}', fingerprint: sha256Digest('{"v":1}') });
    expect(seen[0].cacheControl).toBe('no-cache');
  });

  it('re-reads the content every time (no conditional GET) and sees a change', async () => {
    const source = urlSource();
    const first = await source.read();
    expect(await source.read()).toEqual(first);
    expect(seen.map((s) => s.ifNoneMatch)).toEqual([undefined, undefined]);
    body = '{"v":2}';
    const changed = await source.read();
    expect(changed.text).toBe('{"v":2}');
    expect(changed.fingerprint).not.toBe(first.fingerprint);
  });

  it.each(['weak', 'mtime'] as const)(
    'a %s ETag that survives an edit never hides the change (the fingerprint is the content hash)',
    async (mode) => {
      etagMode = mode;
      const source = urlSource();
      const first = await source.read();
      body = '{"v":2}'; // same length: the mtime ETag of a rewrite within one second is unchanged
      const changed = await source.read();
      expect(changed).toEqual({ text: '{"v":2}', fingerprint: sha256Digest('{"v":2}') });
      expect(changed.fingerprint).not.toBe(first.fingerprint);
    },
  );

  it('404 is ImageInfoNotFoundError; a persistent 503 is an HttpStatusError after retries', async () => {
    status = 404;
    await expect(urlSource('x.json').read()).rejects.toBeInstanceOf(ImageInfoNotFoundError);
    status = 503;
    seen.length = 0;
    await expect(urlSource('x.json').read()).rejects.toBeInstanceOf(HttpStatusError);
    expect(seen).toHaveLength(3);
  });

  it('refuses plain http to anything but loopback, and hides tokens in its name', () => {
    expect(() => new UrlSource('http://example.com/image-info.json')).toThrow(InputError);
    expect(new UrlSource('https://example.com/i.json?token=abc').name).not.toMatch(/abc/);
  });

  it('refuses credentials in the URL up front, without echoing them (invariant 7)', () => {
    // fetch would throw a TypeError quoting the whole URL, which used to be retried and logged.
    for (const url of [
      'https://user:s3cretpw@example.com/image-info.json',
      'http://user:s3cretpw@127.0.0.1:1/image-info.json',
      'https://s3cretpw@example.com/image-info.json',
    ]) {
      const create = () => new UrlSource(url, { retry: FAST_RETRY });
      expect(create, url).toThrow(InputError);
      expect(create, url).toThrow(/^imageInfo: .*credentials/);
      expect(create, url).not.toThrow(/s3cretpw/);
    }
    const invalid = () => new UrlSource('https://user:s3cretpw@[bad');
    expect(invalid).toThrow(InputError);
    expect(invalid).not.toThrow(/s3cretpw/);
  });
});
