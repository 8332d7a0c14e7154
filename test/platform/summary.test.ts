import { describe, expect, it } from 'vitest';
import type { AnnotateResult, PlanWithUnmarks } from '../../src/commands/annotate.js';
import { EXCLUSION_REASONS, type PlanEntry } from '../../src/core/planner.js';
import { resultOutput } from '../../src/platform/job.js';
import { annotateSummary } from '../../src/platform/summary-annotate.js';
import { LISTED_DIGESTS, unannotateSummary, verifySummary } from '../../src/platform/summary.js';

const hex = (n: number) => n.toString(16).padStart(64, '0');
const D = (c: string) => `sha256:${c.repeat(64)}`;
const entry = (repository: string, n: number, tags: string[] = []): PlanEntry => ({
  repository,
  digest: `sha256:${hex(n)}`,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  tags,
  reason: 'not referenced by image-info',
});

function plan(annotate: PlanEntry[], manifests: Record<string, number>): PlanWithUnmarks {
  return {
    eolDate: '2026-11-22',
    fingerprint: 'sha256:f',
    plannedAt: '2026-11-22T00:00:00.000Z',
    minAgeMs: 3_600_000,
    annotate,
    alreadyAnnotated: [entry('a', 9000)],
    tooYoung: [],
    excluded: Object.fromEntries(
      EXCLUSION_REASONS.map((r) => [r, 0]),
    ) as PlanWithUnmarks['excluded'],
    unmark: [],
    stopped: [],
    retired: [],
    notes: [],
    manifests,
  };
}

function result(over: Partial<AnnotateResult>): AnnotateResult {
  return {
    outcome: 'applied',
    counts: {
      annotated: 0,
      alreadyAnnotated: 1,
      skippedTooYoung: 0,
      candidates: 0,
      unmarked: 0,
      rolledBack: 0,
    },
    waitedMs: 0,
    waitedFor: [],
    restarts: 0,
    restartReasons: [],
    unmarked: [],
    ...over,
  };
}

const ctx = (extra: object = {}) => ({
  registry: 'myacr.azurecr.io',
  now: new Date('2026-11-22T12:00:00Z'),
  label: (name: string) => name,
  plan: { file: '/tmp/plan.json' },
  ...extra,
});

