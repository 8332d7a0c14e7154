import { readFile, writeFile } from 'node:fs/promises';
import { EOL } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { assertJobId } from '../../src/core/markers.js';
import { CliAgent } from '../../src/platform/cli/cli-agent.js';
import { parseCli } from '../../src/platform/cli/args.js';
import { runJob } from '../../src/platform/job.js';
import type { AttemptJob } from '../../src/coordination/github.js';
import {
  findJobId,
  JOB_ID_VARIABLE,
  jobOfRunner,
  jobParticipant,
  newParticipantId,
  participantId,
  PARTICIPANT_ID,
  PARTICIPANT_VARIABLE,
} from '../../src/platform/participant.js';
import { useTempDir } from '../support/cli.js';
import { instantClock } from '../support/doubles.js';
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

const dir = useTempDir('eol-gate-participant-unit-');
let files = 0;
const envFile = async (content = '') => {
  const file = join(dir(), `set_env_${++files}`);
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

  it('a GITHUB_ENV that is a directory counts as none, with a warning', async () => {
    const { agent, lines } = cliAgent({ ...gh, GITHUB_ENV: dir() });
    expect(participantId(agent, { writes: false, wholeRun: false })).toBeUndefined();
    expect(lines.join('\n')).toMatch(/warning: GITHUB_ENV: cannot append to/);
  });
});

