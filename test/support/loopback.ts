import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request handler that answers what it knows and returns false for a route it does not. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/** The whole body of `req`. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Serves `handle` over plain HTTP on 127.0.0.1 (random port): unknown routes get 404, a thrown
 * error 500. Returns the origin (`http://127.0.0.1:<port>`) and a close that drops keep-alives.
 */
export async function serveOnLoopback(
  handle: RouteHandler,
): Promise<{ origin: string; close(): Promise<void> }> {
  const reply = (res: ServerResponse, status: number, message: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ message }));
  };
  const server = createServer((req, res) => {
    handle(req, res)
      .then((handled) => {
        if (!handled) reply(res, 404, 'Not Found');
      })
      .catch((e: Error) => reply(res, 500, e.message));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A proxy on 127.0.0.1 (random port) that forwards every request to `target` (an origin such
 * as a registry's URL) after calling `onRequest` with it: to record or to act on what a run
 * sends there.
 */
export async function proxyOnLoopback(
  target: string,
  onRequest: (req: IncomingMessage) => void,
): Promise<{ url: string; close(): Promise<void> }> {
  const upstream = new URL(target);
  const server = createServer((req, res) => {
    onRequest(req);
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
