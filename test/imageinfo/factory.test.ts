import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { AzureReposSource } from '../../src/imageinfo/azure-repos-source.js';
import {
  createImageInfoSource,
  createWritableImageInfoSource,
  parseSourceSpec,
} from '../../src/imageinfo/factory.js';
import { FileSource } from '../../src/imageinfo/file-source.js';
import { GitHubContentsSource } from '../../src/imageinfo/github-source.js';
import { UrlSource } from '../../src/imageinfo/url-source.js';

describe('image-info source specs', () => {
  it.each([
    ['image-info.json', { kind: 'file', path: 'image-info.json' }],
    ['/abs/path/image-info.json', { kind: 'file', path: '/abs/path/image-info.json' }],
    ['file:///tmp/x.json', { kind: 'file', path: '/tmp/x.json' }],
    ['C:\\work\\image-info.json', { kind: 'file', path: 'C:\\work\\image-info.json' }],
    [
      'https://example.com/image-info.json',
      { kind: 'url', url: 'https://example.com/image-info.json' },
    ],
    [
      'github:dotnet/versions/build-info/docker/image-info.dotnet-dotnet-docker-main.json@main',
      {
        kind: 'github',
        owner: 'dotnet',
        repo: 'versions',
        path: 'build-info/docker/image-info.dotnet-dotnet-docker-main.json',
        branch: 'main',
      },
    ],
    [
      'github:o/r/a.json@release/8.0',
      { kind: 'github', owner: 'o', repo: 'r', path: 'a.json', branch: 'release/8.0' },
    ],
    [
      'azure-repos:Docker Images/image-info/build/image-info.json@main',
      {
        kind: 'azure-repos',
        project: 'Docker Images',
        repo: 'image-info',
        path: 'build/image-info.json',
        branch: 'main',
      },
    ],
  ])('%s', (spec, expected) => {
    expect(parseSourceSpec(spec)).toEqual(expected);
  });

  it.each([
    '',
    'github:o/r@main',
    'github:o/r/path.json',
    'github:o/r/a/../b.json@main',
    'azure-repos:p/r/x.json@',
    'ftp://host/x.json',
    's3://bucket/x.json',
  ])('rejects %j with an InputError', (spec) => {
    expect(() => parseSourceSpec(spec)).toThrow(InputError);
  });

  it('builds the matching source; azure-repos needs the collection URI; https is read-only', () => {
    expect(createImageInfoSource('x.json')).toBeInstanceOf(FileSource);
    expect(createImageInfoSource('https://example.com/x.json')).toBeInstanceOf(UrlSource);
    expect(createImageInfoSource('github:o/r/x.json@main', { githubToken: 't' })).toBeInstanceOf(
      GitHubContentsSource,
    );
    expect(
      createImageInfoSource('azure-repos:p/r/x.json@main', {
        azureCollectionUri: 'https://dev.azure.com/org/',
      }),
    ).toBeInstanceOf(AzureReposSource);
    expect(() => createImageInfoSource('azure-repos:p/r/x.json@main')).toThrow(
      /System.CollectionUri/,
    );
    expect(() => createImageInfoSource('http://example.com/x.json')).toThrow(
      /plain http only for loopback/,
    );
    expect(() => createWritableImageInfoSource('https://example.com/x.json')).toThrow(/read-only/);
    expect(createWritableImageInfoSource('github:o/r/x.json@main').name).toBe(
      'github:o/r/x.json@main',
    );
  });

  it('never puts a token in a source name', () => {
    const s = createImageInfoSource('github:o/r/x.json@main', { githubToken: 'ghp_SECRET' });
    expect(s.name).not.toContain('SECRET');
  });

  it('errors spell the input as the host names it', () => {
    const label = '--image-info';
    expect(() => createImageInfoSource('ftp://x/i.json', { label })).toThrow(/^--image-info: /);
    expect(() => createImageInfoSource('http://example.com/i.json', { label })).toThrow(
      /^--image-info: /,
    );
    expect(() => createImageInfoSource('github:o/r', { label })).toThrow(/^--image-info: /);
    expect(() => createWritableImageInfoSource('https://x/i.json', { label })).toThrow(
      /^--image-info: /,
    );
    expect(() => createImageInfoSource('ftp://x/i.json')).toThrow(/^imageInfo: /);
  });
});
