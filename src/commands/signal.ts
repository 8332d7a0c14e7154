import type { CoordinationStore, MarkerState } from '../coordination/port.js';
import { InputError } from '../core/errors.js';
import type { Logger } from '../core/ports.js';
import { assertGroupName } from '../core/protocol.js';

export interface SignalOptions {
  group: string;
  state: MarkerState;
}

/** Writes this run's marker (read back before returning). */
export async function signal(
  options: SignalOptions,
  deps: { store: CoordinationStore; logger: Logger },
): Promise<void> {
  assertGroupName(options.group);
  if (deps.store.kind === 'none') {
    throw new InputError(
      'signal: no coordinator: run inside Azure Pipelines or GitHub Actions, or set coordinator',
    );
  }
  await deps.store.signal(options.group, options.state);
  deps.logger.info(
    `run ${deps.store.self?.runId} attempt ${deps.store.self?.attempt}: ${options.state} (group ${options.group})`,
  );
}
