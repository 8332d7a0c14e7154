import { InputError, RuntimeError } from '../core/errors.js';
import {
  AzureDevOpsClient,
  type AzureDevOpsCall,
  type AzureDevOpsClientOptions,
} from '../services/azure-devops.js';
import { errorDetail } from '../util/http.js';
import { gitBlobId } from './git-blob.js';
import {
  ABSENT_FINGERPRINT,
  ImageInfoNotFoundError,
  type ImageInfoVersion,
  type SourceSnapshot,
  type WritableImageInfoSource,
} from './source.js';

export interface AzureReposLocation {
  project: string;
  repo: string;
  /** Path inside the repository, without a leading slash. */
  path: string;
  branch: string;
}

/** Pushes that lose a race with an unrelated commit are retried on the new head this often. */
const PUSH_RETRIES = 5;

/**
 * A read resolves the branch to a commit C and reads the file at C: text and fingerprint are one
 * snapshot. The fingerprint is the blob id (unrelated commits leave it, so the protocol does not
 * restart for them). A write pushes with `refUpdates[].oldObjectId` C: Azure Repos refuses it
 * (TF401028) if the branch moved; if the file is still the one merged into, the push is retried on
 * the new head, else 'conflict'.
 * https://learn.microsoft.com/en-us/rest/api/azure/devops/git/?view=azure-devops-rest-7.1
 */
export class AzureReposSource implements WritableImageInfoSource {
  private readonly client: AzureDevOpsClient;
  private readonly repoPath: string;
  /** blob id read → commit it was read at, so a write can push on exactly that commit. */
  private readonly readAt = new Map<string, string>();

  constructor(
    readonly location: AzureReposLocation,
    options: AzureDevOpsClientOptions,
  ) {
    this.client = new AzureDevOpsClient(options);
    this.repoPath = `git/repositories/${encodeURIComponent(location.repo)}`;
  }

  get name(): string {
    const { project, repo, path, branch } = this.location;
    return `azure-repos:${project}/${repo}/${path}@${branch}`;
  }

  private get itemPath(): string {
    return `/${this.location.path}`;
  }

  private url(resource: string, query: Record<string, string | number | undefined> = {}): string {
    return this.client.url(this.location.project, `${this.repoPath}/${resource}`, query);
  }

  private call(action: 'read' | 'write', extra: Partial<AzureDevOpsCall> = {}): AzureDevOpsCall {
    return {
      what: `${action} ${this.name}`,
      permission: `"${action === 'write' ? 'Contribute' : 'Read'}" on the repository (Project Settings > Repositories > Security)`,
      notFound: 'no such project or repository, or the build service identity cannot see it',
      ...extra,
    };
  }

  async read(): Promise<SourceSnapshot> {
    const { commit, item } = await this.snapshot();
    if (!item)
      throw new ImageInfoNotFoundError(
        `${this.name}: image-info not found (no such file at commit ${commit})`,
      );
    return { text: item.text, fingerprint: item.objectId };
  }

  async write(
    text: string,
    expectedFingerprint: string,
    message: string,
  ): Promise<SourceSnapshot | 'conflict'> {
    const creating = expectedFingerprint === ABSENT_FINGERPRINT;
    let commit = this.readAt.get(expectedFingerprint);
    let rejected: { commit: string; detail: string } | undefined;
    for (let attempt = 0; attempt <= PUSH_RETRIES; attempt++) {
      if (commit === undefined) {
        // We never read this version or the push was refused: look again before pushing anything.
        const now = await this.snapshot();
        if ((now.item?.objectId ?? ABSENT_FINGERPRINT) !== expectedFingerprint) return 'conflict';
        // Neither the branch nor the file moved, yet the push was refused: not a race.
        if (rejected && rejected.commit === now.commit)
          throw new RuntimeError(`${this.name}: Azure Repos refused the push (${rejected.detail})`);
        commit = now.commit;
      }
      const pushed = await this.push(text, commit, creating, message);
      if (typeof pushed === 'string') {
        const fingerprint = gitBlobId(text);
        if (pushed) this.readAt.set(fingerprint, pushed);
        return { text, fingerprint };
      }
      rejected = { commit, detail: pushed.rejected };
      commit = undefined;
    }
    return 'conflict';
  }

  /**
   * The file's commits from the branch head resolved once (a fixed commit keeps `$skip` pages
   * stable while others push), each read like `read()`; a commit that deleted it is skipped.
   * https://learn.microsoft.com/en-us/rest/api/azure/devops/git/commits/get-commits?view=azure-devops-rest-7.1
   */
  async history(maxVersions: number): Promise<ImageInfoVersion[]> {
    if (maxVersions < 1) return [];
    const head = await this.head();
    type Commit = { commitId?: string; committer?: { date?: string } };
    const commits = await this.client.listSkip<Commit>(
      this.location.project,
      `${this.repoPath}/commits`,
      {
        'searchCriteria.itemPath': this.itemPath,
        'searchCriteria.itemVersion.version': head,
        'searchCriteria.itemVersion.versionType': 'commit',
      },
      { top: 'searchCriteria.$top', skip: 'searchCriteria.$skip' },
      maxVersions,
      this.call('read'),
    );
    const versions: ImageInfoVersion[] = [];
    for (const { commitId, committer } of commits) {
      if (typeof commitId !== 'string')
        throw new RuntimeError(`${this.name}: Azure Repos listed a commit without a commitId`);
      const item = await this.itemAt(commitId);
      if (item) versions.push({ revision: commitId, date: committer?.date, text: item.text });
    }
    return versions;
  }

