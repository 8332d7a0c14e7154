import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { EOL, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { assertJobId } from '../../src/core/markers.js';
import { CliAgent } from '../../src/platform/cli/cli-agent.js';
import { parseCli } from '../../src/platform/cli/args.js';
import { runJob } from '../../src/platform/job.js';
import {
  newParticipantId,
  participantId,
  PARTICIPANT_ID,
  PARTICIPANT_VARIABLE,
} from '../../src/platform/participant.js';
import { parseGitHubOutput } from '../support/runner.js';

type Env = Record<string, string | undefined>;

const cliAgent = (env: Env, argv: string[] = ['signal', '--state', 'publishing']) => {
  const lines: string[] = [];
  const agent = new CliAgent(parseCli(argv).values, env, (line) => lines.push(line));
  return { agent, lines };
};

/** The variables of a GitHub Actions job of run 987 whose runner gives no job id (GHES). */
const gh: Env = {
  GITHUB_ACTIONS: 'true',
  GITHUB_API_URL: 'http://127.0.0.1:9',
  GITHUB_REPOSITORY: 'octo/images',
  GITHUB_RUN_ID: '987',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_SHA: 'a'.repeat(40),
  GITHUB_TOKEN: 'gh-token',
  EOL_GATE_RETRIES: '0',
};

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eol-gate-participant-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});
let files = 0;
const envFile = async (content = '') => {
  const file = join(dir, `set_env_${++files}`);
  await writeFile(file, content);
  return file;
};

