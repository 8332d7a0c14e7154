import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

export interface DockerRegistry {
  /** e.g. `http://127.0.0.1:41234` */
  url: string;
  /** Temp dir holding config.yml and the registry's storage (`data/`). */
  storageDir: string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

/** Finds Debian's distribution binary; a missing binary is a setup error, so the test fails. */
export function dockerRegistryBinary(): string {
  if (existsSync('/usr/bin/docker-registry')) return '/usr/bin/docker-registry';
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'docker-registry'))) return join(dir, 'docker-registry');
  }
  throw new Error(
    'docker-registry not found: run `sudo apt-get install docker-registry` (Debian/Ubuntu package)',
  );
}

/**
 * Starts a real distribution 2.8 registry on a free loopback port with filesystem storage in
 * a temp dir and deletes enabled. Resolves once `GET /v2/` answers.
 */
export async function startDockerRegistry(): Promise<DockerRegistry> {
  const binary = dockerRegistryBinary();
  const storageDir = await mkdtemp(join(tmpdir(), 'eol-gate-registry-'));
  try {
    // The free port can be taken between probe and bind; a second try covers that race.
    for (let attempt = 1; ; attempt++) {
      try {
        return await startOnce(binary, storageDir);
      } catch (e) {
        if (attempt >= 3) throw e;
      }
    }
  } catch (e) {
    await rm(storageDir, { recursive: true, force: true });
    throw e;
  }
}

async function startOnce(binary: string, storageDir: string): Promise<DockerRegistry> {
  const port = await freePort();
  const config = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${JSON.stringify(join(storageDir, 'data'))}`,
    '  delete:',
    '    enabled: true',
    '  maintenance:',
    '    uploadpurging:',
    '      enabled: false',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    `  secret: ${randomBytes(16).toString('hex')}`,
    '',
  ].join('\n');
  const configPath = join(storageDir, 'config.yml');
  await writeFile(configPath, config);

  // The log goes to a file, not a pipe: a parent that blocks its event loop (spawnSync) would
  // otherwise stop draining the pipe and the registry would hang on its next log write.
  const logPath = join(storageDir, 'registry.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(binary, ['serve', configPath], { stdio: ['ignore', 'ignore', logFd] });
  closeSync(logFd);
  const stderrTail = () => {
    try {
      return readFileSync(logPath, 'utf8').slice(-4000).trim();
    } catch {
      return '';
    }
  };
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = `exited with ${signal ?? code}`;
  });
  child.once('error', (e) => {
    exited = e.message;
  });

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (exited) throw new Error(`docker-registry ${exited}: ${stderrTail()}`);
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await kill(child);
      throw new Error(
        `docker-registry did not answer on ${url} within ${START_TIMEOUT_MS} ms: ${stderrTail()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }

  return {
    url,
    storageDir,
    async stop() {
      await kill(child);
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