  /** The branch head, and the file there if it exists. */
  private async snapshot(): Promise<{ commit: string; item?: { objectId: string; text: string } }> {
    const commit = await this.head();
    const item = await this.itemAt(commit);
    // Only head reads: a write pushes on the commit its fingerprint was read at, never an old one.
    if (item) this.readAt.set(item.objectId, commit);
    return { commit, item };
  }

  private async itemAt(commit: string): Promise<{ objectId: string; text: string } | undefined> {
    // https://learn.microsoft.com/en-us/rest/api/azure/devops/git/items/get?view=azure-devops-rest-7.1
    const url = this.url('items', {
      path: this.itemPath,
      'versionDescriptor.version': commit,
      'versionDescriptor.versionType': 'commit',
      includeContent: 'true',
      $format: 'json',
    });
    const body = await this.client.json<{
      objectId?: string;
      gitObjectType?: string;
      content?: string;
      isFolder?: boolean;
    }>('GET', url, this.call('read', { expect: [404] }));
    if (!body) return undefined;
    if (
      typeof body.objectId !== 'string' ||
      body.isFolder ||
      (body.gitObjectType && body.gitObjectType !== 'blob')
    )
      throw new InputError(`${this.name}: not a file`);
    // Inline content is decoded text; when it does not hash to the blob id (a BOM, a non-UTF-8
    // file, no inline content for a large one) fetch the exact bytes by blob id instead: our
    // fingerprint must be the blob we push against.
    let bytes = typeof body.content === 'string' ? Buffer.from(body.content, 'utf8') : undefined;
    if (!bytes || gitBlobId(bytes) !== body.objectId) {
      // https://learn.microsoft.com/en-us/rest/api/azure/devops/git/blobs/get-blob?view=azure-devops-rest-7.1
      const blobUrl = this.url(`blobs/${body.objectId}`, { $format: 'octetstream' });
      const accept = 'application/octet-stream';
      const blob = await this.client.send('GET', blobUrl, this.call('read', { accept }));
      bytes = Buffer.from(await blob.arrayBuffer());
      if (gitBlobId(bytes) !== body.objectId)
        throw new RuntimeError(
          `${this.name}: content does not match blob ${body.objectId} (truncated or altered response)`,
        );
    }
    return { objectId: body.objectId, text: bytes.toString('utf8') };
  }

  private async head(): Promise<string> {
    // https://learn.microsoft.com/en-us/rest/api/azure/devops/git/refs/list?view=azure-devops-rest-7.1
    // `filter` is a prefix match, so pick the exact ref.
    const ref = `refs/heads/${this.location.branch}`;
    const url = this.url('refs', { filter: `heads/${this.location.branch}` });
    type Refs = { value?: Array<{ name?: string; objectId?: string }> };
    const body = await this.client.json<Refs>('GET', url, this.call('read'));
    const found = body?.value?.find((r) => r.name === ref);
    if (!found?.objectId)
      throw new ImageInfoNotFoundError(`${this.name}: branch ${this.location.branch} not found`);
    return found.objectId;
  }

  /** The new commit id ('' when the answer lacks it), or why the push was refused (409/400). */
  private async push(
    text: string,
    oldCommit: string,
    creating: boolean,
    message: string,
  ): Promise<string | { rejected: string }> {
    // https://learn.microsoft.com/en-us/rest/api/azure/devops/git/pushes/create?view=azure-devops-rest-7.1
    const body = {
      refUpdates: [{ name: `refs/heads/${this.location.branch}`, oldObjectId: oldCommit }],
      commits: [
        {
          comment: message,
          changes: [
            {
              changeType: creating ? 'add' : 'edit',
              item: { path: this.itemPath },
              newContent: {
                content: Buffer.from(text, 'utf8').toString('base64'),
                contentType: 'base64encoded',
              },
            },
          ],
        },
      ],
    };
    // TF401028 (ref moved: 409), or the path exists / does not exist for add / edit (400/409):
    // write() re-reads and decides between a retry on the new head and 'conflict'. A retried
    // push whose first try landed ends here too and resolves to 'conflict' (our own content).
    const url = this.url('pushes');
    const res = await this.client.send(
      'POST',
      url,
      this.call('write', { body, expect: [400, 409] }),
    );
    if (!res.ok) return { rejected: `HTTP ${res.status} ${await errorDetail(res)}` };
    type Pushed = { refUpdates?: Array<{ newObjectId?: string }> };
    return (await this.client.parse<Pushed>('POST', url, res)).refUpdates?.[0]?.newObjectId ?? '';
  }
}
