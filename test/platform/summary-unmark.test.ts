import { describe, expect, it } from 'vitest';
import { unannotateSummary, verifySummary } from '../../src/platform/summary.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;

describe('summaries say how a mark was removed where the registry refuses DELETE', () => {
  it('unannotate: per mark and in total', () => {
    const text = unannotateSummary(
      {
        dryRun: false,
        mode: 'digest',
        missing: [],
        removed: [
          {
            repository: 'o/app',
            digest: D('a'),
            referrer: D('1'),
            date: '2026-01-01',
            how: 'unlisted',
          },
          { repository: 'o/app', digest: D('b'), referrer: D('2'), how: 'version-deleted' },
          { repository: 'o/app', digest: D('c'), referrer: D('3'), how: 'deleted' },
        ],
      },
      'ghcr.io',
      'Digests',
    );
    expect(text).toContain(
      '1 mark(s) removed from the referrers index; the lifecycle manifest stays (the registry refuses DELETE).',
    );
    expect(text).toContain(
      '1 mark(s) removed from the referrers index and its package version deleted (the registry refuses DELETE).',
    );
    expect(text).toContain(
      `(mark \`${D('1')}\`, 2026-01-01: removed from the referrers index; the lifecycle manifest stays`,
    );
    expect(text).toContain(`(mark \`${D('3')}\`, no date)`);
  });

  it('verify --repair: the repairs that were not a DELETE', () => {
    const text = verifySummary(
      { checked: 2, findings: [], repaired: 2, repairedHow: { 'version-deleted': 2 } },
      'ghcr.io',
    );
    expect(text).toContain(
      '2 mark(s) removed from the referrers index and its package version deleted',
    );
    expect(verifySummary({ checked: 1, findings: [], repaired: 1 }, 'r')).not.toContain(
      'referrers index',
    );
  });
});
