export * from './source.js';
export * from './factory.js';
export { FileSource, type FileSourceOptions } from './file-source.js';
export { UrlSource, type UrlSourceOptions } from './url-source.js';
export {
  GitHubContentsSource,
  type GitHubContentsOptions,
  type GitHubLocation,
} from './github-source.js';
export {
  AzureReposSource,
  type AzureReposOptions,
  type AzureReposLocation,
} from './azure-repos-source.js';
export { gitBlobId } from './git-blob.js';
