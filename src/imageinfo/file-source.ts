import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InputError, RuntimeError } from '../core/errors.js';
import { sha256Digest } from '../util/hash.js';
import { createSynced, FileLock, type FileLockOptions, type HeldLock } from './file-lock.js';
import {
  ABSENT_FINGERPRINT,
  ImageInfoNotFoundError,
  type SourceSnapshot,
  type WritableImageInfoSource,
} from './source.js';

/**
 * Readers never lock: writes replace the file by atomic rename, so a reader sees old or new bytes.
 * Writers serialize on {@link FileLock} and check the fingerprint while holding it: write() is a
 * compare-and-swap across processes, on one machine or a shared file system.
 */
export class FileSource implements WritableImageInfoSource {
  private readonly lock: FileLock;

  constructor(
    readonly path: string,
    options: FileLockOptions = {},
  ) {
    this.lock = new FileLock(path, options);
  }

  get name(): string {
    return this.path;
  }

  async read(): Promise<SourceSnapshot> {
    const text = await this.readCurrent();
    if (text === undefined)
      throw new ImageInfoNotFoundError(`${this.path}: image-info not found (no such file)`);
    return { text, fingerprint: sha256Digest(text) };
  }

  /**
   * Commits only while the lock allows ({@link FileLock.mayCommit}); a lock lost during the rename
   * is 'conflict': the publisher re-merges, so its entries return if the next holder dropped them.
   */
  async write(
    text: string,
    expectedFingerprint: string,
    _message: string,
  ): Promise<SourceSnapshot | 'conflict'> {
    const held = await this.lock.acquire();
    try {
      const current = await this.readCurrent();
      const actual = current === undefined ? ABSENT_FINGERPRINT : sha256Digest(current);
      if (actual !== expectedFingerprint) return 'conflict';
      const committed = await this.replaceAtomically(text, held);
      if (!committed || !(await this.lock.owns(held))) return 'conflict';
      return { text, fingerprint: sha256Digest(text) };
    } finally {
      await this.lock.release(held);
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

  /** Temp file on the same file system, fsync, rename if the lock allows; false: untouched. */
  private async replaceAtomically(text: string, held: HeldLock): Promise<boolean> {
    const tmp = `${this.path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      const mode = await stat(this.path).then(
        (s) => s.mode & 0o777,
        () => 0o644,
      );
      await (await createSynced(tmp, text, mode)).close();
      if (!(await this.lock.mayCommit(held))) {
        await unlink(tmp).catch(() => {});
        return false;
      }
      await rename(tmp, this.path);
    } catch (e) {
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
}
