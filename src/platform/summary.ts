import type { AnnotateResult, MarkRef } from '../commands/annotate.js';
import type { PublishImageInfoResult } from '../commands/publish-image-info.js';
import type { UnannotateResult } from '../commands/unannotate.js';
import type { VerifyResult } from '../commands/verify.js';
import type { GroupRun } from '../coordination/port.js';
import { formatDuration } from '../core/duration.js';
import type { GuardViolation } from '../core/guard.js';
import type { PlanEntry } from '../core/planner.js';
import { EXCLUSION_REASONS } from '../core/planner.js';
import { UNMARK_TEXT, type UnmarkOutcome } from '../registry/port.js';
import {
  CLASS_NOUN,
  REQUEST_CLASSES,
  type ClassStats,
  type RequestClass,
} from '../util/throttle.js';

/** How many digests a collapsed list shows; the plan file has them all. */
export const LISTED_DIGESTS = 200;

/** Where the plan went: the file on the agent, and the build artifact when it was uploaded. */
export interface PlanLocation {
  file: string;
  artifact?: { name: string; url?: string };
}

export interface AnnotateSummaryContext {
  registry: string;
  plan?: PlanLocation;
  now: Date;
  /** How this host spells an input (`fromPlan`, `--from-plan`). */
  label: (name: string) => string;
  /** `maxAnnotations` as the user wrote it, when set. */
  limit?: string;
  /** Registry requests and 429s per class, when the run sent any. */
  requests?: Record<RequestClass, ClassStats>;
}

/** "Registry requests: reads 1,204 (12 refused, 429) · writes 130 · token requests 3", or nothing. */
export function requestsLine(requests: Record<RequestClass, ClassStats> | undefined): string[] {
  if (!requests) return [];
  const parts = REQUEST_CLASSES.filter((c) => requests[c].requests > 0).map((c) => {
    const r = requests[c];
    const n = (x: number) => x.toLocaleString('en-US');
    return `${CLASS_NOUN[c]} ${n(r.requests)}${r.throttled > 0 ? ` (${n(r.throttled)} refused with 429, paced at ${n(r.ratePerMinute)}/min)` : ''}`;
  });
  return parts.length > 0 ? [`Registry requests: ${parts.join(' · ')}.`, ''] : [];
}

/**
 * Markdown for the GitHub step summary, the Azure Pipelines summary attachment and the CLI's
 * stdout: what happened per repository, which digests, whom the run waited for, why it
 * restarted, and where the plan is (with how to apply or roll back exactly that plan).
 */
export function annotateSummary(result: AnnotateResult, ctx: AnnotateSummaryContext): string {
  const c = result.counts;
  const plan = result.plan;
  const lines = [`## eol-gate annotate: ${ctx.registry}`, ''];
  if (result.outcome === 'dry-run') lines.push('**Dry run: nothing was written.**', '');
  if (result.outcome === 'timed-out')
    lines.push('**Timed out waiting for other runs: nothing was annotated.**', '');
  if (result.rollBack)
    lines.push(
      `**Rolled back: reconcile timed out waiting for ${result.rollBack.blockers.length} participant(s) that began publishing during apply, so all ${result.rollBack.removed.length} mark(s) this run placed were removed (a later run places them again).**`,
      ...refusedLines(result.rollBack.removed.map((m) => m.how)),
      '',
    );
  if (result.overLimit)
    lines.push(...guardSection(result.overLimit, ctx, result.outcome === 'refused'), '');
  lines.push(
    '| | count |',
    '|---|---:|',
    `| annotated end-of-life | ${c.annotated} |`,
    `| planned (candidates) | ${c.candidates} |`,
    `| already annotated | ${c.alreadyAnnotated} |`,
    `| younger than minAge | ${c.skippedTooYoung} |`,
    `| supported, mark removed | ${c.unmarked} |`,
    ...(result.rollBack ? [`| rolled back (reconcile timed out) | ${c.rolledBack} |`] : []),
    '',
    ...requestsLine(ctx.requests),
  );
  if (plan) {
    for (const r of plan.retired)
      lines.push(
        `**${r.repository} left the image-info: ${r.manifests} image(s), all unsupported, in scope as retired** (${ctx.label('retiredRepositories')}: mark).`,
        '',
      );
    for (const note of plan.notes) lines.push(`Note: ${note}.`, '');
    lines.push(...repositoryTable(result), '');
    const excluded = EXCLUSION_REASONS.filter((r) => plan.excluded[r] > 0);
    if (excluded.length > 0)
      lines.push(`Excluded: ${excluded.map((r) => `${r} ${plan.excluded[r]}`).join(', ')}.`, '');
    lines.push(
      `EOL date: \`${plan.eolDate}\` · image-info fingerprint: \`${plan.fingerprint}\``,
      '',
    );
    const applied = result.outcome === 'applied' || result.outcome === 'rolled-back';
    const annotated = applied
      ? (result.annotated ?? []).map((m) => `\`${m.repository}@${m.subject}\``)
      : plan.annotate.map(entryLine);
    const title = result.rollBack
      ? 'Annotated, then rolled back'
      : applied
        ? 'Annotated'
        : 'Planned, not annotated';
    lines.push(...details(title, annotated, ctx.plan));
    lines.push(
      ...details(
        'Younger than minAge',
        plan.tooYoung.map((e) => `${entryLine(e)}: ${e.reason}`),
        ctx.plan,
      ),
    );
    const unmarked = applied ? result.unmarked : plan.unmark;
    lines.push(
      ...details(
        applied ? 'Unmarked (supported)' : 'Supported, mark to remove',
        unmarked.map(markLine),
        ctx.plan,
      ),
    );
  }
  if (result.reconciled) lines.push(`Reconciled after apply: ${result.reconciled}.`, '');
  if (result.rollBack && result.rollBack.blockers.length > 0) {
    lines.push(
      'Still publishing when reconcile timed out:',
      '',
      '| participant | job | publishing since | waited on for |',
      '|---|---|---|---:|',
      ...result.rollBack.blockers.map((run) => participantRow(run, ctx.now)),
      '',
    );
  }
  lines.push(...waitSection(result, ctx.now));
  if (ctx.plan) lines.push(...planSection(result, ctx));
  return finish(lines);
}

