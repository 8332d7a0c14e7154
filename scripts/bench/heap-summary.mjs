// Summarises a V8 heap snapshot (from report-rss.cjs's EOL_GATE_BENCH_SNAPSHOT): the largest
// groups of objects by self size (type + constructor, strings by their first characters), and
// the retained size of the largest Maps/Arrays (dominator tree). `node scripts/bench/heap-summary.mjs <file> [top]`
import { readFileSync } from 'node:fs';

const [file, topArg] = process.argv.slice(2);
const top = Number(topArg ?? 25);
const snap = JSON.parse(readFileSync(file, 'utf8'));
const meta = snap.snapshot.meta;
const nf = meta.node_fields.length;
const ef = meta.edge_fields.length;
const types = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const [T, N, S, E] = ['type', 'name', 'self_size', 'edge_count'].map((f) =>
  meta.node_fields.indexOf(f),
);
const [ET, EN, ETO] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f));
const { nodes, edges, strings } = snap;
const count = nodes.length / nf;
const firstEdge = new Uint32Array(count + 1);
for (let i = 0, e = 0; i < count; i++) {
  firstEdge[i] = e;
  e += nodes[i * nf + E] * ef;
  firstEdge[i + 1] = e;
}
const typeOf = (i) => types[nodes[i * nf + T]];
const nameOf = (i) => strings[nodes[i * nf + N]];
const label = (i) => {
  const t = typeOf(i);
  if (t === 'string' || t === 'concatenated string' || t === 'sliced string')
    return `${t}: ${JSON.stringify(nameOf(i).slice(0, 24))}…`;
  if (t === 'object' || t === 'closure' || t === 'native') return `${t}: ${nameOf(i).slice(0, 60)}`;
  return `${t}: ${t === 'hidden' || t === 'code' ? nameOf(i).slice(0, 40) : nameOf(i).slice(0, 40)}`;
};

// Self size by group.
const groups = new Map();
let total = 0;
for (let i = 0; i < count; i++) {
  const size = nodes[i * nf + S];
  total += size;
  let key = label(i);
  if (typeOf(i) === 'string') key = `string: ${JSON.stringify(nameOf(i).slice(0, 12))}…`;
  const g = groups.get(key) ?? { n: 0, size: 0 };
  g.n++;
  g.size += size;
  groups.set(key, g);
}
const mb = (n) => (n / 2 ** 20).toFixed(1);
console.log(`total self size ${mb(total)} MB in ${count} nodes\n\nby group (self size):`);
for (const [k, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, top))
  console.log(`${mb(g.size).padStart(8)} MB ${String(g.n).padStart(9)}  ${k}`);

// Dominator tree (Cooper-Harvey-Kennedy on a post-order), weak edges ignored.
const succ = (i, fn) => {
  for (let e = firstEdge[i]; e < firstEdge[i + 1]; e += ef) {
    if (edgeTypes[edges[e + ET]] === 'weak') continue;
    fn(edges[e + ETO] / nf);
  }
};
const post = new Int32Array(count).fill(-1);
const order = [];
{
  const stack = [0];
  const iter = new Uint32Array(count);
  const visited = new Uint8Array(count);
  visited[0] = 1;
  iter[0] = firstEdge[0];
  while (stack.length) {
    const v = stack[stack.length - 1];
    let pushed = false;
    while (iter[v] < firstEdge[v + 1]) {
      const e = iter[v];
      iter[v] += ef;
      if (edgeTypes[edges[e + ET]] === 'weak') continue;
      const w = edges[e + ETO] / nf;
      if (!visited[w]) {
        visited[w] = 1;
        iter[w] = firstEdge[w];
        stack.push(w);
        pushed = true;
        break;
      }
    }
    if (!pushed) {
      stack.pop();
      post[v] = order.length;
      order.push(v);
    }
  }
}
const preds = Array.from({ length: count }, () => []);
for (const v of order) succ(v, (w) => post[w] >= 0 && preds[w].push(v));
const idom = new Int32Array(count).fill(-1);
idom[0] = 0;
let changed = true;
while (changed) {
  changed = false;
  for (let k = order.length - 2; k >= 0; k--) {
    const b = order[k];
    let d = -1;
    for (const p of preds[b]) {
      if (idom[p] < 0) continue;
      if (d < 0) d = p;
      else {
        let x = p;
        let y = d;
        while (x !== y) {
          while (post[x] < post[y]) x = idom[x];
          while (post[y] < post[x]) y = idom[y];
        }
        d = x;
      }
    }
    if (d >= 0 && idom[b] !== d) {
      idom[b] = d;
      changed = true;
    }
  }
}
const retained = new Float64Array(count);
for (const v of order) {
  retained[v] += nodes[v * nf + S];
  if (v !== 0 && idom[v] >= 0) retained[idom[v]] += retained[v];
}
// Largest retainers that are not just a path to a bigger one: list objects with retained > 1 MB
// whose dominator retains less than 1.5x them or is a root-ish node.
const big = [];
for (let i = 1; i < count; i++) if (retained[i] > 2 ** 20) big.push(i);
big.sort((a, b) => retained[b] - retained[a]);
console.log('\nlargest retained (objects retaining > 1 MB):');
const edgeName = (from, to) => {
  for (let e = firstEdge[from]; e < firstEdge[from + 1]; e += ef) {
    if (edges[e + ETO] / nf === to) {
      const t = edgeTypes[edges[e + ET]];
      return t === 'element' || t === 'hidden' ? `[${edges[e + EN]}]` : strings[edges[e + EN]];
    }
  }
  return '?';
};
for (const i of big.slice(0, top * 2)) {
  const d = idom[i];
  console.log(
    `${mb(retained[i]).padStart(8)} MB  ${label(i)}  (via ${label(d).slice(0, 50)} .${edgeName(d, i)})`,
  );
}
