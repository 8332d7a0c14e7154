import { describe, expect, it } from 'vitest';
import { ListingProgress, ProgressReporter } from '../../src/commands/progress.js';
import type { Logger } from '../../src/core/ports.js';
import { manualClock } from '../support/doubles.js';

/** A virtual clock: time moves only when the test says so. */
function setup() {
  const clock = manualClock(1_000_000);
  const lines: string[] = [];
  const drawn: number[] = [];
  const logger: Logger = {
    info: (m) => lines.push(m),
    warning: () => {},
    error: () => {},
    debug: () => {},
    group: (_t, fn) => fn(),
    progress: (percent) => drawn.push(percent),
  };
  return { clock, logger, lines, drawn, advance: clock.advance };
}

describe('progress', () => {
  it('at most one line per interval, with i/N, percent and rate; the final count always', () => {
    const { clock, logger, lines, drawn, advance } = setup();
    const p = new ProgressReporter(1000, clock, logger, 'annotated');
    for (let i = 0; i < 1000; i++) {
      advance(100); // 10 per second
      p.tick();
    }
    p.finish();
    // 100 s of work, one line every 5 s at most: 19 in between (the 20th would be the last tick).
    expect(lines.length).toBe(20);
    expect(lines[0]).toBe('annotated 50/1000 (5%, 10.0/s)');
    expect(lines.at(-1)).toBe('annotated 1000/1000 (100%, 10.0/s)');
    expect(drawn.at(-1)).toBe(100);
    expect(drawn).toEqual([...drawn].sort((a, b) => a - b));
  });

  it('a burst inside one interval logs only the final count', () => {
    const { clock, logger, lines } = setup();
    const p = new ProgressReporter(500, clock, logger, 'referrers looked up');
    for (let i = 0; i < 500; i++) p.tick();
    p.finish();
    expect(lines).toEqual(['referrers looked up 500/500 (100%)']);
  });

  it('nothing to do logs nothing', () => {
    const { clock, logger, lines } = setup();
    new ProgressReporter(0, clock, logger, 'annotated').finish();
    new ListingProgress(0, clock, logger).finish();
    expect(lines).toEqual([]);
  });

  it('inventory: repositories listed i/N and manifests so far', () => {
    const { clock, logger, lines, drawn, advance } = setup();
    const p = new ListingProgress(4, clock, logger);
    advance(6_000);
    p.repositoryListed(120);
    advance(1_000);
    p.repositoryListed(30);
    advance(6_000);
    p.repositoryListed(50);
    p.repositoryListed(0);
    p.finish();
    expect(lines).toEqual([
      'inventory: 1/4 repositories listed, 120 manifest(s) so far',
      'inventory: 3/4 repositories listed, 200 manifest(s) so far',
      'inventory: 4/4 repositories listed, 200 manifest(s) so far',
    ]);
    expect(drawn).toEqual([25, 75, 100]);
  });
});
