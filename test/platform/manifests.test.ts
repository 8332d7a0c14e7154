import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMANDS, INPUTS, OUTPUTS, inputsFor, type InputSpec } from '../../src/platform/inputs.js';

/** action.yml and task.json declare exactly what src/platform/inputs.ts lists, and agree with each other. */
const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface ActionInput {
  description: string;
  required?: boolean;
  default?: string;
}
interface TaskInput {
  name: string;
  type: string;
  label: string;
  defaultValue: string;
  required: boolean;
  groupName?: string;
  helpMarkDown: string;
  visibleRule?: string;
  options?: Record<string, string>;
}

const action = parse(read('action.yml')) as {
  name: string;
  description: string;
  branding: { icon: string; color: string };
  inputs: Record<string, ActionInput>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
};
const task = JSON.parse(read('task.json')) as {
  id: string;
  name: string;
  friendlyName: string;
  category: string;
  version: { Major: number; Minor: number; Patch: number };
  instanceNameFormat: string;
  minimumAgentVersion: string;
  groups: { name: string; displayName: string }[];
  inputs: TaskInput[];
  outputVariables: { name: string; description: string }[];
  execution: Record<string, { target: string }>;
};
const pkg = JSON.parse(read('package.json')) as { version: string };
const extension = JSON.parse(read('vss-extension.json')) as {
  version: string;
  contributions: { type: string; properties: { name: string } }[];
  files: { path: string }[];
};
const spec = (name: string) => INPUTS.find((i) => i.name === name) as InputSpec;

describe('action.yml', () => {
  it('runs the committed GitHub bundle on node24, with branding', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/github/index.cjs' });
    expect(existsSync(join(root, action.runs.main))).toBe(true);
    expect(action.branding.icon).toBeTruthy();
    expect(action.branding.color).toBeTruthy();
  });

  it('declares exactly the inputs the GitHub host offers, in order, with their descriptions and defaults', () => {
    expect(Object.keys(action.inputs)).toEqual(inputsFor('github').map((i) => i.name));
    for (const [name, input] of Object.entries(action.inputs)) {
      expect(input.description, name).toBe(spec(name).description);
      expect(input.default, name).toBe(spec(name).default);
      expect(input.required ?? false, name).toBe(false);
    }
  });

  it('declares exactly OUTPUTS', () => {
    expect(
      Object.entries(action.outputs).map(([name, o]) => ({ name, description: o.description })),
    ).toEqual(OUTPUTS);
  });
});

