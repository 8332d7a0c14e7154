import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { parsePlanFile, serializePlan } from '../../src/core/plan-file.js';
import { EXCLUSION_REASONS, type Plan } from '../../src/core/planner.js';
import { fakeDigest } from '../support/data.js';

const plan: Plan = {
  eolDate: '2026-11-22',
  fingerprint: 'sha256:fp',
  plannedAt: '2026-11-22T00:00:00.000Z',
  minAgeMs: 3_600_000,
  annotate: [
    {
      repository: 'public/a',
      digest: fakeDigest(1),
      mediaType: 'm',
      tags: ['old'],
      created: '2020-01-01T00:00:00Z',
      reason: 'not referenced by image-info',
    },
  ],
  alreadyAnnotated: [],
  tooYoung: [],
  excluded: Object.fromEntries(EXCLUSION_REASONS.map((r) => [r, 0])) as Plan['excluded'],
  stopped: [],
};

describe('plan file', () => {
  it('round-trips: what annotate writes, --from-plan reads', () => {
    const text = serializePlan(plan, { registry: 'r', dryRun: true });
    const doc = JSON.parse(text);
    expect(doc).toMatchObject({
      eolDate: '2026-11-22',
      imageInfoFingerprint: 'sha256:fp',
      counts: { candidates: 1 },
    });
    expect(doc.digests[0]).toMatchObject({
      repository: 'public/a',
      tags: ['old'],
      created: '2020-01-01T00:00:00Z',
      reason: 'not referenced by image-info',
    });
    expect(parsePlanFile(text, 'plan.json', '2000-01-01')).toEqual([
      { repository: 'public/a', digest: fakeDigest(1), eolDate: '2026-11-22' },
    ]);
  });

  it("reads dotnet ImageBuilder's EOL data file, per-digest dates first", () => {
    const text = JSON.stringify({
      EolDate: '2025-06-01T00:00:00Z',
      EolDigests: [
        { Digest: `myacr.azurecr.io/public/dotnet/aspnet@${fakeDigest(2)}`, Tag: '8.0' },
        { Digest: `myacr.azurecr.io/public/dotnet/sdk@${fakeDigest(3)}`, EolDate: '2025-07-01' },
      ],
    });
    expect(parsePlanFile(text, 'eol.json', '2000-01-01')).toEqual([
      { repository: 'public/dotnet/aspnet', digest: fakeDigest(2), eolDate: '2025-06-01' },
      { repository: 'public/dotnet/sdk', digest: fakeDigest(3), eolDate: '2025-07-01' },
    ]);
  });

  it.each([
    ['not JSON', '{', /^eol\.json: not valid JSON/],
    ['unknown shape', '{"x":1}', /^eol\.json: neither an eol-gate plan/],
    [
      'bad digest',
      JSON.stringify({ EolDigests: [{ Digest: 'repo@sha256:nope' }] }),
      /^eol\.json: EolDigests\[0\]\.Digest: /,
    ],
    [
      'bad date',
      JSON.stringify({ EolDate: 'soon', EolDigests: [] }),
      /^eol\.json: EolDate: expected a date/,
    ],
  ])('%s fails with file and path', (_n, text, message) => {
    expect(() => parsePlanFile(text, 'eol.json', '2000-01-01')).toThrow(InputError);
    expect(() => parsePlanFile(text, 'eol.json', '2000-01-01')).toThrow(message);
  });
});
