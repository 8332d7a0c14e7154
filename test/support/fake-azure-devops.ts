/**
 * A fake Azure DevOps collection (api-version 7.1) on 127.0.0.1, for both clients eol-gate has:
 * the Build REST API AzureDevOpsStore uses (builds, tags, timelines; an eventually consistent
 * build list) and the Git API AzureReposSource uses (refs, items, blobs, pushes, commits; the
 * repositories in `repos`). One token, switches for latency, faults (429 + Retry-After, 403,
 * 5xx) and the sign-in page served to a bad token.
 *
 * https://learn.microsoft.com/rest/api/azure/devops/?view=azure-devops-rest-7.1
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { gitBlobId } from '../../src/imageinfo/git-blob.js';
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

/** A request as the fake saw it (`query` is the URL's search, `?` included). */
export interface FakeRequest {
  method: string;
  path: string;
  query: string;
  headers: IncomingHttpHeaders;
}

export interface Fault {
  status: number;
  headers?: Record<string, string>;
  /** The error body's `typeKey` and `message` (default: `injected <status>`). */
  typeKey?: string;
  message?: string;
  /** Only requests this matches (default: all). */
  match?: (request: FakeRequest) => boolean;
  times: number;
}

/** Operations answered 403, as for an identity without the permission. */
export type Operation = 'list' | 'read-tags' | 'write-tags' | 'push';

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

interface Commit {
  id: string;
  parent?: string;
  tree: Map<string, string>; // path → blob id
  comment: string;
  /** ISO 8601 */
  date: string;
}

interface Change {
  changeType: string;
  path: string;
  content?: Buffer;
}

/** What the service answers: a JSON body, or bytes with their own content-type. */
interface Answer {
  status: number;
  headers?: Record<string, string>;
  body: unknown;
}

const ok = (body: unknown): Answer => ({ status: 200, body });

/** The fields of the service's error body (WrappedException) a client reads: `typeKey` is its `code`. */
const error = (
  status: number,
  message: string,
  typeKey?: string,
  headers?: Record<string, string>,
): Answer => ({ status, headers, body: { message, typeKey } });

const INVALID_JSON = error(
  400,
  'The body of the request contains invalid Json.',
  'ArgumentException',
);

function parseJson<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

const withSlash = (path: string) => (path.startsWith('/') ? path : `/${path}`);

/** One repository: its branches (name → commit id) and commits. */
interface GitRepo {
  branches: Map<string, string>;
  commits: Map<string, Commit>;
}

/** The collection's git repositories: commits with whole trees (tiny repos), branches, blobs. */
export class FakeGitRepos {
  private readonly repos = new Map<string, GitRepo>();
  readonly blobs = new Map<string, Buffer>();
  readonly pushes: Array<{ commitId: string; comment: string }> = [];
  private counter = 0;

  /** `now`: the service's clock (epoch ms), which dates commits. */
  constructor(private readonly now: () => number) {}

  /** A repository (names are case-insensitive); `create` makes it if missing. */
  repo(project: string, repo: string, create = false): GitRepo | undefined {
    const key = `${project}/${repo}`.toLowerCase();
    if (create && !this.repos.has(key))
      this.repos.set(key, { branches: new Map(), commits: new Map() });
    return this.repos.get(key);
  }

  /** Commits `files` (path → content, null deletes) on top of `branch` (created if missing). */
  commit(
    project: string,
    repo: string,
    branch: string,
    files: Record<string, string | null>,
    comment = 'test commit',
  ): string {
    const changes = Object.entries(files).map(([path, content]) => ({
      changeType: content === null ? 'delete' : 'edit',
      path: withSlash(path),
      content: content === null ? undefined : Buffer.from(content, 'utf8'),
    }));
    return this.addCommit(this.repo(project, repo, true)!, branch, comment, changes);
  }

  private addCommit(git: GitRepo, branch: string, comment: string, changes: Change[]): string {
    const parent = git.branches.get(branch);
    const tree = new Map(parent ? git.commits.get(parent)!.tree : []);
    for (const { changeType, path, content } of changes) {
      if (changeType === 'delete') tree.delete(path);
      else tree.set(path, this.putBlob(content!));
    }
    const id = gitBlobId(`commit ${++this.counter}`);
    const date = new Date(this.now()).toISOString();
    git.commits.set(id, { id, parent, tree, comment, date });
    git.branches.set(branch, id);
    return id;
  }

  private putBlob(bytes: Buffer): string {
    const id = gitBlobId(bytes);
    this.blobs.set(id, bytes);
    return id;
  }

  head(project: string, repo: string, branch: string): string | undefined {
    return this.repo(project, repo)?.branches.get(branch);
  }

