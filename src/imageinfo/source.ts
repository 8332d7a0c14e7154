/** A place image-info is read from, with a fingerprint that changes whenever the content does. */
export interface ImageInfoSource {
  /** Names the source in logs and errors (never with credentials). */
  readonly name: string;
  read(): Promise<SourceSnapshot>;
}

export interface SourceSnapshot {
  text: string;
  /** Content hash, ETag, blob sha or commit id: equal fingerprints mean equal content. */
  fingerprint: string;
}

/** A source that can also be written with the fingerprint read as a precondition. */
export interface WritableImageInfoSource extends ImageInfoSource {
  /** Writes `text` only if the source still has `expectedFingerprint`; 'conflict' otherwise. */
  write(text: string, expectedFingerprint: string, message: string): Promise<SourceSnapshot | 'conflict'>;
}
