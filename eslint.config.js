import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        Buffer: 'readonly',
        fetch: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }] },
  },
  {
    // core is pure: no I/O, no environment, no platform SDKs
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'fs',
                'http',
                'https',
                '@actions/*',
                '@octokit/*',
                'azure-pipelines-task-lib*',
                '@azure/*',
              ],
              message: 'core is pure: no I/O, no environment, no platform SDKs',
            },
            { regex: '^\\.\\./', message: 'core imports nothing outside core' },
          ],
        },
      ],
      'no-restricted-globals': ['error', 'process', 'fetch'],
    },
  },
  {
    // The agents own the CI environment (src/platform builds a RunContext): nothing below reads it.
    files: ['src/**/*.ts'],
    ignores: ['src/platform/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'take it from the RunContext (platform/)' },
      ],
    },
  },
  // Layers: util is a leaf (it may use core's errors and ports); adapters never import each other.
  layer('src/util/**/*.ts', '^\\.\\./(?!core/)', 'util is a leaf: it imports only core'),
  // Service clients (one per web service) sit just above util, below the adapters that use them.
  layer(
    'src/services/**/*.ts',
    '^\\.\\./(?!core/|util/)',
    'a service client imports only core and util',
  ),
  ...['coordination', 'imageinfo'].map((adapter) =>
    layer(
      `src/${adapter}/**/*.ts`,
      '^\\.\\./(registry|coordination|imageinfo|commands|platform)/',
      'an adapter imports only core, util and services, never a sibling adapter or a layer above',
    ),
  ),
  layer(
    'src/registry/*.ts',
    '^\\.\\./(coordination|imageinfo|commands|platform|services)/',
    'the registry imports only core and util',
  ),
  layer(
    'src/registry/oci/**/*.ts',
    '^\\.\\./acr/|^\\.\\./\\.\\./(coordination|imageinfo|commands|platform)/',
    'the OCI adapter never imports the ACR adapter or a layer above',
  ),
  layer(
    'src/registry/ghcr/**/*.ts',
    '^\\.\\./acr/|^\\.\\./\\.\\./(coordination|imageinfo|commands|platform)/',
    'the GHCR adapter reads packages through the GitHub service client, never the ACR adapter or a layer above',
  ),
  layer(
    'src/registry/acr/**/*.ts',
    '^\\.\\./oci/|^\\.\\./\\.\\./(coordination|imageinfo|commands|platform)/',
    'the ACR adapter never imports the OCI adapter or a layer above',
  ),
);

/** Forbids imports matching `regex` in `files`. */
function layer(files, regex, message) {
  return {
    files: [files],
    rules: { 'no-restricted-imports': ['error', { patterns: [{ regex, message }] }] },
  };
}
