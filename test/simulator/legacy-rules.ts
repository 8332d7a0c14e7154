/**
 * The first protocol's rules (eol-gate 0.1), kept only so the simulator can show that the holes
 * the current rules close were real: markers per run and attempt (no jobs), markers of an
 * attempt other than the one the runs API reports dropped, a run never blocked by any attempt of
 * itself, and refs of "finished" runs or older attempts deleted while listing.
 */
import type { GroupRun, ParticipantIdentity } from '../../src/coordination/port.js';
import type { RawMarker, RunStatus } from '../../src/core/protocol.js';

export function legacyListRuns<M extends RawMarker>(
  self: ParticipantIdentity,
  markers: M[],
  statusOf: (runId: string) => RunStatus | undefined,
): { runs: GroupRun[]; deleted: Set<M> } {
  const byRun = new Map<string, M[]>();
  for (const m of markers) byRun.set(m.runId, [...(byRun.get(m.runId) ?? []), m]);
  const runs: GroupRun[] = [];
  const deleted = new Set<M>();
  for (const [runId, list] of byRun) {
    const s = runId === self.runId ? { alive: true, attempt: self.attempt } : statusOf(runId);
    const attempt = s?.attempt ?? Math.max(...list.map((m) => m.attempt));
    const current = list.filter((m) => m.attempt === attempt);
    const publishing = current.some((m) => m.state === 'publishing');
    const recorded = current.some((m) => m.state === 'image-info-updated');
    const alive = (s?.alive ?? false) && current.length > 0;
    runs.push({
      runId,
      attempt,
      publishingSince: 0,
      covered: recorded,
      alive,
      blocks: alive && runId !== self.runId && publishing && !recorded,
    });
    for (const m of list)
      if (runId !== self.runId && (!alive || m.attempt < attempt)) deleted.add(m);
  }
  return { runs: runs.filter((r) => r.blocks || r.alive), deleted };
}
