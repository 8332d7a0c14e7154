import { RuntimeError } from '../../core/errors.js';
import type { Logger } from '../../core/ports.js';
import {
  assertSecureUrl,
  DEFAULT_RETRY,
  errorDetail,
  fetchWithRetry,
  HttpStatusError,
  RETRYABLE_STATUS,
  resetHeaderWaitMs,
  type RetryPolicy,
} from '../../util/http.js';
import { nextLink } from '../links.js';

/** One version of a container package: a manifest GHCR holds, tagged or not. */
interface PackageVersion {
  id: number;
  /** The manifest digest (the version's `name`). */
  digest: string;
  /** `metadata.container.tags`. */
  tags: string[];
  /** `created_at`: when the manifest was pushed. */
  createdAt: string;
}

/** A package version DELETE: done, or refused (with why, for a log line). */
type VersionDeletion = { deleted: true } | { deleted: false; reason: string };

export interface GhcrPackagesOptions {
  /** GitHub REST API base, e.g. `https://api.github.com` (GHES: `https://host/api/v3`). */
  apiUrl: string;
  /** A GitHub token (`packages: read`; deletes need `packages: write` and admin on the package). */
  token?: string;
  retry?: RetryPolicy;
  logger: Logger;
  /** Versions per page (default 100, the API's maximum). */
  perPage?: number;
}

/** Owners' kinds in the API's paths. */
type OwnerKind = 'orgs' | 'users';

const API_VERSION = '2022-11-28';

/**
 * The GitHub Packages API for GHCR's container packages: every version (tagged or not, with its
 * push time), and version deletes (GHCR refuses manifest DELETE). A repository `owner/a/b` is
 * package `a/b` of `owner`, an organization or a user (which one is learnt once per owner).
 */
export class GhcrPackages {
  private readonly base: string;
  private readonly retry: RetryPolicy;
  private readonly logger: Logger;
  private readonly perPage: number;
  /** Per owner: which path prefix answered. */
  private readonly kinds = new Map<string, OwnerKind>();
  /** Per repository: the last listing's version ids by digest. */
  private readonly ids = new Map<string, Map<string, number>>();

  constructor(private readonly options: GhcrPackagesOptions) {
    let url: URL;
    try {
      url = new URL(options.apiUrl);
    } catch {
      throw new RuntimeError(`GitHub Packages API: invalid URL ${JSON.stringify(options.apiUrl)}`);
    }
    assertSecureUrl(url, 'GitHub Packages API');
    this.base = url.toString().replace(/\/+$/, '');
    this.retry = options.retry ?? DEFAULT_RETRY;
    this.logger = options.logger;
    this.perPage = Math.min(100, Math.max(1, Math.floor(options.perPage ?? 100)));
  }

  /**
   * Every active version of the repository's package ([] when no such package exists), through
   * the owner's known kind, else the org path then the user path.
   */
  async listVersions(repository: string): Promise<PackageVersion[]> {
    const { owner, pkg } = packageOf(repository);
    const versions: PackageVersion[] = [];
    const known = this.kinds.get(owner);
    const order: OwnerKind[] = known ? [known] : ['orgs', 'users'];
    for (const kind of order) {
      const first = `${this.versionsUrl(kind, owner, pkg)}?per_page=${this.perPage}&state=active`;
      if (await this.listFrom(first, versions)) {
        this.kinds.set(owner, kind);
        break;
      }
    }
    this.ids.set(repository, new Map(versions.map((v) => [v.digest, v.id])));
    return versions;
  }

  /**
   * Deletes the package version holding `digest`: its id from the last listing, else from a
   * new one. A 403/404 (no admin right, version or package gone) is a refusal, not an error.
   */
  async deleteVersion(repository: string, digest: string): Promise<VersionDeletion> {
    const { owner, pkg } = packageOf(repository);
    let id = this.ids.get(repository)?.get(digest);
    if (id === undefined) {
      await this.listVersions(repository);
      id = this.ids.get(repository)?.get(digest);
    }
    const kind = this.kinds.get(owner);
    if (id === undefined || !kind)
      return { deleted: false, reason: `no package version of ${repository} holds ${digest}` };
    const url = `${this.versionsUrl(kind, owner, pkg)}/${id}`;
    const res = await this.send(url, 'DELETE');
    if (res.status === 204 || res.status === 200) {
      await res.body?.cancel().catch(() => {});
      this.ids.get(repository)?.delete(digest);
      return { deleted: true };
    }
    if (res.status === 403 || res.status === 404) {
      const detail = await errorDetail(res);
      return {
        deleted: false,
        reason:
          res.status === 403
            ? `GitHub refused to delete package version ${id} (HTTP 403${detail ? ` ${detail}` : ''}): the token needs packages: write and admin access to the package ${owner}/${pkg}`
            : `package version ${id} of ${owner}/${pkg} is gone (HTTP 404)`,
      };
    }
    throw await this.failure(res, 'DELETE', url, 'packages: write');
  }

