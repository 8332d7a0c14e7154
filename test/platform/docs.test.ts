import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMANDS, INPUTS, OUTPUTS, inputsFor, type HostName } from '../../src/platform/inputs.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const docs = (...args: string[]) =>
  spawnSync(process.execPath, ['scripts/docs.mjs', ...args], { cwd: root, encoding: 'utf8' });

/** docs/inputs.md is generated from action.yml and task.json; this fails when it drifts. */
describe('docs/inputs.md', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eol-gate-docs-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is what scripts/docs.mjs generates from the manifests (run `node scripts/docs.mjs` after changing them)', () => {
    const run = docs('--check');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
  });

  it('--check notices a stale file', () => {
    const stale = join(dir, 'inputs.md');
    writeFileSync(
      stale,
      readFileSync(join(root, 'docs/inputs.md'), 'utf8').replace(
        '| `dryRun` | `false` |',
        '| `dryRun` | `true` |',
      ),
    );
    const run = docs('--check', '--out', stale);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/is stale: run `node scripts\/docs\.mjs`/);
  });

  it('has one row per input and per output', () => {
    const [inputs, outputs] = readFileSync(join(root, 'docs/inputs.md'), 'utf8').split(
      '## Outputs',
    );
    const rows = (text: string) => [...text.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
    expect(rows(inputs)).toEqual(INPUTS.map((i) => i.name));
    expect(rows(outputs)).toEqual(OUTPUTS.map((o) => o.name));
  });
});

// ------------------------------------------------------------------ examples
/** The examples parse as YAML and use only real input names, each with a command that reads it. */
const files = (dir: string) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.yml'))
    .map((f) => join(dir, f));

interface Use {
  file: string;
  where: string;
  inputs: Record<string, unknown>;
}

/** Every mapping anywhere in the document that satisfies `match`, with a path for messages. */
function walk(
  node: unknown,
  match: (m: Record<string, unknown>) => Record<string, unknown> | undefined,
  path = '$',
): Use[] {
  if (Array.isArray(node)) return node.flatMap((n, i) => walk(n, match, `${path}[${i}]`));
  if (node === null || typeof node !== 'object') return [];
  const m = node as Record<string, unknown>;
  const found = match(m);
  const here = found
    ? [
        {
          file: '',
          where: `${path}${m.name ? ` (${String(m.name)})` : m.displayName ? ` (${String(m.displayName)})` : ''}`,
          inputs: found,
        },
      ]
    : [];
  return [...here, ...Object.entries(m).flatMap(([k, v]) => walk(v, match, `${path}.${k}`))];
}

// What options.ts insists on per command (a literal command only; expressions are not evaluated).
const REQUIRED: Record<string, string[]> = {
  annotate: ['registry', 'imageInfo'],
  verify: ['registry', 'imageInfo'],
  unannotate: ['registry', 'digest'],
  signal: ['state'],
  'publish-image-info': ['imageInfo', 'fragment'],
};

function checkUses(uses: Use[], host: HostName): void {
  const names = new Set(inputsFor(host).map((i) => i.name));
  for (const use of uses) {
    const at = `${use.file} ${use.where}`;
    for (const key of Object.keys(use.inputs))
      expect(names.has(key), `${at}: ${key} is not an input`).toBe(true);
    const command = String(use.inputs.command ?? 'annotate');
    expect(COMMANDS as readonly string[], at).toContain(command);
    for (const key of Object.keys(use.inputs)) {
      const commands = INPUTS.find((i) => i.name === key)?.commands;
      if (commands) expect(commands, `${at}: ${key} is not read by ${command}`).toContain(command);
    }
    for (const key of REQUIRED[command])
      expect(use.inputs[key], `${at}: ${command} needs ${key}`).toBeTruthy();
  }
}