describe('annotate summary', () => {
  it('reports registry requests and 429s per class', () => {
    const requests = {
      read: { requests: 1204, throttled: 0, ratePerMinute: 950 },
      write: { requests: 130, throttled: 12, ratePerMinute: 96 },
      referrers: { requests: 0, throttled: 0, ratePerMinute: 250 },
      token: { requests: 3, throttled: 0, ratePerMinute: 950 },
    };
    const md = annotateSummary(result({ outcome: 'applied' }), ctx({ requests }));
    expect(md).toContain(
      'Registry requests: reads 1,204 · writes 130 (12 refused with 429, paced at 96/min) · token requests 3.',
    );
    expect(annotateSummary(result({ outcome: 'applied' }), ctx())).not.toContain(
      'Registry requests',
    );
  });

  it('lists the first 200 digests collapsed, and says how many more the plan file has', () => {
    const entries = Array.from({ length: 250 }, (_, i) => entry('a', i, i === 0 ? ['1.0'] : []));
    const md = annotateSummary(
      result({ outcome: 'dry-run', plan: plan(entries, { a: 400 }) }),
      ctx(),
    );
    expect(md).toContain('<summary>Planned, not annotated: 250 digest(s)</summary>');
    expect(md.match(/^- `a@sha256:/gm)).toHaveLength(LISTED_DIGESTS);
    expect(md).toContain(`- \`a@sha256:${hex(0)}\` (1.0)`);
    expect(md).not.toContain(hex(200));
    expect(md).toContain('… and 50 more in the plan file.');
    // 400 manifests: 250 candidates, 1 already annotated, 149 excluded.
    expect(md).toContain('| a | 250 | 0 | 0 | 1 | 0 | 149 |');
    // A dry run says how to apply exactly this plan.
    expect(md).toContain(
      'To apply exactly this plan, run annotate with `fromPlan` set to this file',
    );
  });

  it('names the restarts and why, and the participants with links to their run and job', () => {
    const md = annotateSummary(
      result({
        plan: plan([], { a: 1 }),
        restarts: 2,
        restartReasons: [
          '1 participant(s) started publishing during the inventory',
          'image-info changed since it was read',
        ],
        waitedMs: 95_000,
        waitedFor: [
          {
            runId: '42',
            attempt: 2,
            jobId: '7',
            jobName: 'build | linux',
            publishingSince: Date.parse('2026-11-22T11:50:00Z'),
            covered: true,
            alive: false,
            blocks: false,
            name: 'publish',
            runUrl: 'https://ci/runs/42',
            jobUrl: 'https://ci/runs/42/job/7',
            url: 'https://ci/runs/42/job/7',
          },
        ],
      }),
      ctx(),
    );
    expect(md).toContain('Waited 1m35s for 1 participant(s); validation restarts: 2.');
    expect(md).toContain(
      '1. 1 participant(s) started publishing during the inventory\n2. image-info changed since it was read',
    );
    expect(md).toContain(
      '| [run 42 (attempt 2) "publish"](https://ci/runs/42) | [build \\| linux 7](https://ci/runs/42/job/7) | 2026-11-22T11:50:00.000Z | 10m |',
    );
  });

  it('a roll-back says so first, counts and lists the removed marks, names who blocked, and offers no roll-back', () => {
    const marks = [1, 2].map((n) => ({
      repository: 'a',
      subject: `sha256:${hex(n)}`,
      referrer: `sha256:${hex(100 + n)}`,
    }));
    const blocker = {
      runId: '43',
      attempt: 1,
      jobId: '8',
      jobName: 'push',
      publishingSince: Date.parse('2026-11-22T11:55:00Z'),
      covered: false,
      alive: true,
      blocks: true,
      name: 'rollback',
      runUrl: 'https://ci/runs/43',
      jobUrl: 'https://ci/runs/43/job/8',
      url: 'https://ci/runs/43/job/8',
    };
    const md = annotateSummary(
      result({
        outcome: 'rolled-back',
        counts: {
          annotated: 2,
          alreadyAnnotated: 1,
          skippedTooYoung: 0,
          candidates: 2,
          unmarked: 0,
          rolledBack: 2,
        },
        plan: plan([entry('a', 1), entry('a', 2)], { a: 4 }),
        annotated: marks,
        reconciled:
          '1 participant(s) began publishing while marks were applied; timed out, rolled back',
        rollBack: { message: 'reconcile timed out', blockers: [blocker], removed: marks },
      }),
      ctx(),
    );
    expect(md.split('\n')[2]).toBe(
      '**Rolled back: reconcile timed out waiting for 1 participant(s) that began publishing during apply, so all 2 mark(s) this run placed were removed (a later run places them again).**',
    );
    expect(md).toContain('| rolled back (reconcile timed out) | 2 |');
    expect(md).toContain('<summary>Annotated, then rolled back: 2 digest(s)</summary>');
    expect(md).toContain('Still publishing when reconcile timed out:');
    expect(md).toContain(
      '| [run 43 (attempt 1) "rollback"](https://ci/runs/43) | [push 8](https://ci/runs/43/job/8) | 2026-11-22T11:55:00.000Z | 5m |',
    );
    expect(md).not.toContain('To roll this run back');
    expect(md).toContain('Nothing this run marked is left.');
  });

  it('an applied run has no roll-back row', () => {
    const md = annotateSummary(result({ plan: plan([], { a: 1 }) }), ctx());
    expect(md).not.toContain('rolled back');
    expect(md).not.toContain('Rolled back');
  });

  it('a refusal shows the repositories over the limit and the ways forward', () => {
    const md = annotateSummary(
      result({
        outcome: 'refused',
        plan: plan([entry('a', 1), entry('a', 2)], { a: 4 }),
        overLimit: [{ repository: 'a', planned: 2, manifests: 4, allowed: 1 }],
      }),
      ctx({ limit: '25%', label: (n: string) => `--${n}` }),
    );
    expect(md).toContain(
      '**Refused: the plan exceeds --maxAnnotations 25%. Nothing was annotated or unmarked.**',
    );
    expect(md).toContain('| a | 2 | 4 | 1 |');
    expect(md).toContain('apply exactly it with `--fromPlan`');
    expect(md).toContain('To apply exactly this plan');
  });
});

describe('unannotate summary', () => {
  it('per repository and collapsed, in a dry run as what would be removed', () => {
    const md = unannotateSummary(
      {
        dryRun: true,
        mode: 'from-plan',
        removed: [
          {
            repository: 'a',
            digest: `sha256:${hex(1)}`,
            referrer: `sha256:${hex(2)}`,
            date: '2026-11-22',
          },
          {
            repository: 'b',
            digest: `sha256:${hex(3)}`,
            referrer: `sha256:${hex(4)}`,
            date: '2026-11-22',
          },
        ],
        missing: [{ repository: 'b', digest: `sha256:${hex(5)}`, why: 'not in the registry' }],
      },
      'r.example',
      'the marks placed by the plan `plan.json`',
    );
    expect(md).toContain('**Dry run: nothing was removed.**');
    expect(md).toContain(
      'the marks placed by the plan `plan.json`: would remove 2 lifecycle mark(s).',
    );
    expect(md).toContain('| a | 1 |\n| b | 1 |');
    expect(md).toContain('<summary>Would remove: 2 digest(s)</summary>');
    expect(md).toContain(`- \`b@sha256:${hex(5)}\`: not in the registry`);
  });
});

describe('the result output', () => {
  it('is the --json object; past the output limit, long lists keep their first 200 and say so', () => {
    const small = { command: 'unannotate', removed: [{ digest: 'x' }] };
    expect(JSON.parse(resultOutput(small))).toEqual(small);
    const removed = Array.from({ length: 20_000 }, (_, i) => ({ digest: `sha256:${hex(i)}` }));
    const out = resultOutput({ command: 'unannotate', removed });
    expect(out.length).toBeLessThan(900_000);
    const parsed = JSON.parse(out);
    expect(parsed.truncated).toBe(true);
    expect(parsed.removed).toEqual(removed.slice(0, 200));
  });
});

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
