import type { CoordinationStore, CoverScope, MarkerState } from '../coordination/port.js';
import { InputError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import type { GroupName } from '../core/protocol.js';

export interface SignalOptions {
  /** Parsed from the input (options.ts): the store checks it again where it becomes a tag or ref. */
  group: GroupName;
  state: MarkerState;
  /** What an `image-info-updated` covers (default `job`); ignored for `publishing`. */
  scope?: CoverScope;
}

/** Read back before returning. */
export async function signal(
  options: SignalOptions,
  deps: { store: CoordinationStore; logger: Logger },
): Promise<void> {
  if (deps.store.kind === 'none')
    throw new InputError(
      'signal: no coordinator: run inside Azure Pipelines or GitHub Actions, or set coordinator',
    );
  const scope = options.state === 'image-info-updated' ? (options.scope ?? 'job') : 'job';
  await deps.store.signal(options.group, options.state, scope);
  const self = deps.store.self;
  deps.logger.info(
    `run ${self?.runId} attempt ${self?.attempt}${self?.jobId ? ` job ${self.jobId}` : ''}: ${options.state}${options.state === 'image-info-updated' ? ` (scope ${scope})` : ''} (group ${options.group})`,
  );
}
