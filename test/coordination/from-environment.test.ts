import { describe, expect, it } from 'vitest';
import { AzureDevOpsStore } from '../../src/coordination/azure-devops.js';
import { createCoordinationStore } from '../../src/coordination/from-environment.js';
import { GitHubStore } from '../../src/coordination/github.js';
import { NoneStore } from '../../src/coordination/none.js';
import { InputError } from '../../src/core/errors.js';
import type { Logger } from '../../src/core/ports.js';
import { runContextFromEnv } from '../../src/platform/run-context.js';
import { capturingLogger } from '../support/doubles.js';
import { rejection } from '../support/errors.js';

/** The store an agent whose environment is `env` would create (agents build the RunContext). */
function storeFor(
  kind: Parameters<typeof createCoordinationStore>[0],
  env: Record<string, string | undefined>,
  overrides?: Parameters<typeof createCoordinationStore>[3],
  logger: Logger = capturingLogger(),
) {
  return createCoordinationStore(kind, runContextFromEnv(env, '/tmp'), logger, overrides);
}

const ado = {
  TF_BUILD: 'True',
  SYSTEM_COLLECTIONURI: 'https://dev.azure.com/org/',
  SYSTEM_TEAMPROJECT: 'proj',
  BUILD_BUILDID: '123',
  SYSTEM_JOBATTEMPT: '2',
  SYSTEM_ACCESSTOKEN: 'ado-token',
};
const gh = {
  GITHUB_ACTIONS: 'true',
  GITHUB_API_URL: 'https://api.github.com',
  GITHUB_REPOSITORY: 'octo/images',
  GITHUB_RUN_ID: '987',
  GITHUB_RUN_ATTEMPT: '3',
  GITHUB_SHA: 'b'.repeat(40),
  GITHUB_TOKEN: 'ghs_token',
};

