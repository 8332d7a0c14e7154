/**
 * `annotate` (src/commands/annotate.ts, docs/design.md §2 steps 1–8) as an explicit state
 * machine for the exhaustive explorer, one step per port call of the real command, each decision
 * taken by the product's protocol code (`decideWait`, `validate`, `needsReconcile`, and the store
 * view of test/model/ci-model.ts: `joinParticipants`, `deletableMarkers`). Its state is plain
 * data, so the explorer can copy and compare worlds. The randomised explorer runs the real
 * command instead (test/model/real-annotate.ts).
 */
import * as current from '../../src/core/protocol.js';
import type { GroupRun } from '../../src/core/runs.js';
import * as protocolII from './rules/protocol-ii.js';
import {
  cleanup,
  listRuns,
  pendingPush,
  visiblyPending,
  recorded,
  type AnnotatorSlot,
  type ModelConfig,
  type Rules,
  type World,
} from './ci-model.js';

export type Phase =
  | 'signal'
  | 'wait'
  | 'read'
  | 'inventory'
  | 'validate-store'
  | 'validate-fingerprint'
  | 'apply'
  | 'unmark'
  | 'reconcile-store'
  | 'reconcile-fingerprint'
  | 'reconcile-wait'
  | 'reconcile-apply'
  | 'cleanup';

export interface Machine {
  phase: Phase;
  fingerprint?: number;
  /** The image-info's digests as read in step 2. */
  supported: string[];
  plan: string[];
  unmark: string[];
  placed: string[];
  /** What the last store poll said, reduced to what validation reads. */
  polled: Array<Pick<GroupRun, 'runId' | 'attempt' | 'jobId' | 'blocks'>>;
  /**
   * Planned digests that a run could still record when validation passed (the protocol had to
   * block for them), with why; a mark on one of them breaks I1.
   */
  pendingAtValidation: Record<string, string>;
  /** Placed marks reconcile had reason to re-check (recorded or re-pushed since validation). */
  recheck: string[];
  restarts: number;
}

export interface Violation {
  invariant: 'I1' | 'I2' | 'I3' | 'I4' | 'I5';
  message: string;
}

export function newMachine(phase: Phase): Machine {
  return {
    phase,
    supported: [],
    plan: [],
    unmark: [],
    placed: [],
    polled: [],
    pendingAtValidation: {},
    recheck: [],
    restarts: 0,
  };
}

function protocol(rules: Rules) {
  return rules === 'current' ? current : protocolII;
}

function inScope(slot: AnnotatorSlot, digest: string): boolean {
  return !slot.repositories || slot.repositories.includes(digest.split('/')[0]);
}

function poll(config: ModelConfig, rules: Rules, world: World, slot: AnnotatorSlot) {
  return listRuns(config, rules, world, slot.self);
}

/** A store poll, reduced to what validation and reconcile read. */
function polled(
  config: ModelConfig,
  rules: Rules,
  world: World,
  slot: AnnotatorSlot,
): Machine['polled'] {
  return poll(config, rules, world, slot).map(({ runId, attempt, jobId, blocks }) => ({
    runId,
    attempt,
    jobId,
    blocks,
  }));
}

/**
 * Whether the annotator's next step changes anything: a poll that would keep waiting does not
 * (the explorer treats such an annotator as blocked, and a world where only blocked annotators
 * remain as stuck: I3).
 */
export function canStep(
  config: ModelConfig,
  rules: Rules,
  world: World,
  slot: AnnotatorSlot,
): boolean {
  const m = slot.machine as Machine | undefined;
  if (slot.done) return false;
  if (!m || (m.phase !== 'wait' && m.phase !== 'reconcile-wait')) return true;
  return (
    protocol(rules).decideWait(slot.self, poll(config, rules, world, slot)).verdict === 'proceed'
  );
}

export function blockersOf(
  config: ModelConfig,
  rules: Rules,
  world: World,
  slot: AnnotatorSlot,
): string {
  return poll(config, rules, world, slot)
    .filter((r) => r.blocks && !protocol(rules).isSelf(slot.self, r))
    .map((r) => `${r.runId}#${r.attempt}/${r.jobId ?? '-'}${r.deleted ? ' (deleted run)' : ''}`)
    .join(', ');
}

