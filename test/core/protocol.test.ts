import { describe, expect, it } from 'vitest';
import type { GroupRun, RunIdentity } from '../../src/coordination/port.js';
import { InputError } from '../../src/core/errors.js';
import {
  assertGroupName,
  blockingRuns,
  decideWait,
  describeRun,
  jitteredInterval,
  joinMarkers,
  validate,
  type RawMarker,
  type RunStatus,
} from '../../src/core/protocol.js';

const self: RunIdentity = { runId: '100', attempt: 2 };

function run(runId: string, states: GroupRun['states'], alive: boolean, attempt = 1): GroupRun {
  return { runId, attempt, states, alive };
}

describe('blockingRuns / decideWait (step 1)', () => {
  // Each row: a run as the store reports it, and whether it must block `self`.
  const table: Array<[string, GroupRun, boolean]> = [
    ['other live run publishing', run('7', ['publishing'], true), true],
    [
      'other live run that recorded its pushes',
      run('7', ['publishing', 'image-info-updated'], true),
      false,
    ],
    [
      'other live run with only image-info-updated (annotated without publishing)',
      run('7', ['image-info-updated'], true),
      false,
    ],
    ['other live run with no markers (queued, never started)', run('7', [], true), false],
    [
      'cancelled / completed run that never reached image-info-updated',
      run('7', ['publishing'], false),
      false,
    ],
    [
      'completed run that recorded its pushes',
      run('7', ['publishing', 'image-info-updated'], false),
      false,
    ],
    ['self, same attempt, publishing', run('100', ['publishing'], true, 2), false],
    [
      'self, older attempt still publishing (retried stage)',
      run('100', ['publishing'], true, 1),
      false,
    ],
    ['self, newer attempt (retried while we run)', run('100', ['publishing'], true, 3), false],
    ['run whose id only starts like self', run('1000', ['publishing'], true), true],
  ];
  for (const [name, r, blocks] of table) {
    it(`${name} → ${blocks ? 'blocks' : 'does not block'}`, () => {
      expect(blockingRuns(self, [r])).toEqual(blocks ? [r] : []);
      expect(decideWait(self, [r])).toEqual(
        blocks ? { verdict: 'wait', blockers: [r] } : { verdict: 'proceed' },
      );
    });
  }

  it('reports every blocker and only blockers, in order', () => {
    const runs = [
      run('1', ['publishing'], true),
      run('2', ['publishing'], false),
      run('3', ['publishing'], true),
    ];
    expect(blockingRuns(self, runs).map((r) => r.runId)).toEqual(['1', '3']);
  });

  it('without an identity (store `none`) every live publishing run blocks, none is "self"', () => {
    expect(blockingRuns(undefined, [run('100', ['publishing'], true)])).toHaveLength(1);
    expect(decideWait(undefined, [])).toEqual({ verdict: 'proceed' });
  });
});

describe('validate (step 5)', () => {
  const fp = 'sha256:aaa';
  it('proceeds when nobody blocks and the fingerprint is unchanged', () => {
    expect(validate(self, [run('7', ['publishing', 'image-info-updated'], true)], fp, fp)).toEqual({
      verdict: 'proceed',
    });
  });
  it('restarts when a new registrant appeared during the inventory', () => {
    const newcomer = run('8', ['publishing'], true);
    const v = validate(self, [newcomer], fp, fp);
    expect(v.verdict).toBe('restart');
    expect(v.verdict === 'restart' && v.blockers).toEqual([newcomer]);
  });
  it('restarts when the fingerprint changed (a run recorded its pushes after our read)', () => {
    const v = validate(
      self,
      [run('7', ['publishing', 'image-info-updated'], true)],
      fp,
      'sha256:bbb',
    );
    expect(v).toMatchObject({ verdict: 'restart', blockers: [] });
    expect(v.verdict === 'restart' && v.reason).toMatch(/image-info changed/);
  });
  it('a blocker wins over a fingerprint change (the blocker is what to wait for)', () => {
    const v = validate(self, [run('8', ['publishing'], true)], fp, 'sha256:bbb');
    expect(v).toMatchObject({ verdict: 'restart', blockers: [{ runId: '8' }] });
  });
  it('a registrant that died during the inventory does not force a restart', () => {
    expect(validate(self, [run('8', ['publishing'], false)], fp, fp)).toEqual({
      verdict: 'proceed',
    });
  });
  it('our own retried attempt does not force a restart', () => {
    expect(validate(self, [run('100', ['publishing'], true, 3)], fp, fp)).toEqual({
      verdict: 'proceed',
    });
  });
});

