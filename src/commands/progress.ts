import type { Clock, Logger } from '../core/ports.js';
import { paceSnapshot, pacingNote, type PaceSnapshot, type Throttle } from '../util/throttle.js';

/** At most one progress line this often: a long run's log stays readable. */
const PROGRESS_INTERVAL_MS = 5_000;

/**
 * `verb i/N (p%, r/s)` at most every 5 s, the final count always; the percentage also goes to
 * `Logger.progress` for hosts that draw it.
 */
export class ProgressReporter {
  private done = 0;
  private readonly startedAt: number;
  private lastAt: number;
  private readonly pacing?: { throttle: Throttle; noun: string; since: PaceSnapshot };

  /**
   * `pacing` lets a line say what paces it and when it ends ("writes paced at 96/min by the
   * registry: 1,204 marks left, about 12 min").
   */
  constructor(
    private readonly total: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly verb: string,
    pacing?: { throttle: Throttle; noun: string },
  ) {
    this.startedAt = this.lastAt = clock.now().getTime();
    this.pacing = pacing && { ...pacing, since: paceSnapshot(pacing.throttle) };
  }

  tick(): void {
    this.done++;
    const now = this.clock.now().getTime();
    if (this.done >= this.total || now - this.lastAt < PROGRESS_INTERVAL_MS) return;
    this.lastAt = now;
    this.report(now);
  }

  finish(): void {
    if (this.total === 0) return;
    this.report(this.clock.now().getTime());
  }

  private report(now: number): void {
    const percent = Math.floor((this.done * 100) / Math.max(1, this.total));
    const seconds = (now - this.startedAt) / 1000;
    const rate = seconds > 0 ? `, ${(this.done / seconds).toFixed(1)}/s` : '';
    const line = `${this.verb} ${this.done}/${this.total} (${percent}%${rate})`;
    this.logger.info(line);
    this.logger.progress?.(percent, line);
    const p = this.pacing;
    const note = p && pacingNote(p.throttle, p.since, this.done, this.total - this.done, p.noun);
    if (note) this.logger.info(note);
  }
}

/** Repositories listed i/N and manifests found, at most every 5 s. */
export class ListingProgress {
  private listed = 0;
  private manifests = 0;
  private lastAt: number;

  constructor(
    private readonly total: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {
    this.lastAt = clock.now().getTime();
  }

  repositoryListed(manifests: number): void {
    this.listed++;
    this.manifests += manifests;
    const now = this.clock.now().getTime();
    if (this.listed >= this.total || now - this.lastAt < PROGRESS_INTERVAL_MS) return;
    this.lastAt = now;
    this.report();
  }

  finish(): void {
    if (this.total > 0) this.report();
  }

  private report(): void {
    const line = `inventory: ${this.listed}/${this.total} repositor${this.total === 1 ? 'y' : 'ies'} listed, ${this.manifests} manifest(s) so far`;
    this.logger.info(line);
    this.logger.progress?.(Math.floor((this.listed * 100) / Math.max(1, this.total)), line);
  }
}