/** One step of the annotator; returns the violations it caused. */
export function stepMachine(
  config: ModelConfig,
  rules: Rules,
  world: World,
  slot: AnnotatorSlot,
): Violation[] {
  const p = protocol(rules);
  const m = (slot.machine as Machine | undefined) ?? newMachine('signal');
  slot.machine = m;
  const out: Violation[] = [];
  const write = () => {
    slot.writes++;
    if (slot.dryRun) out.push({ invariant: 'I4', message: `dry run ${slot.name} wrote` });
  };
  switch (m.phase) {
    case 'signal':
      if (!slot.dryRun) {
        write();
        world.markers.push({
          ...slot.self,
          state: 'image-info-updated',
          scope: slot.scope ?? 'job',
          stamp: world.t,
          at: world.t,
        });
      }
      m.phase = 'wait';
      break;
    case 'wait':
      for (const r of poll(config, rules, world, slot))
        if (r.blocks && r.deleted)
          out.push({ invariant: 'I3', message: `${slot.name} waits for deleted run ${r.runId}` });
      m.phase = 'read';
      break;
    case 'read':
      m.fingerprint = world.imageInfoVersion;
      m.unmark = [];
      m.plan = [];
      m.supported = Object.values(world.imageInfo).sort();
      m.phase = 'inventory';
      break;
    case 'inventory': {
      const supported = new Set(m.supported);
      for (const [digest, marked] of Object.entries(world.registry)) {
        if (!inScope(slot, digest)) continue;
        if (supported.has(digest)) {
          if (marked) m.unmark.push(digest);
        } else if (!marked) m.plan.push(digest);
      }
      m.plan.sort();
      m.phase = 'validate-store';
      break;
    }
    case 'validate-store':
      // What the protocol must see now: the store poll is where validation looks.
      m.pendingAtValidation = {};
      for (const d of m.plan) {
        const pending = pendingPush(world, d);
        if (pending && !pending.hidden) m.pendingAtValidation[d] = pending.reason;
      }
      m.polled = polled(config, rules, world, slot);
      m.phase = 'validate-fingerprint';
      break;
    case 'validate-fingerprint': {
      const verdict = p.validate(
        slot.self,
        m.polled as GroupRun[],
        `v${m.fingerprint}`,
        `v${world.imageInfoVersion}`,
      );
      if (verdict.verdict === 'restart') {
        m.restarts++;
        m.phase = 'wait';
      } else {
        m.phase = slot.dryRun ? 'cleanup' : 'apply';
      }
      break;
    }
    case 'apply': {
      const digest = m.plan.shift();
      if (digest === undefined) {
        m.phase = 'unmark';
        break;
      }
      write();
      world.registry[digest] = true;
      m.placed.push(digest);
      out.push(...judge(world, slot, m, digest));
      break;
    }
    case 'unmark':
      for (const d of m.unmark) {
        write();
        world.registry[d] = false;
        world.unmarks.push({ digest: d, at: world.t, by: slot.name });
      }
      m.phase = m.placed.length > 0 ? 'reconcile-store' : 'cleanup';
      break;
    case 'reconcile-store':
      // Marks reconcile can see reason to re-check: recorded again, or re-pushed by a live run.
      m.recheck = m.placed.filter((d) => recorded(world, d) || visiblyPending(world, d));
      m.polled = polled(config, rules, world, slot);
      m.phase = 'reconcile-fingerprint';
      break;
    case 'reconcile-fingerprint': {
      const check = p.needsReconcile(
        slot.self,
        m.polled as GroupRun[],
        `v${m.fingerprint}`,
        `v${world.imageInfoVersion}`,
      );
      m.phase = check.reconcile ? 'reconcile-wait' : 'cleanup';
      break;
    }
    case 'reconcile-wait':
      m.phase = 'reconcile-apply';
      break;
    case 'reconcile-apply':
      for (const d of m.placed)
        if (recorded(world, d) && world.registry[d]) {
          write();
          world.registry[d] = false;
          world.unmarks.push({ digest: d, at: world.t, by: slot.name });
        }
      m.phase = 'cleanup';
      break;
    case 'cleanup':
      if (!slot.dryRun) cleanup(config, rules, world, slot.self);
      for (const d of m.recheck)
        if (world.registry[d] && recorded(world, d))
          out.push({
            invariant: 'I1',
            message: `${slot.name} left its mark on ${d}, recorded again while it was being marked`,
          });
      slot.done = true;
      slot.outcome = 'applied';
      break;
  }
  return out;
}

/**
 * I1 for a mark just placed: the digest is not recorded in what the annotator planned from, and
 * no run could still record it when validation passed. A digest that already existed and is
 * recorded again after validation (a rollback, a re-run of a completed run) is the one exception:
 * reconcile must take that mark off (checked when the annotator ends).
 */
function judge(world: World, slot: AnnotatorSlot, m: Machine, digest: string): Violation[] {
  const pending = pendingPush(world, digest);
  world.marks.push({ digest, at: world.t, by: slot.name, hidden: pending?.hidden });
  if (m.supported.includes(digest))
    return [
      {
        invariant: 'I1',
        message: `${slot.name} marked ${digest}, recorded in the image-info it planned from`,
      },
    ];
  const reason = m.pendingAtValidation[digest];
  return reason
    ? [{ invariant: 'I1', message: `${slot.name} marked ${reason} (already so at validation)` }]
    : [];
}
