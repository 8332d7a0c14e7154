import { InputError, RuntimeError } from '../core/errors.js';
import {
  githubClient,
  isRateLimit,
  isRequestError,
  requestErrorDetail,
  type GitHubClient,
  type RequestError,
} from '../util/github.js';
import { assertSecureUrl, HttpStatusError, type RetryPolicy } from '../util/http.js';
import { gitBlobId } from './git-blob.js';
import {
  ABSENT_FINGERPRINT,
  ImageInfoNotFoundError,
  type ImageInfoVersion,
  type SourceSnapshot,
  type WritableImageInfoSource,
} from './source.js';

export interface GitHubLocation {
  owner: string;
  repo: string;
  /** Path inside the repository, without a leading slash. */
  path: string;
  /** A branch (writable); a tag or a commit sha also reads. */
  branch: string;
}

export interface GitHubContentsOptions {
  /** REST API base URL; the hosts pass `GITHUB_API_URL`. Default https://api.github.com. */
  apiUrl?: string;
  /** Sent as `Authorization: Bearer`; never logged. */
  token?: string;
  retry?: RetryPolicy;
}

const API_VERSION = '2022-11-28';

/** A full commit sha: a ref that already names a commit. */
const COMMIT_SHA = /^[0-9a-f]{40}$/i;

/**
 * An image-info in a GitHub repository, through the contents API. A read resolves the branch to
 * its head commit through the git refs API and reads the file at that sha: a contents read by
 * branch name can be answered from a cache for seconds after an update, which would hide a
 * re-record from validation and reconcile; a ref read and a read at a sha are not cached. The
 * blob `sha` is both the fingerprint (a content hash: commits that do not touch the file leave
 * it alone) and the precondition of `PUT /repos/{owner}/{repo}/contents/{path}`, which GitHub
 * rejects (409) when the file moved on the branch.
 * https://docs.github.com/en/rest/repos/contents?apiVersion=2022-11-28
 */
export class GitHubContentsSource implements WritableImageInfoSource {
  private readonly octokit: GitHubClient;

  constructor(
    readonly location: GitHubLocation,
    options: GitHubContentsOptions = {},
  ) {
    const api = new URL(options.apiUrl ?? 'https://api.github.com');
    assertSecureUrl(api, 'GITHUB_API_URL');
    this.octokit = githubClient({
      apiUrl: api.toString(),
      token: options.token,
      retry: options.retry,
    });
  }

  get name(): string {
    const { owner, repo, path, branch } = this.location;
    return `github:${owner}/${repo}/${path}@${branch}`;
  }

