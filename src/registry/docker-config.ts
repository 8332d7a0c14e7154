import { InputError } from '../core/errors.js';
import type { Credentials } from './oci/auth.js';

/**
 * Registry credentials from a Docker config file (`docker login`, `docker/login-action`,
 * `Docker@2`, `oras login`), matched the way oras-go's file store does. Credential helpers
 * (`credsStore`, `credHelpers`) are not run: their secrets live outside the file.
 */
export type DockerCredentials = Credentials;

type DockerConfigLookup =
  | { found: DockerCredentials; key: string }
  /** No usable entry; `helper` names the credential helper that holds one, when the file says so. */
  | { found: undefined; helper?: string };

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
/** The key `docker login` writes for Docker Hub. */
const DOCKER_HUB_KEY = 'https://index.docker.io/v1/';

export function isDockerHub(host: string): boolean {
  return DOCKER_HUB_HOSTS.has(host.toLowerCase());
}

/** `https://host:port/path` → `host:port`, as oras-go's ToHostname (keys may be URLs). */
function keyHost(key: string): string {
  return key
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, '')
    .split('/')[0]
    .toLowerCase();
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Finds the credentials for `host` (`host[:port]`, as in the registry URL) in the config's
 * text. `file` names the file in errors; a malformed file or entry fails, naming the JSON path,
 * since guessing past it could send the wrong credentials. Secrets never appear in errors.
 */
export function lookupDockerConfig(text: string, host: string, file: string): DockerConfigLookup {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text around the error, which may be a credential.
    throw new InputError(`${file}: not valid JSON`);
  }
  if (!isObject(config)) throw new InputError(`${file}: expected a JSON object`);
  const auths = config.auths ?? {};
  if (!isObject(auths)) throw new InputError(`${file}: auths: expected an object`);

  const target = host.toLowerCase();
  const hub = isDockerHub(target);
  const matches = (key: string) => {
    const h = keyHost(key);
    return h === target || (hub && isDockerHub(h));
  };
  // An exact key wins over a normalised one (`https://host/` next to `host`), as in oras-go.
  const exact = hub ? [DOCKER_HUB_KEY, target] : [target];
  const key =
    exact.find((k) => Object.hasOwn(auths, k)) ?? Object.keys(auths).find((k) => matches(k));

  if (key !== undefined) {
    const found = readEntry(auths[key], `${file}: auths[${JSON.stringify(key)}]`);
    if (found) return { found, key };
  }
  const helpers = config.credHelpers;
  if (isObject(helpers)) {
    const helperKey = Object.keys(helpers).find((k) => matches(k));
    if (helperKey !== undefined && typeof helpers[helperKey] === 'string')
      return { found: undefined, helper: helpers[helperKey] };
  }
  // `docker login` with a credsStore leaves an empty `auths` entry as a pointer to the store.
  if (key !== undefined && typeof config.credsStore === 'string' && config.credsStore)
    return { found: undefined, helper: config.credsStore };
  return { found: undefined };
}

/** undefined for an entry without credentials (`{}`); throws for a malformed one. */
function readEntry(value: unknown, where: string): DockerCredentials | undefined {
  if (!isObject(value)) throw new InputError(`${where}: expected an object`);
  const fields = ['auth', 'username', 'password', 'identitytoken'] as const;
  for (const field of fields) {
    if (value[field] !== undefined && typeof value[field] !== 'string')
      throw new InputError(`${where}.${field}: expected a string`);
  }
  const entry = value as Partial<Record<(typeof fields)[number], string>>;
  let username = entry.username || undefined;
  let password = entry.password || undefined;
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new InputError(`${where}.auth: expected base64 of username:password`);
    username = decoded.slice(0, colon);
    password = decoded.slice(colon + 1);
  }
  const refreshToken = entry.identitytoken || undefined;
  // With an identity token the username is `<token>` or similar; only the token is sent.
  if (refreshToken) return { username, refreshToken };
  if (username && password) return { username, password };
  return undefined;
}
