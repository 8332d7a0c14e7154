import { OWNER_OR_REPO } from '../coordination/github-markers.js';
import { parseEolDate, utcDate } from '../core/date.js';
import { assertRepositoryInputs, isRepositoryName } from '../core/digest.js';
import { parseDuration } from '../core/duration.js';
import { InputError } from '../core/errors.js';
import { parseAnnotationLimit } from '../core/guard.js';
import { assertJobId } from '../core/markers.js';
import { assertGroupName } from '../core/protocol.js';
import { withPrefix } from '../core/supported.js';
import { assertSecureUrl } from '../util/http.js';
import type { BuildAgent } from './agent.js';
import { INPUTS, type CommandName, type InputParser, type InputTable } from './inputs.js';

/** What a parser sees besides the text: the input's label, the host's labels, the clock. */
interface ParseContext {
  label: string;
  labelOf(name: string): string;
  now: Date;
  choices?: readonly string[];
}

type Of<T extends InputParser['type']> = Extract<InputParser, { type: T }>;

/** One reader per parser type of the schema; each names the input as the host spells it. */
const PARSERS = {
  text: (text: string) => text,
  secret: (text: string) => text,
  bool: (text: string, c: ParseContext): boolean => {
    const value = text.toLowerCase();
    if (value === '' || value === 'false') return false;
    if (value === 'true') return true;
    throw new InputError(`${c.label}: expected true or false, got ${JSON.stringify(text)}`);
  },
  list: (text: string) => lines(text),
  oneOf: (text: string, c: ParseContext): string | undefined => {
    if (text === '') return undefined;
    if (!c.choices!.includes(text))
      throw new InputError(
        `${c.label}: expected one of ${c.choices!.join(', ')}, got ${JSON.stringify(text)}`,
      );
    return text;
  },
  integer: (text: string, c: ParseContext, p: Of<'integer'>): number | undefined => {
    if (text === '') return undefined;
    const n = Number(text);
    if (!/^\d+$/.test(text) || n < p.min || (p.max !== undefined && n > p.max))
      throw new InputError(
        `${c.label}: expected a whole number ${p.max === undefined ? `above ${p.min - 1}` : `from ${p.min} to ${p.max}`}, got ${JSON.stringify(text)}`,
      );
    return n;
  },
  duration: (text: string, c: ParseContext, p: Of<'duration'>): number | undefined => {
    if (text === '') return undefined;
    const ms = parseDuration(text, c.label);
    if (p.positive && ms <= 0) throw new InputError(`${c.label}: must be more than 0`);
    return ms;
  },
  date: (text: string, c: ParseContext, p: Of<'date'>): string =>
    text ? parseEolDate(text, c.label) : p.orToday ? utcDate(c.now) : '',
  group: (text: string, c: ParseContext) => assertGroupName(text, c.label),
  annotationLimit: (text: string, c: ParseContext) => parseAnnotationLimit(text, c.label),
  registry: (text: string, c: ParseContext): string => {
    if (text === '') return text;
    let url: URL;
    try {
      url = new URL(registryUrl(text));
    } catch {
      throw new InputError(`${c.label}: not a registry host or URL: ${JSON.stringify(text)}`);
    }
    assertSecureUrl(url, c.label);
    if (url.username || url.password)
      throw new InputError(
        `${c.label}: put credentials in ${c.labelOf('username')}/${c.labelOf('password')}, not in the URL`,
      );
    return text;
  },
  httpsOrigin: (text: string, c: ParseContext): string => {
    if (text && !/^https:\/\/[^/?#\s]+\/?$/i.test(text))
      throw new InputError(
        `${c.label}: expected an https origin such as https://login.microsoftonline.us, got ${JSON.stringify(text)}`,
      );
    return text;
  },
  repositoryPrefix: (text: string, c: ParseContext): string => {
    assertRepositoryInputs(text, [], { repoPrefix: c.label, repositories: c.label });
    return text;
  },
  repositoryGlobs: (text: string, c: ParseContext): string[] => {
    const globs = lines(text);
    assertRepositoryInputs('', globs, { repoPrefix: c.label, repositories: c.label });
    return globs;
  },
  jobId: (text: string, c: ParseContext) => (text ? assertJobId(text, c.label) : text),
  ownerRepo: (text: string, c: ParseContext): string => {
    const [owner, repo, ...rest] = text.split('/');
    if (text && (!OWNER_OR_REPO.test(owner) || !OWNER_OR_REPO.test(repo ?? '') || rest.length))
      throw new InputError(`${c.label}: expected owner/name, got ${JSON.stringify(text)}`);
    return text;
  },
} satisfies { [T in InputParser['type']]: (text: string, c: ParseContext, p: Of<T>) => unknown };

/** A registry input as a URL: a bare host means https. */
export function registryUrl(text: string): string {
  return /^[a-z]+:\/\//i.test(text) ? text : `https://${text}`;
}

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter(Boolean);
}

type Input = InputTable[number];
type ParserOf<I> = I extends { parse: { type: infer T } }
  ? T
  : I extends { choices: unknown }
    ? 'oneOf'
    : 'text';
type Parsed<I> = I extends { choices: readonly (infer C)[] }
  ? C | undefined
  : ReturnType<(typeof PARSERS)[ParserOf<I> & keyof typeof PARSERS]>;
/** With a default, an input is never empty. */
type Value<I> = I extends { default: string } ? Exclude<Parsed<I>, undefined> : Parsed<I>;
type FieldOf<I> = I extends { field: false }
  ? never
  : I extends { field: infer F extends string }
    ? F
    : I extends { name: infer N extends string }
      ? N
      : never;

type CommandsOf<I> = I extends { commands: readonly (infer C)[] } ? C : CommandName;

/** Every input read and checked: one field per input of the schema (its `field`, else its name). */
export type InputValues = {
  [I in Input as FieldOf<I>]: Value<I>;
} & {
  /** Counted from the end of apply (default `timeoutMs`). */
  reconcileTimeoutMs: number;
};

/**
 * The fields of inputs the schema gives to every command of `C` (`[C] extends` stops a union from
 * distributing), so a runner cannot use an input its command does not take.
 */
export type OptionsFor<C extends CommandName> = {
  [I in Input as [C] extends [CommandsOf<I>] ? FieldOf<I> : never]: Value<I>;
} & { command: C } & ([C] extends ['annotate'] ? { reconcileTimeoutMs: number } : unknown);

export type JobOptions = { [C in CommandName]: OptionsFor<C> }[CommandName];

/** Reads and checks every input before anything is written; errors name the input. */
export function readOptions(agent: BuildAgent, now: Date): JobOptions {
  // The password is masked before anything else can log it, and so is the `Basic` credential
  // made of it (base64 of user:password), which a server may echo in an error body.
  const password = agent.input('password');
  const username = agent.input('username').trim();
  if (password) agent.setSecret(password);
  if (password && username)
    agent.setSecret(Buffer.from(`${username}:${password}`, 'utf8').toString('base64'));

  const labelOf = (name: string) => agent.label(name);
  const values: Record<string, unknown> = {};
  for (const spec of INPUTS) {
    if (spec.field === false) continue;
    const parser = spec.parse ?? { type: spec.choices ? 'oneOf' : 'text' };
    const raw = agent.input(spec.name);
    const text = parser.type === 'secret' ? raw : raw.trim();
    const fallback = spec.default?.includes('${{') ? '' : (spec.default ?? '');
    const read = PARSERS[parser.type] as (t: string, c: ParseContext, p: InputParser) => unknown;
    const context = { label: labelOf(spec.name), labelOf, now, choices: spec.choices };
    values[spec.field ?? spec.name] = read(text || fallback, context, parser);
  }
  const o = values as InputValues;

  for (const spec of INPUTS) {
    const value = values[(spec.field || spec.name) as string];
    const empty = value === undefined || value === '' || (Array.isArray(value) && !value.length);
    if (empty && spec.requiredFor?.includes(o.command))
      throw new InputError(`${labelOf(spec.name)} is required for ${o.command}`);
  }
  // What no single input says.
  values.reconcileTimeoutMs ??= o.timeoutMs;
  crossCheck(o, labelOf);
  o.cacheRepository = cacheRepository(o.cacheRepository, o.repoPrefix, labelOf('cacheRepository'));
  // Every input was read and checked; each command's runner sees the ones it takes.
  return o as JobOptions;
}

function crossCheck(o: InputValues, label: (name: string) => string): void {
  if (o.command === 'unannotate') {
    if (o.digests.length === 0 && !o.fromPlan && !o.date)
      throw new InputError(
        `unannotate needs ${label('digest')}, ${label('fromPlan')} or ${label('date')}`,
      );
    if (o.date && o.repositories.length === 0 && o.imageInfo.length === 0)
      throw new InputError(
        `${label('date')}: give ${label('repositories')} or ${label('imageInfo')} to say which repositories to search`,
      );
  }
  if (o.command === 'publish-image-info' && o.imageInfo.length !== 1)
    throw new InputError(
      `${label('imageInfo')}: publish-image-info writes one shared image-info, got ${o.imageInfo.length}`,
    );
  if (Boolean(o.azureClientId) !== Boolean(o.azureTenantId))
    throw new InputError(
      `${label(o.azureClientId ? 'azureTenantId' : 'azureClientId')} is required with ${label(o.azureClientId ? 'azureClientId' : 'azureTenantId')}`,
    );
}

/** `none` turns the registry-held cache off; empty means a repository beside the scope. */
function cacheRepository(text: string, repoPrefix: string, label: string): string {
  if (text === 'none') return '';
  const name = text || withPrefix(repoPrefix, 'eol-gate/cache');
  if (!isRepositoryName(name))
    throw new InputError(`${label}: invalid repository name ${JSON.stringify(name)}`);
  return name;
}
