import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The shared real data (image-info files and digest history from dotnet/versions). */
export const SHARED_DATA = fileURLToPath(new URL('../../../shared/data/', import.meta.url));

export function sharedImageInfoPath(name: string): string {
  return join(SHARED_DATA, 'image-info', name);
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