function guardSection(
  violations: GuardViolation[],
  ctx: AnnotateSummaryContext,
  refused: boolean,
): string[] {
  const limit = `${ctx.label('maxAnnotations')} ${ctx.limit ?? ''}`.trim();
  return [
    refused
      ? `**Refused: the plan exceeds ${limit}. Nothing was annotated or unmarked.**`
      : `**This plan exceeds ${limit}: a run that is not a dry run would refuse it.**`,
    '',
    '| repository | planned | manifests | allowed |',
    '|---|---:|---:|---:|',
    ...violations.map((v) => `| ${v.repository} | ${v.planned} | ${v.manifests} | ${v.allowed} |`),
    '',
    `To proceed: review the plan; if it is right, apply exactly it with \`${ctx.label('fromPlan')}\` (a run from a reviewed plan is not limited), or raise \`${ctx.label('maxAnnotations')}\`. If it is wrong, check the image-info and \`${ctx.label('repoPrefix')}\`.`,
  ];
}

/** repository | candidates | annotated | unmarked | already | too young | excluded */
function repositoryTable(result: AnnotateResult): string[] {
  const plan = result.plan!;
  const applied = result.outcome === 'applied' || result.outcome === 'rolled-back';
  type Row = {
    candidates: number;
    annotated: number;
    unmarked: number;
    already: number;
    young: number;
  };
  const rows = new Map<string, Row>();
  const row = (repository: string) => {
    let r = rows.get(repository);
    if (!r)
      rows.set(
        repository,
        (r = { candidates: 0, annotated: 0, unmarked: 0, already: 0, young: 0 }),
      );
    return r;
  };
  for (const repository of Object.keys(plan.manifests)) row(repository);
  for (const e of plan.annotate) row(e.repository).candidates++;
  for (const e of plan.alreadyAnnotated) row(e.repository).already++;
  for (const e of plan.tooYoung) row(e.repository).young++;
  if (applied) for (const m of result.annotated ?? []) row(m.repository).annotated++;
  for (const m of applied ? result.unmarked : []) row(m.repository).unmarked++;
  const lines = [
    '| repository | candidates | annotated | unmarked | already | too young | excluded |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const [repository, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
    const manifests = plan.manifests[repository] ?? 0;
    const excluded = Math.max(0, manifests - r.candidates - r.already - r.young);
    lines.push(
      `| ${repository} | ${r.candidates} | ${r.annotated} | ${r.unmarked} | ${r.already} | ${r.young} | ${excluded} |`,
    );
  }
  return lines;
}

function entryLine(e: PlanEntry): string {
  const tags = e.tags.length > 0 ? ` (${e.tags.join(', ')})` : '';
  return `\`${e.repository}@${e.digest}\`${tags}`;
}

function markLine(m: MarkRef): string {
  return `\`${m.repository}@${m.subject}\` (mark \`${m.referrer}\`${howNote(m.how)})`;
}

/** `: <how>` for a removal that was not a plain DELETE. */
function howNote(how: UnmarkOutcome | undefined): string {
  return how && how !== 'deleted' ? `: ${UNMARK_TEXT[how]}` : '';
}