  /** Follows `Link rel="next"`; false when the first page is a 404 (no such owner or package). */
  private async listFrom(first: string, into: PackageVersion[]): Promise<boolean> {
    const seen = new Set<string>();
    for (let next: string | undefined = first; next && !seen.has(next);) {
      const firstPage = seen.size === 0;
      seen.add(next);
      const res = await this.send(next, 'GET');
      if (res.status === 404 && firstPage) {
        await res.body?.cancel().catch(() => {});
        return false;
      }
      if (!res.ok) throw await this.failure(res, 'GET', next, 'packages: read');
      const text = await res.text();
      let page: unknown;
      try {
        page = JSON.parse(text);
      } catch {
        throw new RuntimeError(`GitHub Packages API: ${next} answered invalid JSON`);
      }
      if (!Array.isArray(page))
        throw new RuntimeError(`GitHub Packages API: ${next} did not answer a list of versions`);
      for (const v of page as RawVersion[]) {
        const version = versionOf(v);
        if (version) into.push(version);
      }
      const link = nextLink(res.headers.get('link'));
      next = link ? new URL(link, next).toString() : undefined;
    }
    return true;
  }

  private versionsUrl(kind: OwnerKind, owner: string, pkg: string): string {
    return `${this.base}/${kind}/${encodeURIComponent(owner)}/packages/container/${encodeURIComponent(pkg)}/versions`;
  }

  private send(url: string, method: string): Promise<Response> {
    const headers: Record<string, string> = {
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': API_VERSION,
      'User-Agent': 'eol-gate',
    };
    if (this.options.token) headers.Authorization = `Bearer ${this.options.token}`;
    return fetchWithRetry(url, { method, headers }, this.retry, {
      service: 'GitHub Packages API',
      logger: this.logger,
      // A primary rate limit is a 403 with no requests left: wait for its reset like a 429.
      retryable: (res) =>
        RETRYABLE_STATUS.has(res.status) ||
        (res.status === 403 && res.headers.get('x-ratelimit-remaining') === '0'),
      waitHint: (res, now) => resetHeaderWaitMs(res.headers, 'x-ratelimit-reset', now),
    });
  }

  private async failure(res: Response, method: string, url: string, needs: string): Promise<Error> {
    const error = new HttpStatusError(res.status, method, url, await errorDetail(res));
    if (res.status === 401 || res.status === 403) {
      return new RuntimeError(
        `GitHub Packages API: ${error.message}. The token (the registry password, else the job's GitHub token) needs ${needs} on the package${needs === 'packages: read' ? '' : ' and admin access to it'}; a workflow's GITHUB_TOKEN gets it with "permissions: packages: ${needs === 'packages: read' ? 'read' : 'write'}"`,
      );
    }
    return error;
  }
}

interface RawVersion {
  id?: unknown;
  name?: unknown;
  created_at?: unknown;
  metadata?: { container?: { tags?: unknown } };
}

function versionOf(v: RawVersion): PackageVersion | undefined {
  if (!v || typeof v.id !== 'number' || typeof v.name !== 'string') return undefined;
  if (!/^sha256:[a-f0-9]{64}$/.test(v.name)) return undefined;
  const tags = v.metadata?.container?.tags;
  return {
    id: v.id,
    digest: v.name,
    tags: Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [],
    createdAt: typeof v.created_at === 'string' ? v.created_at : '',
  };
}

/** `owner/a/b` → owner `owner`, package `a/b`. */
export function packageOf(repository: string): { owner: string; pkg: string } {
  const slash = repository.indexOf('/');
  if (slash <= 0 || slash === repository.length - 1)
    throw new RuntimeError(
      `GHCR repository ${JSON.stringify(repository)}: expected <owner>/<package>`,
    );
  return { owner: repository.slice(0, slash), pkg: repository.slice(slash + 1) };
}