  private get repoPath(): string {
    const { owner, repo } = this.location;
    return `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;
  }

  private get contentsPath(): string {
    return `${this.repoPath}/contents/${this.location.path.split('/').map(encodeURIComponent).join('/')}`;
  }

  private get headers(): Record<string, string> {
    return { 'x-github-api-version': API_VERSION };
  }

  async read(): Promise<SourceSnapshot> {
    return this.readAt(await this.resolveCommit());
  }

  /**
   * The commits that touched the file, listed from the branch head resolved once (a fixed sha
   * keeps the pages stable while others push, and is never a cached by-name answer), each read
   * like `read()`. A commit that deleted the file has nothing to read and is skipped.
   * https://docs.github.com/en/rest/commits/commits?apiVersion=2022-11-28#list-commits
   */
  async history(maxVersions: number): Promise<ImageInfoVersion[]> {
    if (maxVersions < 1) return [];
    const head = await this.resolveCommit();
    const path = `${this.repoPath}/commits`;
    const commits: Array<{ sha: string; date?: string }> = [];
    try {
      const pages = this.octokit.paginate.iterator(`GET ${path}`, {
        sha: head,
        path: this.location.path,
        per_page: Math.min(100, maxVersions),
        headers: this.headers,
      });
      for await (const page of pages) {
        for (const c of page.data as Array<{
          sha?: string;
          commit?: { committer?: { date?: string } };
        }>) {
          if (typeof c.sha !== 'string')
            throw new RuntimeError(`${this.name}: GitHub listed a commit without a sha`);
          commits.push({ sha: c.sha, date: c.commit?.committer?.date });
        }
        if (commits.length >= maxVersions) break;
      }
    } catch (e) {
      return this.fail(e, 'GET', path, 'read');
    }
    const versions: ImageInfoVersion[] = [];
    for (const { sha, date } of commits.slice(0, maxVersions)) {
      try {
        const { text } = await this.readAt(sha);
        versions.push({ revision: sha, date, text });
      } catch (e) {
        if (!(e instanceof ImageInfoNotFoundError)) throw e;
      }
    }
    return versions;
  }

  /** The file at a commit; {@link ImageInfoNotFoundError} when it does not exist there. */
  private async readAt(commit: string): Promise<SourceSnapshot> {
    let body: { type?: string; sha?: string; content?: string; encoding?: string; size?: number };
    try {
      const res = await this.octokit.request(`GET ${this.contentsPath}`, {
        ref: commit,
        headers: this.headers,
      });
      body = res.data as typeof body;
    } catch (e) {
      if (isRequestError(e) && e.status === 404)
        throw new ImageInfoNotFoundError(
          `${this.name}: image-info not found (HTTP 404 at commit ${commit}: no such file, or the token cannot see it)`,
        );
      return this.fail(e, 'GET', this.contentsPath, 'read');
    }
    if (Array.isArray(body) || body.type !== 'file' || typeof body.sha !== 'string') {
      throw new InputError(
        `${this.name}: not a file (GitHub returned ${Array.isArray(body) ? 'a directory' : `type ${JSON.stringify(body.type)}`})`,
      );
    }
    let bytes: Buffer;
    if (
      body.encoding === 'base64' &&
      typeof body.content === 'string' &&
      (body.content !== '' || body.size === 0)
    ) {
      bytes = Buffer.from(body.content, 'base64');
    } else {
      // Files over 1 MB come without content (`encoding: "none"`). Fetch the blob by its sha
      // rather than the path or `download_url`: that is exactly the version the sha names, and
      // download_url (raw.githubusercontent.com) is CDN-cached, not read-your-writes.
      bytes = await this.readBlob(body.sha);
    }
    if (gitBlobId(bytes) !== body.sha) {
      throw new RuntimeError(
        `${this.name}: content does not match blob sha ${body.sha} (truncated or altered response)`,
      );
    }
    return { text: bytes.toString('utf8'), fingerprint: body.sha };
  }

  /**
   * The commit to read at: a full sha as given; else the branch head (`heads/`), else the tag
   * (`tags/`), through GET /repos/{owner}/{repo}/git/ref/{ref}, which matches exactly.
   * https://docs.github.com/en/rest/git/refs?apiVersion=2022-11-28#get-a-reference
   */
  private async resolveCommit(): Promise<string> {
    const { branch } = this.location;
    if (COMMIT_SHA.test(branch)) return branch.toLowerCase();
    for (const kind of ['heads', 'tags']) {
      const object = await this.readRef(`${kind}/${branch}`);
      if (object) return this.peel(object);
    }
    throw new ImageInfoNotFoundError(
      `${this.name}: image-info not found (no branch or tag ${JSON.stringify(branch)}, or the token cannot see the repository)`,
    );
  }

  /** What a ref points at, or undefined when there is no such ref. */
  private async readRef(ref: string): Promise<{ type?: string; sha?: string } | undefined> {
    const path = `${this.repoPath}/git/ref/${ref.split('/').map(encodeURIComponent).join('/')}`;
    let object: { type?: string; sha?: string } | undefined;
    try {
      const res = await this.octokit.request(`GET ${path}`, { headers: this.headers });
      object = (res.data as { object?: typeof object }).object;
    } catch (e) {
      // 404: no such ref; 409: the repository is empty (it has no refs at all).
      if (isRequestError(e) && (e.status === 404 || e.status === 409)) return undefined;
      return this.fail(e, 'GET', path, 'read');
    }
    if (typeof object?.sha !== 'string')
      throw new RuntimeError(`${this.name}: GitHub returned ref ${ref} without an object sha`);
    return object;
  }

  /** An annotated tag points at a tag object; follow it (and tags of tags) to the commit. */
  private async peel(object: { type?: string; sha?: string }): Promise<string> {
    for (let depth = 0; object.type === 'tag'; depth++) {
      if (depth === 8) throw new InputError(`${this.name}: tag chain too deep`);
      // https://docs.github.com/en/rest/git/tags?apiVersion=2022-11-28#get-a-tag
      const path = `${this.repoPath}/git/tags/${object.sha!}`;
      try {
        const res = await this.octokit.request(`GET ${path}`, { headers: this.headers });
        object = (res.data as { object?: typeof object }).object ?? {};
      } catch (e) {
        return this.fail(e, 'GET', path, 'read');
      }
      if (typeof object.sha !== 'string')
        throw new RuntimeError(`${this.name}: GitHub returned a tag without an object sha`);
    }
    if (object.type !== undefined && object.type !== 'commit')
      throw new InputError(
        `${this.name}: ${this.location.branch} names a ${object.type}, not a commit`,
      );
    return object.sha!;
  }

  private async readBlob(sha: string): Promise<Buffer> {
    // https://docs.github.com/en/rest/git/blobs?apiVersion=2022-11-28#get-a-blob (up to 100 MB, raw media type)
    const path = `${this.repoPath}/git/blobs/${sha}`;
    try {
      const res = await this.octokit.request(`GET ${path}`, {
        headers: { ...this.headers, accept: 'application/vnd.github.raw+json' },
        request: { parseSuccessResponseBody: false },
      });
      return Buffer.from(await new Response(res.data as ReadableStream).arrayBuffer());
    } catch (e) {
      return this.fail(e, 'GET', path, 'read');
    }
  }

  async write(
    text: string,
    expectedFingerprint: string,
    message: string,
  ): Promise<SourceSnapshot | 'conflict'> {
    if (COMMIT_SHA.test(this.location.branch))
      throw new InputError(`${this.name}: a commit sha can be read, not written; name a branch`);
    const creating = expectedFingerprint === ABSENT_FINGERPRINT;
    const body: Record<string, string> = {
      message,
      content: Buffer.from(text, 'utf8').toString('base64'),
      branch: this.location.branch,
    };
    // Without `sha` GitHub only creates: an existing file answers 422 "sha wasn't supplied".
    if (!creating) body.sha = expectedFingerprint;
    // A retried PUT whose first try landed answers 409 (the sha moved, to our own content): the
    // caller re-reads, re-merges, finds nothing to change. So retrying a PUT is safe.
    try {
      const res = await this.octokit.request(`PUT ${this.contentsPath}`, {
        ...body,
        headers: this.headers,
      });
      const out = res.data as { content?: { sha?: string } };
      return { text, fingerprint: out.content?.sha ?? gitBlobId(text) };
    } catch (e) {
      if (isRequestError(e) && e.status === 409) return 'conflict';
      if (isRequestError(e) && e.status === 422) {
        const detail = requestErrorDetail(e);
        // "sha" wasn't supplied (file appeared since we saw it absent) or a sha that no longer matches.
        if (/\bsha\b/i.test(detail)) return 'conflict';
        throw new InputError(`${this.name}: GitHub rejected the update (HTTP 422 ${detail})`);
      }
      return this.fail(e, 'PUT', this.contentsPath, 'write');
    }
  }

  private fail(e: unknown, method: string, path: string, action: 'read' | 'write'): never {
    if (!isRequestError(e)) throw e;
    const err: RequestError = e;
    const detail = requestErrorDetail(err);
    if (err.status === 401)
      throw new InputError(`${this.name}: GitHub rejected the token (HTTP 401 ${detail})`);
    if (err.status === 403 && !isRateLimit(err)) {
      const need = action === 'write' ? 'contents: write' : 'contents: read';
      throw new InputError(
        `${this.name}: HTTP 403 on ${action}: the token lacks \`${need}\` permission on ${this.location.owner}/${this.location.repo} ` +
          `(workflow: \`permissions: { ${need} }\`) (${detail})`,
      );
    }
    if (err.status === 404) {
      throw new InputError(
        `${this.name}: HTTP 404 on ${action}: no such repository or branch, or the token cannot see it`,
      );
    }
    throw new HttpStatusError(
      err.status,
      method,
      `${this.octokit.request.endpoint.DEFAULTS.baseUrl}${path}`,
      detail,
    );
  }
}
