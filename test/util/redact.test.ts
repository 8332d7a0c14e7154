import { describe, expect, it } from 'vitest';
import { errorDetail, HttpStatusError, redactUrl } from '../../src/util/http.js';
import { maskSecrets, redactSecrets, secretForms } from '../../src/util/redact.js';

const PW = 'Pa55-w0rd!x';
const BASIC = Buffer.from(`ci:${PW}`).toString('base64');

describe('redactSecrets', () => {
  it.each([
    ['a Basic authorization header', `authorization: Basic ${BASIC}`, [BASIC]],
    ['a Basic credential quoted in JSON', `{"Authorization":"Basic ${BASIC}"}`, [BASIC]],
    ['a Bearer token', 'echo: Bearer ghs_abcdef123456', ['ghs_abcdef123456']],
    ['an authorization header of any scheme', 'Authorization: token ghp_zzz999', ['ghp_zzz999']],
    ['URL user-info', `https://ci:${PW}@example.com/x`, [PW]],
    ['user-info without a scheme', `registry: "ci:${PW}@myacr.azurecr.io" is bad`, [PW]],
    [
      'sensitive query parameters',
      'GET /x?api_key=K1&key=K2&sig=K3&token=K4&access_token=K5&code=K6&password=K7&client_secret=K8&X-Amz-Signature=K9&ref=main',
      ['K1', 'K2', 'K3', 'K4', 'K5', 'K6', 'K7', 'K8', 'K9'],
    ],
    ['form fields at the start of a body', 'refresh_token=R1&client_secret=R2', ['R1', 'R2']],
    [
      'secret JSON fields',
      '{"access_token":"J1","refresh_token":"J2","password":"J3","client_secret":"J4","token":"J5"}',
      ['J1', 'J2', 'J3', 'J4', 'J5'],
    ],
    ['a JWT', 'got eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln', ['eyJzdWIiOiJ4In0']],
  ])('hides %s', (_name, text, secrets) => {
    const out = redactSecrets(text);
    for (const s of secrets) expect(out, out).not.toContain(s);
    expect(out).toContain('***');
  });

  it('keeps what is not a secret readable', () => {
    const text =
      'GET https://host/v2/a/manifests/sha256:abc?ref=main&n=100 failed: HTTP 404 ' +
      '{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}; ' +
      'Bearer realm="https://auth.example.com/token",service="x"; the token lacks permission; ' +
      'dotnet/aspnet:8.0@sha256:0123 and aspnet:8.0@sha256:0123; Basic realm="Registry"';
    expect(redactSecrets(text)).toBe(text);
  });
});

describe('redactUrl', () => {
  it('hides user-info and every sensitive query value, keeps the rest', () => {
    const out = redactUrl(
      `https://u:${PW}@h.example/p?api_key=A&sig=B&X-Amz-Credential=C&client_secret=D&ref=main`,
    );
    for (const s of [PW, '=A', '=B', '=C', '=D']) expect(out).not.toContain(s);
    expect(out).toContain('ref=main');
  });
});

describe('errorDetail and HttpStatusError', () => {
  it('redact a body that echoes the request', async () => {
    const body = `denied: authorization: Basic ${BASIC}; url: /img.json?api_key=K1&sig=K2`;
    const detail = await errorDetail(new Response(body, { status: 500 }));
    for (const s of [BASIC, 'K1', 'K2']) expect(detail).not.toContain(s);
    const error = new HttpStatusError(500, 'GET', 'https://h/img.json?api_key=K1', body);
    for (const s of [BASIC, 'K1', 'K2']) expect(error.message).not.toContain(s);
  });
});

describe('maskSecrets', () => {
  it('hides a known secret and its encoded forms', () => {
    const secrets = new Set(secretForms(PW));
    const text = `pw ${PW}, base64 ${Buffer.from(PW).toString('base64')}, url ${encodeURIComponent(PW)}`;
    const out = maskSecrets(text, secrets);
    expect(out).not.toContain(PW);
    expect(out).not.toContain(Buffer.from(PW).toString('base64'));
    expect(out).not.toContain(encodeURIComponent(PW));
  });
});
