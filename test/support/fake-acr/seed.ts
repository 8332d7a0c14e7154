import type { FakeAcr } from './server.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/**
 * Pushes (in-process) a small image: a unique config blob and a manifest. `seed` makes the
 * bytes, hence the digest, unique and reproducible.
 */
export function seedImage(
  fake: FakeAcr,
  repository: string,
  seed: string,
  options: { tags?: string[]; created?: Date; docker?: boolean } = {},
): { digest: string; size: number; mediaType: string } {
  // The config's own `created` is fixed so a seed always gives the same digest; the registry
  // creation time (what minAge reads) is `options.created`.
  const config = JSON.stringify({
    created: '2025-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    seed,
  });
  const configDigest = fake.seedBlob(repository, config);
  const mediaType = options.docker ? DOCKER_MANIFEST : OCI_MANIFEST;
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: options.docker
        ? 'application/vnd.docker.container.image.v1+json'
        : 'application/vnd.oci.image.config.v1+json',
      digest: configDigest,
      size: Buffer.byteLength(config),
    },
    layers: [],
  });
  const digest = fake.seedManifest(repository, body, {
    tags: options.tags,
    created: options.created,
  });
  return { digest, size: Buffer.byteLength(body), mediaType };
}

/** An OCI index over existing manifests. */
export function seedIndex(
  fake: FakeAcr,
  repository: string,
  children: { digest: string; size: number; mediaType: string }[],
  options: { tags?: string[]; created?: Date; seed?: string } = {},
): { digest: string; size: number; mediaType: string } {
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map((c) => ({ ...c, platform: { architecture: 'amd64', os: 'linux' } })),
    ...(options.seed ? { annotations: { seed: options.seed } } : {}),
  });
  const digest = fake.seedManifest(repository, body, {
    tags: options.tags,
    created: options.created,
  });
  return { digest, size: Buffer.byteLength(body), mediaType: OCI_INDEX };
}

/** A non-lifecycle referrer (e.g. a signature) on `subject`. */
export function seedArtifact(
  fake: FakeAcr,
  repository: string,
  subject: { digest: string; size: number; mediaType: string },
  artifactType: string,
  annotations: Record<string, string> = {},
): string {
  fake.seedBlob(repository, '{}');
  const empty = {
    mediaType: 'application/vnd.oci.empty.v1+json',
    digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    size: 2,
  };
  const body = JSON.stringify({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: empty,
    layers: [empty],
    subject,
    annotations,
  });
  return fake.seedManifest(repository, body);
}
