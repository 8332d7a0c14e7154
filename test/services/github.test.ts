import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError, RuntimeError } from '../../src/core/errors.js';
import { GitHubService, githubError, type GitHubCaller } from '../../src/services/github.js';
import { HttpStatusError } from '../../src/util/http.js';
import { instantClock } from '../support/doubles.js';
import { serveOnLoopback } from '../support/loopback.js';
import { rejection } from '../support/errors.js';

const TOKEN = 'ghs_serviceTOKEN789';
const caller: GitHubCaller = {
  label: 'github:o/r/x.json@main',
  permissions: (method) => (method === 'GET' ? '`contents: read`' : '`contents: write`'),
};
const URL_ = `https://api.github.com/repos/o/r/git/refs?per_page=100`;
const headers = (h: Record<string, string> = {}) => new Headers(h);
const body = (message: string) => JSON.stringify({ message: `${message} (${TOKEN})` });

describe('githubError: every error answer, one mapper', () => {
  it.each([
    // status, method, headers, GitHub's message, class, code, hint
    [401, 'GET', {}, 'Bad credentials', InputError, 'bad-credentials', /needs `contents: read`/],
    [
      403,
      'PUT',
      {},
      'Resource not accessible by integration',
      InputError,
      'forbidden',
      /needs `contents: write`/,
    ],
    [
      404,
      'GET',
      {},
      'Not Found',
      HttpStatusError,
      'not-found',
      /cannot see it \(it needs `contents: read`\)/,
    ],
    [409, 'PUT', {}, 'x does not match abc', HttpStatusError, 'conflict', undefined],
    [422, 'POST', {}, 'Reference already exists', HttpStatusError, 'already-exists', undefined],
    [422, 'POST', {}, 'Object does not exist', HttpStatusError, 'no-object', undefined],
    [422, 'PUT', {}, 'Invalid request. "sha" wasn\'t supplied.', HttpStatusError, 'sha', undefined],
    [422, 'POST', {}, 'Validation Failed', HttpStatusError, 'unprocessable', undefined],
    [
      403,
      'GET',
      { 'x-ratelimit-remaining': '0' },
      'API rate limit exceeded',
      HttpStatusError,
      'rate-limited',
      /rate limit: try again/,
    ],
    [
      403,
      'GET',
      { 'retry-after': '30' },
      'Slow down',
      HttpStatusError,
      'rate-limited',
      /rate limit: try again/,
    ],
    [
      403,
      'GET',
      {},
      'You have exceeded a secondary rate limit',
      HttpStatusError,
      'rate-limited',
      /rate limit: try again/,
    ],
    [429, 'GET', {}, 'Too many requests', HttpStatusError, 'rate-limited', /rate limit: try again/],
    [500, 'GET', {}, 'Server Error', HttpStatusError, undefined, undefined],
  ] as const)('%i %s %j "%s"', (status, method, h, message, type, code, hint) => {
    const e = githubError(status, method, URL_, headers(h), body(message), {
      ...caller,
      token: TOKEN,
    });
    expect(e).toBeInstanceOf(type);
    const http = e instanceof HttpStatusError ? e : (e.cause as HttpStatusError);
    expect(http).toBeInstanceOf(HttpStatusError);
    expect(http).toMatchObject({
      status,
      method,
      code,
      url: 'https://api.github.com/repos/o/r/git/refs',
    });
    expect(e.message).toContain(`HTTP ${status}`);
    expect(e.message).toContain(message);
    expect(e.message).not.toContain(TOKEN);
    if (hint) expect(e.message).toMatch(hint);
    if (type === InputError) expect(e.message).toMatch(/^github:o\/r\/x\.json@main: GitHub /);
    else expect(e).toBeInstanceOf(RuntimeError);
  });

  it('a body that is not JSON is quoted (bounded), never the URL credentials', () => {
    const e = githubError(
      502,
      'GET',
      'https://u:p@ghe.example/api/v3/x',
      headers(),
      '<html>bad gateway</html>',
      caller,
    );
    expect(e.message).toBe(
      'GET https://ghe.example/api/v3/x failed: HTTP 502 <html>bad gateway</html>',
    );
  });
});

