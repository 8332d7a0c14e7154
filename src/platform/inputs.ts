import { COORDINATOR_KINDS } from '../coordination/from-environment.js';
import { COVER_SCOPES, MARKER_STATES } from '../core/runs.js';
import { ACR_TIERS } from '../util/throttle.js';

/**
 * The one list of inputs and outputs: action.yml, task.json and docs/inputs.md are generated from
 * it (`npm run manifests`) and the CLI's flags checked against it, so hosts cannot drift apart.
 */
export const COMMANDS = [
  'annotate',
  'signal',
  'verify',
  'unannotate',
  'publish-image-info',
] as const;
export type CommandName = (typeof COMMANDS)[number];
export type HostName = 'cli' | 'github' | 'azure-pipelines';

export interface InputSpec {
  name: string;
  description: string;
  /** Used when the input is empty; a `${{ }}` expression is the action's, not the CLI's. */
  default?: string;
  /** Commands that read it; absent = all. */
  commands?: readonly CommandName[];
  /** Commands that fail without it. */
  requiredFor?: readonly CommandName[];
  /** How readOptions reads it (absent: `oneOf` with choices, else `text`). */
  parse?: InputParser;
  /** The JobOptions field it fills (absent: its name); false: read by the agent, not an option. */
  field?: string | false;
  /** CLI only: a flag that may repeat. */
  repeatable?: boolean;
  /** Hosts that offer it; absent = all. */
  hosts?: readonly HostName[];
  /** The values it takes (a pick list in task.json). */
  choices?: readonly string[];
  /** How the Azure Pipelines task shows it (required when the task offers the input). */
  task?: TaskPresentation;
}

/**
 * Each reads the trimmed text (the default when empty) and names the input as the host spells it;
 * an empty input without a default is the parser's to map (`undefined` for numbers and pick lists,
 * '' or [] otherwise).
 */
export type InputParser =
  | { type: 'text' }
  /** As given, not trimmed; masked before anything is parsed. */
  | { type: 'secret' }
  | { type: 'bool' }
  /** One entry a line (a repeatable CLI flag: one entry a flag). */
  | { type: 'list' }
  | { type: 'oneOf' }
  /** Decimal digits, from `min` to `max`. */
  | { type: 'integer'; min: number; max?: number }
  /** `30s`, `1h30m`..., in milliseconds; `positive`: 0 is refused. */
  | { type: 'duration'; positive?: boolean }
  /** yyyy-MM-dd; `orToday`: empty means today (UTC). */
  | { type: 'date'; orToday?: boolean }
  | { type: 'group' }
  /** A count or a percentage (maxAnnotations). */
  | { type: 'annotationLimit' }
  /** A registry host or URL: https, or plain http to a loopback host; no credentials in it. */
  | { type: 'registry' }
  /** An https origin (authority hosts). */
  | { type: 'httpsOrigin' }
  /** A repository prefix (empty, or a repository name with an optional trailing `/`). */
  | { type: 'repositoryPrefix' }
  /** Repository names or globs, one a line. */
  | { type: 'repositoryGlobs' }
  /** A job id: 1-64 letters, digits and dashes. */
  | { type: 'jobId' }
  /** A GitHub repository, `owner/name`. */
  | { type: 'ownerRepo' };

const list = { type: 'list' } as const;
const secret = { type: 'secret' } as const;
const duration = { type: 'duration' } as const;
const integer = (min: number, max?: number) => ({ type: 'integer', min, max }) as const;

/** How the manifests and the CLI show an input: a switch, a multi-line box, a secret or text. */
export function kindOf(input: InputSpec): 'string' | 'boolean' | 'multiline' | 'secret' {
  switch (input.parse?.type) {
    case 'bool':
      return 'boolean';
    case 'list':
    case 'repositoryGlobs':
      return 'multiline';
    case 'secret':
      return 'secret';
    default:
      return 'string';
  }
}

export type TaskGroup =
  'registry' | 'imageInfo' | 'coordination' | 'annotate' | 'maintenance' | 'publish';

export interface TaskPresentation {
  label: string;
  /** Absent only for `command`, shown above the groups. */
  group?: TaskGroup;
  /** Height of a multi-line box. */
  rows?: number;
  /** The task refuses to run without it. */
  required?: boolean;
  /** A service connection picker of this type (`connectedService:<type>`). */
  service?: 'AzureRM' | 'dockerregistry';
  /** Said after the description in the task's help. */
  help?: string;
}

