import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  acrFor,
  EOL_DATE,
  lifecycleBySubject,
  runAnnotate,
  seedScenario,
  useFakeAcr,
} from './helpers.js';

/** The bundled CLI, as a pipeline runs it. */
const cli = fileURLToPath(new URL('../../../dist/cli/index.cjs', import.meta.url));

const { fresh } = useFakeAcr();

function runChild(vars: Record<string, string>) {
  const args = [
    'annotate',
    '--registry',
    vars.FAKE_ACR_URL,
    '--registry-type',
    'acr',
    '--image-info',
    vars.IMAGE_INFO,
    '--eol-date',
    vars.EOL_DATE,
    '--coordinator',
    'none',
    '--cache-file',
    vars.CACHE_FILE,
    '--concurrency',
    '4',
  ];
  // DefaultAzureCredential finds the managed-identity endpoint through IDENTITY_* in process.env.
  const proc = spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, ...vars },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d));
  proc.stderr.on('data', (d: Buffer) => (out += d));
  return {
    proc,
    done: new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) =>
      proc.on('exit', (code, signal) => resolve({ code, signal, out })),
    ),
  };
}

describe('crash-resume', () => {
  it('an annotate killed with SIGKILL mid-apply, then re-run, ends as an uninterrupted run, without duplicates', async () => {
    // The uninterrupted outcome, in-process.
    const uninterrupted = await fresh();
    await runAnnotate(acrFor(uninterrupted), seedScenario(uninterrupted, 40));
    const expected = uninterrupted.snapshot();

    const fake = await fresh();
    const scenario = seedScenario(fake, 40);
    fake.latencyMs = 3; // lets the kill land while pushes are in flight
    const vars = {
      FAKE_ACR_URL: fake.url,
      IMAGE_INFO: scenario.imageInfo,
      EOL_DATE,
      NODE_EXTRA_CA_CERTS: fake.caPath,
      CACHE_FILE: join(mkdtempSync(join(tmpdir(), 'acr-crash-')), 'cache.jsonl'),
    };
    const killAt = 2 + Math.floor(Math.random() * 30); // a random point among the 41 pushes
    const first = runChild(vars);
    let puts = 0;
    fake.onRequest = (kind) => {
      if (kind === 'manifest-put' && ++puts === killAt) first.proc.kill('SIGKILL');
    };
    const killed = await first.done;
    fake.onRequest = undefined;
    expect(killed.signal, killed.out).toBe('SIGKILL');
    const partial =
      [...lifecycleBySubject(fake, 'team/app').keys()].length +
      [...lifecycleBySubject(fake, 'team/tool').keys()].length;
    expect(partial).toBeLessThan(42); // it really was interrupted (41 new + 1 before)

    const second = await runChild(vars).done;
    expect(second.code, second.out).toBe(0);
    // The CLI also keeps its registry-held cache (eol-gate/cache): product state, not marks.
    const { ['eol-gate/cache']: cacheCopy, ...annotations } = fake.snapshot();
    expect(annotations).toEqual(expected);
    expect(cacheCopy?.some((m) => m.tags.includes('default'))).toBe(true);
    for (const repo of ['team/app', 'team/tool']) {
      for (const marks of lifecycleBySubject(fake, repo).values()) expect(marks).toHaveLength(1);
    }
  });
});
