import { InputError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
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
import { AzureDevOpsClient, listValue } from '../services/azure-devops.js';
import { systemClock } from '../util/clock.js';
import {
  type CoordinationStore,
  type CoverScope,
  type GroupRun,
  type MarkerState,
  type ParticipantIdentity,
} from './port.js';
import { readBackUntil, type StoreOptions } from './store-options.js';

export interface AzureDevOpsStoreOptions extends StoreOptions {
  /** `System.CollectionUri`, e.g. https://dev.azure.com/org/ (http only for loopback). */
  collectionUri: string;
  /** `System.TeamProject`. */
  project: string;
  /** `Build.BuildId`. */
  buildId: string | number;
  /**
   * `System.JobAttempt`, for logs only: it counts one job's retries, not the build's, so markers
   * carry attempt 1 and order by stamp (a retried job has a new `System.JobId` anyway).
   */
  jobAttempt: number;
  /** `System.JobId` (the job's timeline record id); without it the whole build is one participant. */
  jobId?: string;
  /** `System.AccessToken`; never logged. */
  token: string;
  /** Projects whose builds can be peers (default: the current one). */
  projects?: string[];
}

/**
 * Builds - List's BuildStatus flags: every status except `completed`; re-filtered client-side in
 * case a server ignores it.
 * https://learn.microsoft.com/rest/api/azure/devops/build/builds/list?view=azure-devops-rest-7.1
 */
export const LIVE_STATUS_FILTER = 'inProgress,cancelling,postponed,notStarted';

const VIEW_BUILDS = '"View builds" in every project listed';
const NOT_FOUND = 'check Build.BuildId and System.TeamProject';

/** Every build of the group carries this tag: the one build listings filter on. */
export function groupTag(group: string): string {
  return `eol-gate.${group}`;
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

export function markersOfBuild(group: string, buildId: string, tags: string[]): RawMarker[] {
  const prefix = `${groupTag(group)}.`;
  return tags
    .filter((tag) => tag.startsWith(prefix))
    .map((tag) => parseMarkerName(tag.slice(prefix.length)))
    .filter((marker) => marker?.runId === buildId) as RawMarker[];
}

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

/**
 * Markers as build tags through the REST API (never `##vso[build.addbuildtag]`: the agent applies
 * it after the step). Liveness is the build status; completed builds' tags are not listed.
 */
export class AzureDevOpsStore implements CoordinationStore {
  readonly kind = 'azure-devops' as const;
  readonly self: ParticipantIdentity;
  private readonly projects: string[];
  private readonly client: AzureDevOpsClient;
  private readonly clock: Clock;

  constructor(private readonly options: AzureDevOpsStoreOptions) {
    this.client = new AzureDevOpsClient({ ...options, label: 'collectionUri' });
    if (!options.project) throw new InputError('project: missing (System.TeamProject)');
    if (!/^\d+$/.test(String(options.buildId)))
      throw new InputError(
        `buildId: expected a number (Build.BuildId), got ${JSON.stringify(options.buildId)}`,
      );
    if (!options.token) throw new InputError('token: missing (System.AccessToken)');
    if (options.jobId !== undefined) assertJobId(options.jobId, 'jobId (System.JobId)');
    this.projects = options.projects?.length ? [...new Set(options.projects)] : [options.project];
    this.self = {
      runId: String(options.buildId),
      attempt: 1,
      jobId: options.jobId,
      url: `${this.client.collection}/${encodeURIComponent(options.project)}/_build/results?buildId=${options.buildId}`,
    };
    this.clock = options.clock ?? systemClock;
  }

  async signal(group: string, state: MarkerState, scope: CoverScope = 'job'): Promise<void> {
    assertGroupName(group);
    const add = [
      groupTag(group),
      markerTag(group, this.self, state, scope, this.clock.now().getTime()),
    ];
    await this.addTags(add, `signal ${state}`);
    const { project, buildId, readBack } = this.options;
    const shows = async () => {
      const tags = await this.getTags(project, buildId);
      if (!add.every((t) => tags.includes(t))) return false;
      // Also read back through the listing peers use (its index may lag the tags).
      const listed = (await this.listBuilds(project, groupTag(group), this.self.runId)).find(
        (b) => String(b.id) === this.self.runId,
      );
      return !!listed && (!listed.tags || add.every((t) => listed.tags!.includes(t)));
    };
    await readBackUntil(
      readBack,
      this.clock,
      shows,
      `Azure DevOps: signal ${state}: build ${buildId} did not show the change (tags and build list)`,
    );
    this.options.logger?.debug(
      `Azure DevOps: build ${buildId} (job attempt ${this.options.jobAttempt}) tagged ${add.join(', ')}`,
    );
  }

  /** Read-only: live builds carrying the group's tags; job liveness from their timelines. */
  async listRuns(group: string): Promise<GroupRun[]> {
    assertGroupName(group);
    const markers: RawMarker[] = [];
    const runs = new Map<string, RunStatus | undefined>();
    const projectOf = new Map<string, string>();
    // Build ids are unique within a collection, so they name runs across projects.
    for (const project of this.projects)
      for (const build of await this.listBuilds(project, groupTag(group))) {
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
    const path = `build/builds/${buildId}/timeline${timelineId ? `/${encodeURIComponent(timelineId)}` : ''}`;
    const body = await this.client.json<{ records?: TimelineRecord[] } | null>(
      'GET',
      this.client.url(project, path),
      { what: `read the timeline of build ${buildId}`, permission: VIEW_BUILDS, expect: [404] },
    );
    return Array.isArray(body?.records) ? body.records : [];
  }

  /**
   * Every job from the latest timeline; a marker's job of an earlier attempt is found through the
   * current record's `previousAttempts` and that attempt's timeline.
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

  private listBuilds(project: string, tag: string, buildId?: string): Promise<AdoBuild[]> {
    return this.client.listAll<AdoBuild>(
      project,
      'build/builds',
      { tagFilters: tag, statusFilter: LIVE_STATUS_FILTER, buildIds: buildId },
      { what: `list builds of project ${project}`, permission: VIEW_BUILDS },
    );
  }

  private async getTags(project: string, buildId: number | string): Promise<string[]> {
    const url = this.client.url(project, `build/builds/${buildId}/tags`);
    const what = `read the tags of build ${buildId}`;
    return listValue<string>(
      await this.client.json('GET', url, { what, permission: VIEW_BUILDS, notFound: NOT_FOUND }),
    );
  }

  private async addTags(tagsToAdd: string[], what: string): Promise<void> {
    const { project, buildId } = this.options;
    const url = this.client.url(project, `build/builds/${buildId}/tags`);
    listValue<string>(
      await this.client.json('PATCH', url, {
        what: `${what} (update the tags of build ${buildId} in project ${project})`,
        permission:
          '"Edit build quality" on the pipeline (and "View builds" in every project listed)',
        notFound: NOT_FOUND,
        body: { tagsToAdd, tagsToRemove: [] },
      }),
    );
  }
}
