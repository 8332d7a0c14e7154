import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputError } from '../../core/errors.js';
import { COMMANDS, inputsFor, kebab, kindOf, type CommandName, type InputSpec } from '../inputs.js';

const CLI_INPUTS = inputsFor('cli');

export interface CliArgs {
  command: CommandName | undefined;
  values: Map<string, string>;
  json: boolean;
  help: boolean;
  version: boolean;
}

/** Flags are the inputs in kebab-case (`imageInfo` → `--image-info`); repeatable ones collect. */
export function parseCli(argv: string[]): CliArgs {
  const options: NonNullable<ParseArgsConfig['options']> = {
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  };
  for (const input of CLI_INPUTS) {
    if (input.name === 'command') continue;
    options[kebab(input.name)] = {
      type: kindOf(input) === 'boolean' ? 'boolean' : 'string',
      multiple: input.repeatable ?? false,
    };
    // A switch that is on by default is turned off with `--no-<flag>`.
    if (defaultsOn(input)) options[`no-${kebab(input.name)}`] = { type: 'boolean' };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new InputError(
      (e as Error).message.replace(/\. To specify a positional argument.*$/s, ''),
    );
  }
  const [command, ...extra] = parsed.positionals;
  if (command !== undefined && !(COMMANDS as readonly string[]).includes(command))
    throw new InputError(
      `unknown command ${JSON.stringify(command)} (commands: ${COMMANDS.join(', ')})`,
    );
  if (extra.length > 0) throw new InputError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const values = new Map<string, string>();
  if (command) values.set('command', command);
  for (const input of CLI_INPUTS) {
    const given = parsed.values as Record<string, unknown>;
    if (defaultsOn(input) && given[`no-${kebab(input.name)}`]) {
      if (given[kebab(input.name)])
        throw new InputError(`--${kebab(input.name)} and --no-${kebab(input.name)} contradict`);
      values.set(input.name, 'false');
      continue;
    }
    const value = given[kebab(input.name)];
    if (value === undefined) continue;
    values.set(input.name, Array.isArray(value) ? value.join('\n') : String(value));
  }
  return {
    command: command as CommandName | undefined,
    values,
    json: !!parsed.values.json,
    help: !!parsed.values.help,
    version: !!parsed.values.version,
  };
}

function defaultsOn(input: InputSpec): boolean {
  return kindOf(input) === 'boolean' && input.default === 'true';
}

export function helpText(command: CommandName | undefined): string {
  if (!command) {
    return [
      'eol-gate: marks container images end-of-life without ever marking a supported one.',
      '',
      'Usage: eol-gate <command> [flags]',
      '',
      'Commands:',
      '  annotate            mark what the image-info no longer references (waits for other pipelines)',
      "  signal              record this run's state: --state publishing | image-info-updated",
      '  verify              check that no supported digest is marked; --repair removes such marks',
      '  unannotate          remove lifecycle marks: --digest <repo>@sha256:…, --from-plan <plan> (what',
      '                      one run placed) or --date <yyyy-MM-dd> (in scope); --dry-run lists them',
      "  publish-image-info  merge this run's image-info into the shared one without lost updates",
      '',
      'Run `eol-gate <command> --help` for its flags, `eol-gate --version` for the version.',
      'Exit codes: 0 ok, 1 failure or findings, 2 bad input.',
      '',
    ].join('\n');
  }
  const lines = [`Usage: eol-gate ${command} [flags]`, ''];
  for (const input of CLI_INPUTS) {
    if (input.name === 'command' || (input.commands && !input.commands.includes(command))) continue;
    const name = defaultsOn(input) ? `no-${kebab(input.name)}` : kebab(input.name);
    const flag = `--${name}${kindOf(input) === 'boolean' ? '' : ' <value>'}${input.repeatable ? ' …' : ''}`;
    // Defaults that are workflow expressions are the action's, not the CLI's.
    const shown = input.default && !input.default.includes('${{') && !defaultsOn(input);
    lines.push(
      `  ${flag.padEnd(28)} ${input.description}${shown ? ` (default: ${input.default})` : ''}${defaultsOn(input) ? ' (on unless given)' : ''}`,
    );
  }
  lines.push(
    `  ${'--json'.padEnd(28)} Print one JSON result object on stdout.`,
    `  ${'-h, --help'.padEnd(28)} Show this help.`,
    '',
  );
  return lines.join('\n');
}
