import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
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
  /**
   * A lock whose content a waiter has seen unchanged for this long, on the waiter's own clock,
   * is left over by a crashed or stalled writer and may be broken. The holder rewrites it every
   * quarter of this.
   */
  staleLockMs?: number;
  /** Poll interval while waiting for the lock (jittered). */
  lockPollMs?: number;
  /**
   * Milliseconds on this process's monotonic clock (default `performance.now()`). Only durations
   * on this one clock are ever compared, never a time from another machine or the file server.
   */
  now?: () => number;
}

interface LockInfo {
  token: string;
  pid: number;
  host: string;
  /** Wall-clock time the lock was taken: for the humans reading a timeout, never compared. */
  since: string;
  /** Rewritten by the holder; fixed width, so a rewrite in place never changes the length. */
  beat: string;
}

const BEAT_DIGITS = 12;

/** A lock this writer holds: the open lock file, its token and the lease its heartbeats earn. */
interface HeldLock {
  info: LockInfo;
  handle: FileHandle;
  /** Until when (our clock) no waiter can have broken the lock by the stale rule. */
  leaseUntil: number;
  /** A heartbeat landed after the lease ran out: a waiter may have broken the lock. */
  lapsed: boolean;
  timer?: NodeJS.Timeout;
  beating: Promise<void>;
  stopped: boolean;
}

/**
 * A local image-info file. Readers never lock: writes replace the file by an atomic rename, so a
 * reader sees the old or the new bytes, never a mix. Writers serialize on `<path>.lock` and
 * check the fingerprint precondition while holding it, which makes write() a compare-and-swap
 * across processes on one machine or on a file system shared by several.
 *
 * The lock never compares clocks across machines (writers' clocks and the file server's mtimes
 * disagree). It works like a lease counted on each side's own clock:
 * - Taking: the lock file appears atomically with its owner's unique token (written to a private
 *   file, then `link`ed to `<path>.lock`, which fails if the lock exists), so its content is never
 *   empty and never repeats.
 * - Holding: the holder rewrites a heartbeat counter in it every staleLockMs / 4.
 * - Breaking: a waiter breaks a lock only after seeing its content unchanged for staleLockMs on its
 *   own monotonic clock: it renames the lock to a unique name and checks that what it moved is
 *   what it saw; if not (a heartbeat or a new lock landed in between) it links it back.
 * - Committing: see {@link FileSource.write}.
 */
export class FileSource implements WritableImageInfoSource {
  private readonly lockTimeoutMs: number;
  private readonly staleLockMs: number;
  private readonly lockPollMs: number;
  private readonly now: () => number;

