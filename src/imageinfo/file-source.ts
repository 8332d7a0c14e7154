import { readFile } from 'node:fs/promises';
import { InputError } from '../core/errors.js';
import { sha256Digest } from '../util/hash.js';
import type { ImageInfoSource, SourceSnapshot } from './source.js';

export class FileSource implements ImageInfoSource {
  constructor(readonly path: string) {}

  get name(): string {
    return this.path;
  }

  async read(): Promise<SourceSnapshot> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new InputError(`${this.path}: cannot read image-info (${code ?? (e as Error).message})`);
    }
    return { text, fingerprint: sha256Digest(text) };
  }
}
