import type { AnnotateResult, MarkRef } from '../commands/annotate.js';
import type { GroupRun } from '../coordination/port.js';
import { formatDuration } from '../core/duration.js';
import type { GuardViolation } from '../core/guard.js';
import type { PlanEntry } from '../core/planner.js';
import { EXCLUSION_REASONS } from '../core/planner.js';
import {
  CLASS_NOUN,
  REQUEST_CLASSES,
  type ClassStats,
  type RequestClass,
} from '../util/throttle.js';
import { countByRepository, details, finish, howNote, refusedLines } from './summary.js';

export interface PlanLocation {
  file: string;
  artifact?: { name: string; url?: string };
}

export interface AnnotateSummaryContext {
  registry: string;
  plan?: PlanLocation;
  now: Date;
  /** `fromPlan`, `--from-plan`. */
  label: (name: string) => string;
  /** As the user wrote it. */
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

/** Whether the run wrote marks (a roll-back wrote them first). */
const wrote = (result: AnnotateResult) =>
  result.outcome === 'applied' || result.outcome === 'rolled-back';

/**
 * For the GitHub step summary, the Azure summary attachment and the CLI's stdout: per repository,
 * digests, whom it waited for, why it restarted, and the plan (how to apply or roll back just it).
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
    const applied = wrote(result);
    const list = (title: string, items: string[]) => details(title, items, !!ctx.plan);
    lines.push(
      ...list(
        result.rollBack
          ? 'Annotated, then rolled back'
          : applied
            ? 'Annotated'
            : 'Planned, not annotated',
        applied
          ? (result.annotated ?? []).map((m) => `\`${m.repository}@${m.subject}\``)
          : plan.annotate.map(entryLine),
      ),
      ...list(
        'Younger than minAge',
        plan.tooYoung.map((e) => `${entryLine(e)}: ${e.reason}`),
      ),
      ...list(
        applied ? 'Unmarked (supported)' : 'Supported, mark to remove',
        (applied ? result.unmarked : plan.unmark).map(markLine),
      ),
    );
  }
  if (result.reconciled) lines.push(`Reconciled after apply: ${result.reconciled}.`, '');
  if (result.rollBack && result.rollBack.blockers.length > 0)
    lines.push(
      'Still publishing when reconcile timed out:',
      '',
      ...participantTable(result.rollBack.blockers, ctx.now),
    );
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
  const applied = wrote(result);
  const columns = [
    plan.annotate,
    applied ? (result.annotated ?? []) : [],
    applied ? result.unmarked : [],
    plan.alreadyAnnotated,
    plan.tooYoung,
  ].map(countByRepository);
  const repositories = new Set([
    ...Object.keys(plan.manifests),
    ...columns.flatMap((counts) => [...counts.keys()]),
  ]);
  const lines = [
    '| repository | candidates | annotated | unmarked | already | too young | excluded |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const repository of [...repositories].sort((a, b) => a.localeCompare(b))) {
    const [candidates, annotated, unmarked, already, young] = columns.map(
      (counts) => counts.get(repository) ?? 0,
    );
    const excluded = Math.max(0, (plan.manifests[repository] ?? 0) - candidates - already - young);
    lines.push(
      `| ${repository} | ${candidates} | ${annotated} | ${unmarked} | ${already} | ${young} | ${excluded} |`,
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

function waitSection(result: AnnotateResult, now: Date): string[] {
  const lines = [
    `Waited ${formatDuration(result.waitedMs)} for ${result.waitedFor.length} participant(s); validation restarts: ${result.restarts}.`,
    '',
  ];
  if (result.waitedFor.length > 0) lines.push(...participantTable(result.waitedFor, now));
  if (result.restartReasons.length > 0) {
    lines.push('Validation sent the run back to wait:', '');
    result.restartReasons.forEach((reason, i) => lines.push(`${i + 1}. ${reason}`));
    lines.push('');
  }
  return lines;
}

/** Each run with links to it and its job, since when it publishes and how long that is. */
function participantTable(runs: GroupRun[], now: Date): string[] {
  const rows = runs.map((run) => {
    const who = `${run.repository ? `${run.repository} ` : ''}run ${run.runId}${run.attempt > 0 ? ` (attempt ${run.attempt})` : ''}${run.name ? ` "${run.name}"` : ''}`;
    const job = run.jobId ? `${run.jobName ? `${run.jobName} ` : ''}${run.jobId}` : '';
    const startedMs = run.publishingSince > 0 ? run.publishingSince : Date.parse(run.since ?? '');
    const known = !Number.isNaN(startedMs);
    const since = known ? new Date(startedMs).toISOString() : '';
    const age = known ? formatDuration(Math.max(0, now.getTime() - startedMs)) : '';
    return `| ${link(who, run.runUrl ?? (run.url !== run.jobUrl ? run.url : undefined))} | ${job ? link(job, run.jobUrl) : ''} | ${since} | ${age} |`;
  });
  return [
    '| participant | job | publishing since | waited on for |',
    '|---|---|---|---:|',
    ...rows,
    '',
  ];
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
