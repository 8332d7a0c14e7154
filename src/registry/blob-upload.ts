import { RuntimeError } from '../core/errors.js';
import { HttpStatusError } from '../util/http.js';

/** What this process learnt of a registry's uploads (shared by every upload to it). */
export interface UploadState {
  /** Whether a monolithic `POST …?digest=` with the body stores the blob; undefined: not tried. */
  monolithic?: boolean;
}

type UploadAnswer = { status: number; location: string | null | undefined };

/** The requests of one blob upload, over an adapter's own client (auth, retries, errors). */
export interface UploadRequests {
  /** Where a relative upload `Location` points. */
  base: string | URL;
  /** HEAD of the blob: whether the repository holds it. */
  exists(): Promise<boolean>;
  /** A POST to the repository's uploads endpoint plus `query`; a status outside `ok` throws. */
  post(query: string, ok: number[], body?: Uint8Array): Promise<UploadAnswer>;
  /** The PUT with the whole body that completes a session (201 or 204). */
  put(target: URL, body: Uint8Array): Promise<void>;
}

/**
 * Uploads a blob unless the repository holds it (a HEAD, a read), in as few writes as the
 * registry allows: a cross-repository mount (`POST ?mount=&from=`) from `from`, a repository
 * known to hold it, else a monolithic `POST ?digest=` with the body; a registry that does
 * neither answers 202 with an upload session, which one PUT `?digest=` with the body completes.
 * `content` is asked for only when the blob is missing; `where` names the upload in errors.
 * `restartRejected`: a registry that kept a monolithic POST's body as a first chunk rejects
 * the PUT's digest (400): a fresh session is started instead of failing.
 */
export async function uploadBlob(
  r: UploadRequests,
  u: { repo: string; digest: string; from?: string; state: UploadState; where: string },
  content: () => Uint8Array,
  restartRejected = false,
): Promise<void> {
  if (await r.exists()) return;
  const body = content();
  const digest = encodeURIComponent(u.digest);
  const complete = async (start: UploadAnswer) => {
    if (start.status !== 202) return;
    if (!start.location) throw new RuntimeError(`${u.where} answered without a Location`);
    // Location may be relative or absolute and may already carry a query (upload state).
    const target = new URL(start.location, r.base);
    target.searchParams.set('digest', u.digest);
    await r.put(target, body);
  };
  // No mount (no access to `from`, or not supported) answers an ordinary session.
  if (u.from && u.from !== u.repo)
    return complete(
      await r.post(`?mount=${digest}&from=${encodeURIComponent(u.from)}`, [201, 202]),
    );
  if (u.state.monolithic !== false) {
    const start = await r.post(`?digest=${digest}`, [201, 202], body);
    u.state.monolithic = start.status === 201;
    try {
      return await complete(start);
    } catch (e) {
      if (!restartRejected || !(e instanceof HttpStatusError) || e.status !== 400) throw e;
    }
  }
  return complete(await r.post('', [202]));
}
