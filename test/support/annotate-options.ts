import type { AnnotateOptions } from '../../src/commands/annotate.js';

/**
 * The annotate options of a test or bench run against one registry without coordination: the
 * whole image-info in scope, marks on what is older than an hour; `options` name the group and
 * the date, and override the rest.
 */
export function annotateOptions(
  options: Pick<AnnotateOptions, 'group' | 'eolDate'> & Partial<AnnotateOptions>,
): AnnotateOptions {
  return {
    timeoutMs: 60_000,
    pollIntervalMs: 1000,
    onTimeout: 'fail',
    repoPrefix: '',
    repositories: [],
    minAgeMs: 3_600_000,
    concurrency: 4,
    dryRun: false,
    ...options,
  };
}

/** `eol-gate annotate --json` against a fake ACR (`--registry-type acr`), without coordination. */
export function acrAnnotateArgs(registry: string, imageInfo: string, ...more: string[]): string[] {
  return [
    'annotate',
    '--registry',
    registry,
    '--registry-type',
    'acr',
    '--image-info',
    imageInfo,
    '--coordinator',
    'none',
    '--json',
    ...more,
  ];
}
