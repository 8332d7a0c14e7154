// Assembles the Azure DevOps extension folder that `tfx extension create` packs:
//   <out>/vss-extension.json, overview.md, LICENSE, images/icon.png, and
//   <out>/EolGate/{task.json, icon.png, dist/azure/*, LICENSE, ThirdPartyNotices.txt}
// Run `npm run build` first; the task runs the committed bundle, nothing is installed at run time.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const args = process.argv.slice(2);
const outIndex = args.indexOf('--out');
const out = resolve(outIndex >= 0 ? args[outIndex + 1] : '.tmp/extension');
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

const pkg = readJson('package.json');
const task = readJson('task.json');
const extension = readJson('vss-extension.json');
const fail = (message) => {
  console.error(`package-task: ${message}`);
  process.exit(1);
};

// The marketplace refuses to update a task whose version did not move; keep all three in step.
const taskVersion = `${task.version.Major}.${task.version.Minor}.${task.version.Patch}`;
if (taskVersion !== pkg.version || extension.version !== pkg.version) {
  fail(
    `versions disagree: package.json ${pkg.version}, task.json ${taskVersion}, vss-extension.json ${extension.version}`,
  );
}
const contribution = extension.contributions.find((c) => c.type === 'ms.vss-distributed-task.task');
const taskDir = join(out, contribution.properties.name);
const targets = [...new Set(Object.values(task.execution).map((e) => e.target))];

rmSync(out, { recursive: true, force: true });
const copy = (from, to) => {
  if (!existsSync(from)) fail(`${from} is missing (run \`npm run build\` first)`);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
};
copy('task.json', join(taskDir, 'task.json'));
for (const target of targets) {
  copy(target, join(taskDir, target));
  if (existsSync(`${target}.map`)) copy(`${target}.map`, join(taskDir, `${target}.map`));
}
copy('dist/licenses.txt', join(taskDir, 'ThirdPartyNotices.txt'));
copy('LICENSE', join(taskDir, 'LICENSE'));
// The pipeline editor shows the task's icon.png (beside task.json); the marketplace the extension's.
copy('images/icon.png', join(taskDir, 'icon.png'));
copy('images/icon.png', join(out, extension.icons.default));
copy('LICENSE', join(out, extension.content.license.path));
copy('docs/marketplace-overview.md', join(out, extension.content.details.path));
writeFileSync(join(out, 'vss-extension.json'), `${JSON.stringify(extension, null, 2)}\n`);

console.log(`task folder: ${taskDir}`);
console.log(
  `next: npx tfx-cli extension create --root ${out} --manifest-globs vss-extension.json --output-path ${out}`,
);
