import type { IncomingMessage } from 'node:http';
import { readBody, serveOnLoopback } from '../../support/loopback.js';

const SERVICE = '/twirp/github.actions.results.api.v1.ArtifactService/';

/** An artifact as the service holds it once finalized. */
export interface StoredArtifact {
  id: number;
  name: string;
  /** From CreateArtifact and FinalizeArtifact: the backend ids the runtime token names. */
  runBackendId: string;
  jobBackendId: string;
  content: Buffer;
  /** What FinalizeArtifact said: size and `sha256:<hex>`. */
  size: string;
  hash?: string;
}

/**
 * The Actions results service as @actions/artifact v2+ speaks it, on loopback: Twirp JSON
 * `CreateArtifact` (answers a signed upload URL on this same server), the Azure Blob block
 * upload to that URL (`comp=block`, `comp=blocklist`, or one plain PUT), and `FinalizeArtifact`.
 */
export class FakeArtifactService {
  readonly artifacts: StoredArtifact[] = [];
  readonly requests: string[] = [];
  private server?: { origin: string; close(): Promise<void> };
  private readonly pending = new Map<
    string,
    { runBackendId: string; jobBackendId: string; blocks: Map<string, Buffer>; content?: Buffer }
  >();
  private nextId = 4200;

  get url(): string {
    return `${this.server!.origin}/`;
  }

  /** A runtime token carrying the `Actions.Results:<run>:<job>` scope the client reads. */
  static runtimeToken(runBackendId = 'run-backend-1', jobBackendId = 'job-backend-1'): string {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ scp: `Actions.GenericRead Actions.Results:${runBackendId}:${jobBackendId}` })}.sig`;
  }

  async start(): Promise<this> {
    this.server = await serveOnLoopback(async (req, res) => {
      const { status, body, headers } = await this.handle(req);
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
      return true;
    });
    return this;
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  private async handle(
    req: IncomingMessage,
  ): Promise<{ status: number; body: string; headers?: Record<string, string> }> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    this.requests.push(
      `${req.method} ${url.pathname}${url.searchParams.get('comp') ? `?comp=${url.searchParams.get('comp')}` : ''}`,
    );

    if (req.method === 'POST' && url.pathname === `${SERVICE}CreateArtifact`) {
      if (!/^Bearer .+/.test(req.headers.authorization ?? '')) return { status: 401, body: '{}' };
      const r = JSON.parse(body.toString()) as Record<string, string>;
      this.pending.set(r.name, {
        runBackendId: r.workflowRunBackendId ?? r.workflow_run_backend_id,
        jobBackendId: r.workflowJobRunBackendId ?? r.workflow_job_run_backend_id,
        blocks: new Map(),
      });
      // Azurite-style path (account/container/blob): the blob SDK accepts it on an IP host.
      const signed = `${this.url}devstoreaccount1/actions-results/${encodeURIComponent(r.name)}?sig=fake`;
      return { status: 200, body: JSON.stringify({ ok: true, signedUploadUrl: signed }) };
    }
    if (req.method === 'PUT' && url.pathname.startsWith('/devstoreaccount1/actions-results/')) {
      const name = decodeURIComponent(url.pathname.split('/').pop()!);
      const upload = this.pending.get(name);
      if (!upload || url.searchParams.get('sig') !== 'fake') return { status: 403, body: '' };
      const comp = url.searchParams.get('comp');
      const blobHeaders = {
        etag: '"0x1"',
        'last-modified': new Date().toUTCString(),
        'x-ms-request-id': '1',
        'x-ms-version': '2024-11-04',
      };
      if (comp === 'block') upload.blocks.set(url.searchParams.get('blockid')!, body);
      else if (comp === 'blocklist') {
        const ids = [
          ...body.toString().matchAll(/<(?:Latest|Uncommitted|Committed)>([^<]*)</g),
        ].map((m) => m[1]);
        upload.content = Buffer.concat(ids.map((id) => upload.blocks.get(id) ?? Buffer.alloc(0)));
      } else upload.content = body;
      return { status: 201, body: '', headers: blobHeaders };
    }
    if (req.method === 'POST' && url.pathname === `${SERVICE}FinalizeArtifact`) {
      const r = JSON.parse(body.toString()) as Record<string, string | { value: string }>;
      const name = r.name as string;
      const upload = this.pending.get(name);
      if (!upload?.content) return { status: 404, body: JSON.stringify({ code: 'not_found' }) };
      const id = ++this.nextId;
      this.artifacts.push({
        id,
        name,
        runBackendId: upload.runBackendId,
        jobBackendId: upload.jobBackendId,
        content: upload.content,
        size: r.size as string,
        hash: (r.hash as { value: string } | undefined)?.value ?? (r.hash as string | undefined),
      });
      this.pending.delete(name);
      return { status: 200, body: JSON.stringify({ ok: true, artifactId: String(id) }) };
    }
    return { status: 404, body: JSON.stringify({ code: 'bad_route' }) };
  }
}
