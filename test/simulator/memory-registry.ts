import { LIFECYCLE_ARTIFACT_TYPE } from '../../src/core/lifecycle.js';
import { MediaType, type Descriptor, type ManifestRecord } from '../../src/core/oci.js';
import type { Clock } from '../../src/core/ports.js';
import type {
  PushOutcome,
  ReferrerManifest,
  Registry,
  UnmarkOutcome,
} from '../../src/registry/port.js';
import { sha256Digest } from '../../src/util/hash.js';

interface Stored {
  digest: string;
  mediaType: string;
  size: number;
  tags: Set<string>;
  created: string;
  children?: string[];
  subject?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/**
 * An in-memory Registry for the simulator. Every call takes simulated time (`latency`), and
 * state changes happen at the end of that time, so calls from several pipelines interleave.
 * Referrers are stored by digest: the same lifecycle bytes pushed twice are one referrer.
 */
export class MemoryRegistry implements Registry {
  readonly displayName = 'memory';
  private readonly repos = new Map<string, Map<string, Stored>>();

  constructor(
    private readonly clock: Clock,
    private readonly latency: () => number,
  ) {}

  private repo(name: string): Map<string, Stored> {
    let r = this.repos.get(name);
    if (!r) this.repos.set(name, (r = new Map()));
    return r;
  }

  private async tick(): Promise<void> {
    await this.clock.sleep(this.latency());
  }

  private put(repository: string, m: Omit<Stored, 'tags' | 'created'>, tag?: string): Descriptor {
    const repo = this.repo(repository);
    // A tag moves: it leaves whatever manifest held it.
    if (tag) for (const other of repo.values()) other.tags.delete(tag);
    const existing = repo.get(m.digest);
    const stored = existing ?? {
      ...m,
      tags: new Set<string>(),
      created: this.clock.now().toISOString(),
    };
    if (tag) stored.tags.add(tag);
    repo.set(m.digest, stored);
    return { mediaType: m.mediaType, digest: m.digest, size: m.size };
  }

  /** Simulator helper: pushes a platform image manifest. */
  async pushImage(repository: string, seed: string, tag?: string): Promise<Descriptor> {
    await this.tick();
    const json = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, seed });
    return this.put(
      repository,
      { digest: sha256Digest(json), mediaType: MediaType.ociManifest, size: json.length },
      tag,
    );
  }

  /** Simulator helper: pushes an index of `children`. */
  async pushIndex(repository: string, children: Descriptor[], tag?: string): Promise<Descriptor> {
    await this.tick();
    const json = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: children,
    });
    return this.put(
      repository,
      {
        digest: sha256Digest(json),
        mediaType: MediaType.ociIndex,
        size: json.length,
        children: children.map((c) => c.digest),
      },
      tag,
    );
  }

  async listRepositories(): Promise<string[] | undefined> {
    await this.tick();
    return [...this.repos.keys()].sort();
  }

  async listManifests(repository: string): Promise<ManifestRecord[]> {
    await this.tick();
    return [...(this.repos.get(repository)?.values() ?? [])].map((m) => ({
      repository,
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.size,
      tags: [...m.tags],
      created: m.created,
      artifactType: m.artifactType,
      subject: m.subject,
      children: m.children ? [...m.children] : undefined,
    }));
  }

  async describeManifest(repository: string, digest: string): Promise<Descriptor | undefined> {
    await this.tick();
    const m = this.repos.get(repository)?.get(digest);
    return m && { mediaType: m.mediaType, digest: m.digest, size: m.size };
  }

  async imageCreated(repository: string, digest: string): Promise<string | undefined> {
    await this.tick();
    return this.repos.get(repository)?.get(digest)?.created;
  }

  async listReferrers(
    repository: string,
    subject: string,
    artifactType?: string,
  ): Promise<Descriptor[]> {
    await this.tick();
    return [...(this.repos.get(repository)?.values() ?? [])]
      .filter((m) => m.subject === subject && (!artifactType || m.artifactType === artifactType))
      .map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        artifactType: m.artifactType,
        annotations: m.annotations,
      }));
  }

  async pushReferrer(
    repository: string,
    subject: Descriptor,
    manifest: ReferrerManifest,
  ): Promise<PushOutcome> {
    await this.tick();
    if (sha256Digest(manifest.bytes) !== manifest.digest)
      throw new Error('memory registry: referrer digest does not match its bytes');
    this.put(repository, {
      digest: manifest.digest,
      mediaType: manifest.mediaType,
      size: manifest.bytes.length,
      subject: subject.digest,
      artifactType: manifest.artifactType,
      annotations: manifest.annotations,
    });
    return 'pushed';
  }

  async deleteReferrer(
    repository: string,
    _subject: string,
    referrer: string,
  ): Promise<UnmarkOutcome> {
    await this.tick();
    this.repos.get(repository)?.delete(referrer);
    return 'deleted';
  }

  /** Instant (no latency) read for the simulator's final checks. */
  lifecycleReferrers(repository: string, subject: string): Descriptor[] {
    return [...(this.repos.get(repository)?.values() ?? [])]
      .filter((m) => m.subject === subject && m.artifactType === LIFECYCLE_ARTIFACT_TYPE)
      .map((m) => ({
        mediaType: m.mediaType,
        digest: m.digest,
        size: m.size,
        annotations: m.annotations,
      }));
  }
}
