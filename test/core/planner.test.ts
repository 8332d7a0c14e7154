import { describe, expect, it } from 'vitest';
import { refKey } from '../../src/core/digest.js';
import { parseImageInfo } from '../../src/core/image-info.js';
import { MediaType, type LifecycleMark, type ManifestRecord } from '../../src/core/oci.js';
import { buildPlan, classify, type ExclusionReason } from '../../src/core/planner.js';
import { supportedSet } from '../../src/core/supported.js';
import { fakeDigest } from '../support/data.js';

const D = {
  supported: fakeDigest('supported'),
  orphan: fakeDigest('orphan'),
  supportedIndex: fakeDigest('supIdx'),
  childA: fakeDigest('childA'),
  shared: fakeDigest('shared'),
  orphanIndex: fakeDigest('orphIdx'),
  orphanChild: fakeDigest('orphChild'),
  nested: fakeDigest('nested'),
  nestedChild: fakeDigest('nestChild'),
  sig: fakeDigest('sig'),
  notation: fakeDigest('notation'),
  fallbackIndex: fakeDigest('fbIndex'),
  fallbackListed: fakeDigest('fbListed'),
  syndicated: fakeDigest('syndic'),
  young: fakeDigest('young'),
  annotated: fakeDigest('annotated'),
  unknownAge: fakeDigest('unknown'),
};

const imageInfo = parseImageInfo(
  JSON.stringify({
    schemaVersion: '2.0',
    repos: [
      {
        repo: 'dotnet/app',
        images: [
          {
            platforms: [
              {
                digest: `mcr.microsoft.com/dotnet/app@${D.supported}`,
                syndicatedDigests: [`mcr.microsoft.com/dotnet/copy@${D.syndicated}`],
              },
            ],
          },
          {
            manifest: { digest: `mcr.microsoft.com/dotnet/app@${D.supportedIndex}` },
            platforms: [],
          },
        ],
      },
    ],
  }),
  'image-info.json',
);
const supported = supportedSet([imageInfo], 'public');

const rec = (digest: string, extra: Partial<ManifestRecord> = {}): ManifestRecord => ({
  repository: 'public/dotnet/app',
  digest,
  mediaType: MediaType.ociManifest,
  size: 100,
  tags: [],
  created: '2020-01-01T00:00:00Z',
  ...extra,
});
const index = (digest: string, children: string[], tags: string[] = []) =>
  rec(digest, { mediaType: MediaType.ociIndex, children, tags });

const inventory: ManifestRecord[] = [
  rec(D.supported, { tags: ['latest'] }),
  rec(D.orphan, { tags: ['old'] }),
  index(D.supportedIndex, [D.childA, D.shared, D.nested], ['multi']),
  rec(D.childA),
  rec(D.shared),
  index(D.nested, [D.nestedChild]),
  rec(D.nestedChild),
  index(D.orphanIndex, [D.shared, D.orphanChild], ['old-multi']),
  rec(D.orphanChild),
  rec(D.sig, { tags: [`${D.supported.replace(':', '-')}.sig`] }),
  rec(D.notation, { subject: D.supported, artifactType: 'application/vnd.cncf.notary.signature' }),
  index(D.fallbackIndex, [D.fallbackListed], [D.orphan.replace(':', '-')]),
  rec(D.fallbackListed),
  rec(D.syndicated, { repository: 'public/dotnet/copy' }),
  rec(D.young, { created: '2026-11-22T11:30:00Z' }),
  rec(D.annotated),
  rec(D.unknownAge, { created: undefined }),
];

describe('classify (invariants 1 and 3)', () => {
  const result = classify(inventory, supported);
  const candidates = new Set(result.candidates.map((c) => c.digest));

  it.each<[keyof typeof D, ExclusionReason | 'candidate']>([
    ['supported', 'supported'],
    ['supportedIndex', 'supported'],
    ['syndicated', 'supported'],
    ['childA', 'child-of-supported-index'],
    ['shared', 'child-of-supported-index'],
    ['nested', 'child-of-supported-index'],
    ['nestedChild', 'child-of-supported-index'],
    ['notation', 'referrer-artifact'],
    ['fallbackListed', 'referrer-artifact'],
    ['fallbackIndex', 'fallback-index-tag'],
    ['sig', 'cosign-tag'],
    ['orphan', 'candidate'],
    ['orphanIndex', 'candidate'],
    ['orphanChild', 'candidate'],
    ['young', 'candidate'],
    ['annotated', 'candidate'],
    ['unknownAge', 'candidate'],
  ])('%s → %s', (name, expected) => {
    expect(candidates.has(D[name])).toBe(expected === 'candidate');
  });

  it('counts exclusions by reason', () => {
    expect(result.excluded).toMatchObject({
      supported: 3,
      'child-of-supported-index': 4,
      'referrer-artifact': 2,
      'fallback-index-tag': 1,
      'cosign-tag': 1,
    });
  });

  it('says why a child of an orphaned index is a candidate', () => {
    const child = result.candidates.find((c) => c.digest === D.orphanChild);
    expect(child?.reason).toBe(`child of unsupported index ${D.orphanIndex}`);
  });

  it('a supported index whose children could not be read stops the plan for its repository, and says so', () => {
    // The listing named the index but could not read it (no children field): its children are
    // unknown, so nothing in that repository can be shown unsupported.
    const unreadable = inventory.map((m) =>
      m.digest === D.supportedIndex ? { ...m, children: undefined } : m,
    );
    const stopped = classify(unreadable, supported);
    expect(stopped.stopped).toEqual([
      { repository: 'public/dotnet/app', indexes: [D.supportedIndex] },
    ]);
    expect(stopped.candidates.filter((c) => c.repository === 'public/dotnet/app')).toEqual([]);
    expect(stopped.excluded['supported-index-unreadable']).toBeGreaterThan(0);
    // The children it would have protected are never candidates.
    for (const d of [D.childA, D.shared, D.nested, D.nestedChild])
      expect(stopped.candidates.some((c) => c.digest === d)).toBe(false);
    // Other repositories are planned.
    const elsewhere = classify(
      [...unreadable, rec(fakeDigest('other-orphan'), { repository: 'public/dotnet/other' })],
      supported,
    );
    expect(elsewhere.candidates.map((c) => c.repository)).toEqual(['public/dotnet/other']);
    expect(result.stopped).toEqual([]);
  });

  it('protects a digest supported under another repository name', () => {
    const elsewhere = classify([rec(D.supported, { repository: 'mirror/app' })], supported);
    expect(elsewhere.candidates).toHaveLength(0);
    expect(elsewhere.excluded.supported).toBe(1);
  });
});

