/**
 * A loopback proxy in front of a real docker-registry for the bench: every request waits
 * `latencyMs` (a registry across a network) and is counted, by method and path.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface CountingProxy {
  url: string;
  latencyMs: number;
  /** Requests answered since the last reset (the `/v2/` ping included). */
  total: number;
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(
  upstream: string,
  latencyMs: number,
): Promise<CountingProxy> {
  const target = new URL(upstream);
  const proxy: CountingProxy = {
    url: '',
    latencyMs,
    total: 0,
    reset() {
      proxy.total = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req, res) => {
    proxy.total++;
    setTimeout(() => {
      const out = request(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: { ...req.headers, host: target.host },
        },
        (up) => {
          // Upload Locations name the upstream: point them back at the proxy.
          const headers = { ...up.headers };
          if (typeof headers.location === 'string')
            headers.location = headers.location.replace(target.origin, proxy.url);
          res.writeHead(up.statusCode ?? 502, headers);
          up.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    }, proxy.latencyMs);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