  commitById(project: string, repo: string, id: string): Commit | undefined {
    return this.repo(project, repo)?.commits.get(id);
  }

  getFile(project: string, repo: string, branch: string, path: string): string | undefined {
    const head = this.head(project, repo, branch);
    const blob = head && this.commitById(project, repo, head)?.tree.get(withSlash(path));
    return blob ? this.blobs.get(blob)!.toString('utf8') : undefined;
  }

  /** Atomic: validate against the current head and move the branch, with no await in between. */
  applyPush(
    project: string,
    repo: string,
    refName: string,
    oldObjectId: string,
    comment: string,
    changes: Change[],
  ): { commitId: string } | Answer {
    const git = this.repo(project, repo, true)!;
    const branch = refName.replace(/^refs\/heads\//, '');
    const head = git.branches.get(branch);
    if ((head ?? '0'.repeat(40)) !== oldObjectId) {
      return error(
        409,
        `TF401028: The reference '${refName}' has already been updated by another client, so you cannot update it. Please try again.`,
        'GitReferenceStaleException',
      );
    }
    const tree = head ? git.commits.get(head)!.tree : new Map<string, string>();
    for (const { changeType, path } of changes) {
      if (changeType === 'add' && tree.has(path)) {
        return error(
          400,
          `The path '${path}' specified in the add operation already exists. Please specify a new path.`,
          'GitItemAlreadyExistsException',
        );
      }
      if (changeType !== 'add' && !tree.has(path)) {
        return error(
          400,
          `TF401174: The item '${path}' could not be found in the repository '${repo}' at the version specified by '<Commit: ${oldObjectId.slice(0, 8)} >'.`,
          'GitItemNotFoundException',
        );
      }
    }
    const commitId = this.addCommit(git, branch, comment, changes);
    this.pushes.push({ commitId, comment });
    return { commitId };
  }
}

const unresolvable = (versionType: string, version: string | null): Answer =>
  error(
    404,
    `TF401175: The version descriptor <${versionType}: ${version} > could not be resolved to a version in the repository.`,
    'GitUnresolvableToCommitException',
  );

export class FakeAzureDevOps {
  readonly token: string;
  readonly organization: string;
  readonly builds = new Map<number, FakeBuild>();
  readonly requests: FakeRequest[] = [];
  /** The service's clock: the start and finish times of timeline records, the dates of commits. */
  clock!: () => number;
  /** Fixed or random per-request latency. */
  latencyMs!: number | (() => number);
  /** Builds per page of Builds - List (continuation tokens beyond that). */
  pageSize!: number;
  /** Builds - List carries each build's `tags` (the real service does); off forces GET tags. */
  listIncludesTags!: boolean;
  /** A tag write stays invisible to Builds - List for this many list requests. */
  listLag!: number;
  /** Set to make a bad token get the sign-in page (203, HTML), as the service does. */
  signInPageForBadToken!: boolean;
  /** Items larger than this come without inline `content` (a client must then fetch the blob). */
  maxInlineContentBytes!: number;
  readonly forbidden = new Set<Operation>();
  /** The collection's git repositories (`_apis/git/...` of every project). */
  repos!: FakeGitRepos;
  private faults: Fault[] = [];
  private nextId = 1000;
  private stop?: () => Promise<void>;
  private base = '';

  constructor(options: FakeAzureDevOpsOptions = {}) {
    this.token = options.token ?? 'ado-secret-token';
    this.organization = options.organization ?? 'org';
    this.reset();
  }

  /** Every switch to its default, and no builds, repositories, requests or faults. */
  reset(): void {
    this.builds.clear();
    this.requests.length = 0;
    this.forbidden.clear();
    this.faults = [];
    this.clock = () => Date.now();
    this.latencyMs = 0;
    this.pageSize = 100;
    this.listIncludesTags = true;
    this.listLag = 0;
    this.signInPageForBadToken = false;
    this.maxInlineContentBytes = Infinity;
    this.repos = new FakeGitRepos(() => this.clock());
  }

  /** `System.CollectionUri` of the fake, with the trailing slash the real variable has. */
  get collectionUri(): string {
    return `${this.base}/${this.organization}/`;
  }

