import type { Clock, Logger } from '../core/ports.js';

/** Logs progress of a long apply every 10 % or every 10 s, whichever comes first. */
export class ProgressReporter {
  private done = 0;
  private lastPercent = 0;
  private lastAt: number;

  constructor(
    private readonly total: number,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly verb: string,
  ) {
    this.lastAt = clock.now().getTime();
  }

  tick(): void {
    this.done++;
    const percent = Math.floor((this.done * 100) / Math.max(1, this.total));
    const now = this.clock.now().getTime();
    if (
      this.done < this.total &&
      (percent >= this.lastPercent + 10 || now - this.lastAt >= 10_000)
    ) {
      this.lastPercent = percent - (percent % 10);
      this.lastAt = now;
      this.logger.info(`${this.verb} ${this.done}/${this.total} (${percent}%)`);
    }
  }

  finish(): void {
    this.logger.info(`${this.verb} ${this.done}/${this.total}`);
  }
}
