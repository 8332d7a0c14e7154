/**
 * The exhaustive explorer: every interleaving of a small configuration's CI moves, pipeline steps
 * and annotate steps, depth first, each distinct world visited once. Worlds are compared with
 * their times reduced to what the protocol can tell apart (order, and exact distance only within
 * the clock-skew window), so interleavings that differ only in when an unobserved step ran meet.
 */
import { createHash } from 'node:crypto';
import {
  blockersOf,
  canStep,
  newMachine,
  stepMachine,
  type Violation,
} from './annotator-machine.js';
import {
  convergence,
  lastAnnotator,
  STEP_MS,
  type ModelConfig,
  type Rules,
  type World,
  initialWorld,
} from './ci-model.js';
import { applyCi, ciActions, describeAction, settle, type Action } from './engine.js';

export interface Counterexample extends Violation {
  /** The schedule that leads to it, one action a line. */
  trace: string[];
}

export interface ExploreResult {
  config: string;
  rules: Rules;
  states: number;
  transitions: number;
  terminals: number;
  /** States explored when the first violation was found. */
  firstViolationAt?: number;
  violations: Counterexample[];
  complete: boolean;
}

export function enabledActions(config: ModelConfig, rules: Rules, world: World): Action[] {
  const out = ciActions(config, world);
  world.annotators.forEach((slot, index) => {
    if (canStep(config, rules, world, slot)) out.push({ kind: 'annotator', index });
  });
  return out;
}

/** Applies one action to the world in place; returns the violations it caused. */
export function applyAction(
  config: ModelConfig,
  rules: Rules,
  world: World,
  a: Action,
): Violation[] {
  if (a.kind !== 'annotator') {
    applyCi(config, rules, world, a);
    return [];
  }
  world.t += STEP_MS;
  const violations = stepMachine(config, rules, world, world.annotators[a.index]);
  settle(config, world);
  return violations;
}

/**
 * A world with nothing left to do: every annotator must have finished (I3), and a last annotate
 * after everything must leave each recorded digest unmarked and each other digest marked once (I2).
 */
export function finalChecks(config: ModelConfig, rules: Rules, world: World): Violation[] {
  const stuck = world.annotators.filter((a) => !a.done);
  if (stuck.length > 0)
    return stuck.map((a) => ({
      invariant: 'I3' as const,
      message: `${a.name} waits forever, for ${blockersOf(config, rules, world, a) || 'nobody'}`,
    }));
  const last = structuredClone(world);
  const oracle = lastAnnotator(newMachine('wait'));
  last.annotators.push(oracle);
  const out: Violation[] = [];
  for (let i = 0; i < 100 && !oracle.done; i++) {
    if (!canStep(config, rules, last, oracle))
      return [
        {
          invariant: 'I3',
          message: `the last annotate, after every run ended, waits for ${blockersOf(config, rules, last, oracle)}`,
        },
      ];
    out.push(...stepMachine(config, rules, last, oracle));
  }
  out.push(...convergence(last));
  return out;
}

/**
 * A world's identity for the visited set. The protocol compares times only within one run (a
 * participant's own stamps, a run's job times) and against now, so each run's times become their
 * rank among the run's older times, or their exact distance from now inside the clock-skew window
 * (where a new stamp may still fall before them). Interleavings that differ only in how two runs'
 * steps were ordered then meet.
 */
function canonicalKey(config: ModelConfig, world: World): string {
  const maxSkew = Math.max(
    0,
    ...config.runs.flatMap((r) => Object.values(r.skew ?? {}).map(Math.abs)),
  );
  const window = 2 * maxSkew + STEP_MS;
  const runs = world.runs.map((r) => {
    const markers = world.markers.filter((m) => m.runId === r.id);
    const values = [
      ...r.jobs.flatMap((j) => [j.startedAt, j.completedAt]),
      ...markers.map((m) => m.stamp),
    ].filter((v): v is number => v !== undefined && world.t - v > window);
    const rank = new Map([...new Set(values)].sort((a, b) => a - b).map((v, i) => [v, i]));
    const time = (v: number | undefined) =>
      v === undefined ? null : rank.has(v) ? `r${rank.get(v)}` : `n${world.t - v}`;
    return {
      id: r.id,
      attempt: r.attempt,
      status: r.status,
      reportedAttempt: r.reportedAttempt,
      reruns: r.reruns,
      jobs: r.jobs.map((j) => [
        j.id,
        j.spec,
        j.attempt,
        j.status,
        j.conclusion,
        j.pc,
        time(j.startedAt),
        time(j.completedAt),
      ]),
      markers: markers
        .map((m) => JSON.stringify([m.attempt, m.jobId, m.state, m.scope, time(m.stamp)]))
        .sort(),
    };
  });
  const key = {
    runs,
    registry: world.registry,
    imageInfo: world.imageInfo,
    version: world.imageInfoVersion,
    pushes: world.pushes.map((p) => [p.digest, p.run, p.attempt, p.job, p.existed, p.recorded]),
    annotators: world.annotators.map((a) => [a.name, a.done, a.machine]),
  };
  return createHash('sha1').update(JSON.stringify(key)).digest('base64');
}

export function exploreExhaustive(
  config: ModelConfig,
  rules: Rules,
  options: { maxStates?: number; stopAtFirst?: boolean } = {},
): ExploreResult {
  const maxStates = options.maxStates ?? 2_000_000;
  const result: ExploreResult = {
    config: config.name,
    rules,
    states: 0,
    transitions: 0,
    terminals: 0,
    violations: [],
    complete: true,
  };
  const seen = new Set<string>();
  interface Frame {
    world: World;
    actions: Action[];
    next: number;
    label: string;
  }
  const start = initialWorld(config);
  const frames: Frame[] = [];
  const push = (world: World, label: string): void => {
    const key = canonicalKey(config, world);
    if (seen.has(key)) return;
    seen.add(key);
    result.states++;
    frames.push({ world, actions: enabledActions(config, rules, world), next: 0, label });
  };
  const report = (v: Violation, last?: string) => {
    result.firstViolationAt ??= result.states;
    const trace = frames.slice(1).map((f) => f.label);
    if (last) trace.push(last);
    result.violations.push({ ...v, trace });
  };
  push(start, 'start');
  while (frames.length > 0) {
    if (options.stopAtFirst && result.violations.length > 0) break;
    if (result.states >= maxStates) {
      result.complete = false;
      break;
    }
    const top = frames[frames.length - 1];
    if (top.actions.length === 0 && top.next === 0) {
      top.next = 1;
      result.terminals++;
      for (const v of finalChecks(config, rules, top.world)) report(v);
    }
    if (top.next >= top.actions.length) {
      frames.pop();
      continue;
    }
    const action = top.actions[top.next++];
    const world = structuredClone(top.world);
    const label = describeAction(action, world);
    const violations = applyAction(config, rules, world, action);
    result.transitions++;
    if (violations.length > 0) {
      for (const v of violations) report(v, label);
      continue; // a violating world is not explored further
    }
    push(world, label);
  }
  return result;
}
