import {
  createHttpHeaders,
  createPipelineRequest,
  type PipelineRequest,
  type PipelineResponse,
} from '@azure/core-rest-pipeline';
import type { ContainerRegistryContentClient } from '@azure/container-registry';
import { RuntimeError } from '../../core/errors.js';
import { nextLink } from '../links.js';

/**
 * Requests the SDK has no method for (HEAD, blob uploads, referrers, the raw listing), sent
 * through a content client's own pipeline so they get the same challenge/token handling, TLS
 * and policies; and the page format those answers share.
 */
export interface RawRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  /** Path and query on the registry's endpoint. */
  path: string;
  accept: string;
  body?: Uint8Array;
}

interface SendsRequests {
  sendRequest(request: PipelineRequest): Promise<PipelineResponse>;
}

/** The SDK keeps its authenticated ServiceClient in a private field; we send raw requests through it. */
function serviceClientOf(content: ContainerRegistryContentClient): SendsRequests {
  const client = (content as unknown as { client?: Partial<SendsRequests> }).client;
  if (!client || typeof client.sendRequest !== 'function') {
    throw new Error(
      'internal: @azure/container-registry no longer exposes its service client; update the ACR adapter',
    );
  }
  return client as SendsRequests;
}

/** Sends `r` through `content`'s pipeline; any status comes back (the caller maps it). */
export function sendRaw(
  content: ContainerRegistryContentClient,
  endpoint: string,
  r: RawRequest,
): Promise<PipelineResponse> {
  const service = serviceClientOf(content);
  const headers = createHttpHeaders({ Accept: r.accept });
  if (r.body) headers.set('Content-Type', 'application/octet-stream');
  const request = createPipelineRequest({
    url: new URL(r.path, endpoint).toString(),
    method: r.method,
    headers,
    ...(r.body ? { body: r.body } : {}),
  });
  return service.sendRequest(request);
}

/**
 * A page's JSON (a listing or a referrers index): the pipeline has usually parsed it already
 * (parsedBody). An answer without a body is an error, never an empty page.
 */
export function pageBody(res: PipelineResponse, what: string): { manifests?: unknown[] } {
  let body = (res as PipelineResponse & { parsedBody?: unknown }).parsedBody;
  if (typeof body !== 'object' || body === null) {
    if (!res.bodyAsText) throw new RuntimeError(`${what}: the answer has no body`);
    try {
      body = JSON.parse(res.bodyAsText);
    } catch {
      throw new RuntimeError(`${what}: the answer is not JSON`);
    }
  }
  const manifests = (body as { manifests?: unknown }).manifests;
  if (
    typeof body !== 'object' ||
    body === null ||
    (manifests !== undefined && !Array.isArray(manifests))
  ) {
    throw new RuntimeError(`${what}: unexpected answer`);
  }
  return body as { manifests?: unknown[] };
}

/** The path (and query) of a page's `Link: <…>; rel="next"`, on our own endpoint. */
export function nextPath(res: PipelineResponse): string | undefined {
  const link = nextLink(res.headers.get('link') ?? null);
  if (!link) return undefined;
  const url = new URL(link, 'https://placeholder.invalid');
  return url.pathname + url.search;
}
