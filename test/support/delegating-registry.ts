import type { Descriptor, ManifestRecord } from '../../src/core/oci.js';
import type {
  PushOutcome,
  ReferrerManifest,
  Registry,
  UnmarkOutcome,
} from '../../src/registry/port.js';

/** A Registry that forwards every call: test wrappers override only what they observe or change. */
export class DelegatingRegistry implements Registry {
  readonly displayName: string;

  constructor(protected readonly inner: Registry) {
    this.displayName = inner.displayName;
  }

  listRepositories(): Promise<string[] | undefined> {
    return this.inner.listRepositories();
  }
  listManifests(repository: string): Promise<ManifestRecord[]> {
    return this.inner.listManifests(repository);
  }
  describeManifest(repository: string, digest: string): Promise<Descriptor | undefined> {
    return this.inner.describeManifest(repository, digest);
  }
  imageCreated(repository: string, digest: string): Promise<string | undefined> {
    return this.inner.imageCreated(repository, digest);
  }
  listReferrers(repository: string, subject: string, artifactType?: string): Promise<Descriptor[]> {
    return this.inner.listReferrers(repository, subject, artifactType);
  }
  pushReferrer(
    repository: string,
    subject: Descriptor,
    manifest: ReferrerManifest,
  ): Promise<PushOutcome> {
    return this.inner.pushReferrer(repository, subject, manifest);
  }
  deleteReferrer(repository: string, subject: string, referrer: string): Promise<UnmarkOutcome> {
    return this.inner.deleteReferrer(repository, subject, referrer);
  }
}
