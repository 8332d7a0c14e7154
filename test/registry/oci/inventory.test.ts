import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fallbackTag } from '../../../src/core/digest.js';
import { MediaType } from '../../../src/core/oci.js';
import { OciRegistry } from '../../../src/registry/oci/index.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { startFakeOciAuth, type FakeOciAuth } from '../../support/fake-oci-auth.js';
import {
  NOTATION_ARTIFACT_TYPE,
  ociRegistry,
  pushCosignSignature,
  pushImage,
  pushIndex,
  pushNotationSignature,
} from '../../support/seed.js';

let registry: DockerRegistry;
let reg: OciRegistry;

beforeAll(async () => {
  registry = await startDockerRegistry();
  reg = ociRegistry(registry.url, { pageSize: 2 });
});
afterAll(async () => {
  await registry?.stop();
});

describe('listRepositories', () => {
  it('follows Link pagination across catalog pages', async () => {
    const names = ['cat/a', 'cat/b', 'cat/c', 'cat/d', 'cat/e'];
    for (const name of names) await pushImage(reg, name, { tag: 'v1', seed: name });

    // The registry really pages at n=2, so the result needs more than one request.
    const first = await fetch(`${registry.url}/v2/_catalog?n=2`);
    expect(first.headers.get('link')).toMatch(/rel="next"/);
    expect(((await first.json()) as { repositories: string[] }).repositories).toHaveLength(2);

    const repos = await reg.listRepositories();
    expect(repos).toBeDefined();
    expect(repos!.filter((r) => r.startsWith('cat/')).sort()).toEqual(names);
  });
});

describe('listTags', () => {
  let front: FakeOciAuth;
  beforeAll(async () => {
    // distribution 2.8 ignores `n` for tags; the front pages them like newer registries do.
    front = await startFakeOciAuth({ upstream: registry.url, tagsPageSize: 2 });
  });
  afterAll(async () => {
    await front?.stop();
  });

  it('follows Link pagination across tag pages', async () => {
    const tags = ['t1', 't2', 't3', 't4', 't5'];
    for (const tag of tags) await pushImage(reg, 'tags/paged', { tag, seed: `tags-${tag}` });
    const viaFront = ociRegistry(front.url, { pageSize: 2 });

    expect((await viaFront.listTags('tags/paged')).sort()).toEqual(tags);
    const pages = front.requests.filter(
      (r) => r.path.startsWith('/v2/tags/paged/tags/list') && r.status === 200,
    );
    expect(pages.length).toBe(3);
  });

  it('returns [] for a repository that does not exist', async () => {
    expect(await reg.listTags('does/not-exist')).toEqual([]);
  });
});

