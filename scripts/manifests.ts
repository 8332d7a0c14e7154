// Writes the generated parts of the manifests from src/platform/inputs.ts, the one declaration
// of every input and output: action.yml `inputs`/`outputs`, task.json `inputs`/`outputVariables`,
// then docs/inputs.md (scripts/docs.mjs, from those two). Everything else in the files is kept.
//   npm run manifests              rewrite the files
//   npm run manifests -- --check   exit 1 when a committed file differs from what this generates
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as prettier from 'prettier';
import { stringify } from 'yaml';
import { INPUTS, OUTPUTS, inputsFor, kindOf, type InputSpec } from '../src/platform/inputs.js';

const root = fileURLToPath(new URL('../', import.meta.url));

async function pretty(text: string, file: string): Promise<string> {
  const config = await prettier.resolveConfig(join(root, file));
  return prettier.format(text, { ...config, filepath: join(root, file) });
}

/** action.yml with its `inputs:` and `outputs:` sections (contiguous, in that order) regenerated. */
export async function renderActionYml(current: string): Promise<string> {
  const inputs = Object.fromEntries(
    inputsFor('github').map((i) => [
      i.name,
      {
        description: i.description,
        required: false,
        ...(i.default !== undefined ? { default: i.default } : {}),
      },
    ]),
  );
  const outputs = Object.fromEntries(OUTPUTS.map((o) => [o.name, { description: o.description }]));
  const lines = current.split('\n');
  const start = lines.indexOf('inputs:');
  const end = lines.findIndex((l, n) => n > start && /^[a-z]/i.test(l) && !/^outputs:/.test(l));
  if (start < 0 || end < 0) throw new Error('action.yml: expected top-level inputs: and outputs:');
  const generated = stringify({ inputs, outputs }, { lineWidth: 0 }).trimEnd().split('\n');
  const text = [...lines.slice(0, start), ...generated, ...lines.slice(end)].join('\n');
  return pretty(text, 'action.yml');
}

function taskInput(i: InputSpec): Record<string, unknown> {
  const t = i.task;
  if (!t) throw new Error(`${i.name}: the task offers it, so it needs task: { label, group }`);
  const type = t.service
    ? `connectedService:${t.service}`
    : i.choices
      ? 'pickList'
      : kindOf(i) === 'boolean'
        ? 'boolean'
        : kindOf(i) === 'multiline'
          ? 'multiLine'
          : 'string';
  return {
    name: i.name,
    type,
    label: t.label,
    defaultValue: i.default ?? '',
    required: t.required ?? false,
    ...(t.group ? { groupName: t.group } : {}),
    helpMarkDown: t.help ? `${i.description} ${t.help}` : i.description,
    ...(i.commands ? { visibleRule: i.commands.map((c) => `command = ${c}`).join(' || ') } : {}),
    ...(i.choices ? { options: Object.fromEntries(i.choices.map((c) => [c, c])) } : {}),
    ...(i.choices ? { properties: { EditableOptions: 'False' } } : {}),
    ...(t.rows ? { properties: { resizable: 'true', rows: String(t.rows) } } : {}),
  };
}

/** task.json with `inputs` and `outputVariables` regenerated. */
export async function renderTaskJson(current: string): Promise<string> {
  const task = JSON.parse(current) as Record<string, unknown>;
  task.inputs = inputsFor('azure-pipelines').map(taskInput);
  task.outputVariables = OUTPUTS.map((o) => ({ name: o.name, description: o.description }));
  return pretty(JSON.stringify(task, null, 2), 'task.json');
}

/** Each generated file: its path, what is committed, what the generator makes of it. */
export async function manifests(): Promise<{ path: string; current: string; next: string }[]> {
  const out = [];
  for (const [path, render] of [
    ['action.yml', renderActionYml],
    ['task.json', renderTaskJson],
  ] as const) {
    const current = readFileSync(join(root, path), 'utf8');
    out.push({ path, current, next: await render(current) });
  }
  return out;
}

async function main(): Promise<void> {
  const check = process.argv.includes('--check');
  if (INPUTS.length === 0) throw new Error('no inputs');
  let stale = false;
  for (const { path, current, next } of await manifests()) {
    if (current === next) continue;
    if (check) {
      console.error(`${path} differs from what src/platform/inputs.ts generates`);
      stale = true;
    } else {
      writeFileSync(join(root, path), next);
      console.log(`wrote ${path}`);
    }
  }
  // docs/inputs.md is generated from the manifests just written.
  try {
    execFileSync(process.execPath, ['scripts/docs.mjs', ...(check ? ['--check'] : [])], {
      cwd: root,
      stdio: 'inherit',
    });
  } catch {
    stale = true;
  }
  if (stale) {
    if (check) console.error('run `npm run manifests` and commit the result');
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
