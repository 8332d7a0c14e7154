import { describe, expect, it } from 'vitest';
import { ManifestMemory, RECHECK_MARKED_MS } from '../../src/registry/manifest-memory.js';
import { fakeDigest } from '../support/data.js';

const A = fakeDigest('a');
const B = fakeDigest('b');

describe('ManifestMemory', () => {
  it('round-trips through its lines, and a repository without digests is kept', () => {
    const memory = new ManifestMemory();
    memory.see('app', A, 1_000, { tags: ['latest'], mediaType: 'm', size: 12, children: [B] });
    memory.rememberRepository('gone');
    const copy = new ManifestMemory();
    for (const line of memory.lines()) {
      expect(ManifestMemory.isLine(line)).toBe(true);
      expect(copy.merge(line)).toBe(true);
    }
    expect(copy.repositoryNames()).toEqual(['app', 'gone']);
    expect(copy.get('app', A)).toEqual({
      firstSeen: 1_000,
      verified: 1_000,
      tags: ['latest'],
      mediaType: 'm',
      size: 12,
      children: [B],
    });
  });

  it('keeps the first sighting, and says when something new was learnt', () => {
    const memory = new ManifestMemory();
    memory.see('app', A, 1_000, { tags: ['1'] });
    memory.changed = false;
    // Seen again later with another tag: not new, the first sighting stays.
    expect(memory.see('app', A, 5_000, { tags: ['2'] })).toMatchObject({
      firstSeen: 1_000,
      verified: 5_000,
      tags: ['2'],
    });
    expect(memory.changed).toBe(false);
    memory.forget('app', A);
    expect(memory.changed).toBe(true);
    expect(memory.get('app', A)).toBeUndefined();
  });

  it('a confirmation after RECHECK_MARKED_MS is worth saving (marked ones are not asked before)', () => {
    const memory = new ManifestMemory();
    memory.see('app', A, 1_000, { tags: [] });
    memory.changed = false;
    memory.see('app', A, 1_000 + RECHECK_MARKED_MS - 1, { tags: [] });
    expect(memory.changed).toBe(false);
    memory.see('app', A, 1_000 + 2 * RECHECK_MARKED_MS, { tags: [] });
    expect(memory.changed).toBe(true);
  });

  it('two copies that disagree: the earliest first sighting wins', () => {
    const memory = new ManifestMemory();
    memory.merge(JSON.stringify({ r: 'app', d: A, f: 9_000, v: 9_000, t: [] }));
    memory.merge(JSON.stringify({ r: 'app', d: A, f: 2_000, v: 3_000, t: [] }));
    expect(memory.get('app', A)).toMatchObject({ firstSeen: 2_000, verified: 9_000 });
  });

  const invalid: Array<[string, unknown]> = [
    ['not JSON', '{"r":'],
    ['a bad repository name', { r: 'App/../x', d: A, f: 1, v: 1 }],
    ['a bad digest', { r: 'app', d: 'sha256:zz', f: 1, v: 1 }],
    ['a missing first-seen time', { r: 'app', d: A, v: 1 }],
    ['a negative time', { r: 'app', d: A, f: -1, v: 1 }],
    ['tags that are not strings', { r: 'app', d: A, f: 1, v: 1, t: [1] }],
    ['children that are not digests', { r: 'app', d: A, f: 1, v: 1, c: ['x'] }],
    ['a size that is not an integer', { r: 'app', d: A, f: 1, v: 1, s: 1.5 }],
  ];
  it.each(invalid)('ignores a line with %s', (_name, line) => {
    const memory = new ManifestMemory();
    expect(memory.merge(typeof line === 'string' ? line : JSON.stringify(line))).toBe(false);
    expect(memory.get('app', A)).toBeUndefined();
  });
});
