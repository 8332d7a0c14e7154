/* eslint-disable */
// Injected into the CommonJS bundles: what `import.meta.url` means in the original ESM.
export const importMetaUrl = require('node:url').pathToFileURL(__filename).href;
