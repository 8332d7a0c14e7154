export { AcrRegistry, type AcrRegistryOptions } from './adapter.js';
export { normalizeEndpoint } from './endpoint.js';
export {
  acrAuthFromInputs,
  createAcrCredential,
  type AcrAuth,
  type AcrCredential,
  type CredentialOptions,
} from './credentials.js';