describe('createCoordinationStore', () => {
  it('auto picks Azure DevOps under TF_BUILD, with the build as self', async () => {
    const s = await storeFor('auto', ado);
    expect(s).toBeInstanceOf(AzureDevOpsStore);
    // System.JobAttempt (2 here) counts one job's retries: markers carry attempt 1 on Azure DevOps.
    expect(s.self).toMatchObject({ runId: '123', attempt: 1, jobId: undefined });
  });

  it('Azure DevOps: the job is System.JobId, unless the host names it', async () => {
    const job = '0d4a3c52-9e0f-5d3b-8f64-3a0d1d2c6f10';
    const env = { ...ado, SYSTEM_JOBID: job };
    expect((await storeFor('auto', env)).self).toMatchObject({
      runId: '123',
      attempt: 1,
      jobId: job,
    });
    const named = await storeFor('auto', env, { jobId: 'from-input' });
    expect(named.self?.jobId).toBe('from-input');
    await expect(storeFor('auto', { ...ado, SYSTEM_JOBID: 'not a guid' })).rejects.toThrow(
      /System\.JobId/,
    );
  });

  it('auto picks GitHub under GITHUB_ACTIONS', async () => {
    const s = await storeFor('auto', gh);
    expect(s).toBeInstanceOf(GitHubStore);
    // Markers name the repository only when it is not the coordination repository.
    expect(s.self).toEqual({ runId: '987', attempt: 3 });
  });

  it('GitHub: the job id comes from the host (input jobId) first, then EOL_GATE_JOB_ID', async () => {
    const logger = capturingLogger();
    const env = { ...gh, EOL_GATE_JOB_ID: '4242' };
    const jobOf = async (jobId?: string) =>
      (await storeFor('github', env, jobId === undefined ? {} : { jobId }, logger)).self;
    expect(await jobOf()).toEqual({ runId: '987', attempt: 3, jobId: '4242' });
    expect((await jobOf('31337'))?.jobId).toBe('31337');
    expect(logger.of('warning')).toEqual([]);
    // An empty input (the action's default evaluated outside a job) falls back to the variable.
    expect((await jobOf(''))?.jobId).toBe('4242');
  });

  it('GitHub without a job id: the whole run is one participant, with a warning that says so', async () => {
    const logger = capturingLogger();
    const s = await storeFor('github', gh, {}, logger);
    expect(s.self?.jobId).toBeUndefined();
    expect(logger.of('warning').join('\n')).toMatch(/parallel jobs of this run are not told apart/);
    expect(logger.of('warning').join('\n')).toMatch(/EOL_GATE_JOB_ID/);
  });

  it('GitHub: the participant callback is asked only when no job id names the job (never for Azure DevOps)', async () => {
    const asked: string[] = [];
    const participant = async () => (asked.push('asked'), 'pabcdefghijklmnopqrst');
    const logger = capturingLogger();
    expect((await storeFor('github', gh, { participant }, logger)).self?.jobId).toBe(
      'pabcdefghijklmnopqrst',
    );
    expect(logger.of('warning')).toEqual([]);
    const named = { ...gh, EOL_GATE_JOB_ID: '77' };
    expect((await storeFor('github', named, { participant })).self?.jobId).toBe('77');
    const input = await storeFor('github', gh, { participant, jobId: '78' });
    expect(input.self?.jobId).toBe('78');
    await storeFor('azure-devops', ado, { participant });
    expect(asked).toEqual(['asked']);
    // Its refusal reaches the caller, after the variables were checked and before any write.
    const refuse = async () => {
      throw new InputError('no job id');
    };
    await expect(storeFor('github', gh, { participant: refuse })).rejects.toThrow('no job id');
    // A bad id from it is an InputError too.
    await expect(storeFor('github', gh, { participant: async () => '1/2' })).rejects.toThrow(
      InputError,
    );
  });

  it("GitHub: the participant callback gets RUNNER_NAME and this run attempt's jobs from the store", async () => {
    const seen: Array<string | undefined> = [];
    const s = await storeFor(
      'github',
      { ...gh, RUNNER_NAME: 'ghes-runner-7' },
      { participant: async (lookup) => (seen.push(lookup.runnerName), '5150') },
    );
    expect(seen).toEqual(['ghes-runner-7']);
    expect(s.self).toEqual({ runId: '987', attempt: 3, jobId: '5150' });
    await storeFor(
      'github',
      { ...gh, RUNNER_NAME: '' },
      { participant: async (lookup) => (seen.push(lookup.runnerName), undefined) },
    );
    expect(seen).toEqual(['ghes-runner-7', undefined]);
  });

  it('GitHub: a bad job id is an InputError naming jobId', async () => {
    const err = await rejection(storeFor('github', { ...gh, EOL_GATE_JOB_ID: '12/34' }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/jobId/);
  });

  it('GitHub: coordinationRepository keeps this run in its own repository, markers in the other', async () => {
    const s = await storeFor(
      'github',
      { ...gh, EOL_GATE_JOB_ID: '1' },
      { coordinationRepository: 'octo/coordination' },
    );
    expect(s).toBeInstanceOf(GitHubStore);
    expect(s.self).toMatchObject({ repository: 'octo/images', runId: '987' });
    for (const bad of ['octo', 'octo/', 'a/b/c', '/x'])
      await expect(storeFor('github', gh, { coordinationRepository: bad })).rejects.toThrow(
        /coordinationRepository: expected owner\/name/,
      );
    await expect(
      storeFor('github', gh, { coordinationRepository: 'octo/bad name' }),
    ).rejects.toThrow(/coordinationRepository/);
  });

  it('auto elsewhere is none, with a warning that pipelines are not coordinated', async () => {
    const logger = capturingLogger();
    const s = await storeFor('auto', {}, {}, logger);
    expect(s).toBeInstanceOf(NoneStore);
    expect(logger.of('warning').join('\n')).toMatch(/not coordinated/);
    // Explicit none is a choice: no warning.
    const quiet = capturingLogger();
    await storeFor('none', {}, {}, quiet);
    expect(quiet.of('warning')).toEqual([]);
  });

  it('names exactly the missing Azure DevOps variables', async () => {
    const err = await rejection(
      storeFor('azure-devops', { ...ado, SYSTEM_ACCESSTOKEN: undefined, BUILD_BUILDID: '' }),
    );
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/missing environment variables BUILD_BUILDID, SYSTEM_ACCESSTOKEN/);
    expect(err.message).not.toMatch(/SYSTEM_COLLECTIONURI|SYSTEM_TEAMPROJECT/);
    expect(err.message).toMatch(/\$\(System\.AccessToken\)/);
  });

  it('azure-devops outside a pipeline names every variable it needs', async () => {
    const err = await rejection(storeFor('azure-devops', {}));
    expect(err.message).toMatch(
      /SYSTEM_COLLECTIONURI, SYSTEM_TEAMPROJECT, BUILD_BUILDID, SYSTEM_ACCESSTOKEN/,
    );
  });

  it('names exactly the missing GitHub variables; the attempt is required', async () => {
    const err = await rejection(
      storeFor('github', { ...gh, GITHUB_RUN_ATTEMPT: undefined, GITHUB_TOKEN: undefined }),
    );
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/missing environment variables GITHUB_RUN_ATTEMPT, GITHUB_TOKEN/);
  });

  it('a token passed by the host stands in for the environment token', async () => {
    const token = { token: 'x' };
    expect(await storeFor('github', { ...gh, GITHUB_TOKEN: undefined }, token)).toBeInstanceOf(
      GitHubStore,
    );
    expect(
      await storeFor('azure-devops', { ...ado, SYSTEM_ACCESSTOKEN: undefined }, token),
    ).toBeInstanceOf(AzureDevOpsStore);
  });

  it.each([
    ['github', { ...gh, GITHUB_REPOSITORY: 'nope' }, /GITHUB_REPOSITORY/],
    ['github', { ...gh, GITHUB_RUN_ATTEMPT: 'x' }, /GITHUB_RUN_ATTEMPT/],
    ['azure-devops', { ...ado, SYSTEM_COLLECTIONURI: 'http://dev.azure.com/org' }, /https/],
    ['bogus', ado, /coordinator: expected one of/],
  ] as const)(
    'bad values are InputErrors that do not echo the token (%s, %o)',
    async (kind, env, message) => {
      const err = await rejection(storeFor(kind as never, env));
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain('ado-token');
    },
  );
});

describe('NoneStore', () => {
  it('writes nothing and lists nobody, but still rejects bad group names', async () => {
    const s = new NoneStore();
    await s.signal('g', 'publishing');
    expect(await s.listRuns('g')).toEqual([]);
    expect(s.self).toBeUndefined();
    await expect(s.signal('bad name', 'publishing')).rejects.toThrow(InputError);
  });
});
