import type { AnnotateResult } from '../commands/annotate.js';
import type { PublishImageInfoResult } from '../commands/publish-image-info.js';
import type { VerifyResult } from '../commands/verify.js';
import { formatDuration } from '../core/duration.js';
import { EXCLUSION_REASONS } from '../core/planner.js';
import { describeRun } from '../core/protocol.js';

/** Markdown for the GitHub step summary and the Azure Pipelines summary tab. */
export function annotateSummary(
  result: AnnotateResult,
  registry: string,
  planFile: string | undefined,
  now: Date,
): string {
  const c = result.counts;
  const lines = [
    `## eol-gate annotate: ${registry}`,
    '',
    result.outcome === 'dry-run' ? '**Dry run: nothing was written.**\n' : '',
    result.outcome === 'timed-out'
      ? '**Timed out waiting for other runs: nothing was annotated.**\n'
      : '',
    '| | count |',
    '|---|---:|',
    `| annotated end-of-life | ${c.annotated} |`,
    `| planned (candidates) | ${c.candidates} |`,
    `| already annotated | ${c.alreadyAnnotated} |`,
    `| younger than minAge | ${c.skippedTooYoung} |`,
    `| supported, mark removed | ${c.unmarked} |`,
  ];
  if (result.plan) {
    lines.push('', '| excluded because | count |', '|---|---:|');
    for (const reason of EXCLUSION_REASONS)
      lines.push(`| ${reason} | ${result.plan.excluded[reason]} |`);
    lines.push(
      '',
      `EOL date: \`${result.plan.eolDate}\` · image-info fingerprint: \`${result.plan.fingerprint}\``,
    );
  }
  if (result.reconciled) lines.push('', `Reconciled after apply: ${result.reconciled}.`);
  lines.push(
    '',
    `Waited ${formatDuration(result.waitedMs)} for ${result.waitedFor.length} participant(s); validation restarts: ${result.restarts}.`,
  );
  for (const run of result.waitedFor) lines.push(`- ${describeRun(run, now)}`);
  if (planFile) lines.push('', `Plan file: \`${planFile}\``);
  return `${lines.filter((l, i) => l !== '' || lines[i - 1] !== '').join('\n')}\n`;
}

export function verifySummary(result: VerifyResult, registry: string): string {
  const lines = [
    `## eol-gate verify: ${registry}`,
    '',
    `Checked ${result.checked} supported digest(s): ${result.findings.length} carry a lifecycle mark${result.repaired ? `, ${result.repaired} mark(s) removed` : ''}.`,
  ];
  if (result.findings.length > 0) {
    lines.push('', '| digest | why protected | marks |', '|---|---|---|');
    for (const f of result.findings) {
      lines.push(
        `| \`${f.repository}@${f.digest}\` | ${f.why} | ${f.marks.map((m) => m.date ?? 'no date').join(', ')} |`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** The publish outcome; older builds the merge left out get a table (which, both digests, both times). */
export function publishSummary(
  result: PublishImageInfoResult,
  target: string,
  fragment: string,
  onStale: 'skip' | 'fail',
): string {
  const lines = [
    `## eol-gate publish-image-info: ${target}`,
    '',
    `${result.changed ? 'Merged' : 'Nothing new to merge from'} \`${fragment}\` after ${result.attempts} attempt(s); fingerprint \`${result.fingerprint}\`.`,
  ];
  if (result.stale.length > 0) {
    lines.push(
      '',
      `**${result.stale.length} older build(s) not merged** (an entry never moves back in time; ${onStale === 'fail' ? 'onStale: fail, so the step fails' : 'their digests stay unreferenced'}):`,
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
