import type { Clock } from '../../src/core/ports.js';

interface Timer {
  at: number;
  order: number;
  resolve: () => void;
}

/**
 * Simulated time for in-memory schedules. Sleepers wait in a queue; `run` lets every runnable
 * promise settle (one macrotask turn drains the microtasks, as nothing does real I/O), then
 * jumps to the earliest timer. Ties are broken by the seeded random, so equal times still
 * interleave differently per seed.
 */
export class VirtualClock implements Clock {
  private t: number;
  private timers: Timer[] = [];

  constructor(
    private readonly rand: () => number,
    start = Date.parse('2026-03-01T00:00:00Z'),
  ) {
    this.t = start;
  }

  now(): Date {
    return new Date(this.t);
  }

  nowMs(): number {
    return this.t;
  }

  random(): number {
    return this.rand();
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = { at: this.t + Math.max(0, ms), order: this.rand(), resolve };
      // Insertion keeps the queue sorted; queues stay short (a few dozen sleepers).
      let i = this.timers.length;
      while (
        i > 0 &&
        (this.timers[i - 1].at > timer.at ||
          (this.timers[i - 1].at === timer.at && this.timers[i - 1].order > timer.order))
      )
        i--;
      this.timers.splice(i, 0, timer);
    });
  }

  /** Drives time until `main` settles; fails on a deadlock (nothing runnable, no timer). */
  async run<T>(main: Promise<T>, limitMs = 24 * 3600_000): Promise<T> {
    let settled = false;
    const guarded = main.finally(() => {
      settled = true;
    });
    guarded.catch(() => {});
    const end = this.t + limitMs;
    for (;;) {
      await new Promise<void>((r) => setImmediate(r));
      if (settled) return guarded;
      const next = this.timers.shift();
      if (!next) throw new Error('virtual clock: deadlock (no timers, main not settled)');
      if (next.at > end) throw new Error(`virtual clock: schedule ran past ${limitMs} ms`);
      this.t = next.at;
      next.resolve();
    }
  }
}

/**
 * Real time, scaled: `sleep(ms)` waits `ms × scale` real ms and `now()` runs 1/scale as fast,
 * so a schedule written in pipeline-sized durations runs in seconds against real servers.
 */
export class ScaledClock implements Clock {
  private readonly t0 = Date.now();

  constructor(
    private readonly scale: number,
    private readonly rand: () => number,
    private readonly start = Date.parse('2026-03-01T00:00:00Z'),
  ) {}

  now(): Date {
    return new Date(this.nowMs());
  }

  nowMs(): number {
    return this.start + (Date.now() - this.t0) / this.scale;
  }

  random(): number {
    return this.rand();
  }

  sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, Math.max(0, ms * this.scale)));
  }

  async run<T>(main: Promise<T>): Promise<T> {
    return main;
  }
}

export type SimClock = VirtualClock | ScaledClock;
