import { COORDINATOR_KINDS, type CoordinatorKind } from '../coordination/from-environment.js';
import type { MarkerState } from '../coordination/port.js';
import { parseEolDate, utcDate } from '../core/date.js';
import { parseDuration } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import { parsePositiveInteger } from '../core/number.js';
import { assertGroupName } from '../core/protocol.js';
import type { BuildAgent } from './agent.js';
import { COMMANDS, type CommandName } from './inputs.js';

export interface JobOptions {
  command: CommandName;
  registry: string;
  registryType: 'auto' | 'acr' | 'oci';
  username: string;
  password: string;
  imageInfo: string[];
  repoPrefix: string;
  repositories: string[];
  group: string;
  state?: MarkerState;
  eolDate: string;
  minAgeMs: number;
  timeoutMs: number;
  pollIntervalMs: number;
  onTimeout: 'fail' | 'skip';
  concurrency: number;
  dryRun: boolean;
  planFile: string;
  fromPlan: string;
  coordinator: CoordinatorKind;
  projects: string[];
  repair: boolean;
  digests: string[];
  fragment: string;
  commitMessage: string;
  create: boolean;
  audience: string;
  maxRequestsPerMinute?: number;
  cacheFile: string;
  anonymous: boolean;
}

/** Reads and checks every input before anything is written; errors name the input. */
export function readOptions(agent: BuildAgent, now: Date): JobOptions {
  const raw = (name: string) => agent.input(name).trim();
  const label = (name: string) => agent.label(name);
  const list = (name: string) =>
    agent
      .input(name)
      .split(/\r?\n/)
      .map((s) => s.trim())
      .filter(Boolean);
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const value = raw(name) || fallback;
    if (!allowed.includes(value as T)) {
      throw new InputError(
        `${label(name)}: expected one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`,
      );
    }
    return value as T;
  };
  const bool = (name: string) => {
    const value = raw(name).toLowerCase();
    if (value === '' || value === 'false') return false;
    if (value === 'true') return true;
    throw new InputError(
      `${label(name)}: expected true or false, got ${JSON.stringify(raw(name))}`,
    );
  };
  const duration = (name: string, fallback: string) =>
    parseDuration(raw(name) || fallback, label(name));

  // The password is masked before anything else can log it.
  const password = agent.input('password');
  if (password) agent.setSecret(password);

  const command = oneOf('command', COMMANDS, 'annotate');
  const concurrencyText = raw('concurrency') || '8';
  const concurrency = Number(concurrencyText);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new InputError(
      `${label('concurrency')}: expected a whole number from 1 to 64, got ${JSON.stringify(concurrencyText)}`,
    );
  }
  const group = raw('group') || 'default';
  assertGroupName(group, label('group'));
  const stateText = raw('state');
  const state = stateText
    ? oneOf<MarkerState>('state', ['publishing', 'image-info-updated'], 'publishing')
    : undefined;

  const options: JobOptions = {
    command,
    registry: raw('registry'),
    registryType: oneOf('registryType', ['auto', 'acr', 'oci'] as const, 'auto'),
    username: raw('username'),
    password,
    imageInfo: list('imageInfo'),
    repoPrefix: raw('repoPrefix'),
    repositories: list('repositories'),
    group,
    state,
    eolDate: raw('eolDate') ? parseEolDate(raw('eolDate'), label('eolDate')) : utcDate(now),
    minAgeMs: duration('minAge', '1h'),
    timeoutMs: duration('timeout', '60m'),
    pollIntervalMs: duration('pollInterval', '30s'),
    onTimeout: oneOf('onTimeout', ['fail', 'skip'] as const, 'fail'),
    concurrency,
    dryRun: bool('dryRun'),
    planFile: raw('planFile'),
    fromPlan: raw('fromPlan'),
    coordinator: oneOf<CoordinatorKind>('coordinator', COORDINATOR_KINDS, 'auto'),
    projects: list('projects'),
    repair: bool('repair'),
    digests: list('digest'),
    fragment: raw('fragment'),
    commitMessage: raw('commitMessage') || 'Update image-info (eol-gate publish-image-info)',
    create: bool('create'),
    audience: raw('audience'),
    maxRequestsPerMinute: raw('maxRequestsPerMinute')
      ? parsePositiveInteger(raw('maxRequestsPerMinute'), label('maxRequestsPerMinute'))
      : undefined,
    cacheFile: raw('cacheFile'),
    anonymous: bool('anonymous'),
  };
  requireFor(options, agent);
  return options;
}

function requireFor(o: JobOptions, agent: BuildAgent): void {
  const missing = (name: string) =>
    new InputError(`${agent.label(name)} is required for ${o.command}`);
  if (['annotate', 'verify', 'unannotate'].includes(o.command) && !o.registry)
    throw missing('registry');
  if (['annotate', 'verify', 'publish-image-info'].includes(o.command) && o.imageInfo.length === 0)
    throw missing('imageInfo');
  if (o.command === 'signal' && !o.state) throw missing('state');
  if (o.command === 'unannotate' && o.digests.length === 0) throw missing('digest');
  if (o.command === 'publish-image-info') {
    if (!o.fragment) throw missing('fragment');
    if (o.imageInfo.length !== 1)
      throw new InputError(
        `${agent.label('imageInfo')}: publish-image-info writes one shared image-info, got ${o.imageInfo.length}`,
      );
  }
  if (o.pollIntervalMs <= 0)
    throw new InputError(`${agent.label('pollInterval')}: must be more than 0`);
}
