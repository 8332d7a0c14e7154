import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { lookupDockerConfig } from '../../src/registry/docker-config.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const config = (value: unknown) => JSON.stringify(value);
const FILE = '/home/me/.docker/config.json';

describe('lookupDockerConfig', () => {
  it.each([
    ['the bare host', 'registry.example.com:5000'],
    ['an https URL key', 'https://registry.example.com:5000'],
    ['a URL key with a path', 'https://registry.example.com:5000/v2/'],
    ['an http URL key in another case', 'http://Registry.Example.com:5000'],
  ])('matches %s', (_name, key) => {
    const text = config({ auths: { [key]: { auth: b64('user:pa:ss') } } });
    expect(lookupDockerConfig(text, 'registry.example.com:5000', FILE)).toEqual({
      found: { username: 'user', password: 'pa:ss' },
      key,
    });
  });

  it('prefers the exact key to a normalised one, and does not match another port', () => {
    const text = config({
      auths: {
        'https://r.example': { auth: b64('url:1') },
        'r.example': { auth: b64('exact:2') },
        'r.example:5000': { auth: b64('port:3') },
      },
    });
    expect(lookupDockerConfig(text, 'r.example', FILE).found).toEqual({
      username: 'exact',
      password: '2',
    });
    expect(lookupDockerConfig(text, 'r.example:444', FILE)).toEqual({ found: undefined });
  });

  it.each(['docker.io', 'registry-1.docker.io', 'index.docker.io'])(
    'finds Docker Hub under https://index.docker.io/v1/ for %s',
    (host) => {
      const text = config({ auths: { 'https://index.docker.io/v1/': { auth: b64('me:pw') } } });
      expect(lookupDockerConfig(text, host, FILE)).toEqual({
        found: { username: 'me', password: 'pw' },
        key: 'https://index.docker.io/v1/',
      });
    },
  );

  it('reads an identity token (a refresh token) and separate username/password fields', () => {
    const text = config({
      auths: {
        'a.example': { auth: b64('<token>:'), identitytoken: 'refresh' },
        'b.example': { username: 'u', password: 'p' },
      },
    });
    expect(lookupDockerConfig(text, 'a.example', FILE).found).toEqual({
      username: '<token>',
      refreshToken: 'refresh',
    });
    expect(lookupDockerConfig(text, 'b.example', FILE).found).toEqual({
      username: 'u',
      password: 'p',
    });
  });

  it('names the credential helper that holds the entry (credHelpers, or credsStore behind an empty entry)', () => {
    const helpers = config({ auths: {}, credHelpers: { 'ghcr.io': 'gh' } });
    expect(lookupDockerConfig(helpers, 'ghcr.io', FILE)).toEqual({
      found: undefined,
      helper: 'gh',
    });
    const store = config({ auths: { 'ghcr.io': {} }, credsStore: 'desktop' });
    expect(lookupDockerConfig(store, 'ghcr.io', FILE)).toEqual({
      found: undefined,
      helper: 'desktop',
    });
    // A store alone says nothing about this registry.
    expect(lookupDockerConfig(config({ credsStore: 'desktop' }), 'ghcr.io', FILE)).toEqual({
      found: undefined,
    });
  });

  it.each([
    ['not JSON', '{', /^\/home\/me\/\.docker\/config\.json: not valid JSON/],
    ['auths not an object', config({ auths: [] }), /config\.json: auths: expected an object$/],
    [
      'an auth without a colon',
      config({ auths: { 'r.example': { auth: b64('secret-no-colon') } } }),
      /config\.json: auths\["r\.example"\]\.auth: expected base64 of username:password$/,
    ],
    [
      'a number for a password',
      config({ auths: { 'r.example': { username: 'u', password: 5 } } }),
      /auths\["r\.example"\]\.password: expected a string$/,
    ],
  ])('fails on %s, naming the file and JSON path, never the secret', (_name, text, message) => {
    const run = () => lookupDockerConfig(text, 'r.example', FILE);
    expect(run).toThrow(message);
    expect(run).toThrow(InputError);
    expect(() => run()).not.toThrow(/secret-no-colon/);
  });
});
