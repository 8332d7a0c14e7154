import { COORDINATOR_KINDS, type CoordinatorKind } from '../coordination/from-environment.js';
import {
  COVER_SCOPES,
  MARKER_STATES,
  type CoverScope,
  type MarkerState,
} from '../coordination/port.js';
import { parseEolDate, utcDate } from '../core/date.js';
import { assertRepositoryInputs, isRepositoryName } from '../core/digest.js';
import { withPrefix } from '../core/supported.js';
import { parseDuration } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import { parseAnnotationLimit, type AnnotationLimit } from '../core/guard.js';
import { parsePositiveInteger } from '../core/number.js';
import { assertGroupName, type GroupName } from '../core/protocol.js';
import type { BuildAgent } from './agent.js';
import {
  ACR_TIERS,
  RETIRED_REPOSITORIES,
  COMMANDS,
  ON_STALE,
  ON_TIMEOUT,
  REGISTRY_TYPES,
  type CommandName,
} from './inputs.js';

export interface JobOptions {
  command: CommandName;
  registry: string;
  registryType: 'auto' | 'acr' | 'ghcr' | 'oci';
  username: string;
  password: string;
  imageInfo: string[];
  repoPrefix: string;
  repositories: string[];
  group: GroupName;
  state?: MarkerState;
  eolDate: string;
  minAgeMs: number;
  timeoutMs: number;
  /** Step 7's own budget, counted from the end of apply (default: `timeoutMs`). */
  reconcileTimeoutMs: number;
  pollIntervalMs: number;
  onTimeout: 'fail' | 'skip';
  concurrency: number;
  dryRun: boolean;
  planFile: string;
  fromPlan: string;
  /** The blast-radius guard; undefined = no limit. */
  maxAnnotations?: AnnotationLimit;
  /** Publish the plan as a build artifact (GitHub, Azure Pipelines). */
  uploadPlan: boolean;
  coordinator: CoordinatorKind;
  projects: string[];
  /** What an `image-info-updated` covers (signal, annotate, publish-image-info). */
  scope: CoverScope;
  /** The job's id (GitHub check run id); empty = from the environment, if any. */
  jobId: string;
  /** GitHub: `owner/name` holding the group's markers; empty = the workflow's repository. */
  coordinationRepository: string;
  unmarkSupported: boolean;
  retiredRepositories: (typeof RETIRED_REPOSITORIES)[number];
  historyDepth: number;
  repair: boolean;
  digests: string[];
  /** unannotate: every mark of this EOL date in scope ('' = not asked). */
  date: string;
  fragment: string;
  commitMessage: string;
  create: boolean;
  onStale: 'skip' | 'fail';
  audience: string;
  maxRequestsPerMinute?: number;
  /** The ACR service tier whose documented budgets the request limiters start at. */
  acrTier?: (typeof ACR_TIERS)[number];
  cacheFile: string;
  /** Repository of the registry-held cache; '' when turned off (`none`). */
  cacheRepository: string;
  anonymous: boolean;
  azureClientId: string;
  azureTenantId: string;
  azureAuthorityHost: string;
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

  // The password is masked before anything else can log it, and so is the `Basic` credential
  // made of it (base64 of user:password), which a server may echo in an error body.
  const password = agent.input('password');
  if (password) agent.setSecret(password);
  if (password && raw('username'))
    agent.setSecret(Buffer.from(`${raw('username')}:${password}`, 'utf8').toString('base64'));

