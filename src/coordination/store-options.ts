import { RuntimeError } from '../core/errors.js';
import type { Clock, Logger } from '../core/ports.js';
import type { RetryPolicy } from '../util/http.js';

export interface StoreOptions {
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** Read-back after a write: how many reads, and the first delay (doubles, capped at 4 s). */
  readBack?: { attempts?: number; delayMs?: number };
  /** Marker stamps, retries, read-backs, rate-limit pace (default `systemClock`). */
  clock?: Clock;
}

/** Reads until `shows` sees the write (peers must see a marker), else "`failure` after N reads". */
export async function readBackUntil(
  readBack: StoreOptions['readBack'] = {},
  clock: Clock,
  shows: () => Promise<boolean>,
  failure: string,
): Promise<void> {
  const attempts = readBack.attempts ?? 8;
  let delay = readBack.delayMs ?? 250;
  for (let i = 0; i < attempts; i++) {
    if (await shows()) return;
    await clock.sleep(delay);
    delay = Math.min(delay * 2, 4000);
  }
  throw new RuntimeError(`${failure} after ${attempts} reads`);
}
