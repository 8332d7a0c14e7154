import { InputError } from '../../core/errors.js';

/** `myacr.azurecr.io`, `https://myacr.azurecr.io/` or `https://127.0.0.1:8443` → `https://host[:port]`. */
export function normalizeEndpoint(registry: string): string {
  const text = registry.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `https://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InputError(`registry: ${JSON.stringify(registry)} is not a registry host`);
  }
  if (url.protocol !== 'https:')
    throw new InputError(
      `registry: ${url.host} must be reached over https (Azure Container Registry)`,
    );
  if (
    (url.pathname !== '/' && url.pathname !== '') ||
    url.search ||
    url.username ||
    url.password ||
    !url.hostname ||
    !/^[a-z0-9.[\]:-]+$/i.test(url.host)
  ) {
    throw new InputError(
      `registry: ${JSON.stringify(registry)} is not a registry host (expected e.g. myacr.azurecr.io)`,
    );
  }
  return `https://${url.host}`;
}