describe('examples/github', () => {
  const workflows = files('examples/github').map((file) => ({
    file,
    doc: parse(readFileSync(join(root, file), 'utf8')) as Record<string, unknown>,
  }));

  it('has the publish, matrix, GHCR and manual workflows', () => {
    expect(workflows.map((w) => w.file).sort()).toEqual([
      'examples/github/ghcr.yml',
      'examples/github/manual.yml',
      'examples/github/matrix.yml',
      'examples/github/publish.yml',
    ]);
  });

  it('matrix.yml: legs record with scope job; push jobs are covered by one record job with scope run', () => {
    const doc = workflows.find((w) => w.file.endsWith('matrix.yml'))!.doc as {
      jobs: Record<
        string,
        { needs?: string | string[]; if?: string; steps: Record<string, unknown>[] }
      >;
    };
    const eol = (job: string) =>
      doc.jobs[job].steps
        .filter((s) => String(s.uses ?? '').startsWith('eol-gate/'))
        .map((s) => s.with as Record<string, string>);
    expect(eol('legs').map((w) => [w.command, w.scope])).toEqual([
      ['signal', undefined],
      ['publish-image-info', undefined],
      ['annotate', undefined],
    ]);
    expect(eol('push').map((w) => `${w.command} ${w.state}`)).toEqual(['signal publishing']);
    // A run-scope cover releases only jobs completed before the record job started: it needs
    // every push job, and runs after a failed one too (Protocol III, holes 1 and 4).
    expect([doc.jobs.record.needs].flat()).toEqual(['push']);
    expect(doc.jobs.record.if).toBe('always()');
    expect(eol('record').map((w) => [w.command, w.state ?? w.scope])).toEqual([
      ['signal', 'publishing'],
      ['publish-image-info', 'run'],
      ['annotate', 'run'],
    ]);
  });

  it('publish.yml: image-info on a dedicated branch; ACR sign-in with OIDC that lasts', () => {
    const doc = workflows.find((w) => w.file.endsWith('publish.yml'))!.doc as {
      env: Record<string, string>;
      jobs: Record<string, { steps: Record<string, unknown>[] }>;
    };
    expect(doc.env.IMAGE_INFO).toMatch(/^github:.+@image-info$/);
    const annotate = Object.values(doc.jobs)
      .flatMap((j) => j.steps)
      .map((s) => (s.with ?? {}) as Record<string, string>)
      .find((w) => w.command === 'annotate')!;
    expect(annotate.azureClientId).toBeTruthy();
    expect(annotate.azureTenantId).toBeTruthy();
  });

  it('ghcr.yml: the GITHUB_TOKEN as password, with packages: write', () => {
    const doc = workflows.find((w) => w.file.endsWith('ghcr.yml'))!.doc as {
      permissions: Record<string, string>;
      jobs: Record<string, { steps: Record<string, unknown>[] }>;
    };
    expect(doc.permissions).toEqual({ contents: 'write', actions: 'read', packages: 'write' });
    const annotate = Object.values(doc.jobs)
      .flatMap((j) => j.steps)
      .map((s) => (s.with ?? {}) as Record<string, string>)
      .find((w) => w.command === 'annotate')!;
    expect(annotate.registry).toBe('ghcr.io');
    expect(annotate.username).toBeTruthy();
    expect(annotate.password).toBe('${{ secrets.GITHUB_TOKEN }}');
  });

  it.each(files('examples/github'))('%s uses the action with real input names only', (file) => {
    const doc = parse(readFileSync(join(root, file), 'utf8'));
    const uses = walk(doc, (m) =>
      typeof m.uses === 'string' && /^eol-gate\/eol-gate@/.test(m.uses)
        ? ((m.with ?? {}) as Record<string, unknown>)
        : undefined,
    );
    expect(uses.length).toBeGreaterThan(0);
    checkUses(
      uses.map((u) => ({ ...u, file })),
      'github',
    );
  });

  it('publish.yml: signal publishing, then publish-image-info, then annotate, with the permissions they need', () => {
    const doc = workflows.find((w) => w.file.endsWith('publish.yml'))!.doc as {
      permissions: Record<string, string>;
      jobs: Record<string, { steps: Record<string, unknown>[] }>;
    };
    expect(doc.permissions).toEqual({ contents: 'write', actions: 'read', 'id-token': 'write' });
    const steps = Object.values(doc.jobs).flatMap((j) => j.steps);
    const commands = steps
      .filter((s) => String(s.uses ?? '').startsWith('eol-gate/'))
      .map((s) => {
        const w = s.with as Record<string, string>;
        return w.command === 'signal' ? `signal ${w.state}` : w.command;
      });
    expect(commands).toEqual(['signal publishing', 'publish-image-info', 'annotate']);
  });

  it('manual.yml: workflow_dispatch with typed inputs', () => {
    const doc = workflows.find((w) => w.file.endsWith('manual.yml'))!.doc as {
      on: { workflow_dispatch: { inputs: Record<string, { type: string; options?: string[] }> } };
    };
    const inputs = doc.on.workflow_dispatch.inputs;
    expect(inputs.command.type).toBe('choice');
    expect(inputs.command.options).toEqual(['annotate', 'verify', 'unannotate']);
    expect(inputs.dryRun.type).toBe('boolean');
    expect(inputs.repair.type).toBe('boolean');
    expect(inputs.digest.type).toBe('string');
  });
});

