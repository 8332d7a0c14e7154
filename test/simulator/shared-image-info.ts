import type { Clock } from '../../src/core/ports.js';
import type { SourceSnapshot, WritableImageInfoSource } from '../../src/imageinfo/source.js';
import { sha256Digest } from '../../src/util/hash.js';

/** One image per pipeline in the shared image-info: an index and its platform images. */
export interface PipelineEntry {
  pipeline: string;
  index: string;
  platforms: string[];
}

export function imageInfoText(entries: PipelineEntry[]): string {
  const images = [...entries]
    .sort((a, b) => a.pipeline.localeCompare(b.pipeline))
    .map((e) => ({
      manifest: { digest: e.index, sharedTags: [e.pipeline] },
      platforms: e.platforms.map((digest, i) => ({
        digest,
        dockerfile: `${e.pipeline}/Dockerfile`,
        simpleTags: [`${e.pipeline}-${i}`],
      })),
    }));
  return JSON.stringify({ schemaVersion: '2.0', repos: [{ repo: 'app', images }] }, null, 2);
}

export function entriesOf(text: string): PipelineEntry[] {
  const doc = JSON.parse(text) as {
    repos: Array<{
      images: Array<{
        manifest: { digest: string; sharedTags: string[] };
        platforms: Array<{ digest: string }>;
      }>;
    }>;
  };
  return doc.repos[0].images.map((i) => ({
    pipeline: i.manifest.sharedTags[0],
    index: i.manifest.digest,
    platforms: i.platforms.map((p) => p.digest),
  }));
}

export function digestsOf(text: string): Set<string> {
  return new Set(entriesOf(text).flatMap((e) => [e.index, ...e.platforms]));
}

/**
 * The shared image-info with read-your-writes and a conditional write, like a file or the
 * GitHub contents API. The fingerprint carries a version, so it changes on every write even
 * when the bytes come out the same. `onWrite` sees each write at the instant it is durable.
 */
export class SharedImageInfo {
  private version = 0;

  constructor(
    public text: string,
    private readonly clock: Clock,
    private readonly latency: () => number,
    private readonly onWrite: (text: string, at: number) => void,
  ) {}

  get fingerprint(): string {
    return `v${this.version}:${sha256Digest(this.text)}`;
  }

  source(): WritableImageInfoSource {
    const read = async (): Promise<SourceSnapshot> => {
      await this.clock.sleep(this.latency());
      return { text: this.text, fingerprint: this.fingerprint };
    };
    const write = async (text: string, expected: string): Promise<SourceSnapshot | 'conflict'> => {
      await this.clock.sleep(this.latency());
      if (expected !== this.fingerprint) return 'conflict';
      this.text = text;
      this.version++;
      this.onWrite(text, this.clock.now().getTime());
      return { text, fingerprint: this.fingerprint };
    };
    return { name: 'shared image-info', read, write };
  }
}
