import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../support/cli.js';

const { version } = JSON.parse(
  readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
) as { version: string };

/** The bundle carries package.json's version (scripts/build.mjs defines it at build time). */
describe('eol-gate --version', () => {
  it.each([['--version'], ['-v'], ['annotate', '--version']])(
    '%s prints the package version and exits 0',
    async (...args) => {
      const run = await runCli(args);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe(`${version}\n`);
      expect(run.stderr).toBe('');
    },
  );

  it('the help names the flag', async () => {
    const run = await runCli(['--help']);
    expect(run.stdout).toContain('eol-gate --version');
  });
});
