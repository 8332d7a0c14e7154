/**
 * A fake Azure DevOps collection (api-version 7.1) on 127.0.0.1: the Build REST API
 * AzureDevOpsStore uses (builds, tags, timelines), with switches for latency, faults
 * (429 + Retry-After, 403, 5xx), the sign-in page served to a bad token, and an eventually
 * consistent build list; and the Git API AzureReposSource uses, served from `repos` (see
 * fake-azure-repos.ts) under the same collection URL, token and sign-in switch.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  azureReposHandler,
  AzureReposStore,
  type FakeAzureReposOptions,
} from './fake-azure-repos.js';
import { serveOnLoopback } from './loopback.js';

export type BuildStatus = 'notStarted' | 'inProgress' | 'cancelling' | 'postponed' | 'completed';

export interface FakeBuild {
  id: number;
  project: string;
  status: BuildStatus;
  /** The truth (Tags - Get Build Tags). */
  tags: string[];
  /** What Builds - List sees; lags `tags` by `listLag` list reads after each write. */
  listedTags: string[];
  pendingListReads: number;
  queueTime: string;
  startTime?: string;
  definitionName: string;
  /** The build's timeline (latest attempt of each job): Timeline - Get without a timelineId. */
  jobs: FakeJobRecord[];
  /** Timelines of earlier job attempts, by timelineId. */
  previousTimelines: Map<string, FakeJobRecord[]>;
}

/** A timeline record of type Job (`System.JobId` is its id). */
export interface FakeJobRecord {
  id: string;
  name: string;
  state: 'pending' | 'inProgress' | 'completed';
  /** Set once completed: succeeded, succeededWithIssues, failed, canceled, skipped, abandoned. */
  result: string | null;
  attempt: number;
  /** When the agent started the job; null while pending (the service's clock). */
  startTime: string | null;
  /** When the job completed; null until then (the service's clock). */
  finishTime: string | null;
  /** Earlier attempts of this job: each in its own timeline, under its own record id. */
  previousAttempts: Array<{ attempt: number; timelineId: string; recordId: string }>;
}

export interface Fault {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Only requests this matches (default: all). */
  match?: (method: string, path: string) => boolean;
  times: number;
}

export interface FakeAzureDevOpsOptions {
  token?: string;
  organization?: string;
}

/**
 * A time as the service writes it in a timeline record: ISO 8601 with seven fractional digits
 * (`2026-03-01T10:00:00.1230000Z`).
 */
export function serviceTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '0000Z');
}

export class FakeAzureDevOps {
  readonly token: string;
  readonly organization: string;
  readonly builds = new Map<number, FakeBuild>();
  readonly requests: Array<{ method: string; path: string; query: string }> = [];
  /** The service's clock: the start and finish times of timeline records. */
  clock: () => number = () => Date.now();
  /** Fixed or random per-request latency. */
  latencyMs: number | (() => number) = 0;
  /** Builds per page of Builds - List (continuation tokens beyond that). */
  pageSize = 100;
  /** Builds - List carries each build's `tags` (the real service does); off forces GET tags. */
  listIncludesTags = true;
  /** A tag write stays invisible to Builds - List for this many list requests. */
  listLag = 0;
  /** Set to make a bad token get the sign-in page (203, HTML), as the service does. */
  signInPageForBadToken = false;
  /** Operations answered 403 as for an identity without the permission. */
  readonly forbidden = new Set<'list' | 'read-tags' | 'write-tags'>();
  private faults: Fault[] = [];
  private nextId = 1000;
  /** The collection's git repositories (`_apis/git/...` of every project). */
  readonly repos = new AzureReposStore();
  private stop?: () => Promise<void>;
  private base = '';

  constructor(options: FakeAzureDevOpsOptions = {}) {
    this.token = options.token ?? 'ado-secret-token';
    this.organization = options.organization ?? 'org';
  }

  /** `System.CollectionUri` of the fake, with the trailing slash the real variable has. */
  get collectionUri(): string {
    return `${this.base}/${this.organization}/`;
  }

  async start(): Promise<this> {
    // The sign-in switch is read per request, so setting it later applies to git calls too.
    const options: FakeAzureReposOptions = { tokens: { [this.token]: 'write' } };
    Object.defineProperty(options, 'signInPageForBadToken', {
      get: () => this.signInPageForBadToken,
    });
    const git = azureReposHandler(this.repos, options);
    const prefix = `/${this.organization}/`;
    const { origin, close } = await serveOnLoopback(async (req, res) => {
      const path = req.url ?? '/';
      if (path.startsWith(prefix) && /^\/[^/]+\/_apis\/git\//.test(path.slice(prefix.length - 1))) {
        req.url = path.slice(prefix.length - 1);
        return git(req, res);
      }
      await this.handle(req, res);
      return true;
    });
    this.base = origin;
    this.stop = close;
    return this;
  }

