import { assertGroupName } from '../core/protocol.js';
import type { CoordinationStore, GroupRun, MarkerState } from './port.js';

/** No coordination: nothing is written, nobody is ever waited for. */
export class NoneStore implements CoordinationStore {
  readonly kind = 'none' as const;
  readonly self = undefined;

  // Group names are still checked so a typo fails the same way under every coordinator.
  async signal(group: string, _state: MarkerState): Promise<void> {
    assertGroupName(group);
  }

  async listRuns(group: string): Promise<GroupRun[]> {
    assertGroupName(group);
    return [];
  }

  async cleanup(group: string): Promise<void> {
    assertGroupName(group);
  }
}