describe('finding the job by its runner (the jobs API of this run attempt)', () => {
  const job = (id: number, status: string, runnerName?: string): AttemptJob => ({
    id: String(id),
    status,
    runnerName,
  });
  /** Answers each listing in turn (the last one again once they run out), counting reads. */
  const listings = (...answers: AttemptJob[][]) => {
    const reads = { count: 0 };
    const jobs = async () => answers[Math.min(reads.count++, answers.length - 1)];
    return { jobs, reads };
  };
  const sleeps: number[] = [];
  const policy = { attempts: 4, delayMs: 1000 };
  const clock = { ...instantClock, sleep: async (ms: number) => void sleeps.push(ms) };
  beforeEach(() => {
    sleeps.length = 0;
  });

  describe('jobOfRunner', () => {
    it('one in-progress job on the runner: that job', () => {
      expect(
        jobOfRunner(
          [
            job(1, 'completed', 'r1'), // the runner's previous job
            job(2, 'in_progress', 'r2'),
            job(3, 'in_progress', 'r1'),
            job(4, 'queued'),
          ],
          'r1',
        ),
      ).toEqual({ id: '3' });
    });

    it('none: says no in-progress job runs on the runner (unassigned, queued or completed only)', () => {
      const none = jobOfRunner(
        [job(1, 'completed', 'r1'), job(2, 'queued', 'r1'), job(3, 'in_progress')],
        'r1',
      );
      expect(none).toEqual({
        reason: 'no in-progress job of this run attempt runs on runner "r1"',
      });
      expect(jobOfRunner([], 'r1')).toHaveProperty('reason');
    });

    it('two: names both, picks neither (runner names that are not unique)', () => {
      expect(
        jobOfRunner([job(7, 'in_progress', 'runner'), job(9, 'in_progress', 'runner')], 'runner'),
      ).toEqual({
        reason: '2 in-progress jobs of this run attempt (7, 9) run on runner "runner"',
      });
    });

    it('matches the name exactly', () => {
      expect(jobOfRunner([job(1, 'in_progress', 'R1')], 'r1')).toHaveProperty('reason');
      expect(jobOfRunner([job(1, 'in_progress', 'r1 ')], 'r1')).toHaveProperty('reason');
    });
  });

  describe('findJobId', () => {
    it('found at once: one listing, no wait', async () => {
      const { jobs, reads } = listings([job(5, 'in_progress', 'r1')]);
      expect(await findJobId('r1', jobs, policy, clock)).toEqual({ id: '5' });
      expect(reads.count).toBe(1);
      expect(sleeps).toEqual([]);
    });

    it('not assigned yet, then assigned: reads again after 1 s, 2 s', async () => {
      const { jobs, reads } = listings(
        [job(5, 'queued')],
        [job(5, 'in_progress')],
        [job(5, 'in_progress', 'r1')],
      );
      expect(await findJobId('r1', jobs, policy, clock)).toEqual({ id: '5' });
      expect(reads.count).toBe(3);
      expect(sleeps).toEqual([1000, 2000]);
    });

    it('two that stay two: gives up after the last listing, saying why', async () => {
      const { jobs, reads } = listings([job(5, 'in_progress', 'r'), job(6, 'in_progress', 'r')]);
      const found = await findJobId('r', jobs, policy, clock);
      expect(found).toEqual({
        reason:
          '2 in-progress jobs of this run attempt (5, 6) run on runner "r" (4 listings over 7s)',
      });
      expect(reads.count).toBe(4);
      expect(sleeps).toEqual([1000, 2000, 4000]);
    });

    it('two, then one (the previous job of the runner is reported completed): that one', async () => {
      const { jobs } = listings(
        [job(5, 'in_progress', 'r'), job(6, 'in_progress', 'r')],
        [job(5, 'completed', 'r'), job(6, 'in_progress', 'r')],
      );
      expect(await findJobId('r', jobs, policy, clock)).toEqual({ id: '6' });
    });

    it('a listing that fails ends the search with its message', async () => {
      let reads = 0;
      const found = await findJobId(
        'r',
        async () => {
          reads++;
          throw new InputError('GitHub denied access (HTTP 403): actions: read');
        },
        policy,
        clock,
      );
      expect(found).toEqual({
        reason: 'the jobs API could not be read: GitHub denied access (HTTP 403): actions: read',
      });
      expect(reads).toBe(1);
      expect(sleeps).toEqual([]);
    });
  });

  describe('jobParticipant', () => {
    const writes = { writes: true, wholeRun: false };

    it('found: the real job id, kept in GITHUB_ENV as EOL_GATE_JOB_ID (no participant id made)', async () => {
      const file = await envFile();
      const { agent, lines } = cliAgent({ ...gh, GITHUB_ENV: file, RUNNER_NAME: 'ghes-7' });
      const { jobs } = listings([
        job(4242, 'in_progress', 'ghes-7'),
        job(4243, 'in_progress', 'x'),
      ]);
      expect(
        await jobParticipant(agent, writes, { runnerName: 'ghes-7', jobs }, policy, clock),
      ).toBe('4242');
      expect(JOB_ID_VARIABLE).toBe('EOL_GATE_JOB_ID');
      expect(parseGitHubOutput(await readFile(file, 'utf8'))).toEqual({
        EOL_GATE_JOB_ID: '4242',
      });
      expect(lines.join('\n')).toContain(
        'job 4242: this job\'s id, found in the jobs API as the in-progress job of runner "ghes-7"; kept in GITHUB_ENV as EOL_GATE_JOB_ID',
      );
    });

    it('found without GITHUB_ENV: still the real id (a later step finds it again)', async () => {
      const { agent } = cliAgent(gh);
      const { jobs } = listings([job(4242, 'in_progress', 'ghes-7')]);
      expect(
        await jobParticipant(agent, writes, { runnerName: 'ghes-7', jobs }, policy, clock),
      ).toBe('4242');
    });

    it('not found: a participant id, with a warning that says why and what it costs', async () => {
      const file = await envFile();
      const { agent, lines } = cliAgent({ ...gh, GITHUB_ENV: file });
      const { jobs } = listings([job(1, 'in_progress', 'other')]);
      const id = await jobParticipant(agent, writes, { runnerName: 'ghes-7', jobs }, policy, clock);
      expect(id).toMatch(PARTICIPANT_ID);
      expect(parseGitHubOutput(await readFile(file, 'utf8'))).toEqual({
        [PARTICIPANT_VARIABLE]: id,
      });
      const warning = lines.filter((l) => l.startsWith('warning:')).join('\n');
      expect(warning).toMatch(/no in-progress job of this run attempt runs on runner "ghes-7"/);
      expect(warning).toMatch(/run-scope image-info-updated of another job .* never covers/);
      expect(warning).toMatch(/if this job fails, its publishing keeps blocking/);
      expect(warning).toMatch(/--job-id/);
    });

    it('an earlier step fell back (EOL_GATE_PARTICIPANT): stays that participant, looks nothing up', async () => {
      const { agent } = cliAgent({ ...gh, [PARTICIPANT_VARIABLE]: 'pqrstuvwxyz234567abcd' });
      const { jobs, reads } = listings([job(4242, 'in_progress', 'ghes-7')]);
      expect(
        await jobParticipant(agent, writes, { runnerName: 'ghes-7', jobs }, policy, clock),
      ).toBe('pqrstuvwxyz234567abcd');
      expect(reads.count).toBe(0);
    });

    it('no RUNNER_NAME (not on a runner): looks nothing up, no warning', async () => {
      const file = await envFile();
      const { agent, lines } = cliAgent({ ...gh, GITHUB_ENV: file });
      const { jobs, reads } = listings([]);
      expect(await jobParticipant(agent, writes, { jobs }, policy, clock)).toMatch(PARTICIPANT_ID);
      expect(reads.count).toBe(0);
      expect(lines.filter((l) => l.startsWith('warning:'))).toEqual([]);
    });
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
