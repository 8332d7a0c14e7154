import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import { RuntimeError } from '../core/errors.js';
import type { Clock } from '../core/ports.js';
import { systemClock } from '../util/clock.js';

export interface FileLockOptions {
  /** How long acquire() waits for another writer's lock. */
  lockTimeoutMs?: number;
  /**
   * Content a waiter saw unchanged this long (its own clock) is a crashed or stalled writer's and
   * may be broken. The holder rewrites it every quarter of this.
   */
  staleLockMs?: number;
  /** Jittered. */
  lockPollMs?: number;
  /**
   * Default {@link monotonicClock}. Only durations on this one clock are compared, never a time
   * from another machine or the file server.
   */
  clock?: Clock;
}

/** Real time on this process's monotonic clock: a step of the wall clock never breaks a live lock. */
export const monotonicClock: Clock = {
  ...systemClock,
  now: () => new Date(performance.timeOrigin + performance.now()),
};

interface LockInfo {
  token: string;
  pid: number;
  host: string;
  /** For humans reading a timeout; never compared. */
  since: string;
  /** Rewritten by the holder; fixed width, so a rewrite in place never changes the length. */
  beat: string;
}

const BEAT_DIGITS = 12;

export interface HeldLock {
  info: LockInfo;
  handle: FileHandle;
  /** Until when (our clock) no waiter can have broken the lock by the stale rule. */
  leaseUntil: number;
  /** A heartbeat landed after the lease ran out: a waiter may have broken the lock. */
  lapsed: boolean;
  timer?: NodeJS.Timeout;
  beating?: Promise<void>;
  stopped?: boolean;
}

/**
 * The writers' lock `<file>.lock`, across processes on one machine or on a file system shared by
 * several. It never compares clocks across machines (writers' clocks and the file server's
 * mtimes disagree). It works like a lease counted on each side's own clock:
 * - Taking: the lock file appears atomically with its owner's unique token (written to a private
 *   file, then `link`ed to `<file>.lock`, which fails if the lock exists), so its content is never
 *   empty and never repeats.
 * - Holding: the holder rewrites a heartbeat counter in it every staleLockMs / 4.
 * - Breaking: a waiter breaks a lock only after seeing its content unchanged for staleLockMs on its
 *   own monotonic clock: it renames the lock to a unique name and checks that what it moved is
 *   what it saw; if not (a heartbeat or a new lock landed in between) it links it back.
 * - Committing: see {@link FileLock.mayCommit}.
 */
export class FileLock {
  readonly path: string;
  private readonly timeoutMs: number;
  private readonly staleMs: number;
  private readonly pollMs: number;
  private readonly clock: Clock;

  constructor(
    readonly file: string,
    options: FileLockOptions = {},
  ) {
    this.path = `${file}.lock`;
    this.timeoutMs = options.lockTimeoutMs ?? 30_000;
    this.staleMs = options.staleLockMs ?? 60_000;
    this.pollMs = options.lockPollMs ?? 20;
    this.clock = options.clock ?? monotonicClock;
  }

  private now(): number {
    return this.clock.now().getTime();
  }

  async acquire(): Promise<HeldLock> {
    const info: LockInfo = {
      token: randomBytes(12).toString('hex'),
      pid: process.pid,
      host: hostname(),
      since: new Date().toISOString(),
      beat: '0'.repeat(BEAT_DIGITS),
    };
    const deadline = this.now() + this.timeoutMs;
    /** The lock content we are waiting on and when (our clock) we first saw it. */
    let seen: { raw: string; at: number } | undefined;
    for (;;) {
      const held = await this.tryCreate(info);
      if (held) return held;
      const raw = await this.readRaw();
      const at = this.now();
      if (raw === undefined) {
        seen = undefined; // released meanwhile: try again at once
        continue;
      }
      if (raw !== seen?.raw) seen = { raw, at };
      if (at - seen.at >= this.staleMs || holderIsDead(raw)) {
        await this.detach((moved) => moved === raw);
        seen = undefined;
        continue;
      }
      if (at >= deadline) {
        const holder = parseLock(raw);
        const who = holder
          ? `pid ${holder.pid} on ${holder.host} since ${holder.since}`
          : 'another writer';
        throw new RuntimeError(
          `${this.file}: timed out after ${this.timeoutMs} ms waiting for ${this.path} (held by ${who}); ` +
            'if no writer is running, delete the lock file',
        );
      }
      await this.clock.sleep(this.pollMs * (0.5 + this.clock.random()));
    }
  }