  async close(): Promise<void> {
    await this.stop?.();
  }

  createBuild(
    init: Partial<
      Pick<FakeBuild, 'project' | 'status' | 'tags' | 'definitionName' | 'startTime'>
    > & { id?: number } = {},
  ): FakeBuild {
    const id = init.id ?? this.nextId++;
    const now = new Date().toISOString();
    const build: FakeBuild = {
      id,
      project: init.project ?? 'proj',
      status: init.status ?? 'inProgress',
      tags: [...(init.tags ?? [])],
      listedTags: [...(init.tags ?? [])],
      pendingListReads: 0,
      queueTime: now,
      startTime:
        init.startTime ?? ((init.status ?? 'inProgress') === 'notStarted' ? undefined : now),
      definitionName: init.definitionName ?? 'publish',
      jobs: [],
      previousTimelines: new Map(),
    };
    this.builds.set(id, build);
    return build;
  }

  /**
   * A job of the build, running unless said otherwise; its id is a GUID as System.JobId is. A
   * job not pending gets a start time (now, unless given), a completed one a finish time too.
   */
  addJob(
    buildId: number,
    init: Partial<
      Pick<FakeJobRecord, 'id' | 'name' | 'state' | 'result' | 'startTime' | 'finishTime'>
    > = {},
  ): FakeJobRecord {
    const state = init.state ?? 'inProgress';
    const now = serviceTime(this.clock());
    const job: FakeJobRecord = {
      id: init.id ?? randomUUID(),
      name: init.name ?? 'Job',
      state,
      result: init.result ?? null,
      attempt: 1,
      startTime: init.startTime !== undefined ? init.startTime : state === 'pending' ? null : now,
      finishTime:
        init.finishTime !== undefined ? init.finishTime : state === 'completed' ? now : null,
      previousAttempts: [],
    };
    this.build(buildId).jobs.push(job);
    return job;
  }

  job(buildId: number, jobId: string): FakeJobRecord {
    const job = this.build(buildId).jobs.find((j) => j.id === jobId);
    if (!job) throw new Error(`fake ADO: build ${buildId} has no current job ${jobId}`);
    return job;
  }

  /** An agent picks up a pending job (a retried one): it starts now. */
  startJob(buildId: number, jobId: string): FakeJobRecord {
    const job = this.job(buildId, jobId);
    return Object.assign(job, {
      state: 'inProgress' as const,
      startTime: job.startTime ?? serviceTime(this.clock()),
    });
  }

  /** The job completes now with `result` (a job that never started gets no start time). */
  completeJob(buildId: number, jobId: string, result = 'succeeded'): FakeJobRecord {
    return Object.assign(this.job(buildId, jobId), {
      state: 'completed' as const,
      result,
      finishTime: serviceTime(this.clock()),
    });
  }

  /**
   * "Rerun failed jobs": the job's record moves to a timeline of its own (found through
   * `previousAttempts`) and a new record, with a new id, takes its place for the next attempt.
   */
  retryJob(buildId: number, jobId: string): FakeJobRecord {
    const build = this.build(buildId);
    const old = this.job(buildId, jobId);
    const timelineId = randomUUID();
    build.previousTimelines.set(timelineId, [{ ...old, previousAttempts: [] }]);
    const next: FakeJobRecord = {
      id: randomUUID(),
      name: old.name,
      state: 'pending',
      result: null,
      attempt: old.attempt + 1,
      startTime: null,
      finishTime: null,
      previousAttempts: [
        ...old.previousAttempts,
        { attempt: old.attempt, timelineId, recordId: old.id },
      ],
    };
    build.jobs[build.jobs.indexOf(old)] = next;
    return next;
  }

  /** Adds tags to a build, visible at once to Tags - Get and Builds - List alike. */
  addTags(id: number, tags: string[]): void {
    const b = this.build(id);
    b.tags = [...new Set([...b.tags, ...tags])].sort();
    b.listedTags = [...b.tags];
  }

  setStatus(id: number, status: BuildStatus): void {
    this.build(id).status = status;
  }

  build(id: number): FakeBuild {
    const b = this.builds.get(id);
    if (!b) throw new Error(`fake ADO: no build ${id}`);
    return b;
  }

