import { describe, expect, it } from 'vitest';
import {
  assertRepositoryInputs,
  isRepositoryGlob,
  isRepositoryPrefix,
  parseImageRef,
  sameRegistryHost,
} from '../../src/core/digest.js';
import { InputError } from '../../src/core/errors.js';
import { parseImageInfo } from '../../src/core/image-info.js';

const D = `sha256:${'b'.repeat(64)}`;

describe('registry hosts of host/repo@digest', () => {
  it('parses the host off only when the first segment looks like one', () => {
    expect(parseImageRef(`myacr.azurecr.io/dotnet/aspnet@${D}`, 'x').host).toBe('myacr.azurecr.io');
    expect(parseImageRef(`127.0.0.1:5000/a@${D}`, 'x').host).toBe('127.0.0.1:5000');
    expect(parseImageRef(`dotnet/aspnet@${D}`, 'x').host).toBeUndefined();
  });

  it('matches spellings of one registry and nothing else', () => {
    expect(sameRegistryHost('MyAcr.azurecr.io', 'myacr.azurecr.io')).toBe(true);
    expect(sameRegistryHost('myacr.azurecr.io:443', 'myacr.azurecr.io')).toBe(true);
    expect(sameRegistryHost('docker.io', 'registry-1.docker.io')).toBe(true);
    expect(sameRegistryHost('mcr.microsoft.com', 'myacr.azurecr.io')).toBe(false);
    expect(sameRegistryHost('127.0.0.1:5000', '127.0.0.1:5001')).toBe(false);
    expect(sameRegistryHost('myacr.azurecr.io.evil.com', 'myacr.azurecr.io')).toBe(false);
  });
});

describe('repository names in inputs and image-info', () => {
  it('globs and prefixes follow the OCI name grammar', () => {
    for (const ok of ['dotnet/*', '**-runtime', 'dotnet/aspnet', 'a?c', 'public/**'])
      expect(isRepositoryGlob(ok), ok).toBe(true);
    for (const bad of ['Dotnet/*', 'a//b', '/a', 'a/', 'a b', ''])
      expect(isRepositoryGlob(bad), bad).toBe(false);
    for (const ok of ['', 'public', 'public/', 'a/b//'])
      expect(isRepositoryPrefix(ok), ok).toBe(true);
    for (const bad of ['Public', '/public', 'a..b/'])
      expect(isRepositoryPrefix(bad), bad).toBe(false);
  });

  it('inputs fail with the label the host gives them', () => {
    const labels = { repoPrefix: '--repo-prefix', repositories: '--repositories' };
    expect(() => assertRepositoryInputs('Public', [], labels)).toThrow(
      /^--repo-prefix: invalid repository prefix "Public"/,
    );
    expect(() => assertRepositoryInputs('', ['ok/*', 'NO'], labels)).toThrow(
      /^--repositories: invalid repository name or glob "NO"/,
    );
    expect(() => assertRepositoryInputs('public/', ['ok/*'], labels)).not.toThrow();
  });

  it('an image-info repos[].repo is checked with its file and JSON path', () => {
    const text = JSON.stringify({
      schemaVersion: '2.0',
      repos: [
        { repo: 'fine', images: [] },
        { repo: 'Not_Fine', images: [] },
      ],
    });
    expect(() => parseImageInfo(text, 'image-info.json')).toThrow(InputError);
    expect(() => parseImageInfo(text, 'image-info.json')).toThrow(
      /^image-info\.json: repos\[1\]\.repo: invalid repository name "Not_Fine"/,
    );
  });
});
