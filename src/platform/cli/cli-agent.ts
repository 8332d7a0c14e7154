import { tmpdir } from 'node:os';
import type { Logger } from '../../core/ports.js';
import type { BuildAgent } from '../agent.js';
import { kebab } from '../inputs.js';

/** Replaces every secret in `text` with `***`. */
export function maskSecrets(text: string, secrets: Set<string>): string {
  return [...secrets].reduce((t, secret) => (secret ? t.split(secret).join('***') : t), text);
}

/** Console logger: log lines on stderr so stdout carries only the summary or `--json`. */
export function consoleLogger(
  write: (line: string) => void,
  verbose: boolean,
  secrets: Set<string>,
): Logger {
  const mask = (text: string) => maskSecrets(text, secrets);
  return {
    info: (m) => write(mask(m)),
    warning: (m) => write(mask(`warning: ${m}`)),
    error: (m) => write(mask(`error: ${m}`)),
    debug: (m) => (verbose ? write(mask(`debug: ${m}`)) : undefined),
    group: async (title, fn) => {
      write(mask(`== ${title}`));
      return fn();
    },
  };
}

export class CliAgent implements BuildAgent {
  readonly platform = 'cli' as const;
  readonly outputs = new Map<string, string>();
  readonly summaries: string[] = [];
  readonly secrets = new Set<string>();
  readonly logger: Logger;
  readonly tempDir: string;

  constructor(
    private readonly values: Map<string, string>,
    readonly env: Record<string, string | undefined>,
    writeLog: (line: string) => void,
  ) {
    this.logger = consoleLogger(writeLog, env.EOL_GATE_DEBUG === '1', this.secrets);
    // A CLI is not a CI host: the OS temp dir (TMPDIR), whichever CI it happens to run in.
    this.tempDir = tmpdir();
  }

  input(name: string): string {
    if (name === 'password' && !this.values.has(name)) return this.env.EOL_GATE_PASSWORD ?? '';
    return this.values.get(name) ?? '';
  }

  label(name: string): string {
    return `--${kebab(name)}`;
  }

  /** What may be printed: `text` with every secret masked. */
  mask(text: string): string {
    return maskSecrets(text, this.secrets);
  }

  setSecret(value: string): void {
    this.secrets.add(value);
  }

  setOutput(name: string, value: string): void {
    this.outputs.set(name, value);
  }

  async summary(markdown: string): Promise<void> {
    this.summaries.push(markdown);
  }

  platformToken(): string | undefined {
    return undefined;
  }
}