  constructor(
    readonly path: string,
    options: FileSourceOptions = {},
  ) {
    this.lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
    this.staleLockMs = options.staleLockMs ?? 60_000;
    this.lockPollMs = options.lockPollMs ?? 20;
    this.now = options.now ?? (() => performance.now());
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

  /**
   * Why the commit is safe. A waiter breaks a lock only after seeing one content for staleLockMs
   * on its clock; that content was written after the holder began writing it, so no break can
   * land before (start of the holder's latest heartbeat that landed in time) + staleLockMs on the
   * holder's clock: the lease. Clocks run at the same rate (what a monotonic clock is for) even
   * when they disagree on the time, so both sides count the same durations. The holder renames
   * the new file into place only while at least half of the lease is left, and checks right
   * before that its token is still the lock's (a waiter that moved a fresh lock by mistake and
   * could not link it back). The one remaining window, the rename itself taking more than half
   * the stale period (a process stalled between the check and the system call), is caught by the
   * check after the rename: 'conflict' then makes the publisher re-read and re-merge, so its
   * entries come back if the next holder overwrote them.
   */
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
      const committed = await this.replaceAtomically(text, () => this.mayCommit(lock));
      if (!committed || !(await this.owns(lock))) return 'conflict';
      return { text, fingerprint: sha256Digest(text) };
    } finally {
      await this.releaseLock(lock);
    }
  }

  /** Still ours, with half the lease left for the rename. */
  private async mayCommit(lock: HeldLock): Promise<boolean> {
    if (lock.lapsed || this.now() > lock.leaseUntil - this.staleLockMs / 2) return false;
    return this.owns(lock);
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

  /**
   * temp file in the same directory (same file system), fsync, then rename over the target if
   * `mayCommit` still says so right before; false (target untouched) when it does not.
   */
  private async replaceAtomically(
    text: string,
    mayCommit: () => Promise<boolean>,
  ): Promise<boolean> {
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
      if (!(await mayCommit())) {
        await unlink(tmp).catch(() => {});
        return false;
      }
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
    return true;
  }

  private async acquireLock(): Promise<HeldLock> {
    const info: LockInfo = {
      token: randomBytes(12).toString('hex'),
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      beat: '0'.repeat(BEAT_DIGITS),
    };
    const deadline = this.now() + this.lockTimeoutMs;
    /** The lock content we are waiting on and when (our clock) we first saw it. */
    let seen: { raw: string; at: number } | undefined;
    for (;;) {
      const held = await this.tryCreateLock(info);
      if (held) return held;
      const raw = await this.readLockRaw();
      const at = this.now();
      if (raw === undefined) {
        seen = undefined; // released meanwhile: try again at once
        continue;
      }
      if (raw !== seen?.raw) seen = { raw, at };
      if (at - seen.at >= this.staleLockMs || this.holderIsDead(raw)) {
        await this.detachLock((moved) => moved === raw);
        seen = undefined;
        continue;
      }
      if (at >= deadline) {
        const holder = parseLock(raw);
        const who = holder
          ? `pid ${holder.pid} on ${holder.host} since ${holder.since}`
          : 'another writer';
        throw new RuntimeError(
          `${this.path}: timed out after ${this.lockTimeoutMs} ms waiting for ${this.lockPath} (held by ${who}); ` +
            'if no writer is running, delete the lock file',
        );
      }
      await new Promise((r) => setTimeout(r, this.lockPollMs * (0.5 + Math.random())));
    }
  }

  /**
   * Creates the lock with its content in one step: a private file, linked to the lock path
   * (`link` fails if the lock exists). The private name goes at once; our handle keeps the file.
   */
  private async tryCreateLock(info: LockInfo): Promise<HeldLock | undefined> {
    const mine = `${this.lockPath}.${info.token}`;
    const started = this.now();
    let handle: FileHandle | undefined;
    try {
      handle = await open(mine, constants.O_CREAT | constants.O_EXCL | constants.O_RDWR, 0o644);
      await handle.writeFile(JSON.stringify(info));
      await handle.sync();
      const linked = await link(mine, this.lockPath).then(
        () => true,
        async (e: NodeJS.ErrnoException) => {
          // NFS can report EEXIST for a link whose first try landed: the count tells.
          if (e.code === 'EEXIST') return (await handle!.stat()).nlink === 2;
          throw e;
        },
      );
      await unlink(mine);
      if (!linked) {
        await handle.close();
        return undefined;
      }
    } catch (e) {
      await handle?.close().catch(() => {});
      await unlink(mine).catch(() => {});
      throw new RuntimeError(
        `${this.lockPath}: cannot create lock file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
    // Waiters time this content from when they first see it, which is after we began writing.
    const lock: HeldLock = {
      info,
      handle,
      leaseUntil: started + this.staleLockMs,
      lapsed: false,
      beating: Promise.resolve(),
      stopped: false,
    };
    this.scheduleBeat(lock);
    return lock;
  }

  private scheduleBeat(lock: HeldLock): void {
    lock.timer = setTimeout(() => {
      lock.beating = this.beat(lock).finally(() => {
        if (!lock.stopped) this.scheduleBeat(lock);
      });
    }, this.staleLockMs / 4);
    lock.timer.unref?.();
  }

  /**
   * Rewrites the counter in place through our handle (the file we created, wherever it is now).
   * A waiter can only have broken the lock on the previous content if this one landed after the
   * lease that content earned; then the lock is lapsed for good and write() will not commit.
   */
  private async beat(lock: HeldLock): Promise<void> {
    const started = this.now();
    const next = String(Number(lock.info.beat) + 1).padStart(BEAT_DIGITS, '0');
    try {
      await lock.handle.write(JSON.stringify({ ...lock.info, beat: next }), 0, 'utf8');
    } catch {
      lock.lapsed = true; // cannot prove we are alive: commit nothing
      return;
    }
    lock.info.beat = next;
    if (this.now() >= lock.leaseUntil) lock.lapsed = true;
    else lock.leaseUntil = started + this.staleLockMs;
  }

  private async readLockRaw(): Promise<string | undefined> {
    return readFile(this.lockPath, 'utf8').catch(() => undefined); // gone: released meanwhile
  }

  /** Same host and the process is gone: crashed, no need to wait for the stale period. */
  private holderIsDead(raw: string): boolean {
    const holder = parseLock(raw);
    if (!holder || holder.host !== hostname() || holder.pid === process.pid) return false;
    try {
      process.kill(holder.pid, 0);
      return false;
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === 'ESRCH';
    }
  }

  /**
   * Removes the lock only if it holds what `expected` accepts: rename it to a unique name (so no
   * one else's lock can be removed by a path that changed meanwhile), look at what was moved, and
   * link it back if it is not the one meant (`link` never replaces a lock taken in between).
   */
  private async detachLock(expected: (raw: string) => boolean): Promise<boolean> {
    const tomb = `${this.lockPath}.gone.${randomBytes(6).toString('hex')}`;
    try {
      await rename(this.lockPath, tomb);
    } catch {
      return false; // someone else broke or released it
    }
    const raw = await readFile(tomb, 'utf8').catch(() => undefined);
    const meant = raw !== undefined && expected(raw);
    if (!meant) await link(tomb, this.lockPath).catch(() => {});
    await unlink(tomb).catch(() => {});
    return meant;
  }

  private async owns(lock: HeldLock): Promise<boolean> {
    const raw = await this.readLockRaw();
    return raw !== undefined && parseLock(raw)?.token === lock.info.token;
  }

  private async releaseLock(lock: HeldLock): Promise<void> {
    lock.stopped = true;
    clearTimeout(lock.timer);
    await lock.beating;
    await lock.handle.close().catch(() => {});
    await this.detachLock((raw) => parseLock(raw)?.token === lock.info.token);
  }
}

function parseLock(raw: string): LockInfo | undefined {
  try {
    const info = JSON.parse(raw) as Partial<LockInfo>;
    return typeof info.token === 'string' ? (info as LockInfo) : undefined;
  } catch {
    return undefined; // torn (a writer of an older version died mid-write): only time can tell
  }
}