describe('joinMarkers (markers × CI liveness)', () => {
  const m = (runId: string, attempt: number, state: RawMarker['state']): RawMarker => ({
    runId,
    attempt,
    state,
  });
  const status = (entries: Array<[string, RunStatus | undefined]>) => new Map(entries);

  it('keeps the current attempt only: an old attempt that recorded does not unblock a new one', () => {
    const runs = joinMarkers(
      [m('5', 1, 'publishing'), m('5', 1, 'image-info-updated'), m('5', 2, 'publishing')],
      status([['5', { alive: true, attempt: 2 }]]),
    );
    expect(runs).toEqual([{ runId: '5', attempt: 2, states: ['publishing'], alive: true }]);
    expect(blockingRuns(self, runs)).toHaveLength(1);
  });

  it('a re-run that has not signalled yet is not blocked by its previous attempt', () => {
    const runs = joinMarkers(
      [m('5', 1, 'publishing')],
      status([['5', { alive: true, attempt: 2 }]]),
    );
    expect(runs).toEqual([{ runId: '5', attempt: 2, states: [], alive: false }]);
    expect(blockingRuns(self, runs)).toEqual([]);
    expect(runs.filter((r) => !r.alive)).toHaveLength(1);
  });

  it('a completed run is dead; a run the CI system no longer knows is dead', () => {
    const runs = joinMarkers(
      [m('5', 1, 'publishing'), m('6', 1, 'publishing')],
      status([
        ['5', { alive: false, attempt: 1 }],
        ['6', undefined],
      ]),
    );
    expect(runs.map((r) => [r.runId, r.alive])).toEqual([
      ['5', false],
      ['6', false],
    ]);
  });

  it('orders states canonically and carries url / since / name', () => {
    const runs = joinMarkers(
      [m('9', 1, 'image-info-updated'), m('9', 1, 'publishing')],
      status([
        [
          '9',
          {
            alive: true,
            attempt: 1,
            url: 'https://x/9',
            since: '2026-01-01T00:00:00Z',
            name: 'ci',
          },
        ],
      ]),
    );
    expect(runs[0]).toEqual({
      runId: '9',
      attempt: 1,
      states: ['publishing', 'image-info-updated'],
      alive: true,
      url: 'https://x/9',
      since: '2026-01-01T00:00:00Z',
      name: 'ci',
    });
  });

  it('sorts runs numerically', () => {
    const runs = joinMarkers([m('10', 1, 'publishing'), m('9', 1, 'publishing')], status([]));
    expect(runs.map((r) => r.runId)).toEqual(['9', '10']);
  });
});

describe('assertGroupName', () => {
  it.each(['a', 'dotnet-docker', 'A.b_c-1', 'x'.repeat(64)])('accepts %s', (g) => {
    expect(assertGroupName(g)).toBe(g);
  });
  it.each(['', 'x'.repeat(65), 'a/b', 'a b', 'ä', '../x', 'a*'])('rejects %j', (g) => {
    expect(() => assertGroupName(g)).toThrow(InputError);
  });
});

describe('jitteredInterval', () => {
  it('stays within [0.75, 1.25) of the interval', () => {
    expect(jitteredInterval(1000, 0)).toBe(750);
    expect(jitteredInterval(1000, 0.5)).toBe(1000);
    expect(jitteredInterval(1000, 0.999999)).toBe(1250);
  });
});

describe('describeRun', () => {
  it('names the run, attempt, age and link', () => {
    const text = describeRun(
      {
        runId: '42',
        attempt: 2,
        states: ['publishing'],
        alive: true,
        since: '2026-01-01T00:00:00Z',
        url: 'https://ci/42',
      },
      new Date('2026-01-01T00:05:00Z'),
    );
    expect(text).toBe(
      'run 42 (attempt 2) is publishing since 2026-01-01T00:00:00Z (5m ago): https://ci/42',
    );
  });
});

describe('group names are safe as build tags and git ref components', () => {
  it.each(['linux', 'a.b', 'my-group_1', 'x'.repeat(64)])('accepts %s', (group) => {
    expect(assertGroupName(group)).toBe(group);
  });
  it.each(['.hidden', 'a..b', 'images.lock', 'trailing.', 'x'.repeat(65), 'a b', 'a/b', ''])(
    'rejects %j naming the input',
    (group) => {
      expect(() => assertGroupName(group)).toThrow(/^group: expected 1-64 characters/);
    },
  );
});
