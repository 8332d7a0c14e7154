/** What both simulators report: duplicate marks, results grouped per kind, Markdown tables. */
import { EOL_DATE_ANNOTATION } from '../../src/core/lifecycle.js';
import type { Descriptor } from '../../src/core/oci.js';

/** A subject's lifecycle referrers beyond the first of each date: what duplicate marks leave. */
export function duplicateMarks(referrers: Descriptor[]): number {
  return (
    referrers.length -
    new Set(referrers.map((r) => r.annotations?.[EOL_DATE_ANNOTATION] ?? '?')).size
  );
}

/** `rows` grouped by `key`, each group in the order its first row came. */
export function groupBy<T>(rows: T[], key: (row: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const r of rows) groups.set(key(r), [...(groups.get(key(r)) ?? []), r]);
  return [...groups.values()];
}

/** The sum of `f` over `rows`. */
export const sumOf = <T>(rows: T[], f: (row: T) => number): number =>
  rows.reduce((n, r) => n + f(r), 0);

/** A Markdown table with one column per `[heading, the cell of a row]`, padded to line up. */
export function markdownTable<T>(rows: T[], columns: Array<[string, (row: T) => string]>): string {
  const header = columns.map(([heading]) => heading);
  const cells = rows.map((r) => columns.map(([, cell]) => cell(r)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [
    line(header),
    `|${widths.map((n) => '-'.repeat(n + 2)).join('|')}|`,
    ...cells.map(line),
  ].join('\n');
}