/** One line per way of removal other than DELETE: "2 mark(s) removed from the referrers index; …". */
function refusedLines(hows: (UnmarkOutcome | undefined)[]): string[] {
  const lines: string[] = [];
  for (const how of ['unlisted', 'version-deleted'] as const) {
    const n = hows.filter((h) => h === how).length;
    if (n > 0) lines.push(`${n} mark(s) ${UNMARK_TEXT[how]}.`);
  }
  return lines.length > 0 ? ['', ...lines] : [];
}

/** A collapsed list: the first LISTED_DIGESTS items and how many more the plan holds. */
function details(title: string, items: string[], plan?: PlanLocation): string[] {
  if (items.length === 0) return [];
  const shown = items.slice(0, LISTED_DIGESTS);
  const more = items.length - shown.length;
  return [
    '<details>',
    `<summary>${title}: ${items.length} digest(s)</summary>`,
    '',
    ...shown.map((i) => `- ${i}`),
    ...(more > 0 ? ['', `… and ${more} more${plan ? ' in the plan file' : ''}.`] : []),
    '',
    '</details>',
    '',
  ];
}

function waitSection(result: AnnotateResult, now: Date): string[] {
  const lines = [
    `Waited ${formatDuration(result.waitedMs)} for ${result.waitedFor.length} participant(s); validation restarts: ${result.restarts}.`,
    '',
  ];
  if (result.waitedFor.length > 0) {
    lines.push('| participant | job | publishing since | waited on for |', '|---|---|---|---:|');
    for (const run of result.waitedFor) lines.push(participantRow(run, now));
    lines.push('');
  }
  if (result.restartReasons.length > 0) {
    lines.push('Validation sent the run back to wait:', '');
    result.restartReasons.forEach((reason, i) => lines.push(`${i + 1}. ${reason}`));
    lines.push('');
  }
  return lines;
}

function participantRow(run: GroupRun, now: Date): string {
  const who = `${run.repository ? `${run.repository} ` : ''}run ${run.runId}${run.attempt > 0 ? ` (attempt ${run.attempt})` : ''}${run.name ? ` "${run.name}"` : ''}`;
  const job = run.jobId ? `${run.jobName ? `${run.jobName} ` : ''}${run.jobId}` : '';
  const startedMs = run.publishingSince > 0 ? run.publishingSince : Date.parse(run.since ?? '');
  const since = Number.isNaN(startedMs) ? '' : new Date(startedMs).toISOString();
  const age = Number.isNaN(startedMs) ? '' : formatDuration(Math.max(0, now.getTime() - startedMs));
  return `| ${link(who, run.runUrl ?? (run.url !== run.jobUrl ? run.url : undefined))} | ${job ? link(job, run.jobUrl) : ''} | ${since} | ${age} |`;
}

function link(text: string, url: string | undefined): string {
  const safe = text.replace(/\|/g, '\\|');
  return url ? `[${safe.replace(/[[\]]/g, '\\$&')}](${url})` : safe;
}

function planSection(result: AnnotateResult, ctx: AnnotateSummaryContext): string[] {
  const where = ctx.plan!;
  const lines = [`Plan file: \`${where.file}\``];
  if (where.artifact)
    lines.push(
      `Plan artifact: ${where.artifact.url ? `[${where.artifact.name}](${where.artifact.url})` : `\`${where.artifact.name}\``}`,
    );
  lines.push('');
  const fromPlan = `\`${ctx.label('fromPlan')}\``;
  if (result.outcome === 'dry-run' || result.outcome === 'refused') {
    lines.push(
      `To apply exactly this plan, run annotate with ${fromPlan} set to this file${where.artifact ? ' (download the artifact in the applying job)' : ''}: only its digests are marked, and the image-info still protects every digest it supports.`,
    );
  } else if (result.outcome === 'rolled-back') {
    lines.push(
      `Nothing this run marked is left. Once the publishers above are done, the next run marks them again; to re-apply exactly this plan, run annotate with ${fromPlan} set to this file (the image-info still protects).`,
    );
  } else if (result.outcome === 'applied' && (result.annotated ?? []).length > 0) {
    lines.push(
      `To roll this run back, run unannotate with ${fromPlan} set to this file: it removes exactly the marks this plan placed.`,
    );
  }
  return lines;
}

function finish(lines: string[]): string {
  // No double blank lines; one trailing newline.
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
  const perRepository = new Map<string, number>();
  for (const m of result.removed)
    perRepository.set(m.repository, (perRepository.get(m.repository) ?? 0) + 1);
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
  );
  lines.push(
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
