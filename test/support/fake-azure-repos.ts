/**
 * A fake of the Azure Repos REST API (api-version 7.1) for the calls eol-gate makes: refs list,
 * items get, blobs get, pushes create, commits get (a file's history). Plain http on 127.0.0.1;
 * the base URL plays the role of `System.CollectionUri`. `azureReposHandler` can be mounted on a bigger fake Azure DevOps.
 *
 * https://learn.microsoft.com/en-us/rest/api/azure/devops/git/?view=azure-devops-rest-7.1
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gitBlobId } from '../../src/imageinfo/git-blob.js';
import { serveOnLoopback } from './loopback.js';

export type TokenAccess = 'read' | 'write';

export interface FakeAzureReposOptions {
  latencyMs?: number | (() => number);
  /** When set, requests need `Authorization: Bearer <token>` with one of these tokens. */
  tokens?: Record<string, TokenAccess>;
  /** Items larger than this come without inline `content` (a client must then fetch the blob). */
  maxInlineContentBytes?: number;
  /** A token not in `tokens` gets the sign-in page (203, HTML), as the service serves it, not a 401. */
  signInPageForBadToken?: boolean;
}

interface Commit {
  id: string;
  parent?: string;
  tree: Map<string, string>; // path → blob id
  comment: string;
  /** ISO 8601 */
  date: string;
}

/** One repository's git state: commits with whole trees (tiny repos), branches, blobs. */
export class AzureReposStore {
  private readonly repos = new Map<
    string,
    { branches: Map<string, string>; commits: Map<string, Commit> }
  >();
  private readonly blobs = new Map<string, Buffer>();
  readonly requests: Array<{ method: string; path: string; headers: IncomingMessage['headers'] }> =
    [];
  readonly pushes: Array<{ commitId: string; comment: string }> = [];
  /** Injected failures, consumed in order by matching requests. */
  readonly faults: Array<{
    method?: string;
    status: number;
    times: number;
    /** Only requests whose path and query match (e.g. one commit's items read). */
    url?: RegExp;
    typeKey?: string;
    message?: string;
  }> = [];
  private counter = 0;
  /** The commit clock (epoch ms); tests set it for known dates. */
  now: () => number = () => Date.now();

  private repoState(project: string, repo: string) {
    const key = `${project.toLowerCase()}/${repo.toLowerCase()}`;
    let state = this.repos.get(key);
    if (!state) {
      state = { branches: new Map(), commits: new Map() };
      this.repos.set(key, state);
    }
    return state;
  }

  hasRepo(project: string, repo: string): boolean {
    return this.repos.has(`${project.toLowerCase()}/${repo.toLowerCase()}`);
  }

  private newCommitId(): string {
    return gitBlobId(`commit ${++this.counter}`);
  }

  /** Commits `files` (path → content, null deletes) on top of `branch` (created if missing). */
  commit(
    project: string,
    repo: string,
    branch: string,
    files: Record<string, string | null>,
    comment = 'test commit',
  ): string {
    const state = this.repoState(project, repo);
    const parentId = state.branches.get(branch);
    const tree = new Map(parentId ? state.commits.get(parentId)!.tree : []);
    for (const [path, content] of Object.entries(files)) {
      const p = path.startsWith('/') ? path : `/${path}`;
      if (content === null) tree.delete(p);
      else tree.set(p, this.putBlob(Buffer.from(content, 'utf8')));
    }
    const id = this.newCommitId();
    state.commits.set(id, { id, parent: parentId, tree, comment, date: this.date() });
    state.branches.set(branch, id);
    return id;
  }

  private date(): string {
    return new Date(this.now()).toISOString();
  }

  /** The commits reachable from `start`, newest first, that added, changed or deleted `path`. */
  log(project: string, repo: string, start: string, path: string): Commit[] {
    const out: Commit[] = [];
    for (let c = this.commitById(project, repo, start); c;) {
      const parent = c.parent ? this.commitById(project, repo, c.parent) : undefined;
      if (c.tree.get(path) !== parent?.tree.get(path)) out.push(c);
      c = parent;
    }
    return out;
  }

  putBlob(bytes: Buffer): string {
    const id = gitBlobId(bytes);
    this.blobs.set(id, bytes);
    return id;
  }

  head(project: string, repo: string, branch: string): string | undefined {
    return this.repos.get(`${project.toLowerCase()}/${repo.toLowerCase()}`)?.branches.get(branch);
  }