describe('GitHubService over HTTP', () => {
  const seen: Array<{ url: string; auth?: string; version?: string; etag?: string }> = [];
  let answers: Array<{ status: number; headers?: Record<string, string>; body?: unknown }> = [];
  let server: Awaited<ReturnType<typeof serveOnLoopback>>;
  const sleeps: number[] = [];
  const service = () =>
    new GitHubService({
      apiUrl: `${server.origin}/api/v3/`,
      apiUrlName: 'apiUrl',
      token: TOKEN,
      retry: { retries: 2, baseDelayMs: 1, maxDelayMs: 5 },
      clock: { ...instantClock, random: () => 0, sleep: async (ms) => void sleeps.push(ms) },
      permissions: () => '`actions: read`',
    });

  beforeAll(async () => {
    server = await serveOnLoopback(async (req, res) => {
      seen.push({
        url: req.url ?? '',
        auth: req.headers.authorization,
        version: req.headers['x-github-api-version'] as string | undefined,
        etag: req.headers['if-none-match'] as string | undefined,
      });
      const a = answers.shift() ?? { status: 200, body: [] };
      res.writeHead(a.status, { 'content-type': 'application/json', ...a.headers });
      res.end(a.body === undefined ? '' : JSON.stringify(a.body));
      return true;
    });
  });
  afterAll(() => server.close());

  it('sends the token and API version, follows Link pages, answers a 304 from its cache', async () => {
    seen.length = 0;
    const next = `${server.origin}/api/v3/items?per_page=1&page=2`;
    answers = [
      { status: 200, headers: { link: `<${next}>; rel="next"`, etag: '"a"' }, body: [1] },
      { status: 200, body: [2] },
      { status: 304, headers: { etag: '"a"' } },
    ];
    const gh = service();
    const all = await gh.pages('/items', 'items', (d) => d as number[], {
      query: { per_page: 1 },
      conditional: true,
    });
    expect(all).toEqual([1, 2]);
    expect((await gh.request('GET', '/items?per_page=1', { conditional: true })).data).toEqual([1]);
    expect(seen.map((s) => s.url)).toEqual([
      '/api/v3/items?per_page=1',
      '/api/v3/items?per_page=1&page=2',
      '/api/v3/items?per_page=1',
    ]);
    for (const s of seen)
      expect(s).toMatchObject({ auth: `Bearer ${TOKEN}`, version: '2022-11-28' });
    expect(seen[2].etag).toBe('"a"');
  });

  it('retries a 5xx and a secondary limit (its retry-after) in the one loop; an allowed 404 is an answer', async () => {
    sleeps.length = 0;
    answers = [
      { status: 502, body: { message: 'bad gateway' } },
      {
        status: 403,
        headers: { 'retry-after': '7' },
        body: { message: 'You have exceeded a secondary rate limit' },
      },
      { status: 200, body: { ok: true } },
      { status: 404, body: { message: 'Not Found' } },
    ];
    const gh = service();
    expect((await gh.request('GET', '/x')).data).toEqual({ ok: true });
    expect(sleeps).toEqual([0.5, 7000]); // backoff (cap/2 with random 0), then the retry-after
    const allowed = await gh.request('GET', '/y', { allow: [404] });
    expect(allowed).toEqual({ status: 404, data: undefined, code: 'not-found' });
  });

  it('a 403 that is no rate limit is not retried: an InputError with the hint, without the token', async () => {
    answers = [{ status: 403, body: { message: 'Resource not accessible by integration' } }];
    const before = seen.length;
    const err = await rejection(service().request('GET', '/z'));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(
      /GitHub denied access \(HTTP 403\) on GET .*\/api\/v3\/z: the token needs `actions: read`/,
    );
    expect(err.message).not.toContain(TOKEN);
    expect(seen.length - before).toBe(1);
  });
});