  /**
   * Still ours, with half the lease left for the rename that commits. Why that is safe: a waiter
   * breaks a lock only after seeing one content for staleLockMs on its clock; that content was
   * written after the holder began writing it, so no break can land before (start of the holder's
   * latest heartbeat that landed in time) + staleLockMs on the holder's clock: the lease. Clocks
   * run at the same rate (what a monotonic clock is for) even when they disagree on the time, so
   * both sides count the same durations. The token check catches a waiter that moved a fresh
   * lock by mistake and could not link it back. The one remaining window, the rename itself
   * taking more than half the stale period (a process stalled between the check and the system
   * call), is caught by {@link owns} after the rename.
   */
  async mayCommit(lock: HeldLock): Promise<boolean> {
    if (lock.lapsed || this.now() > lock.leaseUntil - this.staleMs / 2) return false;
    return this.owns(lock);
  }

  async owns(lock: HeldLock): Promise<boolean> {
    const raw = await this.readRaw();
    return raw !== undefined && parseLock(raw)?.token === lock.info.token;
  }

  async release(lock: HeldLock): Promise<void> {
    lock.stopped = true;
    clearTimeout(lock.timer);
    await lock.beating;
    await lock.handle.close().catch(() => {});
    await this.detach((raw) => parseLock(raw)?.token === lock.info.token);
  }

  /**
   * Creates the lock with its content in one step: a private file, linked to the lock path
   * (`link` fails if the lock exists). The private name goes at once; our handle keeps the file.
   */
  private async tryCreate(info: LockInfo): Promise<HeldLock | undefined> {
    const mine = `${this.path}.${info.token}`;
    const started = this.now();
    let handle: FileHandle | undefined;
    try {
      handle = await createSynced(mine, JSON.stringify(info), 0o644);
      const linked = await link(mine, this.path).then(
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
        `${this.path}: cannot create lock file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
    }
    // Waiters time this content from when they first see it, which is after we began writing.
    const lock: HeldLock = { info, handle, leaseUntil: started + this.staleMs, lapsed: false };
    this.scheduleBeat(lock);
    return lock;
  }

  /** A real timer, unlike the clock's sleep: it runs in the background and release cancels it. */
  private scheduleBeat(lock: HeldLock): void {
    lock.timer = setTimeout(() => {
      lock.beating = this.beat(lock).finally(() => {
        if (!lock.stopped) this.scheduleBeat(lock);
      });
    }, this.staleMs / 4);
    lock.timer.unref?.();
  }

  /**
   * Rewrites the counter through our handle (the file we created, wherever it is now). A waiter
   * can only have broken the lock on the previous content if this lands after that content's
   * lease; then the lock is lapsed for good and nothing is committed.
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
    else lock.leaseUntil = started + this.staleMs;
  }

  private async readRaw(): Promise<string | undefined> {
    return readFile(this.path, 'utf8').catch(() => undefined); // gone: released meanwhile
  }

  /**
   * Removes the lock only if it holds what `expected` accepts: rename it to a unique name (so no
   * one else's lock can be removed by a path that changed meanwhile), look at what was moved, and
   * link it back if it is not the one meant (`link` never replaces a lock taken in between).
   */
  private async detach(expected: (raw: string) => boolean): Promise<void> {
    const tomb = `${this.path}.gone.${randomBytes(6).toString('hex')}`;
    try {
      await rename(this.path, tomb);
    } catch {
      return; // someone else broke or released it
    }
    const raw = await readFile(tomb, 'utf8').catch(() => undefined);
    if (raw === undefined || !expected(raw)) await link(tomb, this.path).catch(() => {});
    await unlink(tomb).catch(() => {});
  }
}

/** Same host and the process is gone: crashed, no need to wait for the stale period. */
function holderIsDead(raw: string): boolean {
  const holder = parseLock(raw);
  if (!holder || holder.host !== hostname() || holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
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

/** Creates `path` (never over an existing file) holding `text`, synced; on failure it is gone. */
export async function createSynced(path: string, text: string, mode: number): Promise<FileHandle> {
  const handle = await open(path, constants.O_CREAT | constants.O_EXCL | constants.O_RDWR, mode);
  try {
    await handle.writeFile(text, 'utf8');
    await handle.sync();
    return handle;
  } catch (e) {
    await handle.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw e;
  }
}
