import { InputError, RuntimeError } from '../core/errors.js';
import {
  GitHubService,
  type GitHubRequest,
  type GitHubServiceOptions,
} from '../services/github.js';
import { HttpStatusError } from '../util/http.js';
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
  /** No leading slash. */
  path: string;
  /** A branch (writable); a tag or a commit sha also reads. */
  branch: string;
}

/** `apiUrl`: the hosts pass `GITHUB_API_URL`; default https://api.github.com. */
export type GitHubContentsOptions = Partial<
  Pick<GitHubServiceOptions, 'apiUrl' | 'token' | 'retry'>
>;

const COMMIT_SHA = /^[0-9a-f]{40}$/i;

/**
 * Reads resolve the branch to its head commit (git refs API) and read the file at that sha: a
 * contents read by branch name can be served from a cache for seconds after an update, hiding a
 * re-record from validation and reconcile; ref reads and reads at a sha are not cached. The blob
 * `sha` is the fingerprint (unrelated commits leave it) and the precondition of `PUT
 * .../contents/{path}`, which GitHub rejects (409) when the file moved on the branch.
 * https://docs.github.com/en/rest/repos/contents?apiVersion=2022-11-28
 */
export class GitHubContentsSource implements WritableImageInfoSource {
  private readonly gh: GitHubService;

