import type { PublishImageInfoResult } from '../commands/publish-image-info.js';
import type { UnannotateResult } from '../commands/unannotate.js';
import type { VerifyResult } from '../commands/verify.js';
import { UNMARK_TEXT, type UnmarkOutcome } from '../registry/port.js';

/** The plan file has them all. */
export const LISTED_DIGESTS = 200;

/** `: <how>` for a removal that was not a plain DELETE. */
export function howNote(how: UnmarkOutcome | undefined): string {
  return how && how !== 'deleted' ? `: ${UNMARK_TEXT[how]}` : '';
}

/** One line per way of removal other than DELETE: "2 mark(s) removed from the referrers index; …". */
export function refusedLines(hows: (UnmarkOutcome | undefined)[]): string[] {
  const lines: string[] = [];
  for (const how of ['unlisted', 'version-deleted'] as const) {
    const n = hows.filter((h) => h === how).length;
    if (n > 0) lines.push(`${n} mark(s) ${UNMARK_TEXT[how]}.`);
  }
  return lines.length > 0 ? ['', ...lines] : [];
}

/** A collapsed list: the first LISTED_DIGESTS items and how many more the plan file holds. */
export function details(title: string, items: string[], inPlanFile = false): string[] {
  if (items.length === 0) return [];
  const shown = items.slice(0, LISTED_DIGESTS);
  const more = items.length - shown.length;
  return [
    '<details>',
    `<summary>${title}: ${items.length} digest(s)</summary>`,
    '',
    ...shown.map((i) => `- ${i}`),
    ...(more > 0 ? ['', `… and ${more} more${inPlanFile ? ' in the plan file' : ''}.`] : []),
    '',
    '</details>',
    '',
  ];
}

export function countByRepository(items: { repository: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { repository } of items) counts.set(repository, (counts.get(repository) ?? 0) + 1);
  return counts;
}

/** The markdown of `lines`: no double blank lines, one trailing newline. */
export function finish(lines: string[]): string {
  const out = lines.filter((l, i) => l !== '' || (i > 0 && lines[i - 1] !== ''));
  while (out.at(-1) === '') out.pop();
  return `${out.join('\n')}\n`;
}

export function verifySummary(result: VerifyResult, registry: string): string {
  const lines = [
    `## eol-gate verify: ${registry}`,
    '',
    `Checked ${result.checked} supported digest(s): ${result.findings.length} carry a lifecycle mark${result.repaired ? `, ${result.repaired} mark(s) removed` : ''}.`,
    ...refusedLines(
      Object.entries(result.repairedHow ?? {}).flatMap(([how, n]) =>
        Array<UnmarkOutcome>(n).fill(how as UnmarkOutcome),
      ),
    ),
  ];
  if (result.findings.length > 0) {
    lines.push('', '| digest | why protected | marks |', '|---|---|---|');
    for (const f of result.findings.slice(0, LISTED_DIGESTS)) {
      lines.push(
        `| \`${f.repository}@${f.digest}\` | ${f.why} | ${f.marks.map((m) => m.date ?? 'no date').join(', ')} |`,
      );
    }
    if (result.findings.length > LISTED_DIGESTS)
      lines.push('', `… and ${result.findings.length - LISTED_DIGESTS} more (see the log).`);
  }
  return `${lines.join('\n')}\n`;
}

/** What a rollback removed (or, in a dry run, would), per repository and per digest. */
export function unannotateSummary(
  result: UnannotateResult,
  registry: string,
  selection: string,
): string {
  const verb = result.dryRun ? 'would remove' : 'removed';
  const lines = [`## eol-gate unannotate: ${registry}`, ''];
  if (result.dryRun) lines.push('**Dry run: nothing was removed.**', '');
  lines.push(`${selection}: ${verb} ${result.removed.length} lifecycle mark(s).`);
  lines.push(...refusedLines(result.removed.map((m) => m.how)), '');
  if (result.repositories)
    lines.push(
      `Searched ${result.repositories.length} repositor${result.repositories.length === 1 ? 'y' : 'ies'}.`,
      '',
    );
  const perRepository = countByRepository(result.removed);
  if (perRepository.size > 0) {
    lines.push(`| repository | marks ${verb} |`, '|---|---:|');
    for (const [repository, n] of [...perRepository].sort(([a], [b]) => a.localeCompare(b)))
      lines.push(`| ${repository} | ${n} |`);
    lines.push('');
  }
  lines.push(
    ...details(
      result.dryRun ? 'Would remove' : 'Removed',
      result.removed.map(
        (m) =>
          `\`${m.repository}@${m.digest}\` (mark \`${m.referrer}\`, ${m.date ?? 'no date'}${howNote(m.how)})`,
      ),
    ),
    ...details(
      'Planned digests without the plan\u2019s mark',
      result.missing.map((m) => `\`${m.repository}@${m.digest}\`: ${m.why}`),
    ),
  );
  return finish(lines);
}

/** The publish outcome; older builds the merge left out get a table (which, both digests, both times). */
export function publishSummary(
  result: PublishImageInfoResult,
  target: string,
  fragment: string,
  onStale: 'skip' | 'fail',
  onStaleLabel = 'onStale',
): string {
  const lines = [
    `## eol-gate publish-image-info: ${target}`,
    '',
    `${result.changed ? 'Merged' : 'Nothing new to merge from'} \`${fragment}\` after ${result.attempts} attempt(s); fingerprint \`${result.fingerprint}\`.`,
  ];
  if (result.stale.length > 0) {
    lines.push(
      '',
      `**${result.stale.length} older build(s) not merged** (an entry never moves back in time; ${onStale === 'fail' ? `${onStaleLabel}: fail, so the step fails` : 'their digests stay unreferenced'}):`,
      '',
      '| entry | kept (newer) | built | not merged (older) | built |',
      '|---|---|---|---|---|',
    );
    for (const s of result.stale) {
      const entry =
        s.kind === 'manifest-list'
          ? `${s.repo} manifest list ${s.tags.join(', ')}`
          : `${s.repo} ${s.dockerfile ?? ''} ${[s.osType, s.osVersion, s.architecture].filter(Boolean).join(' ')}`;
      lines.push(
        `| ${entry.trim()} | \`${s.kept.digest}\` | ${s.kept.created} | \`${s.stale.digest}\` | ${s.stale.created} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