describe('examples/azure-pipelines', () => {
  it.each(files('examples/azure-pipelines'))(
    '%s uses the task with real input names only',
    (file) => {
      const doc = parse(readFileSync(join(root, file), 'utf8'));
      const uses = walk(doc, (m) =>
        m.task === 'EolGate@0' ? ((m.inputs ?? {}) as Record<string, unknown>) : undefined,
      );
      expect(uses.length).toBeGreaterThan(0);
      checkUses(
        uses.map((u) => ({ ...u, file })),
        'azure-pipelines',
      );
      // The task's major version is what `EolGate@0` pins.
      expect(JSON.parse(readFileSync(join(root, 'task.json'), 'utf8')).version.Major).toBe(0);
    },
  );

  it('publish.yml is multi-stage and signs in to ACR through a service connection', () => {
    const doc = parse(readFileSync(join(root, 'examples/azure-pipelines/publish.yml'), 'utf8')) as {
      stages: unknown[];
    };
    expect(doc.stages.length).toBeGreaterThan(1);
    const annotate = walk(doc, (m) =>
      m.task === 'EolGate@0' && (m.inputs as Record<string, string>).command === 'annotate'
        ? (m.inputs as Record<string, unknown>)
        : undefined,
    );
    expect(annotate).toHaveLength(1);
    expect(annotate[0].inputs.azureSubscription).toBeTruthy();
  });

  it('publish.yml declares the image-info repository and every job that touches it uses it', () => {
    const doc = parse(readFileSync(join(root, 'examples/azure-pipelines/publish.yml'), 'utf8')) as {
      variables: Record<string, string>;
      resources: { repositories: { repository: string; type: string; name: string }[] };
      stages: { jobs: { job: string; uses?: { repositories?: string[] }; steps: unknown[] }[] }[];
    };
    const repos = doc.resources.repositories;
    expect(repos).toHaveLength(1);
    expect(repos[0].type).toBe('git');
    // The azure-repos: source names the same repository.
    const [, repoName] = /^azure-repos:[^/]+\/([^/]+)\//.exec(doc.variables.imageInfo) ?? [];
    expect(repos[0].name.split('/').at(-1)).toBe(repoName);
    const jobs = doc.stages.flatMap((s) => s.jobs);
    const touching = jobs.filter(
      (j) =>
        walk(j.steps, (m) =>
          m.task === 'EolGate@0' &&
          ['annotate', 'verify', 'publish-image-info'].includes(
            String((m.inputs as Record<string, string>).command),
          )
            ? {}
            : undefined,
        ).length > 0,
    );
    expect(touching.length).toBeGreaterThan(1);
    for (const job of touching)
      expect(job.uses?.repositories, job.job).toEqual([repos[0].repository]);
  });
});
