import * as taskInternal from 'azure-pipelines-task-lib/internal.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import type { BuildAgent } from '../../src/platform/agent.js';
import { AzureAgent } from '../../src/platform/azure/azure-agent.js';
import { parseCli } from '../../src/platform/cli/args.js';
import { CliAgent } from '../../src/platform/cli/cli-agent.js';
import { GitHubAgent } from '../../src/platform/github/github-agent.js';
import {
  INPUTS,
  inputsFor,
  type HostName,
  type InputParser,
  type InputSpec,
} from '../../src/platform/inputs.js';
import { readOptions, type InputValues } from '../../src/platform/options.js';

/**
 * The schema's cases, run in process on each host's own agent: a bad value of every input with
 * a parser fails naming the input as that host spells it (the CLI flag, the action's and the
 * task's input name), a required input names itself, and defaults are the schema's.
 */
const NOW = new Date('2026-12-04T10:00:00Z');
type Inputs = Record<string, string>;

/** Bad values per parser type: a new parser type does not compile until it has its cases. */
const BAD: { [T in InputParser['type']]: (p: Extract<InputParser, { type: T }>) => string[] } = {
  text: () => [],
  secret: () => [],
  list: () => [],
  bool: () => ['maybe'],
  oneOf: () => ['nope'],
  integer: (p) => ['x', '1.5', String(p.max !== undefined ? p.max + 1 : p.min - 1)],
  duration: (p) => ['an hour', ...(p.positive ? ['0'] : [])],
  date: () => ['22/11/2026', '2026-02-30'],
  group: () => ['no spaces please'],
  annotationLimit: () => ['lots', '101%'],
  registry: () => [
    'ftp://x',
    'http://registry.example.com',
    'https://user:pass@registry.example.com',
    'http://[bad',
  ],
  httpsOrigin: () => ['http://login.example.com'],
  repositoryPrefix: () => ['Public/'],
  repositoryGlobs: () => ['ok\nBad*'],
  jobId: () => ['a b'],
  ownerRepo: () => ['owner-only', 'a/b/c'],
};

const parserOf = (spec: InputSpec): InputParser =>
  spec.parse ?? { type: spec.choices ? 'oneOf' : 'text' };
const badValues = (spec: InputSpec) =>
  (BAD[parserOf(spec).type] as (p: InputParser) => string[])(parserOf(spec));

/** What each command needs to read without complaint. */
const GOOD: Inputs = {
  registry: 'localhost:5000',
  imageInfo: 'image-info.json',
  state: 'publishing',
  fragment: 'fragment.json',
};
const valid = (command: string): Inputs => ({
  command,
  ...Object.fromEntries(
    INPUTS.filter((i) => i.requiredFor?.some((c) => c === command)).map((i) => [
      i.name,
      GOOD[i.name],
    ]),
  ),
  ...(command === 'unannotate' ? { digest: `repo@sha256:${'a'.repeat(64)}` } : {}),
});

interface Host {
  name: HostName;
  agent(inputs: Inputs): BuildAgent;
  /** How the user wrote the input, as the host's documentation says. */
  label(name: string): string;
}

