import { InputError } from '../core/errors.js';

/** A place image-info is read from, with a fingerprint that changes whenever the content does. */
export interface ImageInfoSource {
  /** Never with credentials. */
  readonly name: string;
  /** Throws {@link ImageInfoNotFoundError} when the image-info does not exist. */
  read(): Promise<SourceSnapshot>;
  /** Newest first, the current one included, at most `maxVersions`; for sources kept in git. */
  history?(maxVersions: number): Promise<ImageInfoVersion[]>;
}

export interface ImageInfoVersion {
  revision: string;
  /** ISO 8601. */
  date?: string;
  text: string;
}

export interface SourceSnapshot {
  text: string;
  /**
   * A hash of exactly `text`: sha256 of the bytes read, or their git blob id checked against the
   * bytes. Never an HTTP ETag, mtime or commit id: a weak or mtime validator survives an edit,
   * and a commit id moves without the file. Equal fingerprints mean equal content.
   */
  fingerprint: string;
}

export interface WritableImageInfoSource extends ImageInfoSource {
  /**
   * Writes only if the source still has `expectedFingerprint` ({@link ABSENT_FINGERPRINT}: does
   * not exist yet), else 'conflict': never overwrites content the caller has not seen.
   */
  write(
    text: string,
    expectedFingerprint: string,
    message: string,
  ): Promise<SourceSnapshot | 'conflict'>;
}

/** The precondition "the image-info does not exist yet" for {@link WritableImageInfoSource.write}. */
export const ABSENT_FINGERPRINT = 'absent';

/** An InputError for commands that only read; `publish-image-info --create` catches it. */
export class ImageInfoNotFoundError extends InputError {}

export function isWritable(source: ImageInfoSource): source is WritableImageInfoSource {
  return typeof (source as Partial<WritableImageInfoSource>).write === 'function';
}
