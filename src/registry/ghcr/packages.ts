import { InputError, RuntimeError } from '../../core/errors.js';
import type { Clock, Logger } from '../../core/ports.js';
import { GitHubService } from '../../services/github.js';
import { HttpStatusError, type RetryPolicy } from '../../util/http.js';

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
  retry?: Partial<RetryPolicy>;
  logger: Logger;
  clock?: Clock;
  /** Versions per page (default 100, the API's maximum). */
  perPage?: number;
}

/** Owners' kinds in the API's paths. */
type OwnerKind = 'orgs' | 'users';

/**
 * The GitHub Packages API for GHCR's container packages, through the one GitHub client: every
 * version (tagged or not, with its push time), and version deletes (GHCR refuses manifest
 * DELETE). A repository `owner/a/b` is package `a/b` of `owner`, an organization or a user
 * (which one is learnt once per owner).
 */
export class GhcrPackages {
  private readonly gh: GitHubService;
  private readonly perPage: number;
  /** Per owner: which path prefix answered. */
  private readonly kinds = new Map<string, OwnerKind>();
  /** Per repository: the last listing's version ids by digest. */
  private readonly ids = new Map<string, Map<string, number>>();

  constructor(options: GhcrPackagesOptions) {
    this.gh = new GitHubService({
      ...options,
      apiUrlName: 'GitHub Packages API',
      label: 'GitHub Packages API',
      // The registry password, else the job's GitHub token; a workflow's GITHUB_TOKEN gets it
      // with "permissions: packages: read" (write to delete).
      permissions: (method) =>
        method === 'GET'
          ? 'packages: read on the package'
          : 'packages: write and admin access to the package',
    });
    this.perPage = Math.min(100, Math.max(1, Math.floor(options.perPage ?? 100)));
  }

  /**
   * Every active version of the repository's package ([] when no such package exists), through
   * the owner's known kind, else the org path then the user path.
   */
  async listVersions(repository: string): Promise<PackageVersion[]> {
    const { owner, pkg } = packageOf(repository);
    let versions: PackageVersion[] = [];
    const known = this.kinds.get(owner);
    for (const kind of known ? [known] : (['orgs', 'users'] as const)) {
      const found = await this.listFrom(this.versionsPath(kind, owner, pkg), repository);
      if (found) {
        this.kinds.set(owner, kind);
        versions = found;
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
    if (!this.ids.get(repository)?.has(digest)) await this.listVersions(repository);
    const id = this.ids.get(repository)?.get(digest);
    const kind = this.kinds.get(owner);
    if (id === undefined || !kind)
      return { deleted: false, reason: `no package version of ${repository} holds ${digest}` };
    const status = await this.gh
      .request('DELETE', `${this.versionsPath(kind, owner, pkg)}/${id}`, { allow: [404] })
      .then(
        (answer) => answer.status,
        (e: unknown) => {
          // A refused permission is the client's InputError; here it only means "not deleted".
          const cause = e instanceof InputError ? e.cause : undefined;
          if (cause instanceof HttpStatusError && cause.status === 403) return cause;
          throw e;
        },
      );
    if (status instanceof HttpStatusError)
      return {
        deleted: false,
        reason: `GitHub refused to delete package version ${id} (${status.message}): the token needs packages: write and admin access to the package ${owner}/${pkg}`,
      };
    if (status === 404)
      return {
        deleted: false,
        reason: `package version ${id} of ${owner}/${pkg} is gone (HTTP 404)`,
      };
    this.ids.get(repository)?.delete(digest);
    return { deleted: true };
  }

  /** Every page of a versions listing; undefined when its first page is a 404 (no such owner or package). */
  private async listFrom(path: string, repository: string): Promise<PackageVersion[] | undefined> {
    const query = { per_page: this.perPage, state: 'active' };
    const first = await this.gh.request('GET', path, { query, allow: [404] });
    if (first.status === 404) return undefined;
    const what = `the package versions of ${repository}`;
    // A package of nightly builds may hold far more versions than a marker listing has refs.
    const rest = first.next
      ? await this.gh.pages(first.next, what, (d) => versionsOf(d, what), { maxPages: 10_000 })
      : [];
    return [...versionsOf(first.data, what), ...rest];
  }

  private versionsPath(kind: OwnerKind, owner: string, pkg: string): string {
    return `/${kind}/${encodeURIComponent(owner)}/packages/container/${encodeURIComponent(pkg)}/versions`;
  }
}

function versionsOf(page: unknown, what: string): PackageVersion[] {
  if (!Array.isArray(page))
    throw new RuntimeError(`GitHub Packages API: ${what}: not a list of versions`);
  return (page as RawVersion[]).flatMap((v) => versionOf(v) ?? []);
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
