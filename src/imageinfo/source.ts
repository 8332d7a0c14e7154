import { InputError } from '../core/errors.js';

/** A place image-info is read from, with a fingerprint that changes whenever the content does. */
export interface ImageInfoSource {
  /** Names the source in logs and errors (never with credentials). */
  readonly name: string;
  /** Throws {@link ImageInfoNotFoundError} when the image-info does not exist. */
  read(): Promise<SourceSnapshot>;
  /** Older versions of the image-info, newest first (the current one included), at most `maxVersions`; for sources kept in git. */
  history?(maxVersions: number): Promise<ImageInfoVersion[]>;
}

/** The image-info as one commit left it. */
export interface ImageInfoVersion {
  /** The commit id. */
  revision: string;
  /** ISO 8601 commit date */
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

/** A source that can also be written with the fingerprint read as a precondition. */
export interface WritableImageInfoSource extends ImageInfoSource {
  /**
   * Writes `text` only if the source still has `expectedFingerprint`; 'conflict' otherwise.
   * `expectedFingerprint` = {@link ABSENT_FINGERPRINT} creates the image-info only if it does
   * not exist yet. Never overwrites content the caller has not seen.
   */
  write(
    text: string,
    expectedFingerprint: string,
    message: string,
  ): Promise<SourceSnapshot | 'conflict'>;
}

/** The precondition "the image-info does not exist yet" for {@link WritableImageInfoSource.write}. */
export const ABSENT_FINGERPRINT = 'absent';

/**
 * The image-info does not exist at the source (missing file, 404). An InputError, so commands
 * that only read report it as bad input; `publish-image-info --create` catches it.
 */
export class ImageInfoNotFoundError extends InputError {}

export function isWritable(source: ImageInfoSource): source is WritableImageInfoSource {
  return typeof (source as Partial<WritableImageInfoSource>).write === 'function';
}
