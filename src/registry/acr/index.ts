export { AcrRegistry, normalizeEndpoint, type AcrRegistryOptions } from './adapter.js';
export {
  acrAuthFromInputs,
  createAcrCredential,
  ACR_AUDIENCES,
  type AcrAuth,
  type AcrCredential,
  type CredentialOptions,
} from './credentials.js';
export { ManifestCache, type ManifestFacts } from './manifest-cache.js';