  branches(project: string, repo: string): Map<string, string> {
    return this.repoState(project, repo).branches;
  }

  commitById(project: string, repo: string, id: string): Commit | undefined {
    return this.repoState(project, repo).commits.get(id);
  }

  getFile(project: string, repo: string, branch: string, path: string): string | undefined {
    const head = this.head(project, repo, branch);
    if (!head) return undefined;
    const blob = this.commitById(project, repo, head)?.tree.get(
      path.startsWith('/') ? path : `/${path}`,
    );
    return blob === undefined ? undefined : this.blobs.get(blob)!.toString('utf8');
  }

  blob(id: string): Buffer | undefined {
    return this.blobs.get(id);
  }

  /** Atomic: validate against the current head and move the branch, with no await in between. */
  applyPush(
    project: string,
    repo: string,
    refName: string,
    oldObjectId: string,
    comment: string,
    changes: Array<{ changeType: string; path: string; content?: Buffer }>,
  ):
    | { ok: true; commitId: string }
    | { ok: false; status: number; typeKey: string; message: string } {
    const state = this.repoState(project, repo);
    const branch = refName.replace(/^refs\/heads\//, '');
    const head = state.branches.get(branch);
    const zero = /^0{40}$/.test(oldObjectId);
    if ((head ?? '0'.repeat(40)) !== oldObjectId || (zero && head !== undefined)) {
      return {
        ok: false,
        status: 409,
        typeKey: 'GitReferenceStaleException',
        message: `TF401028: The reference '${refName}' has already been updated by another client, so you cannot update it. Please try again.`,
      };
    }
    const tree = new Map(head ? state.commits.get(head)!.tree : []);
    for (const change of changes) {
      const exists = tree.has(change.path);
      if (change.changeType === 'add' && exists) {
        return {
          ok: false,
          status: 400,
          typeKey: 'GitItemAlreadyExistsException',
          message: `The path '${change.path}' specified in the add operation already exists. Please specify a new path.`,
        };
      }
      if ((change.changeType === 'edit' || change.changeType === 'delete') && !exists) {
        return {
          ok: false,
          status: 400,
          typeKey: 'GitItemNotFoundException',
          message: `TF401174: The item '${change.path}' could not be found in the repository '${repo}' at the version specified by '<Commit: ${oldObjectId.slice(0, 8)} >'.`,
        };
      }
      if (change.changeType === 'delete') tree.delete(change.path);
      else tree.set(change.path, this.putBlob(change.content!));
    }
    const id = this.newCommitId();
    state.commits.set(id, { id, parent: head, tree, comment, date: this.date() });
    state.branches.set(branch, id);
    this.pushes.push({ commitId: id, comment });
    return { ok: true, commitId: id };
  }
}

function send(res: ServerResponse, status: number, body: unknown, contentType?: string): void {
  const data = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, {
    'content-type': contentType ?? 'application/json; charset=utf-8; api-version=7.1',
    'content-length': String(data.length),
  });
  res.end(data);
}

