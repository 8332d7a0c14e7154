import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { EOL, tmpdir } from 'node:os';
import type { Logger } from '../../core/ports.js';
import type { BuildAgent } from '../agent.js';
import { maskSecrets, redactSecrets, secretForms } from '../../util/redact.js';
import { kebab } from '../inputs.js';
import type { RunContext } from '../../core/run-context.js';
import { runContextFromEnv } from '../run-context.js';

/** The GitHub and Azure DevOps tokens (stores, repository sources) and the registry password. */
export const SECRET_ENV = ['GITHUB_TOKEN', 'SYSTEM_ACCESSTOKEN', 'EOL_GATE_PASSWORD'] as const;

/** What may be printed: every known secret masked, then secret-shaped text redacted. */
export function safeText(text: string, secrets: Set<string>): string {
  return redactSecrets(maskSecrets(text, secrets));
}

/** Console logger: log lines on stderr so stdout carries only the summary or `--json`. */
export function consoleLogger(
  write: (line: string) => void,
  verbose: boolean,
  secrets: Set<string>,
): Logger {
  const mask = (text: string) => safeText(text, secrets);
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
  readonly context: RunContext;

  constructor(
    private readonly values: Map<string, string>,
    readonly env: Record<string, string | undefined>,
    writeLog: (line: string) => void,
  ) {
    this.logger = consoleLogger(writeLog, env.EOL_GATE_DEBUG === '1', this.secrets);
    // Registered first, before anything can log: they reach messages however they got there.
    for (const name of SECRET_ENV) this.setSecret(env[name] ?? '');
    // A CLI is not a CI host: the OS temp dir (TMPDIR), whichever CI it happens to run in.
    this.tempDir = tmpdir();
    this.context = runContextFromEnv(env, this.tempDir);
  }

  input(name: string): string {
    if (name === 'password' && !this.values.has(name)) return this.env.EOL_GATE_PASSWORD ?? '';
    return this.values.get(name) ?? '';
  }

  label(name: string): string {
    return `--${kebab(name)}`;
  }

  mask(text: string): string {
    return safeText(text, this.secrets);
  }

  /** Masks the value and its base64 and URL-encoded forms. */
  setSecret(value: string): void {
    for (const form of secretForms(value)) this.secrets.add(form);
  }

  setOutput(name: string, value: string): void {
    this.outputs.set(name, value);
  }

  async summary(markdown: string, _title?: string): Promise<void> {
    this.summaries.push(markdown);
  }

  platformToken(): string | undefined {
    return undefined;
  }

  /**
   * In a GitHub Actions job (GITHUB_ENV set), appends `NAME=value` for later steps. Values are one
   * line (participant ids), so the plain form does; a file a script left without a final newline
   * gets one first.
   */
  exportVariable(name: string, value: string): boolean {
    const file = this.env.GITHUB_ENV;
    if (!file) return false;
    if (/[\r\n]/.test(value) || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new Error(`exportVariable: ${name} cannot be written as one NAME=value line`);
    try {
      const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
      const lead = text === '' || text.endsWith('\n') ? '' : EOL;
      appendFileSync(file, `${lead}${name}=${value}${EOL}`);
      return true;
    } catch (e) {
      this.logger.warning(
        `GITHUB_ENV: cannot append to ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
      );
      return false;
    }
  }
}