  async start(): Promise<this> {
    const { origin, close } = await serveOnLoopback(async (req, res) => {
      const { status, headers = {}, body } = await this.handle(req);
      const data = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8; api-version=7.1',
        ...headers,
      });
      res.end(data);
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

  /** The next `times` (default 1) matching requests fail with `status` (e.g. 429 with Retry-After). */
  fail(fault: Omit<Fault, 'times'> & { times?: number }): void {
    this.faults.push({ times: 1, ...fault });
  }

  private async handle(req: IncomingMessage): Promise<Answer> {
    const url = new URL(req.url ?? '/', this.base);
    const method = req.method ?? 'GET';
    const request = { method, path: url.pathname, query: url.search, headers: req.headers };
    this.requests.push(request);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const latency = typeof this.latencyMs === 'function' ? this.latencyMs() : this.latencyMs;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));

    if (req.headers.authorization !== `Bearer ${this.token}`) {
      if (!this.signInPageForBadToken)
        return error(401, 'TF400813: The user is not authorized to access this resource.');
      const page = '<html><head><title>Sign in to your account</title></head><body></body></html>';
      return {
        status: 203,
        headers: { 'content-type': 'text/html; charset=utf-8' },
        body: Buffer.from(page),
      };
    }
    const fault = this.faults.find((f) => f.times > 0 && (!f.match || f.match(request)));
    if (fault) {
      fault.times--;
      const message = fault.message ?? `injected ${fault.status}`;
      return error(fault.status, message, fault.typeKey, fault.headers);
    }
    // Every Azure DevOps REST call names its version; 7.1 is what the clients speak.
    if (url.searchParams.get('api-version') !== '7.1') {
      return error(
        400,
        'The requested REST API version is missing or not supported (expected 7.1).',
        'VssVersionOutOfRangeException',
      );
    }
    const prefix = `/${this.organization}/`;
    if (!url.pathname.startsWith(prefix)) return error(404, 'unknown collection');
    const [project, ...rest] = url.pathname.slice(prefix.length).split('/').map(decodeURIComponent);
    const route = rest.join('/');
    const git = /^_apis\/git\/repositories\/([^/]+)\/(\w+)(?:\/([0-9a-f]{40}))?$/.exec(route);
    return (
      (git
        ? this.gitRoute(method, url, text, project, git[1], git[2], git[3])
        : this.buildRoute(method, url, text, project, route)) ??
      error(404, `fake ADO: no route ${method} ${url.pathname}`)
    );
  }

  private buildRoute(
    method: string,
    url: URL,
    text: string,
    project: string,
    route: string,
  ): Answer | undefined {
    // Builds - List: GET {org}/{project}/_apis/build/builds?tagFilters=&statusFilter=&buildIds=&continuationToken=
    // https://learn.microsoft.com/rest/api/azure/devops/build/builds/list?view=azure-devops-rest-7.1
    // Response { count, value: Build[] }; more pages announced with the x-ms-continuationtoken header.
    if (method === 'GET' && route === '_apis/build/builds') {
      if (this.forbidden.has('list')) return accessDenied('View builds');
      for (const b of this.builds.values()) {
        if (b.pendingListReads > 0 && --b.pendingListReads === 0) b.listedTags = [...b.tags];
      }
      const list = (name: string) => (url.searchParams.get(name) ?? '').split(',').filter(Boolean);
      const [tagFilters, statuses] = [list('tagFilters'), list('statusFilter')];
      const ids = list('buildIds').map(Number);
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
      const more = start + this.pageSize < matching.length;
      return {
        status: 200,
        headers: more ? { 'x-ms-continuationtoken': String(start + this.pageSize) } : {},
        body: { count: page.length, value: page.map((b) => this.toBuild(b)) },
      };
    }

    const [, id, resource, timelineId] =
      /^_apis\/build\/builds\/(\d+)\/(tags|timeline)(?:\/([^/]+))?$/.exec(route) ?? [];
    const found = this.builds.get(Number(id));
    const build = found?.project === project ? found : undefined;
    const notFound = error(404, `TF215016: The requested build ${id} could not be found.`);
    // Timeline - Get: GET {org}/{project}/_apis/build/builds/{buildId}/timeline[/{timelineId}]
    // https://learn.microsoft.com/rest/api/azure/devops/build/timeline/get?view=azure-devops-rest-7.1
    // → Timeline { id, changeId, records: TimelineRecord[] }; records of type Stage, Phase, Job, Task.
    if (method === 'GET' && resource === 'timeline') {
      if (this.forbidden.has('list')) return accessDenied('View builds');
      const records = timelineId ? build?.previousTimelines.get(timelineId) : build?.jobs;
      if (!build || !records) return notFound;
      return ok({
        id: timelineId ?? `timeline-${build.id}`,
        changeId: records.length,
        records: this.timelineRecords(build, records),
      });
    }
    if (resource !== 'tags' || timelineId) return undefined;
    if (!build) return notFound;
    // Tags - Get Build Tags: GET {org}/{project}/_apis/build/builds/{buildId}/tags → { count, value: string[] }
    // https://learn.microsoft.com/rest/api/azure/devops/build/tags/get-build-tags?view=azure-devops-rest-7.1
    if (method === 'GET') {
      if (this.forbidden.has('read-tags')) return accessDenied('View builds');
      return ok({ count: build.tags.length, value: build.tags });
    }
    // Tags - Update Build Tags: PATCH {org}/{project}/_apis/build/builds/{buildId}/tags
    // body { tagsToAdd: string[], tagsToRemove: string[] } → { count, value: string[] }
    // https://learn.microsoft.com/rest/api/azure/devops/build/tags/update-build-tags?view=azure-devops-rest-7.1
    if (method !== 'PATCH') return undefined;
    if (this.forbidden.has('write-tags')) return accessDenied('Edit build quality');
    const update = parseJson<{ tagsToAdd?: unknown; tagsToRemove?: unknown }>(text);
    if (!update) return INVALID_JSON;
    const add = Array.isArray(update.tagsToAdd) ? (update.tagsToAdd as string[]) : [];
    const remove = Array.isArray(update.tagsToRemove) ? (update.tagsToRemove as string[]) : [];
    build.tags = [...new Set([...build.tags.filter((t) => !remove.includes(t)), ...add])].sort();
    if (this.listLag > 0) build.pendingListReads = this.listLag;
    else build.listedTags = [...build.tags];
    return ok({ count: build.tags.length, value: build.tags });
  }

