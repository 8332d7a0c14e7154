import { parseImageInfo, type ImageInfo } from '../core/image-info.js';
import { sha256Digest } from '../util/hash.js';
import type { ImageInfoSource } from '../imageinfo/source.js';

export interface LoadedImageInfo {
  infos: ImageInfo[];
  /** One fingerprint over every source, in the order given. */
  fingerprint: string;
}

/** Reads and parses every image-info source; their union is what is supported. */
export async function loadImageInfo(sources: ImageInfoSource[]): Promise<LoadedImageInfo> {
  const snapshots = await Promise.all(sources.map((s) => s.read()));
  const infos = snapshots.map((snap, i) => parseImageInfo(snap.text, sources[i].name));
  return { infos, fingerprint: combinedFingerprint(snapshots.map((s) => s.fingerprint)) };
}

/** Re-reads only the fingerprints (step 5 of the protocol). */
export async function readFingerprint(sources: ImageInfoSource[]): Promise<string> {
  const snapshots = await Promise.all(sources.map((s) => s.read()));
  return combinedFingerprint(snapshots.map((s) => s.fingerprint));
}

function combinedFingerprint(parts: string[]): string {
  return parts.length === 1 ? parts[0] : sha256Digest(parts.join('\n'));
}