  /** The next `times` matching requests fail with `status` (e.g. 429 with Retry-After). */
  /** Drops faults not yet served. */
  clearFaults(): void {
    this.faults = [];
  }

  fail(fault: Omit<Fault, 'times'> & { times?: number }): void {
    this.faults.push({ times: 1, ...fault });
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const f = this.faults.find((x) => x.times > 0 && (!x.match || x.match(method, path)));
    if (f) f.times--;
    return f;
  }

  private send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain' : 'application/json; charset=utf-8',
      ...headers,
    });
    res.end(text);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    const method = req.method ?? 'GET';
    this.requests.push({ method, path: url.pathname, query: url.search });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const latency = typeof this.latencyMs === 'function' ? this.latencyMs() : this.latencyMs;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      if (this.signInPageForBadToken) {
        return this.send(res, 203, '<html><body>Sign in to your account</body></html>', {
          'content-type': 'text/html; charset=utf-8',
        });
      }
      return this.send(res, 401, {
        message: 'TF400813: The user is not authorized to access this resource.',
      });
    }
    const fault = this.takeFault(method, url.pathname);
    if (fault)
      return this.send(
        res,
        fault.status,
        fault.body ?? { message: `injected ${fault.status}` },
        fault.headers,
      );
    // Every Azure DevOps REST call names its version; 7.1 is what the adapter speaks.
    if (url.searchParams.get('api-version') !== '7.1') {
      return this.send(res, 400, {
        message: 'VssVersionOutOfRangeException: api-version 7.1 expected',
      });
    }

    const prefix = `/${this.organization}/`;
    if (!url.pathname.startsWith(prefix))
      return this.send(res, 404, { message: 'unknown collection' });
    const [project, ...rest] = url.pathname.slice(prefix.length).split('/').map(decodeURIComponent);
    const route = rest.join('/');

    // Builds - List: GET {org}/{project}/_apis/build/builds?tagFilters=&statusFilter=&buildIds=&continuationToken=
    // https://learn.microsoft.com/rest/api/azure/devops/build/builds/list?view=azure-devops-rest-7.1
    // Response { count, value: Build[] }; more pages announced with the x-ms-continuationtoken header.
    if (method === 'GET' && route === '_apis/build/builds') {
      if (this.forbidden.has('list')) return this.accessDenied(res, 'View builds');
      for (const b of this.builds.values()) {
        if (b.pendingListReads > 0 && --b.pendingListReads === 0) b.listedTags = [...b.tags];
      }
      const tagFilters = (url.searchParams.get('tagFilters') ?? '').split(',').filter(Boolean);
      const statuses = (url.searchParams.get('statusFilter') ?? '').split(',').filter(Boolean);
      const ids = (url.searchParams.get('buildIds') ?? '').split(',').filter(Boolean).map(Number);
      const matching = [...this.builds.values()]
        .filter((b) => b.project === project)
        .filter((b) => tagFilters.every((t) => b.listedTags.includes(t)))
        .filter(
          (b) => statuses.length === 0 || statuses.includes('all') || statuses.includes(b.status),
        )
        .filter((b) => ids.length === 0 || ids.includes(b.id))
        .sort((a, b) => b.id - a.id);
      const start = Number(url.searchParams.get('continuationToken') ?? 0);
      const page = matching.slice(start, start + this.pageSize);
      const headers: Record<string, string> = {};
      if (start + this.pageSize < matching.length)
        headers['x-ms-continuationtoken'] = String(start + this.pageSize);
      return this.send(
        res,
        200,
        { count: page.length, value: page.map((b) => this.toBuild(b)) },
        headers,
      );
    }

    const tagsRoute = /^_apis\/build\/builds\/(\d+)\/tags$/.exec(route);
    if (tagsRoute) {
      const build = this.builds.get(Number(tagsRoute[1]));
      if (!build || build.project !== project) {
        return this.send(res, 404, {
          message: `TF215016: The requested build ${tagsRoute[1]} could not be found.`,
        });
      }
      // Tags - Get Build Tags: GET {org}/{project}/_apis/build/builds/{buildId}/tags → { count, value: string[] }
      // https://learn.microsoft.com/rest/api/azure/devops/build/tags/get-build-tags?view=azure-devops-rest-7.1
      if (method === 'GET') {
        if (this.forbidden.has('read-tags')) return this.accessDenied(res, 'View builds');
        return this.send(res, 200, { count: build.tags.length, value: build.tags });
      }
      // Tags - Update Build Tags: PATCH {org}/{project}/_apis/build/builds/{buildId}/tags
      // body { tagsToAdd: string[], tagsToRemove: string[] } → { count, value: string[] }
      // https://learn.microsoft.com/rest/api/azure/devops/build/tags/update-build-tags?view=azure-devops-rest-7.1
      if (method === 'PATCH') {
        if (this.forbidden.has('write-tags')) return this.accessDenied(res, 'Edit build quality');
        let update: { tagsToAdd?: unknown; tagsToRemove?: unknown };
        try {
          update = JSON.parse(body) as typeof update;
        } catch {
          return this.send(res, 400, {
            message: 'VssPropertyValidationException: body is not JSON',
          });
        }
        const add = Array.isArray(update.tagsToAdd) ? (update.tagsToAdd as string[]) : [];
        const remove = Array.isArray(update.tagsToRemove) ? (update.tagsToRemove as string[]) : [];
        build.tags = [
          ...new Set([...build.tags.filter((t) => !remove.includes(t)), ...add]),
        ].sort();
        if (this.listLag > 0) build.pendingListReads = this.listLag;
        else build.listedTags = [...build.tags];
        return this.send(res, 200, { count: build.tags.length, value: build.tags });
      }
    }
    // Timeline - Get: GET {org}/{project}/_apis/build/builds/{buildId}/timeline[/{timelineId}]
    // https://learn.microsoft.com/rest/api/azure/devops/build/timeline/get?view=azure-devops-rest-7.1
    // → Timeline { id, changeId, records: TimelineRecord[] }; records of type Stage, Phase, Job, Task.
    const timelineRoute = /^_apis\/build\/builds\/(\d+)\/timeline(?:\/([^/]+))?$/.exec(route);
    if (method === 'GET' && timelineRoute) {
      if (this.forbidden.has('list')) return this.accessDenied(res, 'View builds');
      const build = this.builds.get(Number(timelineRoute[1]));
      const records = timelineRoute[2]
        ? build?.previousTimelines.get(timelineRoute[2])
        : build?.jobs;
      if (!build || build.project !== project || !records)
        return this.send(res, 404, {
          message: `TF215016: The requested build ${timelineRoute[1]} could not be found.`,
        });
      return this.send(res, 200, {
        id: timelineRoute[2] ?? `timeline-${build.id}`,
        changeId: records.length,
        records: this.timelineRecords(build, records),
      });
    }
    return this.send(res, 404, { message: `fake ADO: no route ${method} ${url.pathname}` });
  }

  /** Job records with the Stage and Phase above them and a Task below, as the service nests them. */
  private timelineRecords(build: FakeBuild, jobs: FakeJobRecord[]): Record<string, unknown>[] {
    const stage = `stage-${build.id}`;
    const out: Record<string, unknown>[] = [
      { id: stage, parentId: null, type: 'Stage', name: 'Publish', state: 'inProgress' },
    ];
    for (const job of jobs) {
      const phase = `phase-${job.id}`;
      out.push(
        { id: phase, parentId: stage, type: 'Phase', name: job.name, state: job.state },
        {
          id: job.id,
          parentId: phase,
          type: 'Job',
          name: job.name,
          state: job.state,
          result: job.result,
          attempt: job.attempt,
          startTime: job.startTime,
          finishTime: job.finishTime,
          previousAttempts: job.previousAttempts,
        },
        {
          id: `task-${job.id}`,
          parentId: job.id,
          type: 'Task',
          name: 'eol-gate',
          state: job.state,
          result: job.result,
          attempt: job.attempt,
          startTime: job.startTime,
          finishTime: job.finishTime,
        },
      );
    }
    return out;
  }

  private accessDenied(res: ServerResponse, permission: string): void {
    this.send(res, 403, {
      message: `Access denied. Project Build Service needs ${permission} permissions to perform the action.`,
      typeKey: 'AccessDeniedException',
    });
  }

  /** The Build resource fields the adapter reads (the real one has many more). */
  private toBuild(b: FakeBuild): Record<string, unknown> {
    const web = `${this.base}/${this.organization}/${encodeURIComponent(b.project)}/_build/results?buildId=${b.id}`;
    return {
      id: b.id,
      buildNumber: `2026.${b.id}`,
      status: b.status,
      queueTime: b.queueTime,
      ...(b.startTime ? { startTime: b.startTime } : {}),
      ...(this.listIncludesTags ? { tags: b.listedTags } : {}),
      definition: { id: 1, name: b.definitionName },
      project: { name: b.project },
      _links: { web: { href: web } },
    };
  }
}
