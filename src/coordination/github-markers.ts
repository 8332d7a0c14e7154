import { RuntimeError } from '../core/errors.js';
import { markerName, parseMarkerName } from '../core/markers.js';
import type { RawMarker } from '../core/protocol.js';
import { HttpStatusError } from '../util/http.js';
import type { GitHubService } from '../services/github.js';
import type { CoverScope, MarkerState, ParticipantIdentity } from './port.js';

export const OWNER_OR_REPO = /^[A-Za-z0-9_.-]+$/;

export const COMMIT_ID = /^[0-9a-f]{40}([0-9a-f]{24})?$/;

/**
 * `refs/eol-gate/<group>/<marker>`, or `refs/eol-gate/<group>/<owner>/<repo>/<marker>` for a run of
 * another repository (then `repository` is set); undefined for foreign refs.
 */
export function parseMarkerRef(
  group: string,
  ref: string,
  coordinationRepository?: string,
): RawMarker | undefined {
  const prefix = `refs/eol-gate/${group}/`;
  if (!ref.startsWith(prefix)) return undefined;
  const parts = ref.slice(prefix.length).split('/');
  if (parts.length === 1) return parseMarkerName(parts[0]);
  const [owner, repo, name] = parts;
  if (parts.length !== 3 || !OWNER_OR_REPO.test(owner) || !OWNER_OR_REPO.test(repo))
    return undefined;
  const repository = `${owner}/${repo}`;
  return parseMarkerName(name, repository === coordinationRepository ? undefined : repository);
}

export function markerRef(
  group: string,
  who: ParticipantIdentity,
  state: MarkerState,
  scope: CoverScope,
  stamp: number,
  coordinationRepository?: string,
): string {
  const repo =
    who.repository && who.repository !== coordinationRepository ? `${who.repository}/` : '';
  return `refs/eol-gate/${group}/${repo}${markerName(who, state, scope, stamp)}`;
}

/** Listed with `matching-refs` (every page, conditional), created at a commit of the repository. */
export class MarkerRefs {
  private resolvedSha?: Promise<string>;

  constructor(
    private readonly gh: GitHubService,
    private readonly repository: string,
    /** A commit of the repository to point at; undefined: the head of its default branch. */
    private readonly sha: string | undefined,
    /** Markers live in another repository than the workflow's (EOL_GATE_MARKER_SHA may help). */
    private readonly elsewhere: boolean,
  ) {}

  list(prefix: string): Promise<Array<{ ref: string }>> {
    const path = prefix.split('/').map(encodeURIComponent).join('/');
    // The path keeps the prefix's trailing slash (without it `eol-gate/g` would list group `g2`).
    return this.gh.pages(
      `/repos/${this.repository}/git/matching-refs/${path}`,
      `matching-refs ${prefix}`,
      (data) => {
        if (!Array.isArray(data))
          throw new RuntimeError('GitHub: matching-refs did not answer a list');
        return data as Array<{ ref: string }>;
      },
      { query: { per_page: 100 }, conditional: true },
    );
  }

  /** POST /repos/{owner}/{repo}/git/refs; 422 "Reference already exists" means done. */
  async create(ref: string): Promise<void> {
    try {
      await this.gh.request('POST', `/repos/${this.repository}/git/refs`, {
        body: { ref, sha: await this.commit() },
      });
    } catch (e) {
      if (!(e instanceof HttpStatusError)) throw e;
      if (e.code === 'already-exists') return;
      if (e.code === 'no-object' && this.elsewhere)
        throw new RuntimeError(
          `GitHub: ${e.message} (the marker refs must point at a commit of the coordination repository; set EOL_GATE_MARKER_SHA to one of its commits)`,
        );
      throw e;
    }
  }

  /** DELETE /repos/{owner}/{repo}/git/refs/{ref}; a ref that is already gone (422/404) is fine. */
  async delete(ref: string): Promise<void> {
    const path = ref
      .replace(/^refs\//, '')
      .split('/')
      .map(encodeURIComponent)
      .join('/');
    await this.gh.request('DELETE', `/repos/${this.repository}/git/refs/${path}`, {
      allow: [404, 422],
    });
  }

  /**
   * Any commit of the coordination repository will do: the one given, else its default branch's
   * head, read once (GET /repos/{owner}/{repo}, then .../commits/{branch}; contents: read).
   */
  private commit(): Promise<string> {
    if (this.sha) return Promise.resolve(this.sha);
    this.resolvedSha ??= (async () => {
      const repo = (await this.gh.request('GET', `/repos/${this.repository}`)).data as {
        default_branch?: string;
      };
      const branch = encodeURIComponent(repo?.default_branch ?? 'main');
      const commit = (await this.gh.request('GET', `/repos/${this.repository}/commits/${branch}`))
        .data as { sha?: string } | undefined;
      if (!commit?.sha || !COMMIT_ID.test(commit.sha))
        throw new RuntimeError(
          `GitHub: no commit found on the default branch of ${this.repository} for the marker refs (set EOL_GATE_MARKER_SHA)`,
        );
      return commit.sha;
    })();
    return this.resolvedSha;
  }
}
