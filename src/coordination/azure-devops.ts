import { InputError, RuntimeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { assertGroupName } from '../core/protocol.js';
import { assertSecureUrl, errorDetail, retryAfterMs, type RetryPolicy } from '../util/http.js';
import {
  MARKER_STATES,
  type CoordinationStore,
  type GroupRun,
  type MarkerState,
  type RunIdentity,
} from './port.js';
import { RestClient, resetHeaderWaitMs, type RateLimitVerdict } from './rest.js';

export interface AzureDevOpsStoreOptions {
  /** `System.CollectionUri`, e.g. https://dev.azure.com/org/ (http only for loopback). */
  collectionUri: string;
  /** `System.TeamProject`: where this build lives. */
  project: string;
  /** `Build.BuildId`. */
  buildId: string | number;
  /** `System.JobAttempt`; tags belong to the build, so this only names the run in logs. */
  jobAttempt: number;
  /** `System.AccessToken`. Never logged. */
  token: string;
  /** Projects whose builds can be peers (default: the current one). */
  projects?: string[];
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** Read-back after a write: how many reads, and the first delay (doubles, capped at 4s). */
  readBack?: { attempts?: number; delayMs?: number };
  now?: () => number;
}

const API_VERSION = '7.1';
/**
 * Builds - List takes a BuildStatus flags value; every status except `completed`
 * (https://learn.microsoft.com/rest/api/azure/devops/build/builds/list?view=azure-devops-rest-7.1).
 * The response is filtered again client-side so a server that ignored the filter stays correct.
 */
export const LIVE_STATUS_FILTER = 'inProgress,cancelling,postponed,notStarted';
const MAX_PAGES = 1000;

export function azureDevOpsTag(group: string, state: MarkerState): string {
  return `eol-gate.${group}.${state}`;
}

/** The subset of the Build resource we read. */
interface AdoBuild {
  id: number;
  status?: string;
  tags?: string[];
  startTime?: string;
  queueTime?: string;
  buildNumber?: string;
  definition?: { name?: string };
  project?: { name?: string };
  _links?: { web?: { href?: string } };
}

/** Collection responses come as `{ count, value }`; some endpoints document a bare array. */
function listValue<T>(body: unknown): T[] {
  if (Array.isArray(body)) return body as T[];
  const value = (body as { value?: unknown } | null)?.value;
  if (Array.isArray(value)) return value as T[];
  throw new RuntimeError(`Azure DevOps: unexpected response shape (expected a list)`);
}

/**
 * Markers as tags on Azure Pipelines builds, through the REST API (never the
 * `##vso[build.addbuildtag]` logging command, which the agent applies after the step).
 * Liveness comes from the build status; tags of completed builds are simply not listed.
 */
export class AzureDevOpsStore implements CoordinationStore {
  readonly kind = 'azure-devops' as const;
  readonly self: RunIdentity;
  private readonly base: string;
  private readonly projects: string[];
  private readonly client: RestClient;
  private readonly logger?: Logger;
  private readonly readBack: { attempts: number; delayMs: number };
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: AzureDevOpsStoreOptions) {
    let url: URL;
    try {
      url = new URL(options.collectionUri);
    } catch {
      throw new InputError(`collectionUri: not a URL: ${JSON.stringify(options.collectionUri)}`);
    }
    assertSecureUrl(url, 'collectionUri');
    if (!options.project) throw new InputError('project: missing (System.TeamProject)');
    if (!/^\d+$/.test(String(options.buildId))) {
      throw new InputError(
        `buildId: expected a number (Build.BuildId), got ${JSON.stringify(options.buildId)}`,
      );
    }
    if (!options.token) throw new InputError('token: missing (System.AccessToken)');
    this.base = url.toString().replace(/\/+$/, '');
    this.projects = options.projects?.length ? [...new Set(options.projects)] : [options.project];
    this.logger = options.logger;
    this.self = {
      runId: String(options.buildId),
      attempt: options.jobAttempt,
      url: this.buildWebUrl(options.project),
    };
    this.readBack = {
      attempts: options.readBack?.attempts ?? 8,
      delayMs: options.readBack?.delayMs ?? 250,
    };
    this.sleep = options.retry?.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.client = new RestClient({
      service: 'Azure DevOps',
      headers: {
        authorization: `Bearer ${options.token}`,
        accept: `application/json;api-version=${API_VERSION}`,
      },
      retry: options.retry,
      logger: options.logger,
      now: options.now,
      rateLimit: adoRateLimit,
    });
  }

  private buildWebUrl(project: string): string {
    return `${this.base}/${encodeURIComponent(project)}/_build/results?buildId=${this.options.buildId}`;
  }

  private tagsUrl(): string {
    return `${this.base}/${encodeURIComponent(this.options.project)}/_apis/build/builds/${this.options.buildId}/tags?api-version=${API_VERSION}`;
  }

  async signal(group: string, state: MarkerState): Promise<void> {
    assertGroupName(group);
    const add = [azureDevOpsTag(group, state)];
    const remove = state === 'publishing' ? [azureDevOpsTag(group, 'image-info-updated')] : [];
    await this.patchTags(add, remove, `signal ${state}`);
    const publishing = azureDevOpsTag(group, 'publishing');
    const updated = azureDevOpsTag(group, 'image-info-updated');
    await this.readBackUntil(`signal ${state}`, async () => {
      const tags = await this.getTags(this.options.project, this.options.buildId);
      if (!add.every((t) => tags.includes(t)) || !remove.every((t) => !tags.includes(t)))
        return false;
      // Also read back through the listing peers use (its index may lag the tags): a peer
      // must see this build publishing, or see it updated (or not listed at all: no blocker).
      const listed = (
        await this.listBuilds(this.options.project, publishing, this.self.runId)
      ).find((b) => String(b.id) === this.self.runId);
      if (state === 'publishing')
        return (
          !!listed &&
          (!listed.tags || (listed.tags.includes(publishing) && !listed.tags.includes(updated)))
        );
      return !listed || !listed.tags || listed.tags.includes(updated);
    });
    this.logger?.debug(`Azure DevOps: build ${this.options.buildId} tagged ${add.join(', ')}`);
  }

  async listRuns(group: string): Promise<GroupRun[]> {
    assertGroupName(group);
    const publishing = azureDevOpsTag(group, 'publishing');
    const runs = new Map<string, GroupRun>();
    for (const project of this.projects) {
      for (const build of await this.listBuilds(project, publishing)) {
        // Build ids are unique within a collection, so they name runs across projects.
        if (build.status === 'completed') continue;
        const tags = build.tags ?? (await this.getTags(project, build.id));
        if (!tags.includes(publishing)) continue;
        const runId = String(build.id);
        runs.set(runId, {
          runId,
          attempt: runId === this.self.runId ? this.self.attempt : 0,
          states: MARKER_STATES.filter((s) => tags.includes(azureDevOpsTag(group, s))),
          alive: true,
          since: build.startTime ?? build.queueTime,
          url: build._links?.web?.href,
          name: [build.definition?.name, build.buildNumber].filter(Boolean).join(' ') || undefined,
        });
      }
    }
    return [...runs.values()].sort((a, b) => Number(a.runId) - Number(b.runId));
  }

  /**
   * Removes this build's tags for the group in one PATCH (both at once, so the build never
   * shows `publishing` without `image-info-updated`). Other builds' tags are left alone:
   * completed builds are not listed anyway, and a retried build reuses its tags, so removing
   * them from a stale listing could drop a live `publishing`.
   */
  async cleanup(group: string): Promise<void> {
    assertGroupName(group);
    try {
      await this.patchTags(
        [],
        MARKER_STATES.map((s) => azureDevOpsTag(group, s)),
        'cleanup',
      );
    } catch (e) {
      this.logger?.warning(
        `Azure DevOps: could not remove this build's eol-gate tags: ${(e as Error).message}`,
      );
    }
  }

  private async listBuilds(project: string, tag: string, buildId?: string): Promise<AdoBuild[]> {
    const builds: AdoBuild[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const q = new URLSearchParams({
        tagFilters: tag,
        statusFilter: LIVE_STATUS_FILTER,
        'api-version': API_VERSION,
      });
      if (buildId) q.set('buildIds', buildId);
      if (token) q.set('continuationToken', token);
      const url = `${this.base}/${encodeURIComponent(project)}/_apis/build/builds?${q}`;
      const res = await this.client.request('GET', url);
      await this.assertAuthorized(res, `list builds of project ${project}`, 'View builds');
      builds.push(...listValue<AdoBuild>(await this.client.json('GET', url, res)));
      token = res.headers.get('x-ms-continuationtoken') ?? undefined;
      if (!token) return builds;
    }
    throw new RuntimeError(
      `Azure DevOps: listing builds of ${project} did not end after ${MAX_PAGES} pages`,
    );
  }

  private async getTags(project: string, buildId: number | string): Promise<string[]> {
    const url = `${this.base}/${encodeURIComponent(project)}/_apis/build/builds/${buildId}/tags?api-version=${API_VERSION}`;
    const res = await this.client.request('GET', url);
    await this.assertAuthorized(res, `read the tags of build ${buildId}`, 'View builds');
    return listValue<string>(await this.client.json('GET', url, res));
  }

  private async patchTags(
    tagsToAdd: string[],
    tagsToRemove: string[],
    what: string,
  ): Promise<string[]> {
    const url = this.tagsUrl();
    const res = await this.client.request('PATCH', url, { tagsToAdd, tagsToRemove });
    await this.assertAuthorized(
      res,
      `${what} (update the tags of build ${this.options.buildId})`,
      'Edit build quality',
    );
    if (res.status === 404) {
      throw new InputError(
        `Azure DevOps: build ${this.options.buildId} not found in project ${this.options.project} (check Build.BuildId / System.TeamProject)`,
      );
    }
    return listValue<string>(await this.client.json('PATCH', url, res));
  }

  private async readBackUntil(what: string, shows: () => Promise<boolean>): Promise<void> {
    let delay = this.readBack.delayMs;
    for (let i = 0; i < this.readBack.attempts; i++) {
      if (await shows()) return;
      await this.sleep(delay);
      delay = Math.min(delay * 2, 4000);
    }
    throw new RuntimeError(
      `Azure DevOps: ${what}: build ${this.options.buildId} did not show the change (tags and build list) after ${this.readBack.attempts} reads`,
    );
  }

  /**
   * 401/403 and the sign-in page Azure DevOps serves (203, HTML) to a bad token become
   * errors naming the missing permission. The token itself never appears.
   */
  private async assertAuthorized(res: Response, what: string, permission: string): Promise<void> {
    const html = (res.headers.get('content-type') ?? '').includes('text/html');
    if (res.status === 401 || res.status === 203 || (res.ok && html)) {
      await res.body?.cancel().catch(() => {});
      throw new InputError(
        `Azure DevOps rejected the access token (HTTP ${res.status}) when trying to ${what}. ` +
          'Pass System.AccessToken to the step (for a script: env SYSTEM_ACCESSTOKEN: $(System.AccessToken)).',
      );
    }
    if (res.status === 403) {
      const detail = await errorDetail(res);
      throw new InputError(
        `Azure DevOps denied the build identity permission to ${what} (HTTP 403): it needs "${permission}" ` +
          `on the pipeline (and "View builds" in every project listed)${detail ? `. Server said: ${detail}` : ''}`,
      );
    }
  }
}

/**
 * Azure DevOps throttling (https://learn.microsoft.com/azure/devops/integrate/concepts/rate-limits):
 * a blocked request is 429 with `Retry-After`; a delayed but served one may carry `Retry-After`
 * too, which asks later requests to hold off. `X-RateLimit-Reset` (epoch seconds) backs up a
 * 429 without `Retry-After`.
 */
function adoRateLimit(res: Response, now: number): RateLimitVerdict {
  const after = retryAfterMs(res.headers, now);
  if (res.status === 429) {
    const reset = resetHeaderWaitMs(res.headers, 'x-ratelimit-reset', now);
    const resource = res.headers.get('x-ratelimit-resource');
    return {
      kind: 'retry',
      waitMs: after ?? reset ?? 10_000,
      reason: `HTTP 429${resource ? ` ${resource}` : ''}`,
    };
  }
  if (res.ok && after !== undefined)
    return { kind: 'pause', waitMs: after, reason: 'Retry-After on a throttled response' };
  return undefined;
}
