import { describe, expect, it } from 'vitest';
import { parseImageRef, sameRegistryHost } from '../../src/core/digest.js';

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
