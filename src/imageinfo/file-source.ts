import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { InputError, RuntimeError } from '../core/errors.js';
import { sha256Digest } from '../util/hash.js';
import {
  ABSENT_FINGERPRINT,
  ImageInfoNotFoundError,
  type SourceSnapshot,
  type WritableImageInfoSource,
} from './source.js';

export interface FileSourceOptions {
  /** How long write() waits for another writer's lock before failing. */
  lockTimeoutMs?: number;
  /** A lock older than this is left over by a crashed writer and may be broken. */
  staleLockMs?: number;
  /** Poll interval while waiting for the lock (jittered). */
  lockPollMs?: number;
}

interface LockInfo {
  token: string;
  pid: number;
  host: string;
  since: string;
}

/**
 * A local image-info file. Readers never lock: writes replace the file by an atomic rename, so a
 * reader sees the old or the new bytes, never a mix. Writers serialize on `<path>.lock`
 * (created with O_EXCL) and check the fingerprint precondition while holding it, which makes
 * write() a compare-and-swap across processes on one machine or a shared file system.
 */
export class FileSource implements WritableImageInfoSource {
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;
  private readonly lockPollMs: number;

  constructor(
    readonly path: string,
    options: FileSourceOptions = {},
  ) {
    this.lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
    this.staleLockMs = options.staleLockMs ?? 60_000;
    this.lockPollMs = options.lockPollMs ?? 20;
  }

  get name(): string {
    return this.path;
  }

  get lockPath(): string {
    return `${this.path}.lock`;
  }

  async read(): Promise<SourceSnapshot> {
    const text = await this.readCurrent();
    if (text === undefined) {
      throw new ImageInfoNotFoundError(`${this.path}: image-info not found (no such file)`);
    }
    return { text, fingerprint: sha256Digest(text) };
  }

  async write(
    text: string,
    expectedFingerprint: string,
    _message: string,
  ): Promise<SourceSnapshot | 'conflict'> {
    const lock = await this.acquireLock();
    try {
      const current = await this.readCurrent();
      const actual = current === undefined ? ABSENT_FINGERPRINT : sha256Digest(current);
      if (actual !== expectedFingerprint) return 'conflict';
      // A lock broken as stale by someone else means we no longer own the critical section.
      if (!(await this.stillOwn(lock))) return 'conflict';
      await this.replaceAtomically(text);
      return { text, fingerprint: sha256Digest(text) };
    } finally {
      await this.releaseLock(lock);
    }
  }

  private async readCurrent(): Promise<string | undefined> {
    try {
      return await readFile(this.path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return undefined;
      throw new InputError(
        `${this.path}: cannot read image-info (${code ?? (e as Error).message})`,
      );
    }
  }

  /** temp file in the same directory (same file system), fsync, rename over the target. */
  private async replaceAtomically(text: string): Promise<void> {
    const tmp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    let handle: FileHandle | undefined;
    try {
      const mode = await stat(this.path).then(
        (s) => s.mode & 0o777,
        () => 0o644,
      );
      handle = await open(tmp, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY, mode);
      await handle.writeFile(text, 'utf8');
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(tmp, this.path);
    } catch (e) {
      await handle?.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw new RuntimeError(
        `${this.path}: cannot write image-info (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); the file is unchanged`,
      );
    }
    // Make the rename durable; not every platform can fsync a directory, so best effort.
    const dir = await open(dirname(this.path), 'r').catch(() => undefined);
    await dir?.sync().catch(() => {});
    await dir?.close().catch(() => {});
  }

  private async acquireLock(): Promise<LockInfo> {
    const info: LockInfo = {
      token: randomBytes(12).toString('hex'),
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
    };
    const deadline = Date.now() + this.lockTimeoutMs;
    for (;;) {
      try {
        const handle = await open(
          this.lockPath,
          constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY,
          0o644,
        );
        try {
          await handle.writeFile(JSON.stringify(info));
        } finally {
          await handle.close();
        }
        return info;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') {
          throw new RuntimeError(
            `${this.lockPath}: cannot create lock file (${code ?? (e as Error).message})`,
          );
        }
      }
      const holder = await this.readLock();
      if (holder && (await this.isStale(holder))) {
        await this.breakLock(holder.raw);
        continue;
      }
      if (Date.now() >= deadline) {
        const who = holder?.info
          ? `pid ${holder.info.pid} on ${holder.info.host} since ${holder.info.since}`
          : 'another writer';
        throw new RuntimeError(
          `${this.path}: timed out after ${this.lockTimeoutMs} ms waiting for ${this.lockPath} (held by ${who}); ` +
            'if no writer is running, delete the lock file',
        );
      }
      await new Promise((r) => setTimeout(r, this.lockPollMs * (0.5 + Math.random())));
    }
  }

  private async readLock(): Promise<{ raw: string; info?: LockInfo; mtimeMs: number } | undefined> {
    try {
      const [raw, s] = await Promise.all([readFile(this.lockPath, 'utf8'), stat(this.lockPath)]);
      let info: LockInfo | undefined;
      try {
        info = JSON.parse(raw) as LockInfo;
      } catch {
        // Half-written by a writer that died between create and write: only age can tell.
      }
      return { raw, info, mtimeMs: s.mtimeMs };
    } catch {
      return undefined; // released meanwhile
    }
  }

  private async isStale(holder: { info?: LockInfo; mtimeMs: number }): Promise<boolean> {
    if (Date.now() - holder.mtimeMs > this.staleLockMs) return true;
    // Same host and the process is gone: the writer crashed, no need to wait for the age limit.
    if (holder.info && holder.info.host === hostname() && holder.info.pid !== process.pid) {
      try {
        process.kill(holder.info.pid, 0);
      } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'ESRCH';
      }
    }
    return false;
  }

  /**
   * Removes a stale lock only if it still holds what we judged stale: rename it away, then put it
   * back if it turned out to be a fresh lock someone created in between.
   */
  private async breakLock(staleRaw: string): Promise<void> {
    const tomb = `${this.lockPath}.stale.${randomBytes(6).toString('hex')}`;
    try {
      await rename(this.lockPath, tomb);
    } catch {
      return; // someone else broke or released it
    }
    const raw = await readFile(tomb, 'utf8').catch(() => staleRaw);
    if (raw !== staleRaw) {
      await link(tomb, this.lockPath).catch(() => {});
    }
    await unlink(tomb).catch(() => {});
  }

  private async stillOwn(lock: LockInfo): Promise<boolean> {
    const holder = await this.readLock();
    return holder?.info?.token === lock.token;
  }

  private async releaseLock(lock: LockInfo): Promise<void> {
    if (await this.stillOwn(lock)) await unlink(this.lockPath).catch(() => {});
  }
}
