import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request handler that answers what it knows and returns false for a route it does not. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

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