const HOSTS: Host[] = [
  {
    name: 'cli',
    agent: (inputs) => new CliAgent(new Map(Object.entries(inputs)), {}, () => {}),
    label: (name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
  },
  {
    name: 'github',
    agent: (inputs) => {
      // @actions/core reads INPUT_<NAME> at each getInput.
      for (const i of INPUTS) vi.stubEnv(`INPUT_${i.name.toUpperCase()}`, inputs[i.name] ?? '');
      return new GitHubAgent({});
    },
    label: (name) => name,
  },
  {
    name: 'azure-pipelines',
    agent: (inputs) => {
      // task-lib moved INPUT_* into its vault when it loaded; an empty value removes one.
      for (const i of INPUTS)
        taskInternal._vault.storeSecret(`INPUT_${i.name.toUpperCase()}`, inputs[i.name] ?? '');
      return new AzureAgent({});
    },
    label: (name) => name,
  },
];

function failure(read: () => unknown): Error {
  try {
    read();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, read succeeded');
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.each(HOSTS)('readOptions on the $name host', (host) => {
  const offered = inputsFor(host.name);
  // Every input is read whatever the command: these tests look at all of them.
  const read = (inputs: Inputs) => readOptions(host.agent(inputs), NOW) as unknown as InputValues;

  afterEach(() => {
    vi.unstubAllEnvs();
    for (const i of INPUTS) taskInternal._vault.storeSecret(`INPUT_${i.name.toUpperCase()}`, '');
  });

  // The CLI's command is a positional that parseCli checks first (`unknown command`).
  const bad = offered
    .filter((spec) => !(host.name === 'cli' && spec.name === 'command'))
    .flatMap((spec) => badValues(spec).map((value) => ({ input: spec.name, value })));

  it.each(bad)('$input = $value fails naming the input', ({ input, value }) => {
    const error = failure(() => read({ ...valid('annotate'), [input]: value }));
    expect(error).toBeInstanceOf(InputError);
    expect(error.message).toMatch(new RegExp(`^${escape(host.label(input))}: `));
  });

  const required = offered.flatMap((spec) =>
    (spec.requiredFor ?? []).map((command) => ({ input: spec.name, command })),
  );

  it.each(required)('$input is required for $command', ({ input, command }) => {
    const inputs = valid(command);
    expect(() => read(inputs)).not.toThrow();
    delete inputs[input];
    expect(() => read(inputs)).toThrow(
      new InputError(`${host.label(input)} is required for ${command}`),
    );
  });

  it('checks what no single input says, naming the inputs', () => {
    const L = host.label;
    const unannotate = { ...valid('unannotate'), digest: '' };
    expect(() => read(unannotate)).toThrow(
      `unannotate needs ${L('digest')}, ${L('fromPlan')} or ${L('date')}`,
    );
    expect(() => read({ ...unannotate, date: '2026-01-01' })).toThrow(
      `${L('date')}: give ${L('repositories')} or ${L('imageInfo')}`,
    );
    expect(() => read({ ...valid('publish-image-info'), imageInfo: 'a.json\nb.json' })).toThrow(
      `${L('imageInfo')}: publish-image-info writes one shared image-info, got 2`,
    );
    expect(() => read({ ...valid('annotate'), cacheRepository: 'Not/Valid' })).toThrow(
      `${L('cacheRepository')}: invalid repository name "Not/Valid"`,
    );
    if (offered.some((i) => i.name === 'azureClientId'))
      expect(() => read({ ...valid('annotate'), azureClientId: 'app' })).toThrow(
        `${L('azureTenantId')} is required with ${L('azureClientId')}`,
      );
  });

  it("defaults are the schema's", () => {
    const base = valid('annotate');
    const defaults = read(base) as unknown as Record<string, unknown>;
    for (const spec of offered) {
      if (spec.default === undefined || spec.default.includes('${{') || spec.field === false)
        continue;
      const field = spec.field ?? spec.name;
      const explicit = read({ ...base, [spec.name]: spec.default }) as unknown as Record<
        string,
        unknown
      >;
      expect(defaults[field], spec.name).toEqual(explicit[field]);
    }
    expect(defaults).toMatchObject({
      command: 'annotate',
      registryType: 'auto',
      group: 'default',
      minAgeMs: 3_600_000,
      timeoutMs: 3_600_000,
      pollIntervalMs: 30_000,
      onTimeout: 'fail',
      concurrency: 8,
      dryRun: false,
      uploadPlan: true,
      coordinator: 'auto',
      scope: 'job',
      unmarkSupported: true,
      retiredRepositories: 'mark',
      historyDepth: 100,
      create: false,
      onStale: 'skip',
      anonymous: false,
      commitMessage: 'Update image-info (eol-gate publish-image-info)',
      jobId: '',
    });
  });

  it('without a default: numbers and pick lists are unset, dates and text empty', () => {
    const o = read(valid('annotate'));
    expect(o.state).toBeUndefined();
    expect(o.acrTier).toBeUndefined();
    expect(o.maxRequestsPerMinute).toBeUndefined();
    expect(o.maxAnnotations).toBeUndefined();
    expect(o.date).toBe('');
    expect(o.planFile).toBe('');
    expect(o.digests).toEqual([]);
  });

  it('what depends on another input: eolDate today, reconcileTimeout = timeout, the cache beside repoPrefix', () => {
    const o = read({ ...valid('annotate'), timeout: '5m', repoPrefix: 'public/' });
    expect(o.eolDate).toBe('2026-12-04');
    expect(o.reconcileTimeoutMs).toBe(300_000);
    expect(o.cacheRepository).toBe('public/eol-gate/cache');
    const off = read({ ...valid('annotate'), reconcileTimeout: '1m', cacheRepository: 'none' });
    expect(off.reconcileTimeoutMs).toBe(60_000);
    expect(off.cacheRepository).toBe('');
  });

  it('masks the password, and the Basic credential made of it, before reading anything else', () => {
    const agent = host.agent({
      ...valid('annotate'),
      username: 'u',
      password: 'p4ss',
      concurrency: 'x',
    });
    const secrets: string[] = [];
    agent.setSecret = (value: string) => void secrets.push(value);
    expect(() => readOptions(agent, NOW)).toThrow(InputError);
    expect(secrets).toEqual(['p4ss', Buffer.from('u:p4ss').toString('base64')]);
  });
});

describe('the CLI names its flags, the action its inputs', () => {
  afterEach(() => vi.unstubAllEnvs());

  it('a plain-ftp registry given as a flag', () => {
    const { values } = parseCli(['annotate', '--registry', 'ftp://x', '--image-info', 'a.json']);
    expect(() => readOptions(new CliAgent(values, {}, () => {}), NOW)).toThrow(
      /^--registry: ftp:\/\/x is not allowed/,
    );
    expect(() => readOptions(HOSTS[1].agent(Object.fromEntries(values)), NOW)).toThrow(
      /^registry: ftp:\/\/x is not allowed/,
    );
  });

  it('a bad duration given as a flag', () => {
    const { values } = parseCli(['annotate', '--min-age', 'an hour']);
    expect(() => readOptions(new CliAgent(values, {}, () => {}), NOW)).toThrow(/^--min-age: /);
  });
});

describe('options typed per command', () => {
  const cli = (inputs: Inputs) => readOptions(HOSTS[0].agent(inputs), NOW);

  it('a command sees the inputs it takes; tsc refuses the ones it does not', () => {
    const signal = cli({ ...valid('signal'), state: 'publishing' });
    if (signal.command !== 'signal') throw new Error(`read ${signal.command}`);
    expect(signal.state).toBe('publishing');
    // @ts-expect-error signal does not open the registry
    expect(signal.registry).toBe('');

    const unannotate = cli({ ...valid('unannotate'), eolDate: '2026-01-02' });
    if (unannotate.command !== 'unannotate') throw new Error(`read ${unannotate.command}`);
    // An ImageBuilder plan without dates is unmarked at eolDate; its registry cache is the group's.
    expect([unannotate.eolDate, unannotate.group]).toEqual(['2026-01-02', 'default']);
    // @ts-expect-error only annotate has a budget after apply
    expect(unannotate.reconcileTimeoutMs).toBeTypeOf('number');
  });
});
