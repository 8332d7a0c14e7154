import { InputError, RuntimeError } from '../core/errors.js';
import {
  assertSecureUrl,
  DEFAULT_RETRY,
  errorDetail,
  fetchWithRetry,
  HttpError,
  type RetryPolicy,
} from '../util/http.js';
import { gitBlobId } from './git-blob.js';
import {
  ABSENT_FINGERPRINT,
  ImageInfoNotFoundError,
  type SourceSnapshot,
  type WritableImageInfoSource,
} from './source.js';

export interface GitHubLocation {
  owner: string;
  repo: string;
  /** Path inside the repository, without a leading slash. */
  path: string;
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

/** 5xx/429 and GitHub's rate limits, which come as 403 with `Retry-After` or no quota left. */
function retryable(res: Response): boolean {
  if ([408, 429, 500, 502, 503, 504].includes(res.status)) return true;
  return (
    res.status === 403 &&
    (res.headers.has('retry-after') || res.headers.get('x-ratelimit-remaining') === '0')
  );
}

/**
 * An image-info in a GitHub repository, through the contents API: read-your-writes, and the
 * blob `sha` it returns is both the fingerprint (a content hash) and the precondition of
 * `PUT /repos/{owner}/{repo}/contents/{path}`, which GitHub rejects (409) when the file moved.
 * https://docs.github.com/en/rest/repos/contents?apiVersion=2022-11-28
 */
export class GitHubContentsSource implements WritableImageInfoSource {
  private readonly apiUrl: string;
  private readonly token?: string;
  private readonly retry: RetryPolicy;

  constructor(
    readonly location: GitHubLocation,
    options: GitHubContentsOptions = {},
  ) {
    const api = new URL(options.apiUrl ?? 'https://api.github.com');
    assertSecureUrl(api, 'GITHUB_API_URL');
    this.apiUrl = api.toString().replace(/\/+$/, '');
    this.token = options.token;
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

  get name(): string {
    const { owner, repo, path, branch } = this.location;
    return `github:${owner}/${repo}/${path}@${branch}`;
  }

  private get repoUrl(): string {
    const { owner, repo } = this.location;
    return `${this.apiUrl}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}`;
  }

  private get contentsUrl(): string {
    return `${this.repoUrl}/contents/${this.location.path.split('/').map(encodeURIComponent).join('/')}`;
  }

  private headers(accept = 'application/vnd.github+json'): Record<string, string> {
    const h: Record<string, string> = {
      accept,
      'x-github-api-version': API_VERSION,
      'user-agent': 'eol-gate',
    };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  }

  async read(): Promise<SourceSnapshot> {
    const url = `${this.contentsUrl}?ref=${encodeURIComponent(this.location.branch)}`;
    const res = await fetchWithRetry(url, { headers: this.headers() }, this.retry, retryable);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      throw new ImageInfoNotFoundError(
        `${this.name}: image-info not found (HTTP 404: no such file, branch or repository, or the token cannot see it)`,
      );
    }
    if (!res.ok) await this.fail(res, 'GET', url, 'read');
    const body = (await res.json()) as {
      type?: string;
      sha?: string;
      content?: string;
      encoding?: string;
      size?: number;
    };
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

  private async readBlob(sha: string): Promise<Buffer> {
    // https://docs.github.com/en/rest/git/blobs?apiVersion=2022-11-28#get-a-blob (up to 100 MB, raw media type)
    const url = `${this.repoUrl}/git/blobs/${sha}`;
    const res = await fetchWithRetry(
      url,
      { headers: this.headers('application/vnd.github.raw+json') },
      this.retry,
      retryable,
    );
    if (!res.ok) await this.fail(res, 'GET', url, 'read');
    return Buffer.from(await res.arrayBuffer());
  }

  async write(
    text: string,
    expectedFingerprint: string,
    message: string,
  ): Promise<SourceSnapshot | 'conflict'> {
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
    const res = await fetchWithRetry(
      this.contentsUrl,
      {
        method: 'PUT',
        headers: { ...this.headers(), 'content-type': 'application/json' },
        body: JSON.stringify(body),
      },
      this.retry,
      retryable,
    );
    if (res.status === 200 || res.status === 201) {
      const out = (await res.json()) as { content?: { sha?: string } };
      return { text, fingerprint: out.content?.sha ?? gitBlobId(text) };
    }
    if (res.status === 409) {
      await res.body?.cancel().catch(() => {});
      return 'conflict';
    }
    if (res.status === 422) {
      const detail = await errorDetail(res);
      // "sha" wasn't supplied (file appeared since we saw it absent) or a sha that no longer matches.
      if (/\bsha\b/i.test(detail)) return 'conflict';
      throw new InputError(`${this.name}: GitHub rejected the update (HTTP 422 ${detail})`);
    }
    return this.fail(res, 'PUT', this.contentsUrl, 'write');
  }

  private async fail(
    res: Response,
    method: string,
    url: string,
    action: 'read' | 'write',
  ): Promise<never> {
    const detail = await errorDetail(res);
    if (res.status === 401)
      throw new InputError(`${this.name}: GitHub rejected the token (HTTP 401 ${detail})`);
    if (res.status === 403 && !retryable(res)) {
      const need = action === 'write' ? 'contents: write' : 'contents: read';
      throw new InputError(
        `${this.name}: HTTP 403 on ${action}: the token lacks \`${need}\` permission on ${this.location.owner}/${this.location.repo} ` +
          `(workflow: \`permissions: { ${need} }\`) (${detail})`,
      );
    }
    if (res.status === 404) {
      throw new InputError(
        `${this.name}: HTTP 404 on ${action}: no such repository or branch, or the token cannot see it`,
      );
    }
    throw new HttpError(res.status, method, url, detail);
  }
}
