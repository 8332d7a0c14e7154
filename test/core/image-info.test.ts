import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { parseImageInfo, supportedRefs } from '../../src/core/image-info.js';
import { readSharedImageInfo } from '../support/data.js';

describe('parseImageInfo on real files', () => {
  const read = (file: string) => parseImageInfo(readSharedImageInfo(file), file);

  it('reads schemaVersion 2.0 with {digest,size} layers: 229 platforms + 1 manifest list = 230 supported', () => {
    const info = read('buildtools-prereqs-main.json');
    expect(info.schemaVersion).toBe('2.0');
    const refs = supportedRefs(info);
    expect(refs.filter((r) => r.kind === 'platform')).toHaveLength(229);
    expect(refs.filter((r) => r.kind === 'manifest-list')).toHaveLength(1);
    expect(new Set(refs.map((r) => r.digest)).size).toBe(230);
    expect(refs[0].host).toBe('mcr.microsoft.com');
    expect(refs[0].repository).toBe('dotnet-buildtools/prereqs');
  });

  it('reads schemaVersion 1.0 with string layers', () => {
    const info = read('buildtools-prereqs-main.2023-12-01.json');
    expect(info.schemaVersion).toBe('1.0');
    expect(supportedRefs(info).length).toBeGreaterThan(100);
  });

  it('reads manifest lists with sharedTags and a repo without images', () => {
    const info = read('dotnet-docker-main.json');
    expect(info.repos).toHaveLength(7);
    expect(info.repos.filter((r) => r.images.length === 0).map((r) => r.repo)).toEqual([
      'dotnet/aspire-dashboard',
    ]);
    const lists = supportedRefs(info).filter((r) => r.kind === 'manifest-list');
    expect(lists.length).toBeGreaterThan(10);
    expect(lists.every((l) => l.tags.length > 0)).toBe(true);
    expect(info.repos.map((r) => r.repo)).toContain('dotnet/monitor/base');
  });
});

const doc = (platform: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    schemaVersion: '2.0',
    repos: [
      {
        repo: 'a',
        images: [{ platforms: [{ digest: `mcr.microsoft.com/a@sha256:${'a'.repeat(64)}` }] }],
      },
      { repo: 'b', images: [{ platforms: [{ digest: `b@sha256:${'b'.repeat(64)}` }, platform] }] },
    ],
    ...extra,
  });

describe('parseImageInfo errors name the file and the JSON path', () => {
  it.each([
    ['malformed JSON', '{"schemaVersion":', /^f\.json: not valid JSON/],
    [
      'unknown schemaVersion',
      JSON.stringify({ schemaVersion: '3.0', repos: [] }),
      /^f\.json: schemaVersion: unsupported schemaVersion "3\.0"/,
    ],
    [
      'missing repos',
      JSON.stringify({ schemaVersion: '2.0' }),
      /^f\.json: repos: expected an array/,
    ],
    [
      'missing digest',
      doc({ dockerfile: 'x' }),
      /^f\.json: repos\[1\]\.images\[0\]\.platforms\[1\]\.digest: missing digest/,
    ],
    [
      'ill-formed digest',
      doc({ digest: 'b@sha256:xyz' }),
      /^f\.json: repos\[1\]\.images\[0\]\.platforms\[1\]\.digest: expected a digest/,
    ],
    [
      'digest of wrong type',
      doc({ digest: 42 }),
      /repos\[1\]\.images\[0\]\.platforms\[1\]\.digest/,
    ],
    [
      'bad syndicated digest',
      doc({ digest: `b@sha256:${'c'.repeat(64)}`, syndicatedDigests: ['nope'] }),
      /platforms\[1\]\.syndicatedDigests\[0\]/,
    ],
    [
      'bad simpleTags',
      doc({ digest: `b@sha256:${'c'.repeat(64)}`, simpleTags: 'latest' }),
      /platforms\[1\]\.simpleTags: expected an array/,
    ],
  ])('%s', (_name, text, message) => {
    expect(() => parseImageInfo(text, 'f.json')).toThrow(InputError);
    expect(() => parseImageInfo(text, 'f.json')).toThrow(message);
  });

  it('ignores unknown fields', () => {
    const info = parseImageInfo(
      doc({ digest: `b@sha256:${'c'.repeat(64)}`, somethingNew: { x: 1 } }, { extra: true }),
      'f.json',
    );
    expect(supportedRefs(info).map((r) => r.digest)).toContain(`sha256:${'c'.repeat(64)}`);
  });

  it('accepts a bare digest inside a repo and syndicated digests of other repos', () => {
    const info = parseImageInfo(
      doc({
        digest: `sha256:${'d'.repeat(64)}`,
        syndicatedDigests: [`mcr.microsoft.com/other/repo@sha256:${'e'.repeat(64)}`],
      }),
      'f.json',
    );
    const refs = supportedRefs(info);
    expect(refs).toContainEqual(
      expect.objectContaining({
        repository: 'b',
        digest: `sha256:${'d'.repeat(64)}`,
        kind: 'platform',
      }),
    );
    expect(refs).toContainEqual(
      expect.objectContaining({ repository: 'other/repo', kind: 'syndicated' }),
    );
  });
});