describe('newParticipantId', () => {
  it('is p and 20 base32 letters: a valid job id of the marker formats, never a CI job id', () => {
    const ids = Array.from({ length: 200 }, () => newParticipantId());
    for (const id of ids) {
      expect(id).toMatch(PARTICIPANT_ID);
      expect(id).toHaveLength(21);
      expect(assertJobId(id)).toBe(id);
      expect(id).not.toMatch(/^\d+$/); // GitHub check run ids
      expect(id).not.toMatch(/^[0-9a-f-]+$/i); // Azure DevOps System.JobId (a GUID)
    }
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('maps each byte to one of 32 letters (uniform: 256 is a multiple of 32)', () => {
    expect(newParticipantId(new Uint8Array(20))).toBe(`p${'a'.repeat(20)}`);
    expect(newParticipantId(new Uint8Array(20).fill(31))).toBe(`p${'7'.repeat(20)}`);
    expect(newParticipantId(new Uint8Array(20).fill(32 + 1))).toBe(`p${'b'.repeat(20)}`);
    expect(() => newParticipantId(new Uint8Array(19))).toThrow();
  });
});

describe('participantId (no job id)', () => {
  const writes = { writes: true, wholeRun: false };

  it('reuses EOL_GATE_PARTICIPANT from an earlier step, and says so', () => {
    const { agent, lines } = cliAgent({ ...gh, [PARTICIPANT_VARIABLE]: 'pqrstuvwxyz234567abcd' });
    expect(participantId(agent, writes)).toBe('pqrstuvwxyz234567abcd');
    expect(lines.join('\n')).toMatch(
      /participant pqrstuvwxyz234567abcd: from EOL_GATE_PARTICIPANT, made by an earlier eol-gate step/,
    );
  });

  it.each(['12345', 'p123', 'PABCDEFGHIJKLMNOPQRST', '0', 'pabcdefghijklmnopqrst\nX=1'])(
    'refuses an EOL_GATE_PARTICIPANT that eol-gate did not make (%j), naming it and --job-id',
    (value) => {
      const { agent } = cliAgent({ ...gh, [PARTICIPANT_VARIABLE]: value });
      const call = () => participantId(agent, { writes: false, wholeRun: true });
      expect(call).toThrow(InputError);
      expect(call).toThrow(/EOL_GATE_PARTICIPANT.*--job-id/);
    },
  );

  it('makes one and appends it to GITHUB_ENV for the later steps (the current step keeps its env)', async () => {
    const file = await envFile();
    const env = { ...gh, GITHUB_ENV: file };
    const { agent, lines } = cliAgent(env);
    const id = participantId(agent, writes);
    expect(id).toMatch(PARTICIPANT_ID);
    expect(await readFile(file, 'utf8')).toBe(`${PARTICIPANT_VARIABLE}=${id}${EOL}`);
    expect(parseGitHubOutput(await readFile(file, 'utf8'))).toEqual({ [PARTICIPANT_VARIABLE]: id });
    expect(env[PARTICIPANT_VARIABLE as keyof typeof env]).toBeUndefined();
    expect(lines.join('\n')).toContain(
      `participant ${id}: made for this job (no job id) and kept in GITHUB_ENV as EOL_GATE_PARTICIPANT`,
    );
  });

  it('a read-only command (a dry run) with GITHUB_ENV makes and keeps one too', async () => {
    const file = await envFile();
    const { agent } = cliAgent({ ...gh, GITHUB_ENV: file });
    const id = participantId(agent, { writes: false, wholeRun: false });
    expect(id).toMatch(PARTICIPANT_ID);
    expect(await readFile(file, 'utf8')).toContain(id);
  });

  it('starts a new line in a GITHUB_ENV a script left without one, and keeps what it wrote', async () => {
    const file = await envFile('FOO=bar');
    const { agent } = cliAgent({ ...gh, GITHUB_ENV: file });
    const id = participantId(agent, writes)!;
    expect(parseGitHubOutput(await readFile(file, 'utf8'))).toEqual({
      FOO: 'bar',
      [PARTICIPANT_VARIABLE]: id,
    });
  });

  it('without GITHUB_ENV: refuses a command that writes markers, naming --job-id and --scope run', () => {
    const { agent } = cliAgent(gh);
    const call = () => participantId(agent, writes);
    expect(call).toThrow(InputError);
    expect(call).toThrow(/--job-id/);
    expect(call).toThrow(/--scope run/);
  });

  it('without GITHUB_ENV: undefined (the whole run) for scope run or a command that writes nothing', () => {
    const { agent } = cliAgent(gh);
    expect(participantId(agent, { writes: true, wholeRun: true })).toBeUndefined();
    expect(participantId(agent, { writes: false, wholeRun: false })).toBeUndefined();
  });

  it.skipIf(process.getuid?.() === 0)(
    'a GITHUB_ENV it cannot append to counts as none, with a warning',
    async () => {
      const file = await envFile();
      await chmod(file, 0o444);
      const { agent, lines } = cliAgent({ ...gh, GITHUB_ENV: file });
      expect(() => participantId(agent, writes)).toThrow(/--job-id/);
      expect(lines.join('\n')).toMatch(/warning: GITHUB_ENV: cannot append to/);
    },
  );

  it('a GITHUB_ENV that is a directory counts as none, with a warning', async () => {
    const { agent, lines } = cliAgent({ ...gh, GITHUB_ENV: dir });
    expect(participantId(agent, { writes: false, wholeRun: false })).toBeUndefined();
    expect(lines.join('\n')).toMatch(/warning: GITHUB_ENV: cannot append to/);
  });
});

describe('runJob without a job id or GITHUB_ENV: refusals are exit 2 before any request', () => {
  // GITHUB_API_URL points at a closed port: a request would fail with exit 1, not 2.
  it.each([
    [['signal', '--state', 'publishing', '--coordinator', 'github']],
    [['signal', '--state', 'image-info-updated', '--coordinator', 'github']],
    [
      [
        'publish-image-info',
        '--coordinator',
        'github',
        '--image-info',
        '/nonexistent/image-info.json',
        '--fragment',
        'FRAGMENT',
      ],
    ],
  ])('%j', async (argv) => {
    const fragment = await envFile('{}');
    const { agent, lines } = cliAgent(
      gh,
      argv.map((a) => (a === 'FRAGMENT' ? fragment : a)),
    );
    const job = await runJob(agent);
    expect(job.exitCode, lines.join('\n')).toBe(2);
    expect(job.result).toMatchObject({ kind: 'input' });
    expect(String(job.result.error)).toMatch(/--job-id.*--scope run/s);
  });
});
