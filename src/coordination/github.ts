import { InputError, RuntimeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { assertGroupName, joinMarkers, type RawMarker, type RunStatus } from '../core/protocol.js';
import { assertSecureUrl, errorDetail, retryAfterMs, type RetryPolicy } from '../util/http.js';
import {
  type CoordinationStore,
  type GroupRun,
  type MarkerState,
  type RunIdentity,
} from './port.js';
import { RestClient, resetHeaderWaitMs, type RateLimitVerdict } from './rest.js';

export interface GitHubStoreOptions {
  /** `GITHUB_API_URL` (GHES: https://host/api/v3); http only for loopback. */
  apiUrl: string;
  owner: string;
  repo: string;
  /** `GITHUB_RUN_ID`. */
  runId: string | number;
  /** `GITHUB_RUN_ATTEMPT`: markers of older attempts are ignored by everyone. */
  runAttempt: number;
  /** `GITHUB_SHA`: the commit the marker refs point at (any existing commit works). */
  sha: string;
  /** Needs `contents: write` (refs) and `actions: read` (run status). Never logged. */
  token: string;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  readBack?: { attempts?: number; delayMs?: number };
  now?: () => number;
  /** Wait for a secondary rate limit that gave no `retry-after` (GitHub: at least a minute). */
  secondaryRateLimitWaitMs?: number;
}

const PERMISSIONS_HINT =
  'the token needs `contents: write` (markers are git refs) and `actions: read` (run status); ' +
  'in a workflow: `permissions: { contents: write, actions: read }`';

interface GitRef {
  ref: string;
  object?: { sha?: string };
}

interface WorkflowRun {
  id: number;
  status?: string;
  run_attempt?: number;
  html_url?: string;
  run_started_at?: string;
  created_at?: string;
  name?: string;
  display_title?: string;
}

/** `refs/eol-gate/<group>/<runId>.<attempt>.<state>` → its parts; undefined for foreign refs. */
export function parseMarkerRef(group: string, ref: string): RawMarker | undefined {
  const prefix = `refs/eol-gate/${group}/`;
  if (!ref.startsWith(prefix)) return undefined;
  const m = /^(\d+)\.(\d+)\.(publishing|image-info-updated)$/.exec(ref.slice(prefix.length));
  return m ? { runId: m[1], attempt: Number(m[2]), state: m[3] as MarkerState } : undefined;
}

export function markerRef(
  group: string,
  runId: string,
  attempt: number,
  state: MarkerState,
): string {
  return `refs/eol-gate/${group}/${runId}.${attempt}.${state}`;
}

/**
 * Markers as git refs, one per (run, attempt, state), all found with one `matching-refs` call;
 * liveness from the Actions API. Refs of finished runs are deleted by whoever sees them.
 */
export class GitHubStore implements CoordinationStore {
  readonly kind = 'github' as const;
  readonly self: RunIdentity;
  private readonly api: string;
  private readonly client: RestClient;
  private readonly logger?: Logger;
  private readonly readBack: { attempts: number; delayMs: number };
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: GitHubStoreOptions) {
    let url: URL;
    try {
      url = new URL(options.apiUrl);
    } catch {
      throw new InputError(`apiUrl: not a URL: ${JSON.stringify(options.apiUrl)}`);
    }
    assertSecureUrl(url, 'apiUrl');
    if (!/^[A-Za-z0-9_.-]+$/.test(options.owner) || !/^[A-Za-z0-9_.-]+$/.test(options.repo)) {
      throw new InputError(
        `repository: expected owner/name, got ${JSON.stringify(`${options.owner}/${options.repo}`)}`,
      );
    }
    if (!/^\d+$/.test(String(options.runId)))
      throw new InputError(`runId: expected a number, got ${JSON.stringify(options.runId)}`);
    if (!Number.isInteger(options.runAttempt) || options.runAttempt < 1) {
      throw new InputError(
        `runAttempt: expected a positive integer, got ${JSON.stringify(options.runAttempt)}`,
      );
    }
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(options.sha))
      throw new InputError(`sha: expected a commit id, got ${JSON.stringify(options.sha)}`);
    if (!options.token) throw new InputError('token: missing (GITHUB_TOKEN)');
    this.api = `${url.toString().replace(/\/+$/, '')}/repos/${options.owner}/${options.repo}`;
    this.logger = options.logger;
    this.self = { runId: String(options.runId), attempt: options.runAttempt };
    this.readBack = {
      attempts: options.readBack?.attempts ?? 8,
      delayMs: options.readBack?.delayMs ?? 250,
    };
    this.sleep = options.retry?.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    const secondaryWait = options.secondaryRateLimitWaitMs ?? 60_000;
    this.client = new RestClient({
      service: 'GitHub',
      headers: {
        authorization: `Bearer ${options.token}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'user-agent': 'eol-gate',
      },
      retry: options.retry,
      logger: options.logger,
      now: options.now,
      rateLimit: (res, now) => githubRateLimit(res, now, secondaryWait),
    });
  }

  private own(group: string, state: MarkerState): string {
    return markerRef(group, this.self.runId, this.self.attempt, state);
  }

  async signal(group: string, state: MarkerState): Promise<void> {
    assertGroupName(group);
    const want = this.own(group, state);
    const clear = state === 'publishing' ? this.own(group, 'image-info-updated') : undefined;
    // Clear first: in between, the run shows neither marker, which blocks nobody, and it has
    // not pushed anything yet (signal returns before the first push).
    if (clear) await this.deleteRef(clear, `signal ${state}`);
    await this.createRef(want, `signal ${state}`);
    const prefix = `eol-gate/${group}/${this.self.runId}.${this.self.attempt}.`;
    let delay = this.readBack.delayMs;
    for (let i = 0; i < this.readBack.attempts; i++) {
      const refs = (await this.matchingRefs(prefix)).map((r) => r.ref);
      if (refs.includes(want) && (!clear || !refs.includes(clear))) return;
      await this.sleep(delay);
      delay = Math.min(delay * 2, 4000);
    }
    throw new RuntimeError(
      `GitHub: signal ${state}: ${want} did not show in matching-refs after ${this.readBack.attempts} reads`,
    );
  }

  async listRuns(group: string): Promise<GroupRun[]> {
    const { refs, runs } = await this.snapshot(group);
    // Whoever sees refs of finished runs deletes them (best effort: they no longer count).
    for (const ref of staleRefs(refs, runs, undefined)) {
      await this.deleteRef(ref, 'cleanup').catch((e) =>
        this.logger?.debug(`GitHub: could not delete ${ref}: ${(e as Error).message}`),
      );
    }
    return runs;
  }

  async cleanup(group: string): Promise<void> {
    try {
      const { refs, runs } = await this.snapshot(group);
      for (const ref of staleRefs(refs, runs, this.self.runId))
        await this.deleteRef(ref, 'cleanup');
    } catch (e) {
      this.logger?.warning(`GitHub: could not clean up eol-gate refs: ${(e as Error).message}`);
    }
  }

  private async snapshot(
    group: string,
  ): Promise<{ refs: Array<{ ref: string; marker: RawMarker }>; runs: GroupRun[] }> {
    assertGroupName(group);
    const refs: Array<{ ref: string; marker: RawMarker }> = [];
    for (const r of await this.matchingRefs(`eol-gate/${group}/`)) {
      const marker = parseMarkerRef(group, r.ref);
      if (marker) refs.push({ ref: r.ref, marker });
      else this.logger?.debug(`GitHub: ignoring foreign ref ${r.ref}`);
    }
    const status = new Map<string, RunStatus | undefined>();
    // Sequential on purpose: GitHub's secondary limits punish concurrent bursts. This run is
    // alive by definition (and never blocks itself), so it costs no request.
    for (const runId of new Set(refs.map((r) => r.marker.runId))) {
      status.set(
        runId,
        runId === this.self.runId
          ? { alive: true, attempt: this.self.attempt }
          : await this.runStatus(runId),
      );
    }
    return {
      refs,
      runs: joinMarkers(
        refs.map((r) => r.marker),
        status,
      ),
    };
  }

  /** GET /repos/{owner}/{repo}/git/matching-refs/{ref} (one call; follows `Link: next` if sent). */
  private async matchingRefs(prefix: string): Promise<GitRef[]> {
    let url: string | undefined =
      `${this.api}/git/matching-refs/${prefix.split('/').map(encodeURIComponent).join('/')}`;
    const all: GitRef[] = [];
    for (let page = 0; url && page < 100; page++) {
      const res = await this.client.request('GET', url);
      await this.assertAuthorized(res, 'list marker refs');
      const body = await this.client.json<unknown>('GET', url, res);
      if (!Array.isArray(body))
        throw new RuntimeError('GitHub: matching-refs did not answer a list');
      all.push(...(body as GitRef[]));
      url = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
    }
    // A list cut short would hide a publishing run (invariant 5): fail instead.
    if (url) throw new RuntimeError(`GitHub: matching-refs ${prefix} has more than 100 pages`);
    return all;
  }

  /** POST /repos/{owner}/{repo}/git/refs; 422 "Reference already exists" means done. */
  private async createRef(ref: string, what: string): Promise<void> {
    const url = `${this.api}/git/refs`;
    const res = await this.client.request('POST', url, { ref, sha: this.options.sha });
    await this.assertAuthorized(res, `${what} (create ${ref})`);
    if (res.status === 201) {
      await res.body?.cancel().catch(() => {});
      return;
    }
    const detail = await errorDetail(res);
    if (res.status === 422 && /already exists/i.test(detail)) return;
    throw new RuntimeError(
      `GitHub: ${what}: POST ${url} for ${ref} failed: HTTP ${res.status} ${detail}`,
    );
  }

  /** DELETE /repos/{owner}/{repo}/git/refs/{ref}; a ref that is already gone (422/404) is fine. */
  private async deleteRef(ref: string, what: string): Promise<void> {
    const path = ref
      .replace(/^refs\//, '')
      .split('/')
      .map(encodeURIComponent)
      .join('/');
    const url = `${this.api}/git/refs/${path}`;
    const res = await this.client.request('DELETE', url);
    await this.assertAuthorized(res, `${what} (delete ${ref})`);
    if (res.status === 204 || res.status === 404 || res.status === 422) {
      await res.body?.cancel().catch(() => {});
      return;
    }
    throw new RuntimeError(
      `GitHub: ${what}: DELETE ${url} failed: HTTP ${res.status} ${await errorDetail(res)}`,
    );
  }

  /** GET /repos/{owner}/{repo}/actions/runs/{run_id}; a run GitHub no longer has is finished. */
  private async runStatus(runId: string): Promise<RunStatus | undefined> {
    const url = `${this.api}/actions/runs/${runId}`;
    const res = await this.client.request('GET', url);
    await this.assertAuthorized(res, `read the status of run ${runId}`);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    const run = await this.client.json<WorkflowRun>('GET', url, res);
    if (typeof run.status !== 'string' || typeof run.run_attempt !== 'number') {
      throw new RuntimeError(`GitHub: run ${runId}: response without status / run_attempt`);
    }
    return {
      alive: run.status !== 'completed',
      attempt: run.run_attempt,
      since: run.run_started_at ?? run.created_at,
      url: run.html_url,
      name: run.display_title ?? run.name,
    };
  }

  /** 401/403 that are not rate limits (those were retried already) name the missing permission. */
  private async assertAuthorized(res: Response, what: string): Promise<void> {
    if (res.status !== 401 && res.status !== 403) return;
    const detail = await errorDetail(res);
    const reason = res.status === 401 ? 'rejected the token' : 'denied access';
    throw new InputError(
      `GitHub ${reason} (HTTP ${res.status}) when trying to ${what}: ${PERMISSIONS_HINT}${detail ? `. Server said: ${detail}` : ''}`,
    );
  }
}

/**
 * GitHub rate limits (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api):
 * primary = 403/429 with `x-ratelimit-remaining: 0`, wait until `x-ratelimit-reset` (epoch s);
 * secondary = 403/429 with `retry-after` (seconds), or, without it, a message naming the
 * secondary limit: wait at least a minute. A 2xx that spent the last request pauses the next.
 */
async function githubRateLimit(
  res: Response,
  now: number,
  secondaryWaitMs: number,
): Promise<RateLimitVerdict> {
  const remaining = res.headers.get('x-ratelimit-remaining');
  const reset = resetHeaderWaitMs(res.headers, 'x-ratelimit-reset', now);
  if (res.ok) {
    return remaining === '0' && reset !== undefined
      ? { kind: 'pause', waitMs: reset, reason: 'primary rate limit spent' }
      : undefined;
  }
  if (res.status !== 403 && res.status !== 429) return undefined;
  const after = retryAfterMs(res.headers, now);
  if (after !== undefined)
    return {
      kind: 'retry',
      waitMs: after,
      reason: `secondary rate limit, retry-after ${Math.ceil(after / 1000)}s`,
    };
  if (remaining === '0' && reset !== undefined)
    return { kind: 'retry', waitMs: reset, reason: 'primary rate limit exhausted' };
  const text = await res
    .clone()
    .text()
    .catch(() => '');
  if (res.status === 429 || /rate limit/i.test(text))
    return { kind: 'retry', waitMs: secondaryWaitMs, reason: 'secondary rate limit' };
  return undefined;
}

/**
 * Refs that no longer count: every ref of a finished run, refs of a live run's older attempts
 * (attempt numbers only grow), and, at cleanup, this run's own.
 */
function staleRefs(
  refs: Array<{ ref: string; marker: RawMarker }>,
  runs: GroupRun[],
  own: string | undefined,
): string[] {
  const byRun = new Map(runs.map((r) => [r.runId, r]));
  return refs
    .filter(({ marker }) => {
      const run = byRun.get(marker.runId);
      return marker.runId === own || !run?.alive || marker.attempt < run.attempt;
    })
    .map((r) => r.ref);
}