describe('task.json', () => {
  it('identifies the task and runs the committed Azure bundle on Node20_1 and Node24', () => {
    expect(task.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(task.name).toBe('EolGate');
    expect(task.friendlyName).toBeTruthy();
    expect(task.category).toBeTruthy();
    expect(`${task.version.Major}.${task.version.Minor}.${task.version.Patch}`).toBe(pkg.version);
    expect(task.instanceNameFormat).toContain('$(command)');
    expect(task.minimumAgentVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Object.keys(task.execution).sort()).toEqual(['Node20_1', 'Node24']);
    for (const handler of Object.values(task.execution)) {
      expect(handler.target).toBe('dist/azure/index.cjs');
      expect(existsSync(join(root, handler.target))).toBe(true);
    }
  });

  it('declares exactly the inputs the Azure host offers, in order, with defaults and help', () => {
    expect(task.inputs.map((i) => i.name)).toEqual(inputsFor('azure-pipelines').map((i) => i.name));
    for (const input of task.inputs) {
      const s = spec(input.name);
      expect(input.defaultValue, input.name).toBe(s.default ?? '');
      expect(input.helpMarkDown.startsWith(s.description), input.name).toBe(true);
      expect(input.label, input.name).toBeTruthy();
    }
  });

  it('shows each input only for the commands that read it', () => {
    for (const input of task.inputs) {
      const commands = spec(input.name).commands;
      if (!commands) {
        expect(input.visibleRule, input.name).toBeUndefined();
        continue;
      }
      expect(input.visibleRule, input.name).toBe(
        commands.map((c) => `command = ${c}`).join(' || '),
      );
    }
  });

  it('types inputs by kind: booleans, multi-line lists, pick lists, the service connection', () => {
    const byName = new Map(task.inputs.map((i) => [i.name, i]));
    for (const input of task.inputs) {
      const kind = spec(input.name).kind;
      if (kind === 'boolean') expect(input.type, input.name).toBe('boolean');
      if (kind === 'multiline') expect(input.type, input.name).toBe('multiLine');
    }
    expect(byName.get('azureSubscription')?.type).toBe('connectedService:AzureRM');
    expect(byName.get('dockerRegistryServiceConnection')?.type).toBe(
      'connectedService:dockerregistry',
    );
    expect(Object.keys(byName.get('command')?.options ?? {})).toEqual([...COMMANDS]);
    expect(byName.get('command')?.required).toBe(true);
    for (const input of task.inputs.filter((i) => i.type === 'pickList')) {
      const d = input.defaultValue;
      if (d) expect(Object.keys(input.options ?? {}), input.name).toContain(d);
    }
  });

  it('puts every input but command in a declared group, and uses every group', () => {
    const groups = task.groups.map((g) => g.name);
    for (const input of task.inputs) {
      if (input.name === 'command') expect(input.groupName).toBeUndefined();
      else expect(groups, input.name).toContain(input.groupName);
    }
    expect(new Set(task.inputs.map((i) => i.groupName).filter(Boolean))).toEqual(new Set(groups));
  });

  it('declares exactly OUTPUTS as output variables', () => {
    expect(task.outputVariables).toEqual(OUTPUTS);
  });
});

describe('action.yml and task.json agree', () => {
  it('on every shared input: same names, order, defaults; the host-only ones are exactly the declared ones', () => {
    const shared = INPUTS.filter((i) => !i.hosts).map((i) => i.name);
    const actionShared = Object.keys(action.inputs).filter((n) => !spec(n).hosts);
    const taskShared = task.inputs.map((i) => i.name).filter((n) => !spec(n).hosts);
    expect(actionShared).toEqual(shared);
    expect(taskShared).toEqual(shared);
    for (const name of shared)
      expect(action.inputs[name].default ?? '', name).toBe(
        task.inputs.find((i) => i.name === name)?.defaultValue,
      );
    expect(Object.keys(action.inputs).filter((n) => spec(n).hosts)).toEqual([
      'token',
      'azureClientId',
      'azureTenantId',
    ]);
    expect(task.inputs.map((i) => i.name).filter((n) => spec(n).hosts)).toEqual([
      'azureSubscription',
      'dockerRegistryServiceConnection',
    ]);
    expect(action.description).toBe(JSON.parse(read('task.json')).description);
  });

  it('on outputs', () => {
    expect(Object.keys(action.outputs)).toEqual(task.outputVariables.map((o) => o.name));
  });
});

describe('vss-extension.json and scripts/package-task.mjs', () => {
  const out = mkdtempSync(join(tmpdir(), 'eol-gate-ext-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('assemble a task folder tfx can pack: task.json, the bundle at its execution target, licenses', () => {
    expect(extension.version).toBe(pkg.version);
    execFileSync(process.execPath, ['scripts/package-task.mjs', '--out', out], {
      cwd: root,
      stdio: 'pipe',
    });
    const contribution = extension.contributions.find(
      (c) => c.type === 'ms.vss-distributed-task.task',
    );
    expect(contribution).toBeDefined();
    const taskDir = join(out, contribution!.properties.name);
    expect(extension.files.map((f) => f.path)).toContain(contribution!.properties.name);
    expect(JSON.parse(readFileSync(join(taskDir, 'task.json'), 'utf8'))).toEqual(task);
    for (const { target } of Object.values(task.execution)) {
      // Buffer.equals: a deep toEqual over a megabyte bundle takes seconds.
      expect(
        readFileSync(join(taskDir, target)).equals(readFileSync(join(root, target))),
        target,
      ).toBe(true);
    }
    expect(readFileSync(join(taskDir, 'ThirdPartyNotices.txt'), 'utf8')).toContain(
      'azure-pipelines-task-lib',
    );
    expect(existsSync(join(out, 'vss-extension.json'))).toBe(true);
    expect(existsSync(join(out, 'overview.md'))).toBe(true);
  });
});

describe('.github/workflows/ci.yml', () => {
  it('is a workflow that checks out, sets up Node 20 and runs .ci/run (tests + check-dist)', () => {
    const ci = parse(read('.github/workflows/ci.yml')) as {
      on: unknown;
      jobs: Record<string, { 'runs-on': string; steps: Record<string, unknown>[] }>;
    };
    expect(ci.on).toBeTruthy();
    const steps = Object.values(ci.jobs).flatMap((j) => j.steps);
    expect(steps.map((s) => String(s.uses ?? s.run))).toEqual([
      expect.stringMatching(/^actions\/checkout@v\d+$/),
      expect.stringMatching(/^actions\/setup-node@v\d+$/),
      'bash .ci/run',
    ]);
    expect((steps[1].with as Record<string, unknown>)['node-version']).toBe(20);
    expect(existsSync(join(root, '.ci/run'))).toBe(true);
  });
});