describe('listManifests', () => {
  it('reads OCI and Docker manifests and indexes with their media types and sizes', async () => {
    const oci = await pushImage(reg, 'media/types', { tag: 'oci', seed: 'mt-oci' });
    const docker = await pushImage(reg, 'media/types', {
      tag: 'docker',
      seed: 'mt-docker',
      docker: true,
    });
    const ociIndex = await pushIndex(reg, 'media/types', [oci], 'oci-index');
    const dockerList = await pushIndex(reg, 'media/types', [docker], 'docker-list', {
      docker: true,
    });

    const records = await reg.listManifests('media/types');
    const by = new Map(records.map((r) => [r.digest, r]));
    expect(by.get(oci.digest)).toMatchObject({
      mediaType: MediaType.ociManifest,
      configMediaType: 'application/vnd.oci.image.config.v1+json',
      size: oci.size,
      tags: ['oci'],
    });
    expect(by.get(docker.digest)).toMatchObject({
      mediaType: MediaType.dockerManifest,
      configMediaType: 'application/vnd.docker.container.image.v1+json',
      size: docker.size,
      tags: ['docker'],
    });
    expect(by.get(ociIndex.digest)).toMatchObject({
      mediaType: MediaType.ociIndex,
      size: ociIndex.size,
      children: [oci.digest],
    });
    expect(by.get(dockerList.digest)).toMatchObject({
      mediaType: MediaType.dockerManifestList,
      size: dockerList.size,
      children: [docker.digest],
    });
    expect(records).toHaveLength(4);
  });

  it('adds the untagged children of an index and merges tags of one digest', async () => {
    const amd = await pushImage(reg, 'multi/arch', { seed: 'ma-amd64' });
    const arm = await pushImage(reg, 'multi/arch', { seed: 'ma-arm64', architecture: 'arm64' });
    const index = await pushIndex(reg, 'multi/arch', [amd, arm], 'latest');
    await reg.putManifest(
      'multi/arch',
      '1.0',
      (await reg.getManifest('multi/arch', 'latest'))!.bytes,
      MediaType.ociIndex,
    );

    const records = await reg.listManifests('multi/arch');
    expect(records).toHaveLength(3);
    const top = records.find((r) => r.digest === index.digest)!;
    expect(top.tags).toEqual(['1.0', 'latest']);
    expect(top.children).toEqual([amd.digest, arm.digest]);
    for (const child of [amd, arm]) {
      expect(records.find((r) => r.digest === child.digest)).toEqual({
        repository: 'multi/arch',
        digest: child.digest,
        mediaType: child.mediaType,
        size: child.size,
        tags: [],
      });
    }
  });

  it('lists signatures: cosign by tag, fallback-index referrers with their subject', async () => {
    const image = await pushImage(reg, 'signed/app', { tag: '1.0', seed: 'signed' });
    const cosign = await pushCosignSignature(reg, 'signed/app', image.digest);
    const notation = await pushNotationSignature(reg, 'signed/app', image);

    const records = await reg.listManifests('signed/app');
    const by = new Map(records.map((r) => [r.digest, r]));
    expect(by.get(cosign.digest)?.tags).toEqual([`${fallbackTag(image.digest)}.sig`]);
    expect(by.get(cosign.digest)?.subject).toBeUndefined();
    const index = records.find((r) => r.tags.includes(fallbackTag(image.digest)));
    expect(index?.mediaType).toBe(MediaType.ociIndex);
    expect(index?.children).toEqual([notation.digest]);
    expect(by.get(notation.digest)).toMatchObject({
      tags: [],
      subject: image.digest,
      artifactType: NOTATION_ARTIFACT_TYPE,
      size: notation.size,
    });
    expect(by.get(image.digest)?.subject).toBeUndefined();
    expect(records).toHaveLength(4);
  });

  it('returns [] for a repository that does not exist', async () => {
    expect(await reg.listManifests('no/such-repo')).toEqual([]);
  });
});

describe('describeManifest and imageCreated', () => {
  it('describes manifests by HEAD and answers undefined for unknown digests', async () => {
    const oci = await pushImage(reg, 'describe/me', { tag: 'a', seed: 'd-oci' });
    const docker = await pushImage(reg, 'describe/me', {
      tag: 'b',
      seed: 'd-docker',
      docker: true,
    });
    const index = await pushIndex(reg, 'describe/me', [oci, docker]);
    for (const d of [oci, docker, index])
      expect(await reg.describeManifest('describe/me', d.digest)).toEqual(d);
    expect(await reg.describeManifest('describe/me', `sha256:${'0'.repeat(64)}`)).toBeUndefined();
  });

  it("reads created from the image config, an index's from its youngest child, none from artifacts", async () => {
    const image = await pushImage(reg, 'created/app', {
      tag: 'a',
      seed: 'created',
      created: '2023-05-06T07:08:09Z',
    });
    const docker = await pushImage(reg, 'created/app', {
      tag: 'b',
      seed: 'created-d',
      docker: true,
      created: '2022-01-02T03:04:05.123456789Z',
    });
    const index = await pushIndex(reg, 'created/app', [image, docker]);
    const notation = await pushNotationSignature(reg, 'created/app', image);

    expect(await reg.imageCreated('created/app', image.digest)).toBe('2023-05-06T07:08:09Z');
    expect(await reg.imageCreated('created/app', docker.digest)).toBe(
      '2022-01-02T03:04:05.123456789Z',
    );
    // An index has no config; a new index of old images is as young as its youngest image.
    expect(await reg.imageCreated('created/app', index.digest)).toBe('2023-05-06T07:08:09Z');
    expect(await reg.imageCreated('created/app', notation.digest)).toBeUndefined();
    expect(await reg.imageCreated('created/app', `sha256:${'1'.repeat(64)}`)).toBeUndefined();
  });
});

describe('seed helpers', () => {
  it('are deterministic for a given seed', async () => {
    const a = await pushImage(reg, 'seed/det', { tag: 'x', seed: 's1' });
    const b = await pushImage(reg, 'seed/det', { tag: 'y', seed: 's1' });
    const c = await pushImage(reg, 'seed/det', { tag: 'z', seed: 's2' });
    expect(b).toEqual(a);
    expect(c.digest).not.toBe(a.digest);
  });
});
