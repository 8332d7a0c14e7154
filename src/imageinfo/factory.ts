import { fileURLToPath } from 'node:url';
import { InputError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import type { RetryPolicy } from '../util/http.js';
import { AzureReposSource } from './azure-repos-source.js';
import type { FileLockOptions } from './file-lock.js';
import { FileSource } from './file-source.js';
import { GitHubContentsSource } from './github-source.js';
import { isWritable, type ImageInfoSource, type WritableImageInfoSource } from './source.js';
import { UrlSource } from './url-source.js';

/**
 * Where an image-info lives, as the `imageInfo` input spells it:
 *
 * - `path/to/image-info.json` (or `file:///…`): a local file; writable (lock file + atomic rename)
 * - `https://host/image-info.json`: read-only (plain `http://` only for loopback hosts)
 * - `github:<owner>/<repo>/<path>@<branch>`: GitHub contents API; writable
 * - `azure-repos:<project>/<repo>/<path>@<branch>`: Azure Repos items + pushes; writable
 *
 * The path may contain `/`; the branch is what follows the last `@` and may contain `/`.
 */
export type SourceSpec =
  | { kind: 'file'; path: string }
  | { kind: 'url'; url: string }
  | { kind: 'github'; owner: string; repo: string; path: string; branch: string }
  | { kind: 'azure-repos'; project: string; repo: string; path: string; branch: string };

export interface SourceOptions {
  /** Default https://api.github.com. */
  githubApiUrl?: string;
  /** `contents: write` to publish. */
  githubToken?: string;
  azureCollectionUri?: string;
  azureToken?: string;
  retry?: RetryPolicy;
  /** For the retries of `azure-repos:` sources. */
  clock?: Clock;
  /** A file's lock keeps its own monotonic clock unless these name one. */
  file?: FileLockOptions;
  /** `--image-info` (CLI), `imageInfo` (action, task). */
  label?: string;
}

export function parseSourceSpec(spec: string, label = 'imageInfo'): SourceSpec {
  const value = spec.trim();
  if (value === '') throw new InputError(`${label}: empty image-info location`);
  const repoSpec = /^(github|azure-repos):(.*)$/.exec(value);
  if (repoSpec) {
    const [, kind, rest] = repoSpec;
    const syntax = `${kind}:<${kind === 'github' ? 'owner' : 'project'}>/<repo>/<path>@<branch>`;
    const at = rest.lastIndexOf('@');
    const where = at < 0 ? rest : rest.slice(0, at);
    const branch = at < 0 ? '' : rest.slice(at + 1);
    const [first, repo, ...pathParts] = where.split('/');
    const path = pathParts.join('/');
    if (
      !first ||
      !repo ||
      !path ||
      pathParts.some((p) => p === '' || p === '.' || p === '..') ||
      !branch
    )
      throw new InputError(`${label}: ${JSON.stringify(value)} is not ${syntax}`);
    return kind === 'github'
      ? { kind, owner: first, repo, path, branch }
      : { kind: 'azure-repos', project: first, repo, path, branch };
  }
  if (/^https?:\/\//i.test(value)) return { kind: 'url', url: value };
  if (/^file:\/\//i.test(value)) return { kind: 'file', path: fileURLToPath(value) };
  // A scheme we do not know (not a Windows drive letter such as C:\).
  if (/^[a-z][a-z0-9+.-]+:/i.test(value))
    throw new InputError(
      `${label}: unsupported location ${JSON.stringify(value.split(':')[0] + ':')} (use a path, https://, github: or azure-repos:)`,
    );
  return { kind: 'file', path: value };
}

export function createImageInfoSource(spec: string, options: SourceOptions = {}): ImageInfoSource {
  const label = options.label ?? 'imageInfo';
  const parsed = parseSourceSpec(spec, label);
  switch (parsed.kind) {
    case 'file':
      return new FileSource(parsed.path, options.file);
    case 'url':
      return new UrlSource(parsed.url, { retry: options.retry, label });
    case 'github':
      return new GitHubContentsSource(parsed, {
        apiUrl: options.githubApiUrl,
        token: options.githubToken,
        retry: options.retry,
      });
    case 'azure-repos':
      if (!options.azureCollectionUri)
        throw new InputError(
          `${label}: ${spec} needs the Azure DevOps collection URI (System.CollectionUri)`,
        );
      return new AzureReposSource(parsed, {
        collectionUri: options.azureCollectionUri,
        token: options.azureToken,
        retry: options.retry,
        clock: options.clock,
      });
  }
}

/** Like {@link createImageInfoSource}, for `publish-image-info`: an https URL cannot be written. */
export function createWritableImageInfoSource(
  spec: string,
  options: SourceOptions = {},
): WritableImageInfoSource {
  const source = createImageInfoSource(spec, options);
  if (!isWritable(source))
    throw new InputError(
      `${options.label ?? 'imageInfo'}: ${source.name} is read-only; publish to a file, github:<owner>/<repo>/<path>@<branch> or azure-repos:<project>/<repo>/<path>@<branch>`,
    );
  return source;
}