describe('buildPlan', () => {
  const classification = classify(inventory, supported);
  const lifecycle = new Map<string, LifecycleMark[]>(
    classification.candidates.map((c) => [refKey(c.repository, c.digest), []]),
  );
  lifecycle.set(refKey('public/dotnet/app', D.annotated), [
    { digest: fakeDigest('mark'), date: '2025-01-01' },
  ]);
  const base = {
    classification,
    lifecycle,
    now: new Date('2026-11-22T12:00:00Z'),
    eolDate: '2026-11-22',
    fingerprint: 'fp',
  };

  it('drops already annotated and too young, keeps unknown age with a note', () => {
    const plan = buildPlan({ ...base, minAgeMs: 3_600_000 });
    const annotate = plan.annotate.map((e) => e.digest);
    expect(annotate.sort()).toEqual([D.orphan, D.orphanIndex, D.orphanChild, D.unknownAge].sort());
    expect(plan.alreadyAnnotated.map((e) => e.digest)).toEqual([D.annotated]);
    expect(plan.tooYoung.map((e) => e.digest)).toEqual([D.young]);
    expect(plan.annotate.find((e) => e.digest === D.unknownAge)?.reason).toMatch(
      /age unknown, counted as old enough/,
    );
    expect(plan.excluded['already-annotated']).toBe(1);
    expect(plan.excluded['too-young']).toBe(1);
  });

  it('minAge 0 turns the age check off', () => {
    const plan = buildPlan({ ...base, minAgeMs: 0 });
    expect(plan.tooYoung).toHaveLength(0);
    expect(plan.annotate.map((e) => e.digest)).toContain(D.young);
  });

  it('uses the config creation time when the listing has none', () => {
    const created = new Map([[refKey('public/dotnet/app', D.unknownAge), '2026-11-22T11:59:00Z']]);
    const plan = buildPlan({ ...base, minAgeMs: 3_600_000, created });
    expect(plan.tooYoung.map((e) => e.digest)).toContain(D.unknownAge);
  });

  // The age is the youngest of what the manifest says (`created`) and when the group first saw it.
  const ages: Array<[string, { created?: string; firstSeen?: string }, 'annotate' | RegExp]> = [
    [
      'old config, seen long ago',
      { created: '2020-01-01T00:00:00Z', firstSeen: '2026-11-01T00:00:00Z' },
      'annotate',
    ],
    [
      '1970 config, first seen now',
      { created: '1970-01-01T00:00:00Z', firstSeen: '2026-11-22T12:00:00Z' },
      /^first seen 2026-11-22T12:00:00Z: eligible after minAge, at 2026-11-22T13:00:00.000Z$/,
    ],
    [
      'no config time, first seen 30 min ago',
      { firstSeen: '2026-11-22T11:30:00Z' },
      /^first seen 2026-11-22T11:30:00Z: eligible after minAge/,
    ],
    [
      'seen long ago, but its config is younger',
      { created: '2026-11-22T11:59:00Z', firstSeen: '2026-11-01T00:00:00Z' },
      /^younger than minAge \(created 2026-11-22T11:59:00Z\)$/,
    ],
    ['no config time, seen 2 hours ago', { firstSeen: '2026-11-22T10:00:00Z' }, 'annotate'],
  ];
  for (const [name, age, expected] of ages) {
    it(`minAge 1h: ${name}`, () => {
      const entry = { ...classification.candidates.find((c) => c.digest === D.orphan)!, ...age };
      const plan = buildPlan({
        ...base,
        classification: { ...classification, candidates: [entry] },
        minAgeMs: 3_600_000,
      });
      if (expected === 'annotate') {
        expect(plan.annotate.map((e) => e.digest)).toEqual([D.orphan]);
        expect(plan.annotate[0].reason).not.toMatch(/age unknown/);
      } else {
        expect(plan.annotate).toHaveLength(0);
        expect(plan.tooYoung[0].reason).toMatch(expected);
      }
    });
  }

  it('refuses to plan a candidate whose annotations were never looked up (invariant 5)', () => {
    const partial = new Map(lifecycle);
    partial.delete(refKey('public/dotnet/app', D.orphan));
    expect(() => buildPlan({ ...base, lifecycle: partial, minAgeMs: 0 })).toThrow(
      /no lifecycle lookup/,
    );
  });
});