  /** Job records with the Stage and Phase above them and a Task below, as the service nests them. */
  private timelineRecords(build: FakeBuild, jobs: FakeJobRecord[]): Record<string, unknown>[] {
    const stage = `stage-${build.id}`;
    const out: Record<string, unknown>[] = [
      { id: stage, parentId: null, type: 'Stage', name: 'Publish', state: 'inProgress' },
    ];
    for (const job of jobs) {
      const phase = `phase-${job.id}`;
      const { state, result, attempt, startTime, finishTime } = job;
      const times = { state, result, attempt, startTime, finishTime };
      out.push(
        { id: phase, parentId: stage, type: 'Phase', name: job.name, state },
        {
          id: job.id,
          parentId: phase,
          type: 'Job',
          name: job.name,
          ...times,
          previousAttempts: job.previousAttempts,
        },
        { id: `task-${job.id}`, parentId: job.id, type: 'Task', name: 'eol-gate', ...times },
      );
    }
    return out;
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

  // https://learn.microsoft.com/rest/api/azure/devops/git/?view=azure-devops-rest-7.1
  private gitRoute(
    method: string,
    url: URL,
    text: string,
    project: string,
    repo: string,
    resource: string,
    id: string | undefined,
  ): Answer {
    const git = this.repos.repo(project, repo);
    if (!git) {
      return error(
        404,
        `TF401019: The Git repository with name or identifier ${repo} does not exist or you do not have permissions for the operation you are attempting.`,
        'GitRepositoryNotFoundException',
      );
    }
    if (resource === 'refs' && method === 'GET') {
      // Refs - List: `filter` is a prefix of the ref name without `refs/`.
      const filter = url.searchParams.get('filter') ?? '';
      const value = [...git.branches]
        .map(([name, objectId]) => ({ name: `refs/heads/${name}`, objectId }))
        .filter((r) => r.name.slice('refs/'.length).startsWith(filter));
      return ok({ value, count: value.length });
    }
    if (resource === 'items' && method === 'GET') {
      // Items - Get, at a branch (default main) or a commit.
      const path = url.searchParams.get('path') ?? '/';
      const version = url.searchParams.get('versionDescriptor.version');
      const versionType = url.searchParams.get('versionDescriptor.versionType') ?? 'branch';
      const commitId = versionType === 'commit' ? version : git.branches.get(version ?? 'main');
      const commit = commitId ? git.commits.get(commitId) : undefined;
      if (!commit) return unresolvable(versionType, version);
      const objectId = commit.tree.get(withSlash(path));
      if (!objectId) {
        return error(
          404,
          `TF401174: The item '${path}' could not be found in the repository '${repo}' at the version specified by '<${versionType}: ${version} >' (resolved to commit '${commit.id}').`,
          'GitItemNotFoundException',
        );
      }
      const bytes = this.repos.blobs.get(objectId)!;
      const inline =
        url.searchParams.get('includeContent') === 'true' &&
        bytes.length <= this.maxInlineContentBytes;
      return ok({
        objectId,
        gitObjectType: 'blob',
        commitId: commit.id,
        path,
        ...(inline ? { content: bytes.toString('utf8') } : {}),
      });
    }
    if (resource === 'commits' && method === 'GET' && !id) {
      // Commits - Get Commits: newest first, `$skip` then `$top` (default 100); count = this page's.
      const q = (name: string) => url.searchParams.get(`searchCriteria.${name}`);
      const version = q('itemVersion.version') ?? 'main';
      const versionType = q('itemVersion.versionType') ?? 'branch';
      const start = versionType === 'commit' ? version : git.branches.get(version);
      if (!start || !git.commits.get(start)) return unresolvable(versionType, version);
      // The commits reachable from `start` that added, changed or deleted the path.
      const path = withSlash(q('itemPath') ?? '/');
      const log: Commit[] = [];
      for (let c = git.commits.get(start); c;) {
        const parent = c.parent ? git.commits.get(c.parent) : undefined;
        if (c.tree.get(path) !== parent?.tree.get(path)) log.push(c);
        c = parent;
      }
      const skip = Number(q('$skip') ?? 0);
      const value = log.slice(skip, skip + Number(q('$top') ?? 100)).map((c) => {
        const who = { name: 'eol-gate test', email: 'test@example.com', date: c.date };
        return { commitId: c.id, author: who, committer: who, comment: c.comment };
      });
      return ok({ count: value.length, value });
    }
    if (resource === 'blobs' && method === 'GET' && id) {
      const bytes = this.repos.blobs.get(id);
      if (!bytes)
        return error(
          404,
          `TF401030: The object '${id}' does not exist.`,
          'GitObjectNotFoundException',
        );
      return { status: 200, headers: { 'content-type': 'application/octet-stream' }, body: bytes };
    }
    if (resource === 'pushes' && method === 'POST') return this.push(text, project, repo);
    return error(
      405,
      `${method} ${resource} is not supported by this fake`,
      'NotSupportedException',
    );
  }

  /** Pushes - Create: one ref update with one commit of add, edit and delete changes. */
  private push(text: string, project: string, repo: string): Answer {
    if (this.forbidden.has('push')) {
      return error(
        403,
        "TF401027: You need the Git 'GenericContribute' permission to perform this action.",
        'GitNeedsPermissionException',
      );
    }
    const body = parseJson<{
      refUpdates?: Array<{ name?: string; oldObjectId?: string }>;
      commits?: Array<{
        comment?: string;
        changes?: Array<{
          changeType?: string;
          item?: { path?: string };
          newContent?: { content?: string; contentType?: string };
        }>;
      }>;
    }>(text);
    if (!body) return INVALID_JSON;
    const badRequest = (message: string) => error(400, message, 'ArgumentException');
    const ref = body.refUpdates?.[0];
    const commit = body.commits?.[0];
    if (
      body.refUpdates?.length !== 1 ||
      !ref?.name ||
      !ref.oldObjectId ||
      body.commits?.length !== 1 ||
      !commit?.changes?.length
    ) {
      return badRequest(
        'refUpdates (one, with name and oldObjectId) and commits (one, with changes) are required.',
      );
    }
    const changes: Change[] = [];
    for (const change of commit.changes) {
      const changeType = change.changeType?.toLowerCase() ?? '';
      const path = change.item?.path;
      if (!['add', 'edit', 'delete'].includes(changeType) || !path) {
        return badRequest(
          `Unsupported change ${JSON.stringify(change.changeType)} or missing item.path.`,
        );
      }
      const { content, contentType } = change.newContent ?? {};
      const type = contentType?.toLowerCase();
      if (changeType === 'delete') changes.push({ changeType, path });
      else if (typeof content === 'string' && (type === 'base64encoded' || type === 'rawtext')) {
        const encoding = type === 'base64encoded' ? 'base64' : 'utf8';
        changes.push({ changeType, path, content: Buffer.from(content, encoding) });
      } else {
        return badRequest(
          'newContent with content and contentType (rawtext | base64encoded) is required.',
        );
      }
    }
    const comment = commit.comment ?? '';
    const result = this.repos.applyPush(project, repo, ref.name, ref.oldObjectId, comment, changes);
    if (!('commitId' in result)) return result;
    return {
      status: 201,
      body: {
        pushId: this.repos.pushes.length,
        commits: [{ commitId: result.commitId, comment: commit.comment }],
        refUpdates: [
          { name: ref.name, oldObjectId: ref.oldObjectId, newObjectId: result.commitId },
        ],
      },
    };
  }
}

function accessDenied(permission: string): Answer {
  return error(
    403,
    `Access denied. Project Build Service needs ${permission} permissions to perform the action.`,
    'AccessDeniedException',
  );
}
