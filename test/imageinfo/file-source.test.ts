import { spawnSync } from 'node:child_process';
import {
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  utimes,
  writeFile,
  chmod,
  mkdir,
} from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InputError, RuntimeError } from '../../src/core/errors.js';
import { monotonicClock } from '../../src/imageinfo/file-lock.js';
import { FileSource } from '../../src/imageinfo/file-source.js';
import { ABSENT_FINGERPRINT, ImageInfoNotFoundError } from '../../src/imageinfo/source.js';
import { sha256Digest } from '../../src/util/hash.js';
import { rejection } from '../support/errors.js';

let dir: string;
let path: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eol-gate-file-source-'));
  path = join(dir, 'image-info.json');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `path`'s lock file as a writer on this host would: `holder` names it (token and pid). */
async function lockHeldBy(
  holder: { token: string; pid: number },
  since = new Date().toISOString(),
) {
  await writeFile(`${path}.lock`, JSON.stringify({ ...holder, host: hostname(), since }));
}

/** A pid that certainly is not running: a child that has already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(child.stdout);
}

describe('FileSource', () => {
  it('reads text with a content-hash fingerprint, changed by an edit that keeps size and mtime second', async () => {
    await writeFile(path, '{"a":1}\n');
    const source = new FileSource(path);
    expect(await source.read()).toEqual({
      text: '{"a":1}\n',
      fingerprint: sha256Digest('{"a":1}\n'),
    });
    await writeFile(path, '{"a":2}\n');
    expect((await source.read()).fingerprint).toBe(sha256Digest('{"a":2}\n'));
  });

  it('a missing file is ImageInfoNotFoundError (an InputError naming the path)', async () => {
    const err = await rejection(new FileSource(path).read());
    expect(err).toBeInstanceOf(ImageInfoNotFoundError);
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(path);
  });

  it('a directory is an InputError, not "not found"', async () => {
    await mkdir(path);
    const err = await rejection(new FileSource(path).read());
    expect(err).toBeInstanceOf(InputError);
    expect(err).not.toBeInstanceOf(ImageInfoNotFoundError);
  });

  it('writes when the fingerprint matches, atomically, keeping the file mode and leaving no temp or lock files', async () => {
    await writeFile(path, 'old');
    await chmod(path, 0o640);
    const source = new FileSource(path);
    const { fingerprint } = await source.read();
    const result = await source.write('new', fingerprint, 'msg');
    expect(result).toEqual({ text: 'new', fingerprint: sha256Digest('new') });
    expect(await readFile(path, 'utf8')).toBe('new');
    expect((await stat(path)).mode & 0o777).toBe(0o640);
    expect(await readdir(dir)).toEqual(['image-info.json']);
  });

  it('returns conflict, and writes nothing, when the file changed since it was read', async () => {
    await writeFile(path, 'v1');
    const source = new FileSource(path);
    const { fingerprint } = await source.read();
    await writeFile(path, 'v2 by someone else');
    expect(await source.write('mine', fingerprint, 'msg')).toBe('conflict');
    expect(await readFile(path, 'utf8')).toBe('v2 by someone else');
    expect(await readdir(dir)).toEqual(['image-info.json']);
  });

  it('creates with the ABSENT precondition only if the file does not exist', async () => {
    const source = new FileSource(path);
    expect(await source.write('first', ABSENT_FINGERPRINT, 'create')).toEqual({
      text: 'first',
      fingerprint: sha256Digest('first'),
    });
    expect(await source.write('second', ABSENT_FINGERPRINT, 'create')).toBe('conflict');
    expect(await readFile(path, 'utf8')).toBe('first');
  });

  it("waits for a live writer's lock, then proceeds", async () => {
    await writeFile(path, 'v1');
    await lockHeldBy({ token: 'other', pid: process.pid });
    const source = new FileSource(path, { lockPollMs: 5 });
    const { fingerprint } = await source.read();
    const pending = source.write('v2', fingerprint, 'msg');
    await new Promise((r) => setTimeout(r, 60));
    expect(await readFile(path, 'utf8')).toBe('v1'); // still waiting
    await rm(`${path}.lock`);
    expect(await pending).not.toBe('conflict');
    expect(await readFile(path, 'utf8')).toBe('v2');
  });

  it('times out on a lock that stays, naming the lock file and its holder', async () => {
    await writeFile(path, 'v1');
    await lockHeldBy({ token: 'other', pid: process.pid }, '2026-01-01T00:00:00Z');
    const source = new FileSource(path, { lockTimeoutMs: 80, lockPollMs: 5 });
    const err = await rejection(source.write('v2', sha256Digest('v1'), 'msg'));
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.message).toContain(`${path}.lock`);
    expect(err.message).toContain(`pid ${process.pid}`);
    expect(await readFile(path, 'utf8')).toBe('v1');
  });

  it('breaks the lock of a crashed writer on this host (dead pid) at once', async () => {
    await writeFile(path, 'v1');
    await lockHeldBy({ token: 'dead', pid: deadPid() });
    const source = new FileSource(path, { lockTimeoutMs: 2000 });
    expect(await source.write('v2', sha256Digest('v1'), 'msg')).not.toBe('conflict');
    expect(await readdir(dir)).toEqual(['image-info.json']);
  });

  it.each([
    ['far in the past, as another clock writes it', new Date(Date.now() - 120_000)],
    ['brand new', undefined],
  ])(
    'breaks a lock unchanged for staleLockMs on its own clock (crashed writer elsewhere, or a torn lock file); its mtime (%s) plays no part',
    async (_age, mtime) => {
      await writeFile(path, 'v1');
      await writeFile(`${path}.lock`, '{"tok'); // died between create and write
      // An mtime far in the past does not make it stale at once (Protocol III, hole 9).
      if (mtime) await utimes(`${path}.lock`, mtime, mtime);
      const source = new FileSource(path, { lockTimeoutMs: 2000, staleLockMs: 150, lockPollMs: 5 });
      const started = performance.now();
      expect(await source.write('v2', sha256Digest('v1'), 'msg')).not.toBe('conflict');
      expect(performance.now() - started).toBeGreaterThanOrEqual(150);
      expect(await readFile(path, 'utf8')).toBe('v2');
    },
  );

  it('never breaks a heartbeating lock, however old its mtime or skewed the waiter (Protocol III, hole 9)', async () => {
    await writeFile(path, 'v1');
    await writeFile(`${path}.lock`, '{"token":"alive","beat":"0"}');
    // Old mtimes, as a file server whose clock is far behind would write them.
    let beat = 0;
    const heartbeat = setInterval(() => {
      void writeFile(`${path}.lock`, `{"token":"alive","beat":"${++beat}"}`).then(() =>
        utimes(`${path}.lock`, new Date(0), new Date(0)),
      );
    }, 20);
    try {
      const source = new FileSource(path, {
        lockPollMs: 2,
        lockTimeoutMs: 600,
        staleLockMs: 100,
        clock: { ...monotonicClock, now: () => new Date(performance.now() + 3_600_000) },
      });
      const err = await rejection(source.write('v2', sha256Digest('v1'), 'msg'));
      expect(err.message).toMatch(/timed out/);
    } finally {
      clearInterval(heartbeat);
    }
  });

  it('serializes concurrent writers: exactly one of several racing on one fingerprint wins', async () => {
    await writeFile(path, 'v0');
    const sources = Array.from({ length: 8 }, () => new FileSource(path, { lockPollMs: 1 }));
    const results = await Promise.all(
      sources.map((s, i) => s.write(`writer ${i}`, sha256Digest('v0'), 'msg')),
    );
    const winners = results.filter((r) => r !== 'conflict');
    expect(winners).toHaveLength(1);
    expect(await readFile(path, 'utf8')).toBe((winners[0] as { text: string }).text);
  });
});
