import { InputError } from './errors.js';

const DIGEST = /^sha256:[a-f0-9]{64}$/;

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST.test(value);
}

export function assertDigest(value: unknown, where: string): string {
  if (!isDigest(value))
    throw new InputError(
      `${where}: expected a digest "sha256:<64 hex>", got ${JSON.stringify(value)}`,
    );
  return value;
}

export interface ImageRef {
  /** As written, or undefined; matching ignores it, writers check it ({@link sameRegistryHost}). */
  host?: string;
  repository: string;
  digest: string;
}

/** `[host/]repo@sha256:…`; a first segment with a dot, colon or `localhost` is a host (Docker). */
export function parseImageRef(value: unknown, where: string): ImageRef {
  if (typeof value !== 'string' || !value.includes('@'))
    throw new InputError(
      `${where}: expected "<repository>@sha256:<hex>", got ${JSON.stringify(value)}`,
    );
  const at = value.lastIndexOf('@');
  const name = value.slice(0, at);
  const digest = assertDigest(value.slice(at + 1), where);
  const parts = name.split('/');
  let host: string | undefined;
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0])) host = parts.shift();
  const repository = parts.join('/');
  if (!isRepositoryName(repository))
    throw new InputError(`${where}: invalid repository name ${JSON.stringify(repository)}`);
  return { host, repository, digest };
}

/** Docker Hub answers to several names. */
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

function canonicalHost(host: string): string {
  const h = host.toLowerCase().replace(/:443$/, '');
  return DOCKER_HUB.has(h) ? 'docker.io' : h;
}

/** Whether two `host[:port]` spellings name one registry (case, `:443`, Docker Hub's aliases). */
export function sameRegistryHost(a: string, b: string): boolean {
  return canonicalHost(a) === canonicalHost(b);
}

const REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;

export function isRepositoryName(value: string): boolean {
  return value.length > 0 && value.length <= 255 && REPO.test(value);
}

export const REPOSITORY_NAME_RULE =
  'lowercase letters and digits, separated by ".", "_", "__" or "-", in path segments split by "/"';

/**
 * A `repositories` entry: a name, or a glob whose `*`, `**` and `?` stand for name characters
 * (so `dotnet/*` and `**-runtime` pass, `Dotnet/*` and `a//b` do not).
 */
export function isRepositoryGlob(value: string): boolean {
  return isRepositoryName(value.replace(/\*\*|\*|\?/g, 'x'));
}

/** A `repoPrefix`: empty, or a repository name with an optional trailing `/`. */
export function isRepositoryPrefix(value: string): boolean {
  return value === '' || isRepositoryName(value.replace(/\/+$/, ''));
}

/** `sha256:abc` → `sha256-abc`: the referrers fallback tag of distribution-spec 1.1. */
export function fallbackTag(digest: string): string {
  return digest.replace(':', '-');
}

export const FALLBACK_TAG = /^sha256-[a-f0-9]{64}$/;
/** cosign's attached-artifact tags: signatures, attestations, SBOMs. */
export const COSIGN_TAG = /^sha256-[a-f0-9]{64}\.(sig|att|sbom)$/;

export function refKey(repository: string, digest: string): string {
  return `${repository}@${digest}`;
}

/** Checks `repoPrefix` and `repositories` before any write; `labels` are the host's input names. */
export function assertRepositoryInputs(
  repoPrefix: string,
  repositories: string[],
  labels: { repoPrefix: string; repositories: string },
): void {
  if (!isRepositoryPrefix(repoPrefix))
    throw new InputError(
      `${labels.repoPrefix}: invalid repository prefix ${JSON.stringify(repoPrefix)} (expected ${REPOSITORY_NAME_RULE}, optionally ending in "/")`,
    );
  for (const entry of repositories) {
    if (!isRepositoryGlob(entry))
      throw new InputError(
        `${labels.repositories}: invalid repository name or glob ${JSON.stringify(entry)} (expected ${REPOSITORY_NAME_RULE}; "*", "**" and "?" for globs)`,
      );
  }
}