  constructor(
    readonly location: GitHubLocation,
    options: GitHubContentsOptions = {},
  ) {
    this.gh = new GitHubService({
      ...options,
      apiUrl: options.apiUrl ?? 'https://api.github.com',
      apiUrlName: 'GITHUB_API_URL',
      label: this.name,
      permissions: (method) => {
        const need = method === 'GET' ? 'contents: read' : 'contents: write';
        return `\`${need}\` on ${location.owner}/${location.repo} (workflow: \`permissions: { ${need} }\`)`;
      },
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

  async read(): Promise<SourceSnapshot> {
    const commit = await this.resolveCommit();
    const found = await this.readAt(commit);
    if (!found)
      throw new ImageInfoNotFoundError(
        `${this.name}: image-info not found (HTTP 404 at commit ${commit}: no such file, or the token cannot see it)`,
      );
    return found;
  }

  private get(path: string, req?: GitHubRequest) {
    return this.gh.request('GET', path, req).catch((e: unknown) => this.fail(e, 'read'));
  }

  /**
   * The file's commits from the branch head resolved once (a fixed sha keeps pages stable and is
   * never a cached by-name answer), each read like `read()`; a commit that deleted it is skipped.
   * https://docs.github.com/en/rest/commits/commits?apiVersion=2022-11-28#list-commits
   */
  async history(maxVersions: number): Promise<ImageInfoVersion[]> {
    if (maxVersions < 1) return [];
    const head = await this.resolveCommit();
    type Commit = { sha?: string; commit?: { committer?: { date?: string } } };
    const commits = await this.gh
      .pages(
        `${this.repoPath}/commits`,
        `the commits of ${this.name}`,
        (data) => data as Commit[],
        {
          query: { sha: head, path: this.location.path, per_page: Math.min(100, maxVersions) },
          enough: (all) => all.length >= maxVersions,
        },
      )
      .catch((e: unknown) => this.fail(e, 'read'));
    for (const c of commits)
      if (typeof c.sha !== 'string')
        throw new RuntimeError(`${this.name}: GitHub listed a commit without a sha`);
    const versions: ImageInfoVersion[] = [];
    for (const { sha, commit } of commits.slice(0, maxVersions)) {
      const found = await this.readAt(sha!);
      if (found) versions.push({ revision: sha!, date: commit?.committer?.date, text: found.text });
    }
    return versions;
  }

  private async readAt(commit: string): Promise<SourceSnapshot | undefined> {
    const answer = await this.get(this.contentsPath, { query: { ref: commit }, allow: [404] });
    if (answer.status === 404) return undefined;
    const body = answer.data as {
      type?: string;
      sha?: string;
      content?: string;
      encoding?: string;
      size?: number;
    };
    if (Array.isArray(body) || body.type !== 'file' || typeof body.sha !== 'string')
      throw new InputError(
        `${this.name}: not a file (GitHub returned ${Array.isArray(body) ? 'a directory' : `type ${JSON.stringify(body.type)}`})`,
      );
    const inline =
      body.encoding === 'base64' &&
      typeof body.content === 'string' &&
      (body.content !== '' || body.size === 0);
    // Files over 1 MB come without content (`encoding: "none"`). Fetch the blob by its sha
    // rather than the path or `download_url`: that is exactly the version the sha names, and
    // download_url (raw.githubusercontent.com) is CDN-cached, not read-your-writes.
    // https://docs.github.com/en/rest/git/blobs?apiVersion=2022-11-28#get-a-blob (up to 100 MB, raw media type)
    const bytes = inline
      ? Buffer.from(body.content!, 'base64')
      : ((await this.get(`${this.repoPath}/git/blobs/${body.sha}`, { raw: true })).data as Buffer);
    if (gitBlobId(bytes) !== body.sha)
      throw new RuntimeError(
        `${this.name}: content does not match blob sha ${body.sha} (truncated or altered response)`,
      );
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

  /** Undefined when there is no such ref. */
  private async readRef(ref: string): Promise<{ type?: string; sha?: string } | undefined> {
    const path = `${this.repoPath}/git/ref/${ref.split('/').map(encodeURIComponent).join('/')}`;
    // 404: no such ref; 409: the repository is empty (it has no refs at all).
    const answer = await this.get(path, { allow: [404, 409] });
    if (answer.status === 404 || answer.status === 409) return undefined;
    const object = (answer.data as { object?: { type?: string; sha?: string } }).object;
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
      const answer = await this.get(path);
      object = (answer.data as { object?: typeof object }).object ?? {};
      if (typeof object.sha !== 'string')
        throw new RuntimeError(`${this.name}: GitHub returned a tag without an object sha`);
    }
    if (object.type !== undefined && object.type !== 'commit')
      throw new InputError(
        `${this.name}: ${this.location.branch} names a ${object.type}, not a commit`,
      );
    return object.sha!;
  }

  async write(
    text: string,
    expectedFingerprint: string,
    message: string,
  ): Promise<SourceSnapshot | 'conflict'> {
    if (COMMIT_SHA.test(this.location.branch))
      throw new InputError(`${this.name}: a commit sha can be read, not written; name a branch`);
    const body = {
      message,
      content: Buffer.from(text, 'utf8').toString('base64'),
      branch: this.location.branch,
      // Without `sha` GitHub only creates: an existing file answers 422 "sha wasn't supplied".
      sha: expectedFingerprint === ABSENT_FINGERPRINT ? undefined : expectedFingerprint,
    };
    // A retried PUT whose first try landed answers 409 (the sha moved, to our own content): the
    // caller re-reads, re-merges, finds nothing to change. So retrying a PUT is safe.
    try {
      const res = await this.gh.request('PUT', this.contentsPath, { body });
      const out = res.data as { content?: { sha?: string } } | undefined;
      return { text, fingerprint: out?.content?.sha ?? gitBlobId(text) };
    } catch (e) {
      if (!(e instanceof HttpStatusError)) throw e;
      // 422 about `sha`: "sha" wasn't supplied (the file appeared since we saw it absent) or a
      // sha that no longer matches.
      if (e.status === 409 || e.code === 'sha') return 'conflict';
      if (e.status === 422)
        throw new InputError(`${this.name}: GitHub rejected the update: ${e.message}`);
      return this.fail(e, 'write');
    }
  }

  /** An unexpected 404 is the user's to fix (no such repository or branch); the rest as mapped. */
  private fail(e: unknown, action: 'read' | 'write'): never {
    if (e instanceof HttpStatusError && e.status === 404)
      throw new InputError(
        `${this.name}: HTTP 404 on ${action}: no such repository or branch, or the token cannot see it`,
        { cause: e },
      );
    throw e;
  }
}
