import { parseEolDate, readAnnotationDate } from './date.js';
import { assertDigest, isRepositoryName, parseImageRef } from './digest.js';
import { InputError } from './errors.js';
import { isObject, parseJsonText, type Json } from './image-info-json.js';
import type { Plan, PlanEntry } from './planner.js';

export const PLAN_FILE_VERSION = 1;

export interface PlanFileContext {
  registry: string;
  dryRun: boolean;
}

/** The plan file (docs/design.md §5): the EOL date, the image-info fingerprint, and per digest why. */
export function serializePlan(plan: Plan, context: PlanFileContext): string {
  return [...planFileChunks(plan, context)].join('');
}

/**
 * The plan file in pieces, one per digest, to write as made (100,000 digests are tens of MB as one
 * string). Concatenated, exactly `JSON.stringify(doc, null, 2) + "\n"`.
 */
export function* planFileChunks(plan: Plan, context: PlanFileContext): Generator<string> {
  const head = {
    tool: 'eol-gate',
    version: PLAN_FILE_VERSION,
    registry: context.registry,
    dryRun: context.dryRun,
    eolDate: plan.eolDate,
    imageInfoFingerprint: plan.fingerprint,
    plannedAt: plan.plannedAt,
    minAgeSeconds: plan.minAgeMs / 1000,
    counts: {
      candidates: plan.annotate.length,
      alreadyAnnotated: plan.alreadyAnnotated.length,
      skippedTooYoung: plan.tooYoung.length,
    },
    excluded: plan.excluded,
    // A supported index that could not be read stops its repository (never unprotected children).
    stoppedRepositories: plan.stopped,
  };
  // `{\n  "tool": …,\n  "excluded": {…}\n}` without its closing line: the lists follow.
  const text = JSON.stringify(head, null, 2);
  yield text.slice(0, text.lastIndexOf('\n'));
  const lists: [string, PlanEntry[]][] = [
    ['digests', plan.annotate],
    ['alreadyAnnotated', plan.alreadyAnnotated],
    ['tooYoung', plan.tooYoung],
  ];
  for (const [name, entries] of lists) {
    if (entries.length === 0) {
      yield `,\n  ${JSON.stringify(name)}: []`;
      continue;
    }
    yield `,\n  ${JSON.stringify(name)}: [`;
    let first = true;
    for (const e of entries) {
      // JSON strings never hold a raw newline, so re-indenting by lines is exact.
      yield `${first ? '' : ','}\n    ${JSON.stringify(planFileEntry(e), null, 2).replace(/\n/g, '\n    ')}`;
      first = false;
    }
    yield '\n  ]';
  }
  yield '\n}\n';
}

function planFileEntry(e: PlanEntry) {
  return {
    repository: e.repository,
    digest: e.digest,
    mediaType: e.mediaType,
    tags: e.tags,
    created: e.created ?? null,
    ...(e.firstSeen ? { firstSeen: e.firstSeen } : {}),
    reason: e.reason,
    ...(e.existing ? { existing: e.existing } : {}),
  };
}

export interface PlannedDigest {
  repository: string;
  digest: string;
  eolDate: string;
}

/**
 * Reads an eol-gate plan file or dotnet ImageBuilder's EOL data file
 * (`{ EolDate?, EolDigests: [{ Digest: "host/repo@sha256:…", Tag?, EolDate? }] }`).
 */
export function parsePlanFile(
  text: string,
  source: string,
  defaultEolDate: string,
): PlannedDigest[] {
  const root = parseJsonText(text, source);
  if (!isObject(root)) throw new InputError(`${source}: $: expected an object`);
  if (Array.isArray(root.EolDigests)) return parseImageBuilder(root, source, defaultEolDate);
  if (root.tool === 'eol-gate' && Array.isArray(root.digests)) {
    const date = dateAt(root.eolDate, `${source}: eolDate`) ?? defaultEolDate;
    return root.digests.map((value, i) => {
      const path = `${source}: digests[${i}]`;
      const e = (value ?? {}) as Record<string, unknown>;
      if (typeof e.repository !== 'string' || !isRepositoryName(e.repository))
        throw new InputError(
          `${path}.repository: expected a repository name, got ${JSON.stringify(e.repository)}`,
        );
      const digest = assertDigest(e.digest, `${path}.digest`);
      return { repository: e.repository, digest, eolDate: date };
    });
  }
  throw new InputError(
    `${source}: neither an eol-gate plan (tool, digests[]) nor an ImageBuilder EOL file (EolDigests[])`,
  );
}

function parseImageBuilder(root: Json, source: string, defaultEolDate: string): PlannedDigest[] {
  const top = dateAt(root.EolDate, `${source}: EolDate`) ?? defaultEolDate;
  return (root.EolDigests as unknown[]).map((value, i) => {
    const path = `${source}: EolDigests[${i}]`;
    const e = (value ?? {}) as Record<string, unknown>;
    const { repository, digest } = parseImageRef(e.Digest, `${path}.Digest`);
    return { repository, digest, eolDate: dateAt(e.EolDate, `${path}.EolDate`) ?? top };
  });
}

/** ImageBuilder writes full timestamps; we annotate with the calendar date. */
function dateAt(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  const date = typeof value === 'string' ? readAnnotationDate(value) : undefined;
  if (!date) throw new InputError(`${where}: expected a date, got ${JSON.stringify(value)}`);
  return parseEolDate(date, where);
}
