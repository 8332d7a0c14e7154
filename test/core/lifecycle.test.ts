import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_DESCRIPTOR,
  lifecycleManifestJson,
  lifecycleMarkOf,
  LIFECYCLE_ARTIFACT_TYPE,
} from '../../src/core/lifecycle.js';
import { readAnnotationDate } from '../../src/core/date.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const subject = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: `sha256:${'1'.repeat(64)}`,
  size: 1234,
};

describe('lifecycle manifest', () => {
  it('is byte-identical for the same subject and date (pinned digest)', () => {
    const a = lifecycleManifestJson(subject, '2026-11-22');
    const b = lifecycleManifestJson({ ...subject, annotations: { ignored: 'x' } }, '2026-11-22');
    expect(a).toBe(b);
    // Pinned: a change to these bytes would make new runs pile a second referrer on old ones.
    expect(sha(a)).toBe('sha256:49578e1644ab9e0f9c7f65282e7f2d32521706d5c9aa29913e4d2e5fbb7ee65a');
  });

  it('differs by date and by subject', () => {
    const base = sha(lifecycleManifestJson(subject, '2026-11-22'));
    expect(sha(lifecycleManifestJson(subject, '2026-11-23'))).not.toBe(base);
    expect(sha(lifecycleManifestJson({ ...subject, size: 1 }, '2026-11-22'))).not.toBe(base);
  });

  it('has the lifecycle shape: artifactType, empty config and single layer, subject, date', () => {
    const m = JSON.parse(lifecycleManifestJson(subject, '2026-11-22'));
    expect(m.artifactType).toBe(LIFECYCLE_ARTIFACT_TYPE);
    expect(m.config).toEqual(EMPTY_DESCRIPTOR);
    expect(m.layers).toEqual([EMPTY_DESCRIPTOR]);
    expect(m.subject).toEqual(subject);
    expect(m.annotations).toEqual({
      'vnd.microsoft.artifact.lifecycle.end-of-life.date': '2026-11-22',
    });
    expect(sha('{}')).toBe(EMPTY_DESCRIPTOR.digest);
  });

  it.each([
    ['2026-01-31', '2026-01-31'],
    ['2025-03-04T05:06:07.1234567Z', '2025-03-04'],
    ['Tue, 04 Mar 2025 05:06:07 GMT', '2025-03-04'],
    ['not a date', undefined],
    [undefined, undefined],
  ])('reads annotation date %s', (value, expected) => {
    expect(readAnnotationDate(value)).toBe(expected);
  });

  it('reads a mark only from lifecycle referrers', () => {
    const d = { mediaType: 'x', digest: `sha256:${'2'.repeat(64)}`, size: 1 };
    expect(
      lifecycleMarkOf({ ...d, artifactType: 'application/vnd.cncf.notary.signature' }),
    ).toBeUndefined();
    expect(
      lifecycleMarkOf({
        ...d,
        artifactType: LIFECYCLE_ARTIFACT_TYPE,
        annotations: {
          'vnd.microsoft.artifact.lifecycle.end-of-life.date': '2024-05-06T00:00:00Z',
        },
      }),
    ).toEqual({ digest: d.digest, date: '2024-05-06' });
  });
});
