import { InputError, RuntimeError } from '../core/errors.js';
import {
  describeStale,
  mergeImageInfo,
  validateFragment,
  type MergeResult,
  type MergeStats,
  type StaleEntry,
} from '../core/image-info-merge.js';
import type { Clock, Logger } from '../core/ports.js';
import {
  ABSENT_FINGERPRINT,
  ImageInfoNotFoundError,
  type SourceSnapshot,
  type WritableImageInfoSource,
} from '../imageinfo/source.js';

export interface PublishImageInfoOptions {
  /** The shared image-info (file, github:, azure-repos:). */
  target: WritableImageInfoSource;
  fragmentText: string;
  /** Names the fragment in errors. */
  fragmentName: string;
  /** Commit message for git-backed targets. */
  message: string;
  /** Create the target when it does not exist (else that is an InputError). */
  create?: boolean;
  /** Read-merge-write attempts before giving up; each lost attempt means another writer won. */
  maxAttempts?: number;
  /** Backoff between attempts: full jitter up to min(maxDelayMs, baseDelayMs * 2^attempt). */
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export interface PublishImageInfoDeps {
  clock: Clock;
  logger: Logger;
  /** Called once the merge is durable (or was already there): the host signals `image-info-updated`. */
  signal?: () => Promise<void>;
}

export interface PublishImageInfoResult {
  attempts: number;
  fingerprint: string;
  changed: boolean;
  /** Fragment entries the target has newer builds of: the stale run's digests stay orphans. */
  stale: StaleEntry[];
}

export const DEFAULT_PUBLISH_ATTEMPTS = 12;

/**
 * Read-merge-write with the target's fingerprint as precondition; when another writer got in
 * between, read and merge again (idempotent) after jittered backoff. Never a blind overwrite, so
 * every concurrent publisher's entries survive; `image-info-updated` means "my merge is committed".
 */
export async function publishImageInfo(
  options: PublishImageInfoOptions,
  deps: PublishImageInfoDeps,
): Promise<PublishImageInfoResult> {
  const { target, fragmentName } = options;
  const { clock, logger } = deps;
  const maxAttempts = options.maxAttempts ?? DEFAULT_PUBLISH_ATTEMPTS;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 10_000;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1)
    throw new InputError(`maxAttempts: expected a positive integer, got ${maxAttempts}`);
  // Bad input fails before any read or write; validated once, merged on every attempt.
  const fragment = validateFragment({ text: options.fragmentText, name: fragmentName });

  for (let attempt = 1; ; attempt++) {
    let current: SourceSnapshot | undefined;
    try {
      current = await target.read();
    } catch (e) {
      if (!(e instanceof ImageInfoNotFoundError)) throw e;
      if (!options.create)
        throw new InputError(
          `${target.name}: the target image-info does not exist; pass --create (input create: true) to create it from ${fragmentName}`,
        );
    }
    const expected = current?.fingerprint ?? ABSENT_FINGERPRINT;
    logger.debug(
      `${target.name}: read ${current ? `fingerprint ${current.fingerprint}` : 'nothing (will create it)'} (attempt ${attempt}/${maxAttempts})`,
    );
    const merged = mergeImageInfo(current && { text: current.text, name: target.name }, fragment);

    // Reported only for the merge that landed: a lost attempt's view of the target is gone.
    const done = async (fingerprint: string, changed: boolean, line: string) => {
      report(merged, target.name, fragmentName, logger);
      logger.info(`${target.name}: ${line}`);
      await deps.signal?.();
      return { attempts: attempt, fingerprint, changed, stale: merged.stale };
    };
    if (current && !merged.changed)
      return done(
        current.fingerprint,
        false,
        merged.stale.length
          ? `has newer builds of everything in ${fragmentName} it does not already have; nothing to write`
          : `already has everything in ${fragmentName}; nothing to write`,
      );
    const written = await target.write(merged.text, expected, options.message);
    if (written !== 'conflict')
      return done(
        written.fingerprint,
        true,
        `merged ${fragmentName} (${describe(merged.stats)}); fingerprint ${written.fingerprint}`,
      );

    if (attempt >= maxAttempts)
      throw new RuntimeError(
        `${target.name}: still changing under us after ${attempt} attempts (another publisher wrote between each read and write); ` +
          'nothing was overwritten, re-run to publish',
      );
    const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
    const delayMs = Math.round(clock.random() * cap);
    logger.info(
      `${target.name}: changed since it was read (another publisher); re-reading and merging again in ${delayMs} ms (attempt ${attempt + 1}/${maxAttempts})`,
    );
    await clock.sleep(delayMs);
  }
}

function describe(s: MergeStats): string {
  const parts = [`${s.added} added`, `${s.replaced} replaced`, `${s.unchanged} unchanged`];
  if (s.removed) parts.push(`${s.removed} removed`);
  if (s.manifests) parts.push(`${s.manifests} manifest lists`);
  if (s.stale) parts.push(`${s.stale} older than the target's (not merged)`);
  return parts.join(', ');
}

/** Stale entries are warnings (the run built something already superseded); untimed ones info. */
function report(merged: MergeResult, targetName: string, fragmentName: string, logger: Logger) {
  for (const u of merged.untimed) {
    const side = u.missingIn === 'both' ? 'either side' : `the ${u.missingIn}`;
    logger.info(
      `${targetName}: ${u.entry}: no build time (created) in ${side}, so no age check: replaced`,
    );
  }
  if (merged.stale.length === 0) return;
  logger.warning(
    `${targetName}: ${merged.stale.length} entr${merged.stale.length === 1 ? 'y' : 'ies'} of ${fragmentName} are older builds than the target's and were not merged (an entry never moves back in time); their digests stay unreferenced:`,
  );
  for (const s of merged.stale) logger.warning(`  ${describeStale(s)}`);
}