const REGISTRY_COMMANDS = ['annotate', 'verify', 'unannotate'] as const;
const IMAGE_INFO_COMMANDS = ['annotate', 'verify', 'publish-image-info'] as const;
const COORDINATED = ['annotate', 'signal', 'publish-image-info'] as const;

/** Where the task shows an input (`label` in `group`, and `more`), and the commands that read it. */
function placed<const C extends readonly CommandName[]>(
  label: string,
  group: TaskGroup,
  commands: C,
  more?: Omit<TaskPresentation, 'label' | 'group'>,
) {
  return { task: { label, group, ...more }, commands };
}
/** The generic keeps literal types for options.ts. */
function input<const N extends string, const S extends Omit<InputSpec, 'name'>>(name: N, spec: S) {
  return { name, ...spec };
}
/** A switch, off or on unless given. */
const off = { parse: { type: 'bool' }, default: 'false' } as const;
const on = { parse: { type: 'bool' }, default: 'true' } as const;

const TABLE = [
  input('command', {
    choices: COMMANDS,
    task: { label: 'Command', required: true },
    description: 'What to run: annotate, signal, verify, unannotate or publish-image-info.',
    default: 'annotate',
  }),
  input('registry', {
    parse: { type: 'registry' },
    requiredFor: REGISTRY_COMMANDS,
    ...placed('Registry', 'registry', REGISTRY_COMMANDS),
    description:
      'Registry host or URL, e.g. myacr.azurecr.io or http://127.0.0.1:5000 (plain http only for loopback).',
  }),
  input('registryType', {
    choices: ['auto', 'acr', 'ghcr', 'oci'],
    ...placed('Registry type', 'registry', REGISTRY_COMMANDS),
    description:
      'auto (ACR for *.azurecr.io hosts, GHCR for ghcr.io, else OCI), acr, ghcr or oci. GHCR lists every package version (untagged too) through the GitHub Packages API with the registry password, else the GitHub token of the job (packages: read; removing marks also deletes their package versions with packages: write).',
    default: 'auto',
  }),
  input('username', {
    ...placed('Username', 'registry', REGISTRY_COMMANDS),
    description:
      "Registry username (for ACR: the admin user or a token name). Default: the registry's auths entry in the Docker config ($DOCKER_CONFIG/config.json or ~/.docker/config.json).",
  }),
  input('password', {
    ...placed('Password', 'registry', REGISTRY_COMMANDS, {
      help: 'Pass a secret variable, e.g. `$(registryPassword)`.',
    }),
    description: 'Registry password or token (for GHCR: a GitHub token). Masked in logs.',
    parse: secret,
  }),
  input('imageInfo', {
    requiredFor: IMAGE_INFO_COMMANDS,
    ...placed('Image-info sources', 'imageInfo', [...IMAGE_INFO_COMMANDS, 'unannotate'], {
      rows: 3,
    }),
    description:
      'Image-info sources, one per line: a path, an https URL, github:<owner>/<repo>/<path>@<branch> or azure-repos:<project>/<repo>/<path>@<branch>. Their union is supported.',
    parse: list,
    repeatable: true,
  }),
  input('repoPrefix', {
    parse: { type: 'repositoryPrefix' },
    ...placed('Repository prefix', 'imageInfo', ['annotate', 'verify', 'unannotate']),
    description: 'Prefix mapping image-info repositories to registry repositories, e.g. public/.',
    default: '',
  }),
  input('repositories', {
    ...placed('Repositories', 'imageInfo', ['annotate', 'verify', 'unannotate'], { rows: 3 }),
    description:
      'Repository globs in scope, one per line (default: every repository the image-info names).',
    parse: { type: 'repositoryGlobs' },
    repeatable: true,
  }),
  input('group', {
    parse: { type: 'group' },
    task: { label: 'Coordination group', group: 'coordination' },
    description:
      "Coordination group: the pipelines that publish to one registry and one image-info (verify and unannotate read the group's registry-held cache).",
    default: 'default',
  }),
  input('state', {
    requiredFor: ['signal'],
    choices: MARKER_STATES,
    ...placed('State', 'coordination', ['signal']),
    description:
      'For signal: publishing (before the first push) or image-info-updated (after the image-info update is durable).',
  }),
  input('eolDate', {
    parse: { type: 'date', orToday: true },
    ...placed('EOL date', 'annotate', ['annotate', 'unannotate']),
    description:
      "End-of-life date written into annotations, yyyy-MM-dd (default: today, UTC); for unannotate's fromPlan, the date of the marks of an ImageBuilder plan that names none.",
  }),
  input('minAge', {
    parse: duration,
    field: 'minAgeMs',
    ...placed('Minimum age', 'annotate', ['annotate']),
    description: 'Never annotate manifests younger than this (e.g. 30m, 1h, 2d; 0 turns it off).',
    default: '1h',
  }),
  input('timeout', {
    parse: duration,
    field: 'timeoutMs',
    ...placed('Timeout', 'coordination', ['annotate']),
    description: 'How long annotate waits for other runs of the group.',
    default: '60m',
  }),
  input('reconcileTimeout', {
    parse: duration,
    field: 'reconcileTimeoutMs',
    ...placed('Reconcile timeout', 'coordination', ['annotate']),
    description:
      'How long annotate waits, after applying its marks, for runs that began publishing meanwhile, counted from the end of apply (default: timeout). If they do not finish in time, every mark the run placed is removed: the outcome is rolled-back, which follows onTimeout.',
  }),
  input('pollInterval', {
    parse: { type: 'duration', positive: true },
    field: 'pollIntervalMs',
    ...placed('Poll interval', 'coordination', ['annotate']),
    description: 'How often annotate polls the coordination store while waiting (jittered).',
    default: '30s',
  }),
  input('onTimeout', {
    choices: ['fail', 'skip'],
    ...placed('On timeout', 'coordination', ['annotate']),
    description:
      'fail (default) or skip: succeed with a warning, annotating nothing (or, when reconcile times out, having rolled back every mark the run placed).',
    default: 'fail',
  }),
  input('concurrency', {
    parse: integer(1, 64),
    ...placed('Concurrency', 'registry', REGISTRY_COMMANDS),
    description: 'Registry requests in flight.',
    default: '8',
  }),
  input('dryRun', {
    ...placed('Dry run', 'annotate', ['annotate', 'unannotate']),
    description: 'Write the plan (unannotate: list the marks it would remove), change nothing.',
    ...off,
  }),
  input('planFile', {
    ...placed('Plan file', 'annotate', ['annotate']),
    description:
      'Where annotate writes its plan (JSON). Default: a file in the runner temp directory.',
  }),
  input('fromPlan', {
    ...placed('From plan', 'annotate', ['annotate', 'unannotate']),
    description:
      'Annotate only the digests of this eol-gate plan or ImageBuilder EOL data file; the image-info still protects. For unannotate: remove exactly the marks that plan placed (rollback of one run).',
  }),
  input('maxAnnotations', {
    parse: { type: 'annotationLimit' },
    ...placed('Max annotations', 'annotate', ['annotate']),
    description:
      "Blast-radius guard: the most a plan may mark in one repository, a count (500) or a percentage of the repository's manifests (25%). Over it, annotate writes the plan, marks nothing and fails; a fromPlan run is exempt. Default: no limit.",
  }),
  input('uploadPlan', {
    ...placed('Upload plan', 'annotate', ['annotate']),
    description:
      'Publish the plan file as a build artifact (GitHub: eol-gate-plan via the Actions artifact service; Azure Pipelines: artifact eol-gate-plan) and link it from the summary.',
    ...on,
    hosts: ['github', 'azure-pipelines'],
  }),
  input('coordinator', {
    choices: COORDINATOR_KINDS,
    ...placed('Coordinator', 'coordination', COORDINATED),
    description: 'auto, azure-devops, github or none.',
    default: 'auto',
  }),
  input('projects', {
    ...placed('Peer projects', 'coordination', COORDINATED, { rows: 2 }),
    description:
      'Azure DevOps: projects whose builds are peers of the group, one per line (default: the current project).',
    parse: list,
  }),
  input('scope', {
    choices: COVER_SCOPES,
    ...placed('Cover scope', 'coordination', COORDINATED),
    description:
      "What an image-info-updated covers: job (this job's pushes, the default) or run (every push of this run made before it: a dedicated record job that merges the other jobs' images).",
    default: 'job',
  }),
  input('unmarkSupported', {
    ...placed('Unmark supported digests', 'annotate', ['annotate']),
    description:
      'For annotate: also remove lifecycle marks from digests the image-info supports (a rollback re-published an old image), so the registry converges both ways.',
    ...on,
  }),
  input('retiredRepositories', {
    choices: ['mark', 'ignore'],
    ...placed('Retired repositories', 'annotate', ['annotate']),
    description:
      "For annotate without repositories globs: a repository the image-info no longer names but named before (the group's memory in the cache repository, or the image-info's git history) is retired. mark (default): it stays in scope and all its images are marked (the plan names it and maxAnnotations counts them); ignore: it is left alone.",
    default: 'mark',
  }),
  input('historyDepth', {
    parse: integer(0, 1000),
    ...placed('Image-info history depth', 'annotate', ['annotate']),
    description:
      "For annotate, on a group's first run (its memory in the cache repository is empty): how many versions of an image-info kept in git (GitHub or Azure Repos) to read, newest first, for the digests and repositories they named, so untagged images of earlier builds are found on registries that list only tags. 0 turns it off.",
    default: '100',
  }),
  input('repair', {
    ...placed('Repair', 'maintenance', ['verify']),
    description: 'For verify: delete lifecycle marks found on supported digests.',
    ...off,
  }),
  input('digest', {
    field: 'digests',
    ...placed('Digests', 'maintenance', ['unannotate'], { rows: 3 }),
    description: 'For unannotate: digests to roll back, <repository>@sha256:<hex>, one per line.',
    parse: list,
    repeatable: true,
  }),
  input('date', {
    parse: { type: 'date' },
    ...placed('EOL date to remove', 'maintenance', ['unannotate']),
    description:
      'For unannotate: remove every lifecycle mark of this EOL date (yyyy-MM-dd) in the repositories globs, or in the repositories the image-info names.',
  }),
  input('fragment', {
    requiredFor: ['publish-image-info'],
    ...placed('Image-info fragment', 'publish', ['publish-image-info']),
    description:
      "For publish-image-info: this run's image-info file, merged into the shared one given by imageInfo.",
  }),
  input('commitMessage', {
    ...placed('Commit message', 'publish', ['publish-image-info']),
    description: 'For publish-image-info: commit message for github: and azure-repos: targets.',
    default: 'Update image-info (eol-gate publish-image-info)',
  }),
  input('create', {
    ...placed('Create if missing', 'publish', ['publish-image-info']),
    description: 'For publish-image-info: create the shared image-info when it does not exist yet.',
    ...off,
  }),
  input('onStale', {
    choices: ['skip', 'fail'],
    ...placed('On an older build', 'publish', ['publish-image-info']),
    description:
      'For publish-image-info: what to do when the fragment has an older build of a platform than the shared image-info (it is never merged: an entry never moves back in time): skip (default) reports it and succeeds, fail reports it and fails the step after merging the rest.',
    default: 'skip',
  }),
  input('audience', {
    ...placed('Token audience', 'registry', REGISTRY_COMMANDS),
    description:
      'Azure Container Registry token audience, for sovereign clouds (e.g. https://management.chinacloudapi.cn).',
  }),
  input('azureAuthorityHost', {
    parse: { type: 'httpsOrigin' },
    ...placed('Entra ID authority host', 'registry', REGISTRY_COMMANDS),
    description:
      'Microsoft Entra ID authority for sovereign clouds, e.g. https://login.chinacloudapi.cn (default: the public cloud).',
  }),
  input('acrTier', {
    choices: ACR_TIERS,
    ...placed('Registry tier', 'registry', REGISTRY_COMMANDS),
    description:
      "Azure Container Registry: the registry's service tier (basic, standard or premium). Reads, writes, referrer lookups and token requests then start at that tier's documented budgets per minute (Basic 1,000 reads / 100 writes, Standard 3,000 / 500, Premium 10,000 / 2,000; referrer lookups 250 per identity) instead of being learnt from the registry's first refusals (default: learnt).",
  }),
  input('maxRequestsPerMinute', {
    parse: integer(1),
    ...placed('Max requests per minute', 'registry', REGISTRY_COMMANDS),
    description:
      'Cap on all registry requests together per minute (reads, writes, referrer lookups and token requests), on top of the per-class budgets; an override for a registry shared with other clients (default: no cap).',
  }),
  input('cacheFile', {
    ...placed('Manifest cache file', 'registry', REGISTRY_COMMANDS),
    description:
      'Azure Container Registry: file that caches what each manifest is (digest-keyed, self-checking); cache it between runs to make steady-state runs cheap.',
  }),
  input('cacheRepository', {
    ...placed('Cache repository', 'registry', REGISTRY_COMMANDS),
    description:
      'Repository that holds the registry-side cache (one OCI artifact per group: what each lifecycle mark and manifest is, self-checking), so steady-state runs on a fresh agent cost a few requests. Default <repoPrefix>eol-gate/cache; none turns it off. Never annotated.',
  }),
  input('anonymous', {
    ...placed('Anonymous', 'registry', ['verify']),
    description:
      'Read the registry without credentials (verify on registries that allow anonymous pull).',
    ...off,
  }),
  // Host-only inputs: the action's token and OIDC identity (the task takes System.AccessToken
  // from the agent) and the task's service connections (they exist only on Azure Pipelines).
  input('token', {
    field: false,
    description:
      'GitHub token for the coordination refs and github: image-info sources; needs contents: write and actions: read.',
    default: '${{ github.token }}',
    parse: secret,
    hosts: ['github'],
  }),
  input('jobId', {
    parse: { type: 'jobId' },
    description:
      "This job's id, so parallel jobs of one run are told apart: GitHub, the job's check run id (CLI: --job-id or EOL_GATE_JOB_ID); Azure Pipelines reads System.JobId. Where it is empty (GitHub Enterprise Server has no job.check_run_id), the job's first step finds the id in the jobs API by the runner's name (RUNNER_NAME; needs actions: read) and keeps it in GITHUB_ENV as EOL_GATE_JOB_ID for the later steps; failing that, it warns and uses a participant id that run-scope covers and failure release do not apply to.",
    default: '${{ job.check_run_id }}',
    commands: COORDINATED,
    hosts: ['github', 'cli'],
  }),
  input('coordinationRepository', {
    parse: { type: 'ownerRepo' },
    description:
      "GitHub: owner/name of the repository that holds the group's markers, so pipelines of several repositories form one group (default: the workflow's repository). The token needs contents: write there and actions: read on every participating repository.",
    commands: COORDINATED,
    hosts: ['github', 'cli'],
  }),
  input('azureClientId', {
    description:
      'Client id of the Entra app or user-assigned identity with a federated credential for this repository; with azureTenantId, signs in to Azure Container Registry with a fresh GitHub OIDC token whenever one is needed (needs id-token: write).',
    commands: REGISTRY_COMMANDS,
    hosts: ['github'],
  }),
  input('azureTenantId', {
    description: 'Entra tenant id of azureClientId.',
    commands: REGISTRY_COMMANDS,
    hosts: ['github'],
  }),
  input('azureSubscription', {
    field: false,
    ...placed('Azure subscription', 'registry', REGISTRY_COMMANDS, {
      service: 'AzureRM',
      help: 'Leave empty for a plain OCI registry.',
    }),
    description:
      'Azure Resource Manager service connection used to sign in to Azure Container Registry (workload identity federation, service principal secret or managed identity).',
    hosts: ['azure-pipelines'],
  }),
  input('dockerRegistryServiceConnection', {
    field: false,
    ...placed('Docker registry service connection', 'registry', REGISTRY_COMMANDS, {
      service: 'dockerregistry',
      help: 'Leave empty to use username and password, or Entra sign-in for Azure Container Registry.',
    }),
    description:
      'Docker registry service connection (username and password) for the registry; used instead of username and password.',
    hosts: ['azure-pipelines'],
  }),
] as const satisfies readonly InputSpec[];

export const INPUTS: InputSpec[] = [...TABLE];
/** options.ts derives JobOptions from it. */
export type InputTable = typeof TABLE;

/** The inputs one host offers (action.yml, task.json and the CLI flags each list these). */
export function inputsFor(host: HostName): InputSpec[] {
  return INPUTS.filter((i) => !i.hosts || i.hosts.includes(host));
}

export const OUTPUTS = Object.entries({
  annotated: 'Digests annotated end-of-life by this run.',
  alreadyAnnotated: 'Candidates that already carried a lifecycle annotation.',
  skippedTooYoung: 'Candidates younger than minAge.',
  unmarked: 'Lifecycle marks removed from supported digests (unmarkSupported and reconciliation).',
  candidates: 'Digests the plan marks end-of-life.',
  waitedSeconds: 'Seconds spent waiting for other runs of the group.',
  planFile: 'Path of the plan file.',
  result: 'The outcome as one JSON object (what the CLI prints with --json).',
}).map(([name, description]) => ({ name, description }));

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