function error(res: ServerResponse, status: number, typeKey: string, message: string): void {
  // The shape of Azure DevOps' error body (WrappedException).
  send(res, status, {
    $id: '1',
    innerException: null,
    message,
    typeName: `Microsoft.TeamFoundation.Git.Server.${typeKey}`,
    typeKey,
    errorCode: 0,
    eventId: 3000,
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROUTE =
  /^\/([^/]+)\/_apis\/git\/repositories\/([^/]+)\/(refs|items|pushes|blobs|commits)(?:\/([0-9a-f]{40}))?$/;

export function azureReposHandler(
  store: AzureReposStore,
  options: FakeAzureReposOptions = {},
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const latency =
    typeof options.latencyMs === 'function'
      ? options.latencyMs
      : () => (options.latencyMs as number | undefined) ?? 0;
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = ROUTE.exec(url.pathname);
    if (!route) return false;
    const method = req.method ?? 'GET';
    store.requests.push({ method, path: url.pathname, headers: req.headers });
    const ms = latency();
    if (ms > 0) await sleep(ms);
    const fault = store.faults.find(
      (f) =>
        f.times > 0 &&
        (!f.method || f.method === method) &&
        (!f.url || f.url.test(`${url.pathname}${url.search}`)),
    );
    if (fault) {
      fault.times--;
      error(
        res,
        fault.status,
        fault.typeKey ?? 'InjectedFault',
        fault.message ?? `injected fault ${fault.status}`,
      );
      return true;
    }
    const project = decodeURIComponent(route[1]);
    const repo = decodeURIComponent(route[2]);
    const [, , , resource, id] = route;

    let access: TokenAccess = 'write';
    if (options.tokens) {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      const found = token === undefined ? undefined : options.tokens[token];
      if (!found && options.signInPageForBadToken) {
        const page =
          '<html><head><title>Sign in to your account</title></head><body></body></html>';
        send(res, 203, Buffer.from(page), 'text/html; charset=utf-8');
        return true;
      }
      if (!found) {
        send(res, 401, 'Unauthorized'); // Azure DevOps answers 401 with an HTML/plain body
        return true;
      }
      access = found;
    }
    if (url.searchParams.get('api-version') !== '7.1') {
      error(
        res,
        400,
        'VssVersionOutOfRangeException',
        'The requested REST API version is missing or not supported (expected 7.1).',
      );
      return true;
    }
    if (!store.hasRepo(project, repo)) {
      error(
        res,
        404,
        'GitRepositoryNotFoundException',
        `TF401019: The Git repository with name or identifier ${repo} does not exist or you do not have permissions for the operation you are attempting.`,
      );
      return true;
    }

    if (resource === 'refs' && method === 'GET') {
      // Refs - List: https://learn.microsoft.com/en-us/rest/api/azure/devops/git/refs/list?view=azure-devops-rest-7.1
      // `filter` is a prefix of the ref name without `refs/`.
      const filter = url.searchParams.get('filter') ?? '';
      const value = [...store.branches(project, repo)]
        .map(([name, objectId]) => ({ name: `refs/heads/${name}`, objectId }))
        .filter((r) => r.name.slice('refs/'.length).startsWith(filter));
      send(res, 200, { value, count: value.length });
      return true;
    }

    if (resource === 'items' && method === 'GET') {
      // Items - Get: https://learn.microsoft.com/en-us/rest/api/azure/devops/git/items/get?view=azure-devops-rest-7.1
      const path = url.searchParams.get('path') ?? '/';
      const version = url.searchParams.get('versionDescriptor.version');
      const versionType = url.searchParams.get('versionDescriptor.versionType') ?? 'branch';
      const commitId =
        version === null
          ? store.head(project, repo, 'main')
          : versionType === 'commit'
            ? version
            : store.head(project, repo, version);
      const commit = commitId ? store.commitById(project, repo, commitId) : undefined;
      if (!commit) {
        error(
          res,
          404,
          'GitUnresolvableToCommitException',
          `TF401175: The version descriptor <${versionType}: ${version} > could not be resolved to a version in the repository.`,
        );
        return true;
      }
      const blobId = commit.tree.get(path.startsWith('/') ? path : `/${path}`);
      if (!blobId) {
        error(
          res,
          404,
          'GitItemNotFoundException',
          `TF401174: The item '${path}' could not be found in the repository '${repo}' at the version specified by '<${versionType}: ${version} >' (resolved to commit '${commit.id}').`,
        );
        return true;
      }
      const bytes = store.blob(blobId)!;
      const body: Record<string, unknown> = {
        objectId: blobId,
        gitObjectType: 'blob',
        commitId: commit.id,
        path,
      };
      if (
        url.searchParams.get('includeContent') === 'true' &&
        bytes.length <= (options.maxInlineContentBytes ?? Infinity)
      ) {
        body.content = bytes.toString('utf8');
      }
      send(res, 200, body);
      return true;
    }

    if (resource === 'commits' && method === 'GET' && !id) {
      // Commits - Get Commits: https://learn.microsoft.com/en-us/rest/api/azure/devops/git/commits/get-commits?view=azure-devops-rest-7.1
      // Newest first, `$skip` then `$top` (default 100); `{ count, value }` with count = this page's.
      const q = (name: string) => url.searchParams.get(`searchCriteria.${name}`);
      const version = q('itemVersion.version') ?? 'main';
      const versionType = q('itemVersion.versionType') ?? 'branch';
      const start = versionType === 'commit' ? version : store.head(project, repo, version);
      if (!start || !store.commitById(project, repo, start)) {
        error(
          res,
          404,
          'GitUnresolvableToCommitException',
          `TF401175: The version descriptor <${versionType}: ${version} > could not be resolved to a version in the repository.`,
        );
        return true;
      }
      const itemPath = q('itemPath') ?? '/';
      const skip = Number(q('$skip') ?? 0);
      const value = store
        .log(project, repo, start, itemPath.startsWith('/') ? itemPath : `/${itemPath}`)
        .slice(skip, skip + Number(q('$top') ?? 100))
        .map((c) => {
          const who = { name: 'eol-gate test', email: 'test@example.com', date: c.date };
          return { commitId: c.id, author: who, committer: who, comment: c.comment };
        });
      send(res, 200, { count: value.length, value });
      return true;
    }

    if (resource === 'blobs' && method === 'GET' && id) {
      // Blobs - Get Blob: https://learn.microsoft.com/en-us/rest/api/azure/devops/git/blobs/get-blob?view=azure-devops-rest-7.1
      const bytes = store.blob(id);
      if (!bytes)
        error(
          res,
          404,
          'GitObjectNotFoundException',
          `TF401030: The object '${id}' does not exist.`,
        );
      else send(res, 200, bytes, 'application/octet-stream');
      return true;
    }

    if (resource === 'pushes' && method === 'POST') {
      // Pushes - Create: https://learn.microsoft.com/en-us/rest/api/azure/devops/git/pushes/create?view=azure-devops-rest-7.1
      if (access !== 'write') {
        error(
          res,
          403,
          'GitNeedsPermissionException',
          "TF401027: You need the Git 'GenericContribute' permission to perform this action.",
        );
        return true;
      }
      let body: {
        refUpdates?: Array<{ name?: string; oldObjectId?: string }>;
        commits?: Array<{
          comment?: string;
          changes?: Array<{
            changeType?: string;
            item?: { path?: string };
            newContent?: { content?: string; contentType?: string };
          }>;
        }>;
      };
      try {
        body = JSON.parse(await readBody(req)) as typeof body;
      } catch {
        error(res, 400, 'ArgumentException', 'The body of the request contains invalid Json.');
        return true;
      }
      const ref = body.refUpdates?.[0];
      const commit = body.commits?.[0];
      if (
        body.refUpdates?.length !== 1 ||
        !ref?.name ||
        !ref.oldObjectId ||
        body.commits?.length !== 1 ||
        !commit?.changes?.length
      ) {
        error(
          res,
          400,
          'ArgumentException',
          'refUpdates (one, with name and oldObjectId) and commits (one, with changes) are required.',
        );
        return true;
      }
      const changes: Array<{ changeType: string; path: string; content?: Buffer }> = [];
      for (const change of commit.changes) {
        const changeType = change.changeType?.toLowerCase() ?? '';
        const path = change.item?.path;
        if (!['add', 'edit', 'delete'].includes(changeType) || !path) {
          error(
            res,
            400,
            'ArgumentException',
            `Unsupported change ${JSON.stringify(change.changeType)} or missing item.path.`,
          );
          return true;
        }
        let content: Buffer | undefined;
        if (changeType !== 'delete') {
          const type = change.newContent?.contentType?.toLowerCase();
          if (
            typeof change.newContent?.content !== 'string' ||
            (type !== 'base64encoded' && type !== 'rawtext')
          ) {
            error(
              res,
              400,
              'ArgumentException',
              'newContent with content and contentType (rawtext | base64encoded) is required.',
            );
            return true;
          }
          content = Buffer.from(
            change.newContent.content,
            type === 'base64encoded' ? 'base64' : 'utf8',
          );
        }
        changes.push({ changeType, path, content });
      }
      const result = store.applyPush(
        project,
        repo,
        ref.name,
        ref.oldObjectId,
        commit.comment ?? '',
        changes,
      );
      if (!result.ok) {
        error(res, result.status, result.typeKey, result.message);
        return true;
      }
      send(res, 201, {
        pushId: store.pushes.length,
        commits: [{ commitId: result.commitId, comment: commit.comment }],
        refUpdates: [
          { name: ref.name, oldObjectId: ref.oldObjectId, newObjectId: result.commitId },
        ],
      });
      return true;
    }

    error(res, 405, 'NotSupportedException', `${method} ${resource} is not supported by this fake`);
    return true;
  };
}

export interface FakeAzureRepos {
  /** Plays `System.CollectionUri`. */
  url: string;
  store: AzureReposStore;
  close(): Promise<void>;
}

export async function startFakeAzureRepos(
  options: FakeAzureReposOptions = {},
  store = new AzureReposStore(),
): Promise<FakeAzureRepos> {
  const handle = azureReposHandler(store, options);
  const { origin, close } = await serveOnLoopback(handle);
  return { url: `${origin}/`, store, close };
}
