import { InputError, RuntimeError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { assertJobId, markerName, parseMarkerName } from '../core/markers.js';
import {
  assertGroupName,
  joinParticipants,
  runKey,
  uncoveredPublishing,
  type JobStatus,
  type RawMarker,
  type RunStatus,
} from '../core/protocol.js';
import { assertSecureUrl, errorDetail, resetHeaderWaitMs, type RetryPolicy } from '../util/http.js';
import {
  type CoordinationStore,
  type CoverScope,
  type GroupRun,
  type MarkerState,
  type ParticipantIdentity,
} from './port.js';
import { RestClient } from './rest.js';

export interface AzureDevOpsStoreOptions {
  /** `System.CollectionUri`, e.g. https://dev.azure.com/org/ (http only for loopback). */
  collectionUri: string;
  /** `System.TeamProject`: where this build lives. */
  project: string;
  /** `Build.BuildId`. */
  buildId: string | number;
  /**
   * `System.JobAttempt`, for logs only. It counts one job's retries, not the build's, so it
   * cannot order markers of different jobs: every marker carries attempt 1 and is ordered by its
   * stamp (a retried job has a new `System.JobId`, so it is a new participant anyway).
   */
  jobAttempt: number;
  /** `System.JobId` (the job's timeline record id); without it the whole build is one participant. */
  jobId?: string;
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

/** Every build of the group carries this tag: the one build listings filter on. */
export function groupTag(group: string): string {
  return `eol-gate.${group}`;
}

/** The first format's tag (whole build, no job): still read, so older publishers keep blocking. */
export function legacyTag(group: string, state: MarkerState): string {
  return `eol-gate.${group}.${state}`;
}

export function markerTag(
  group: string,
  who: ParticipantIdentity,
  state: MarkerState,
  scope: CoverScope,
  stamp: number,
): string {
  return `${groupTag(group)}.${markerName(who, state, scope, stamp)}`;
}

/** The markers among a build's tags. */
export function markersOfBuild(group: string, buildId: string, tags: string[]): RawMarker[] {
  const out: RawMarker[] = [];
  const prefix = `${groupTag(group)}.`;
  for (const tag of tags) {
    if (!tag.startsWith(prefix)) continue;
    const rest = tag.slice(prefix.length);
    if (rest === 'publishing' || rest === 'image-info-updated') {
      out.push({ runId: buildId, attempt: 0, state: rest, scope: 'job', stamp: 0 });
      continue;
    }
    const marker = parseMarkerName(rest);
    if (marker && marker.runId === buildId) out.push(marker);
  }
  return out;
}

/** The subset of the Build resource we read. */
interface TimelineRecord {
  id: string;
  type?: string;
  name?: string;
  state?: string;
  result?: string | null;
  startTime?: string | null;
  finishTime?: string | null;
  previousAttempts?: Array<{ attempt?: number; timelineId?: string; recordId?: string }>;
}

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

function serviceTime(value: string | null | undefined): number | undefined {
  const ms = value ? Date.parse(value) : NaN;
  return Number.isNaN(ms) ? undefined : ms;
}

function jobStatus(record: TimelineRecord): JobStatus {
  return {
    completed: record.state === 'completed',
    conclusion: record.result ?? undefined,
    startedAt: serviceTime(record.startTime),
    completedAt: record.state === 'completed' ? serviceTime(record.finishTime) : undefined,
    name: record.name,
  };
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
  readonly self: ParticipantIdentity;
  private readonly now: () => number;
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
    if (options.jobId !== undefined) assertJobId(options.jobId, 'jobId (System.JobId)');
    this.base = url.toString().replace(/\/+$/, '');
    this.projects = options.projects?.length ? [...new Set(options.projects)] : [options.project];
    this.logger = options.logger;
    this.self = {
      runId: String(options.buildId),
      attempt: 1,
      jobId: options.jobId,
      url: this.buildWebUrl(options.project),
    };
    this.now = options.now ?? Date.now;
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
      waitHint: (res, now) =>
        res.status === 429
          ? (resetHeaderWaitMs(res.headers, 'x-ratelimit-reset', now) ?? 10_000)
          : undefined,
    });
  }

  private buildWebUrl(project: string): string {
    return `${this.base}/${encodeURIComponent(project)}/_build/results?buildId=${this.options.buildId}`;
  }

  private tagsUrl(): string {
    return `${this.base}/${encodeURIComponent(this.options.project)}/_apis/build/builds/${this.options.buildId}/tags?api-version=${API_VERSION}`;
  }

  async signal(group: string, state: MarkerState, scope: CoverScope = 'job'): Promise<void> {
    assertGroupName(group);
    const add = [groupTag(group), markerTag(group, this.self, state, scope, this.now())];
    await this.patchTags(add, [], `signal ${state}`);
    await this.readBackUntil(`signal ${state}`, async () => {
      const tags = await this.getTags(this.options.project, this.options.buildId);
      if (!add.every((t) => tags.includes(t))) return false;
      // Also read back through the listing peers use (its index may lag the tags).
      const listed = (
        await this.listBuilds(this.options.project, groupTag(group), this.self.runId)
      ).find((b) => String(b.id) === this.self.runId);
      return !!listed && (!listed.tags || add.every((t) => listed.tags!.includes(t)));
    });
    this.logger?.debug(
      `Azure DevOps: build ${this.options.buildId} (job attempt ${this.options.jobAttempt}) tagged ${add.join(', ')}`,
    );
  }

  /** Read-only: live builds carrying the group's tags; job liveness from their timelines. */
  async listRuns(group: string): Promise<GroupRun[]> {
    assertGroupName(group);
    const markers: RawMarker[] = [];
    const runs = new Map<string, RunStatus | undefined>();
    const projectOf = new Map<string, string>();
    for (const project of this.projects) {
      const builds = new Map<number, AdoBuild>();
      // The first format's publishers carry only the state tag: list them too.
      for (const tag of [groupTag(group), legacyTag(group, 'publishing')])
        for (const b of await this.listBuilds(project, tag)) builds.set(b.id, b);
      for (const build of builds.values()) {
        // Build ids are unique within a collection, so they name runs across projects.
        if (build.status === 'completed') continue;
        const runId = String(build.id);
        const tags = build.tags ?? (await this.getTags(project, build.id));
        markers.push(...markersOfBuild(group, runId, tags));
        projectOf.set(runId, project);
        runs.set(runKey({ runId }), {
          alive: true,
          since: build.startTime ?? build.queueTime,
          url: build._links?.web?.href,
          name: [build.definition?.name, build.buildNumber].filter(Boolean).join(' ') || undefined,
        });
      }
    }
    // Covers and failed jobs are judged from the timeline (the service's times), one per build.
    const asked = new Set(uncoveredPublishing(this.self, markers).map((p) => p.runId));
    for (const runId of asked) {
      const run = runs.get(runKey({ runId }));
      if (!run) continue;
      const wanted = markers.filter((m) => m.runId === runId && m.jobId).map((m) => m.jobId!);
      run.jobs = await this.jobs(projectOf.get(runId)!, runId, wanted);
    }
    return joinParticipants(this.self, markers, runs);
  }

  /**
   * Nothing to delete: tags of completed builds are never listed, and a build's own tags must
   * stay while it runs (another job of it may still be covered by them).
   */
  async cleanup(group: string): Promise<void> {
    assertGroupName(group);
  }

  /** GET {project}/_apis/build/builds/{id}/timeline (the latest attempt's records). */
  private async timeline(
    project: string,
    buildId: string,
    timelineId?: string,
  ): Promise<TimelineRecord[]> {
    const url = `${this.base}/${encodeURIComponent(project)}/_apis/build/builds/${buildId}/timeline${timelineId ? `/${encodeURIComponent(timelineId)}` : ''}?api-version=${API_VERSION}`;
    const res = await this.client.request('GET', url);
    await this.assertAuthorized(res, `read the timeline of build ${buildId}`, 'View builds');
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return [];
    }
    const body = await this.client.json<{ records?: TimelineRecord[] } | null>('GET', url, res);
    return Array.isArray(body?.records) ? body.records : [];
  }

  /**
   * Every job of a build from its timeline (the latest attempt of each job); a marker's job of an
   * earlier attempt is found through the current record's `previousAttempts` and that attempt's
   * timeline.
   */
  private async jobs(
    project: string,
    buildId: string,
    wanted: string[],
  ): Promise<Map<string, JobStatus>> {
    const records = await this.timeline(project, buildId);
    const jobs = new Map<string, JobStatus>();
    for (const r of records) if (r.type === 'Job') jobs.set(r.id, jobStatus(r));
    for (const jobId of new Set(wanted)) {
      if (jobs.has(jobId)) continue;
      const previous = records
        .flatMap((r) => r.previousAttempts ?? [])
        .find((a) => a.recordId === jobId && a.timelineId);
      if (!previous) continue;
      const record = (await this.timeline(project, buildId, previous.timelineId)).find(
        (r) => r.id === jobId,
      );
      if (record) jobs.set(jobId, jobStatus(record));
    }
    return jobs;
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
