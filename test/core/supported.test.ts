import { describe, expect, it } from 'vitest';
import { parseImageInfo } from '../../src/core/image-info.js';
import { repositoriesInScope, supportedSet, withPrefix } from '../../src/core/supported.js';
import { readSharedImageInfo } from '../support/data.js';

describe('supported set and scope', () => {
  const dotnet = parseImageInfo(readSharedImageInfo('dotnet-docker-main.json'), 'dotnet.json');

  it('maps repositories through repoPrefix and ignores the image-info host', () => {
    const set = supportedSet([dotnet], 'public/');
    expect([...set.repositories]).toContain('public/dotnet/monitor/base');
    expect([...set.repositories]).toContain('public/dotnet/aspire-dashboard');
    const any = [...set.digests.values()][0];
    expect(any.registryRepository.startsWith('public/dotnet/')).toBe(true);
    expect(any.host).toBe('mcr.microsoft.com');
  });

  it('takes the union of several image-info files', () => {
    const prereqs = parseImageInfo(readSharedImageInfo('buildtools-prereqs-main.json'), 'p.json');
    const union = supportedSet([dotnet, prereqs]);
    expect(union.digests.size).toBe(
      supportedSet([dotnet]).digests.size + supportedSet([prereqs]).digests.size,
    );
    expect(union.repositories.has('dotnet-buildtools/prereqs')).toBe(true);
  });

  it.each([
    ['', 'dotnet/sdk', 'dotnet/sdk'],
    ['public', 'dotnet/sdk', 'public/dotnet/sdk'],
    ['public/', 'dotnet/sdk', 'public/dotnet/sdk'],
  ])('withPrefix(%j, %j) = %j', (prefix, repo, expected) => {
    expect(withPrefix(prefix, repo)).toBe(expected);
  });

  it('scope: image-info repositories by default, globs when given', () => {
    const set = supportedSet([dotnet], 'public');
    expect(repositoriesInScope(undefined, set, [])).toEqual([...set.repositories].sort());
    const catalog = [
      'public/dotnet/sdk',
      'public/dotnet/monitor',
      'public/dotnet/monitor/base',
      'other/x',
    ];
    expect(repositoriesInScope(catalog, set, ['public/dotnet/monitor*'])).toEqual([
      'public/dotnet/monitor',
    ]);
    expect(repositoriesInScope(catalog, set, ['public/dotnet/monitor/**', 'other/*'])).toEqual([
      'other/x',
      'public/dotnet/monitor/base',
    ]);
    expect(repositoriesInScope(undefined, set, ['literal/repo', 'glob/*'])).toEqual([
      'literal/repo',
    ]);
  });
});
