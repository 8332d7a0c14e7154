import type { ServerResponse } from 'node:http';
import { httpErrorOf, rejection } from '../support/errors.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AzureDevOpsStore } from '../../src/coordination/azure-devops.js';
import { InputError } from '../../src/core/errors.js';
import { AzureReposSource } from '../../src/imageinfo/azure-repos-source.js';
import {
  ACCESS_TOKEN_HINT,
  AzureDevOpsClient,
  type AzureDevOpsCall,
} from '../../src/services/azure-devops.js';
import { FakeAzureDevOps } from '../support/fake-azure-devops.js';
import { serveOnLoopback } from '../support/loopback.js';
import { NO_RETRY } from '../support/doubles.js';

const TOKEN = 'azdo-SECRET-token-5150';

/** One answer per path: `/org/p/_apis/<name>` answers `ANSWERS[name]`, the request echoed. */
interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}
const ANSWERS: Record<string, Answer | ((url: URL) => Answer)> = {};
const seen: Array<{ url: string; authorization?: string; accept?: string }> = [];

let origin = '';
let close: () => Promise<void>;

beforeAll(async () => {
  ({ origin, close } = await serveOnLoopback(async (req, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    seen.push({ url: req.url ?? '', authorization: req.headers.authorization, ...req.headers });
    const name = url.pathname.replace(/^\/org\/p\/_apis\//, '');
    const found = ANSWERS[name];
    if (!found) return false;
    const answer = typeof found === 'function' ? found(url) : found;
    // Servers echo the request: the body quotes the Authorization header and the URL.
    const body =
      answer.body ??
      JSON.stringify({
        message: `${answer.status} for ${req.headers.authorization} at ${req.url}`,
        typeKey: `Fault${answer.status}Exception`,
      });
    res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
    res.end(body);
    return true;
  }));
});
afterAll(() => close());

const client = () =>
  new AzureDevOpsClient({ collectionUri: `${origin}/org/`, token: TOKEN, retry: NO_RETRY });
const CALL: AzureDevOpsCall = {
  what: 'read the tags of build 7',
  permission: '"View builds"',
  notFound: 'check Build.BuildId and System.TeamProject',
};
const SIGN_IN = '<html><head><title>Sign in to your account</title></head></html>';

describe('azureDevOpsError: every refusal is one HttpStatusError with the hint to fix', () => {
  const cases: Array<[string, Answer, string, RegExp]> = [
    [
      '203 sign-in page (bad or missing token)',
      { status: 203, headers: { 'content-type': 'text/html; charset=utf-8' }, body: SIGN_IN },
      'GET',
      /HTTP 203 Azure DevOps rejected the access token \(it answered with its sign-in page\) when trying to read the tags of build 7: map System\.AccessToken into the step's env \(env: SYSTEM_ACCESSTOKEN: \$\(System\.AccessToken\)\)/,
    ],
    [
      '200 with the HTML sign-in page',
      { status: 200, headers: { 'content-type': 'text/html' }, body: SIGN_IN },
      'GET',
      /HTTP 200 Azure DevOps rejected the access token \(it answered with its sign-in page\).*System\.AccessToken/,
    ],
    [
      '401',
      { status: 401 },
      'GET',
      /HTTP 401 Azure DevOps rejected the access token when trying to read the tags of build 7: map System\.AccessToken/,
    ],
    [
      '403',
      { status: 403 },
      'PATCH',
      /HTTP 403 Azure DevOps denied the build service identity permission to read the tags of build 7: it needs "View builds"/,
    ],
    [
      '404',
      { status: 404 },
      'GET',
      /HTTP 404 Azure DevOps: nothing found to read the tags of build 7: check Build\.BuildId and System\.TeamProject/,
    ],
    [
      '429 with Retry-After',
      { status: 429, headers: { 'retry-after': '30' } },
      'GET',
      /HTTP 429 Azure DevOps kept throttling the build service identity \(Retry-After 30 s\) when trying to read the tags of build 7: try again later/,
    ],
    [
      '500',
      { status: 500 },
      'POST',
      /HTTP 500 Azure DevOps could not read the tags of build 7; the service said: /,
    ],
  ];

  it.each(cases)('%s', async (name, answer, method, message) => {
    const path = `case-${cases.findIndex((c) => c[0] === name)}`;
    ANSWERS[path] = answer;
    const c = client();
    const url = c.url('p', path, { continuationToken: 'page-2' });
    const err = httpErrorOf(
      await rejection(c.send(method, url, { ...CALL, body: method === 'GET' ? undefined : {} })),
    );
    // The code is the JSON error's typeKey; the sign-in page has none.
    const code = answer.body === undefined ? `Fault${answer.status}Exception` : undefined;
    expect(err).toMatchObject({ status: answer.status, method, code });
    expect(err.url).toBe(`${origin}/org/p/_apis/${path}?continuationToken=***&api-version=7.1`);
    expect(err.message).toMatch(message);
    expect(err.message).not.toContain(TOKEN);
    expect(err.message).not.toContain('page-2');
    // The sign-in page's HTML is no message.
    expect(err.message).not.toContain('<html>');
  });

  it('an expected status is an answer, not an error', async () => {
    ANSWERS.absent = { status: 404 };
    const c = client();
    const call = { ...CALL, expect: [404] };
    expect((await c.send('GET', c.url('p', 'absent'), call)).status).toBe(404);
    expect(await c.json('GET', c.url('p', 'absent'), call)).toBeUndefined();
  });
});

describe('AzureDevOpsClient', () => {
  it('sends the token as Bearer, asks for JSON and names api-version 7.1', async () => {
    ANSWERS.tags = { status: 200, body: JSON.stringify({ count: 1, value: ['a'] }) };
    const c = client();
    seen.length = 0;
    expect(await c.json('GET', c.url('p', 'tags', { skipped: undefined }), CALL)).toEqual({
      count: 1,
      value: ['a'],
    });
    expect(seen).toMatchObject([
      {
        url: '/org/p/_apis/tags?api-version=7.1',
        authorization: `Bearer ${TOKEN}`,
        accept: 'application/json',
      },
    ]);
  });

  it('rejects plain http to a non-loopback host and a collection URI that is no URL', () => {
    expect(() => new AzureDevOpsClient({ collectionUri: 'http://dev.azure.com/org/' })).toThrow(
      /System\.CollectionUri: http:\/\/dev\.azure\.com is not allowed/,
    );
    expect(() => new AzureDevOpsClient({ collectionUri: 'nope', label: 'collectionUri' })).toThrow(
      InputError,
    );
  });

  it('follows x-ms-continuationtoken; pages with $top/$skip until a short page', async () => {
    const c = client();
    seen.length = 0;
    ANSWERS.builds = (url) =>
      url.searchParams.get('continuationToken') === 'next'
        ? { status: 200, body: JSON.stringify({ count: 1, value: [3] }) }
        : {
            status: 200,
            headers: { 'x-ms-continuationtoken': 'next' },
            body: JSON.stringify({ count: 2, value: [1, 2] }),
          };
    expect(await c.listAll<number>('p', 'builds', { tagFilters: 'x' }, CALL)).toEqual([1, 2, 3]);
    expect(seen.map((r) => r.url)).toEqual([
      '/org/p/_apis/builds?tagFilters=x&api-version=7.1',
      '/org/p/_apis/builds?tagFilters=x&continuationToken=next&api-version=7.1',
    ]);
    ANSWERS.commits = { status: 200, body: JSON.stringify({ count: 2, value: [1, 2] }) };
    seen.length = 0;
    const paging = { top: '$top', skip: '$skip', size: 2 };
    expect(await c.listSkip<number>('p', 'commits', {}, paging, 5, CALL)).toEqual([1, 2, 1, 2, 1]);
    expect(seen.map((r) => new URL(r.url, origin).searchParams.toString())).toEqual([
      '%24top=2&%24skip=0&api-version=7.1',
      '%24top=2&%24skip=2&api-version=7.1',
      '%24top=1&%24skip=4&api-version=7.1',
    ]);
  });
});

describe('one service, two clients', () => {
  it('the coordination store and the azure-repos source refuse a bad token alike, with the one hint', async () => {
    const ado = await new FakeAzureDevOps().start();
    try {
      ado.repos.commit('proj', 'images', 'main', { 'image-info.json': '{}' });
      const build = ado.createBuild();
      const source = (token: string) =>
        new AzureReposSource(
          { project: 'proj', repo: 'images', path: 'image-info.json', branch: 'main' },
          { collectionUri: ado.collectionUri, token, retry: NO_RETRY },
        );
      const store = (token: string) =>
        new AzureDevOpsStore({
          collectionUri: ado.collectionUri,
          project: 'proj',
          buildId: build.id,
          jobAttempt: 1,
          token,
          retry: NO_RETRY,
        });
      expect((await source(ado.token).read()).text).toBe('{}');
      ado.signInPageForBadToken = true;
      for (const refused of [store('bad-SECRET').listRuns('g'), source('bad-SECRET').read()]) {
        const err = httpErrorOf(await rejection(refused));
        expect(err.status).toBe(203);
        expect(err.message).toContain(ACCESS_TOKEN_HINT);
        expect(err.message).not.toContain('bad-SECRET');
      }
    } finally {
      await ado.close();
    }
  });
});