  const command = oneOf('command', COMMANDS, 'annotate');
  const concurrencyText = raw('concurrency') || '8';
  const concurrency = Number(concurrencyText);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new InputError(
      `${label('concurrency')}: expected a whole number from 1 to 64, got ${JSON.stringify(concurrencyText)}`,
    );
  }
  const group = assertGroupName(raw('group') || 'default', label('group'));
  const stateText = raw('state');
  const state = stateText ? oneOf<MarkerState>('state', MARKER_STATES, 'publishing') : undefined;

  const options: JobOptions = {
    command,
    registry: raw('registry'),
    registryType: oneOf('registryType', REGISTRY_TYPES, 'auto'),
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
    reconcileTimeoutMs: duration('reconcileTimeout', raw('timeout') || '60m'),
    pollIntervalMs: duration('pollInterval', '30s'),
    onTimeout: oneOf('onTimeout', ON_TIMEOUT, 'fail'),
    concurrency,
    dryRun: bool('dryRun'),
    planFile: raw('planFile'),
    fromPlan: raw('fromPlan'),
    maxAnnotations: parseAnnotationLimit(raw('maxAnnotations'), label('maxAnnotations')),
    uploadPlan: raw('uploadPlan') ? bool('uploadPlan') : true,
    coordinator: oneOf<CoordinatorKind>('coordinator', COORDINATOR_KINDS, 'auto'),
    projects: list('projects'),
    scope: oneOf<CoverScope>('scope', COVER_SCOPES, 'job'),
    jobId: raw('jobId'),
    coordinationRepository: raw('coordinationRepository'),
    unmarkSupported: raw('unmarkSupported') ? bool('unmarkSupported') : true,
    retiredRepositories: oneOf('retiredRepositories', RETIRED_REPOSITORIES, 'mark'),
    historyDepth: historyDepth(raw('historyDepth'), label('historyDepth')),
    repair: bool('repair'),
    digests: list('digest'),
    date: raw('date') ? parseEolDate(raw('date'), label('date')) : '',
    fragment: raw('fragment'),
    commitMessage: raw('commitMessage') || 'Update image-info (eol-gate publish-image-info)',
    create: bool('create'),
    onStale: oneOf('onStale', ON_STALE, 'skip'),
    audience: raw('audience'),
    maxRequestsPerMinute: raw('maxRequestsPerMinute')
      ? parsePositiveInteger(raw('maxRequestsPerMinute'), label('maxRequestsPerMinute'))
      : undefined,
    acrTier: raw('acrTier') ? oneOf('acrTier', ACR_TIERS, 'basic') : undefined,
    cacheFile: raw('cacheFile'),
    cacheRepository: '', // below, once repoPrefix is known to be valid
    anonymous: bool('anonymous'),
    azureClientId: raw('azureClientId'),
    azureTenantId: raw('azureTenantId'),
    azureAuthorityHost: raw('azureAuthorityHost'),
  };
  requireFor(options, agent);
  assertRepositoryInputs(options.repoPrefix, options.repositories, {
    repoPrefix: label('repoPrefix'),
    repositories: label('repositories'),
  });
  options.cacheRepository = cacheRepository(
    raw('cacheRepository'),
    options.repoPrefix,
    label('cacheRepository'),
  );
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
  if (o.command === 'unannotate') {
    if (o.digests.length === 0 && !o.fromPlan && !o.date)
      throw new InputError(
        `unannotate needs ${agent.label('digest')}, ${agent.label('fromPlan')} or ${agent.label('date')}`,
      );
    if (o.date && o.repositories.length === 0 && o.imageInfo.length === 0)
      throw new InputError(
        `${agent.label('date')}: give ${agent.label('repositories')} or ${agent.label('imageInfo')} to say which repositories to search`,
      );
  }
  if (o.command === 'publish-image-info') {
    if (!o.fragment) throw missing('fragment');
    if (o.imageInfo.length !== 1)
      throw new InputError(
        `${agent.label('imageInfo')}: publish-image-info writes one shared image-info, got ${o.imageInfo.length}`,
      );
  }
  if (Boolean(o.azureClientId) !== Boolean(o.azureTenantId))
    throw new InputError(
      `${agent.label(o.azureClientId ? 'azureTenantId' : 'azureClientId')} is required with ${agent.label(o.azureClientId ? 'azureClientId' : 'azureTenantId')}`,
    );
  if (o.azureAuthorityHost && !/^https:\/\/[^/?#\s]+\/?$/i.test(o.azureAuthorityHost))
    throw new InputError(
      `${agent.label('azureAuthorityHost')}: expected an https origin such as https://login.microsoftonline.us, got ${JSON.stringify(o.azureAuthorityHost)}`,
    );
  if (o.pollIntervalMs <= 0)
    throw new InputError(`${agent.label('pollInterval')}: must be more than 0`);
}

/** `none` turns the registry-held cache off; empty means a repository beside the scope. */
function cacheRepository(text: string, repoPrefix: string, label: string): string {
  if (text === 'none') return '';
  const name = text || withPrefix(repoPrefix, 'eol-gate/cache');
  if (!isRepositoryName(name))
    throw new InputError(`${label}: invalid repository name ${JSON.stringify(name)}`);
  return name;
}

/** `historyDepth`: a whole number of versions from 0 (off) to 1000; default 100. */
function historyDepth(text: string, name: string): number {
  if (text === '') return 100;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 1000)
    throw new InputError(
      `${name}: expected a whole number from 0 to 1000, got ${JSON.stringify(text)}`,
    );
  return n;
}
