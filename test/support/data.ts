import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Real data copied into the repository (image-info and digest history from dotnet/versions). */
export const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));

/** The folder of real image-info samples (see test/fixtures/README.md). */
export const IMAGE_INFO_SAMPLES = join(FIXTURES, 'image-info');

export function sharedImageInfoPath(name: string): string {
  return join(IMAGE_INFO_SAMPLES, name);
}

export function readSharedImageInfo(name: string): string {
  return readFileSync(sharedImageInfoPath(name), 'utf8');
}

export function fakeDigest(seed: string | number): string {
  // Deterministic, valid-looking digests for table tests (not hashes of anything).
  const hex = Array.from(String(seed).padEnd(8, '.'))
    .map((c) => c.charCodeAt(0).toString(16).padStart(2, '0'))
    .join('');
  return `sha256:${hex.repeat(64).slice(0, 64)}`;
}
