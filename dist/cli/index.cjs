#!/usr/bin/env node
"use strict";
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to, key) && key !== except)
        __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to;
};
var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

// src/platform/cli/main.ts
var main_exports = {};
__export(main_exports, {
  main: () => main
});
module.exports = __toCommonJS(main_exports);

// scripts/import-meta-url.js
var importMetaUrl = require("node:url").pathToFileURL(__filename).href;

// src/core/errors.ts
var InputError = class extends Error {
  name = "InputError";
};
var RuntimeError = class extends Error {
  name = "RuntimeError";
};

// src/platform/job.ts
var import_promises2 = require("node:fs/promises");
var import_node_path2 = require("node:path");

// src/core/digest.ts
var DIGEST = /^sha256:[a-f0-9]{64}$/;
function isDigest(value) {
  return typeof value === "string" && DIGEST.test(value);
}
function assertDigest(value, where) {
  if (!isDigest(value)) {
    throw new InputError(`${where}: expected a digest "sha256:<64 hex>", got ${JSON.stringify(value)}`);
  }
  return value;
}
function parseImageRef(value, where) {
  if (typeof value !== "string" || !value.includes("@")) {
    throw new InputError(`${where}: expected "<repository>@sha256:<hex>", got ${JSON.stringify(value)}`);
  }
  const at = value.lastIndexOf("@");
  const name = value.slice(0, at);
  const digest = assertDigest(value.slice(at + 1), where);
  const parts = name.split("/");
  let host;
  if (parts.length > 1 && /[.:]|^localhost$/.test(parts[0])) host = parts.shift();
  const repository = parts.join("/");
  if (!isRepositoryName(repository)) {
    throw new InputError(`${where}: invalid repository name ${JSON.stringify(repository)}`);
  }
  return { host, repository, digest };
}
var REPO = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
function isRepositoryName(value) {
  return value.length > 0 && value.length <= 255 && REPO.test(value);
}
function fallbackTag(digest) {
  return digest.replace(":", "-");
}
var FALLBACK_TAG = /^sha256-[a-f0-9]{64}$/;
var COSIGN_TAG = /^sha256-[a-f0-9]{64}\.(sig|att|sbom)$/;
function refKey(repository, digest) {
  return `${repository}@${digest}`;
}

// src/core/date.ts
function parseEolDate(value, name) {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : void 0;
  if (!m || !d || d.getUTCMonth() !== +m[2] - 1 || d.getUTCDate() !== +m[3]) {
    throw new InputError(`${name}: expected yyyy-MM-dd, got ${JSON.stringify(value)}`);
  }
  return value;
}
function utcDate(now) {
  return now.toISOString().slice(0, 10);
}
function readAnnotationDate(value) {
  if (!value) return void 0;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? void 0 : new Date(ms).toISOString().slice(0, 10);
}

// src/core/oci.ts
var MediaType = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  ociEmpty: "application/vnd.oci.empty.v1+json"
};
var MANIFEST_MEDIA_TYPES = [
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList
];
function isIndexMediaType(mediaType) {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}

// src/core/lifecycle.ts
var LIFECYCLE_ARTIFACT_TYPE = "application/vnd.microsoft.artifact.lifecycle";
var EOL_DATE_ANNOTATION = "vnd.microsoft.artifact.lifecycle.end-of-life.date";
var EMPTY_DESCRIPTOR = {
  mediaType: MediaType.ociEmpty,
  digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
  size: 2,
  data: "e30="
};
var EMPTY_BLOB = new TextEncoder().encode("{}");
function lifecycleManifestJson(subject, eolDate) {
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    artifactType: LIFECYCLE_ARTIFACT_TYPE,
    config: EMPTY_DESCRIPTOR,
    layers: [EMPTY_DESCRIPTOR],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { [EOL_DATE_ANNOTATION]: eolDate }
  };
  return JSON.stringify(manifest);
}
function lifecycleMarkOf(referrer) {
  if (referrer.artifactType !== LIFECYCLE_ARTIFACT_TYPE) return void 0;
  return { digest: referrer.digest, date: readAnnotationDate(referrer.annotations?.[EOL_DATE_ANNOTATION]) };
}

// src/core/planner.ts
var EXCLUSION_REASONS = [
  "supported",
  "child-of-supported-index",
  "referrer-artifact",
  "fallback-index-tag",
  "cosign-tag",
  "already-annotated",
  "too-young"
];
function emptyCounts() {
  return Object.fromEntries(EXCLUSION_REASONS.map((r) => [r, 0]));
}
function childrenOfSupported(inventory, supported) {
  const childrenOf = /* @__PURE__ */ new Map();
  for (const m of inventory) {
    if (m.children) childrenOf.set(m.digest, [...childrenOf.get(m.digest) ?? [], ...m.children]);
  }
  const out = /* @__PURE__ */ new Set();
  const stack = [...supported.digests.keys()];
  while (stack.length > 0) {
    for (const child of childrenOf.get(stack.pop()) ?? []) {
      if (out.has(child) || supported.digests.has(child)) continue;
      out.add(child);
      stack.push(child);
    }
  }
  return out;
}
function classify(inventory, supported) {
  const supportedChildren = childrenOfSupported(inventory, supported);
  const fallbackListed = /* @__PURE__ */ new Set();
  for (const m of inventory) {
    if (m.tags.some((t) => FALLBACK_TAG.test(t))) for (const c of m.children ?? []) fallbackListed.add(c);
  }
  const parentsOf = /* @__PURE__ */ new Map();
  for (const m of inventory) {
    if (isIndexMediaType(m.mediaType)) {
      for (const c of m.children ?? []) parentsOf.set(c, [...parentsOf.get(c) ?? [], m.digest]);
    }
  }
  const excluded = emptyCounts();
  const candidates = [];
  const seen = /* @__PURE__ */ new Set();
  for (const m of inventory) {
    const key = refKey(m.repository, m.digest);
    if (seen.has(key)) continue;
    seen.add(key);
    const reason = exclusionOf(m, supported, supportedChildren, fallbackListed);
    if (reason) {
      excluded[reason]++;
      continue;
    }
    const parents = parentsOf.get(m.digest);
    candidates.push({
      repository: m.repository,
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.size,
      tags: [...m.tags].sort(),
      created: m.created,
      reason: parents ? `child of unsupported index ${parents.join(", ")}` : "not referenced by image-info"
    });
  }
  return { candidates, excluded };
}
function exclusionOf(m, supported, supportedChildren, fallbackListed) {
  if (supported.digests.has(m.digest)) return "supported";
  if (supportedChildren.has(m.digest)) return "child-of-supported-index";
  if (m.subject || fallbackListed.has(m.digest)) return "referrer-artifact";
  if (m.tags.some((t) => FALLBACK_TAG.test(t))) return "fallback-index-tag";
  if (m.tags.some((t) => COSIGN_TAG.test(t))) return "cosign-tag";
  return void 0;
}
function buildPlan(input) {
  const { classification, lifecycle, now, minAgeMs } = input;
  const excluded = { ...classification.excluded };
  const plan = {
    eolDate: input.eolDate,
    fingerprint: input.fingerprint,
    plannedAt: now.toISOString(),
    minAgeMs,
    annotate: [],
    alreadyAnnotated: [],
    tooYoung: [],
    excluded
  };
  for (const candidate of classification.candidates) {
    const key = refKey(candidate.repository, candidate.digest);
    const marks = lifecycle.get(key);
    if (!marks) throw new Error(`internal: no lifecycle lookup for ${key}`);
    const created = candidate.created ?? input.created?.get(key);
    const entry = { ...candidate, created };
    if (marks.length > 0) {
      excluded["already-annotated"]++;
      plan.alreadyAnnotated.push({ ...entry, existing: marks, reason: `already annotated (${marks.map((m) => m.date ?? "no date").join(", ")})` });
      continue;
    }
    const createdMs = created ? Date.parse(created) : NaN;
    if (minAgeMs > 0 && !Number.isNaN(createdMs) && now.getTime() - createdMs < minAgeMs) {
      excluded["too-young"]++;
      plan.tooYoung.push({ ...entry, reason: `younger than minAge (created ${created})` });
      continue;
    }
    const ageNote = minAgeMs > 0 && Number.isNaN(createdMs) ? "; age unknown, counted as old enough" : "";
    plan.annotate.push({ ...entry, reason: entry.reason + ageNote });
  }
  const order = (a, b) => a.repository.localeCompare(b.repository) || a.digest.localeCompare(b.digest);
  plan.annotate.sort(order);
  plan.alreadyAnnotated.sort(order);
  plan.tooYoung.sort(order);
  return plan;
}

// src/coordination/port.ts
var MARKER_STATES = ["publishing", "image-info-updated"];

// src/core/protocol.ts
var GROUP = /^[A-Za-z0-9._-]{1,64}$/;
function assertGroupName(group, name = "group") {
  if (!GROUP.test(group)) {
    throw new InputError(`${name}: expected 1-64 characters of [A-Za-z0-9._-], got ${JSON.stringify(group)}`);
  }
  return group;
}
function blockingRuns(self, runs) {
  return runs.filter(
    (run) => run.alive && run.runId !== self?.runId && run.states.includes("publishing") && !run.states.includes("image-info-updated")
  );
}
function validate(self, runsAfterInventory, plannedFingerprint, fingerprintAfterPoll) {
  const blockers = blockingRuns(self, runsAfterInventory);
  if (blockers.length > 0) {
    return { verdict: "restart", reason: `${blockers.length} run(s) started publishing during the inventory`, blockers };
  }
  if (plannedFingerprint !== fingerprintAfterPoll) {
    return { verdict: "restart", reason: "image-info changed since it was read", blockers: [] };
  }
  return { verdict: "proceed" };
}
function jitteredInterval(intervalMs, random) {
  return Math.round(intervalMs * (0.75 + random * 0.5));
}
function joinMarkers(markers, status) {
  const byRun = /* @__PURE__ */ new Map();
  for (const m of markers) byRun.set(m.runId, [...byRun.get(m.runId) ?? [], m]);
  const runs = [];
  for (const [runId, list] of byRun) {
    const s = status.get(runId);
    const attempt = s?.attempt ?? Math.max(...list.map((m) => m.attempt));
    const current = list.filter((m) => m.attempt === attempt);
    const states = MARKER_STATES.filter((state) => current.some((m) => m.state === state));
    runs.push({
      runId,
      attempt,
      states,
      alive: (s?.alive ?? false) && current.length > 0,
      since: s?.since,
      url: s?.url,
      name: s?.name
    });
  }
  return runs.sort((a, b) => a.runId.localeCompare(b.runId, "en", { numeric: true }));
}
function describeRun(run, now) {
  const who = `run ${run.runId}${run.attempt > 0 ? ` (attempt ${run.attempt})` : ""}${run.name ? ` "${run.name}"` : ""}`;
  let since = "";
  if (run.since) {
    const ms = now.getTime() - Date.parse(run.since);
    since = Number.isNaN(ms) ? ` since ${run.since}` : ` since ${run.since} (${formatAge(ms)} ago)`;
  }
  return `${who} is publishing${since}${run.url ? `: ${run.url}` : ""}`;
}
function formatAge(ms) {
  const s = Math.max(0, Math.round(ms / 1e3));
  if (s < 120) return `${s}s`;
  const m = Math.round(s / 60);
  return m < 120 ? `${m}m` : `${Math.round(m / 60)}h`;
}

// src/core/image-info.ts
var SUPPORTED_SCHEMA_VERSIONS = ["1.0", "2.0"];
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
var Reader = class {
  constructor(source) {
    this.source = source;
  }
  source;
  fail(path, message) {
    throw new InputError(`${this.source}: ${path}: ${message}`);
  }
  object(value, path) {
    if (!isObject(value)) this.fail(path, `expected an object, got ${describe(value)}`);
    return value;
  }
  array(value, path, optional = false) {
    if (value === void 0 && optional) return [];
    if (!Array.isArray(value)) this.fail(path, `expected an array, got ${describe(value)}`);
    return value;
  }
  string(value, path, optional = false) {
    if (value === void 0 && optional) return void 0;
    if (typeof value !== "string" || value.length === 0) {
      this.fail(path, `expected a non-empty string, got ${describe(value)}`);
    }
    return value;
  }
  strings(value, path) {
    return this.array(value, path, true).map((v, i) => this.string(v, `${path}[${i}]`));
  }
  /** A digest written as `host/repo@sha256:…` or, within a repo, as a bare `sha256:…`. */
  ref(value, path, repo2) {
    if (value === void 0) this.fail(path, "missing digest");
    if (isDigest(value)) return { repository: repo2, digest: value };
    try {
      return parseImageRef(value, path);
    } catch (e) {
      this.fail(path, e.message.replace(`${path}: `, ""));
    }
  }
};
function describe(value) {
  if (value === void 0) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
function parseImageInfo(text, source) {
  let doc;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (e) {
    throw new InputError(`${source}: not valid JSON: ${e.message}`);
  }
  const r = new Reader(source);
  const root = r.object(doc, "$");
  const version = root.schemaVersion;
  if (typeof version !== "string" || !SUPPORTED_SCHEMA_VERSIONS.includes(version)) {
    r.fail("schemaVersion", `unsupported schemaVersion ${describe(version)} (supported: ${SUPPORTED_SCHEMA_VERSIONS.join(", ")})`);
  }
  const repos = r.array(root.repos, "repos").map((repoValue, ri) => {
    const repoPath = `repos[${ri}]`;
    const repoJson = r.object(repoValue, repoPath);
    const repo2 = r.string(repoJson.repo, `${repoPath}.repo`);
    const images = r.array(repoJson.images, `${repoPath}.images`, true).map((imageValue, ii) => {
      const imagePath = `${repoPath}.images[${ii}]`;
      const image = r.object(imageValue, imagePath);
      const entry = {
        platforms: r.array(image.platforms, `${imagePath}.platforms`, true).map((pv, pi) => {
          const path = `${imagePath}.platforms[${pi}]`;
          const p = r.object(pv, path);
          return {
            ref: r.ref(p.digest, `${path}.digest`, repo2),
            dockerfile: r.string(p.dockerfile, `${path}.dockerfile`, true),
            osType: r.string(p.osType, `${path}.osType`, true),
            osVersion: r.string(p.osVersion, `${path}.osVersion`, true),
            architecture: r.string(p.architecture, `${path}.architecture`, true),
            simpleTags: r.strings(p.simpleTags, `${path}.simpleTags`),
            created: r.string(p.created, `${path}.created`, true),
            syndicated: syndicated(r, p.syndicatedDigests, `${path}.syndicatedDigests`, repo2)
          };
        })
      };
      if (image.manifest !== void 0) {
        const path = `${imagePath}.manifest`;
        const m = r.object(image.manifest, path);
        entry.manifest = {
          ref: r.ref(m.digest, `${path}.digest`, repo2),
          sharedTags: r.strings(m.sharedTags, `${path}.sharedTags`),
          syndicated: syndicated(r, m.syndicatedDigests, `${path}.syndicatedDigests`, repo2)
        };
      }
      return entry;
    });
    return { repo: repo2, images };
  });
  return { source, schemaVersion: version, repos };
}
function syndicated(r, value, path, repo2) {
  return r.array(value, path, true).map((v, i) => r.ref(v, `${path}[${i}]`, repo2));
}
function supportedRefs(info) {
  const out = [];
  const add = (kind, ref2, tags, syndicated2) => {
    out.push({ ...ref2, kind, tags });
    for (const s of syndicated2) out.push({ ...s, kind: "syndicated", tags: [] });
  };
  for (const repo2 of info.repos) {
    for (const image of repo2.images) {
      for (const p of image.platforms) add("platform", p.ref, p.simpleTags, p.syndicated);
      if (image.manifest) add("manifest-list", image.manifest.ref, image.manifest.sharedTags, image.manifest.syndicated);
    }
  }
  return out;
}

// src/core/glob.ts
function globToRegExp(glob) {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
function matchesAny(name, globs) {
  return globs.some((g) => g.test(name));
}

// src/core/supported.ts
function withPrefix(repoPrefix, repository) {
  if (!repoPrefix) return repository;
  return `${repoPrefix.replace(/\/+$/, "")}/${repository}`;
}
function supportedSet(infos, repoPrefix = "") {
  const digests = /* @__PURE__ */ new Map();
  const repositories = /* @__PURE__ */ new Set();
  for (const info of infos) {
    for (const repo2 of info.repos) repositories.add(withPrefix(repoPrefix, repo2.repo));
    for (const ref2 of supportedRefs(info)) {
      const registryRepository = withPrefix(repoPrefix, ref2.repository);
      repositories.add(registryRepository);
      if (!digests.has(ref2.digest)) digests.set(ref2.digest, { ...ref2, registryRepository });
    }
  }
  return { digests, repositories };
}
function repositoriesInScope(all, supported, globs) {
  if (globs.length === 0) return [...supported.repositories].sort();
  const patterns = globs.map(globToRegExp);
  const names = new Set(all ?? globs.filter((g) => !/[*?]/.test(g)));
  return [...names].filter((n) => matchesAny(n, patterns)).sort();
}

// src/util/hash.ts
var import_node_crypto = require("node:crypto");
function sha256Digest(data) {
  return `sha256:${(0, import_node_crypto.createHash)("sha256").update(data).digest("hex")}`;
}

// src/util/pool.ts
async function forEachLimited(items, concurrency, fn) {
  let next = 0;
  let failure;
  const worker = async () => {
    while (!failure && next < items.length) {
      const index = next++;
      try {
        await fn(items[index], index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure) throw failure.error;
}

// src/commands/image-info.ts
async function loadImageInfo(sources) {
  const snapshots = await Promise.all(sources.map((s) => s.read()));
  const infos = snapshots.map((snap, i) => parseImageInfo(snap.text, sources[i].name));
  return { infos, fingerprint: combinedFingerprint(snapshots.map((s) => s.fingerprint)) };
}
async function readFingerprint(sources) {
  const snapshots = await Promise.all(sources.map((s) => s.read()));
  return combinedFingerprint(snapshots.map((s) => s.fingerprint));
}
function combinedFingerprint(parts) {
  return parts.length === 1 ? parts[0] : sha256Digest(parts.join("\n"));
}

// src/commands/inventory.ts
var InventoryCache = class {
  constructor(registry, concurrency) {
    this.registry = registry;
    this.concurrency = concurrency;
  }
  registry;
  concurrency;
  byRepository = /* @__PURE__ */ new Map();
  lifecycle = /* @__PURE__ */ new Map();
  created = /* @__PURE__ */ new Map();
  /** Lists the repositories not listed yet; returns the records of all of `repositories`. */
  async records(repositories) {
    const missing = repositories.filter((r) => !this.byRepository.has(r));
    await forEachLimited(missing, Math.min(4, this.concurrency), async (repository) => {
      this.byRepository.set(repository, await this.registry.listManifests(repository));
    });
    return repositories.flatMap((r) => this.byRepository.get(r) ?? []);
  }
  /** Looks up lifecycle referrers (and, when `needCreated`, the age) of candidates not seen yet. */
  async enrich(candidates, needCreated) {
    const pending = candidates.filter((c) => !this.lifecycle.has(refKey(c.repository, c.digest)));
    await forEachLimited(pending, this.concurrency, async (c) => {
      const key = refKey(c.repository, c.digest);
      if (needCreated && !c.created && !this.created.has(key)) {
        this.created.set(key, await this.registry.imageCreated(c.repository, c.digest));
      }
      const referrers = await this.registry.listReferrers(c.repository, c.digest, LIFECYCLE_ARTIFACT_TYPE);
      this.lifecycle.set(key, referrers.map(lifecycleMarkOf).filter((m) => !!m));
    });
  }
};

// src/commands/progress.ts
var ProgressReporter = class {
  constructor(total, clock, logger, verb) {
    this.total = total;
    this.clock = clock;
    this.logger = logger;
    this.verb = verb;
    this.lastAt = clock.now().getTime();
  }
  total;
  clock;
  logger;
  verb;
  done = 0;
  lastPercent = 0;
  lastAt;
  tick() {
    this.done++;
    const percent = Math.floor(this.done * 100 / Math.max(1, this.total));
    const now = this.clock.now().getTime();
    if (this.done < this.total && (percent >= this.lastPercent + 10 || now - this.lastAt >= 1e4)) {
      this.lastPercent = percent - percent % 10;
      this.lastAt = now;
      this.logger.info(`${this.verb} ${this.done}/${this.total} (${percent}%)`);
    }
  }
  finish() {
    this.logger.info(`${this.verb} ${this.done}/${this.total}`);
  }
};

// src/core/duration.ts
var UNITS = { ms: 1, s: 1e3, m: 6e4, h: 36e5, d: 864e5 };
function parseDuration(value, name) {
  const text = value.trim();
  if (text === "0") return 0;
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNITS[m[2]];
    matched = re.lastIndex;
  }
  if (text.length === 0 || matched !== text.length) {
    throw new InputError(`${name}: expected a duration like 0, 500ms, 5s, 30m, 1h or 2d, got ${JSON.stringify(value)}`);
  }
  return total;
}
function formatDuration(ms) {
  if (ms < 1e3) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1e3);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ""}`;
}

// src/commands/barrier.ts
async function waitForBarrier(options, store, clock, logger, runStarted) {
  const begin = clock.now().getTime();
  const waitedFor = /* @__PURE__ */ new Map();
  if (store.kind === "none") return { timedOut: false, waitedMs: 0, waitedFor: [], blockers: [] };
  for (; ; ) {
    const blockers = blockingRuns(store.self, await store.listRuns(options.group));
    const now = clock.now().getTime();
    if (blockers.length === 0) return { timedOut: false, waitedMs: now - begin, waitedFor: [...waitedFor.values()], blockers: [] };
    for (const run of blockers) waitedFor.set(run.runId, run);
    const elapsed = now - runStarted;
    if (elapsed >= options.timeoutMs) {
      return { timedOut: true, waitedMs: now - begin, waitedFor: [...waitedFor.values()], blockers };
    }
    for (const run of blockers) logger.info(`waiting: ${describeRun(run, clock.now())}`);
    const delay = Math.min(jitteredInterval(options.pollIntervalMs, clock.random()), options.timeoutMs - elapsed);
    logger.info(`${blockers.length} run(s) block; next poll in ${formatDuration(delay)} (${formatDuration(elapsed)} of ${formatDuration(options.timeoutMs)} elapsed)`);
    await clock.sleep(delay);
  }
}

// src/commands/annotate.ts
async function annotate(options, deps) {
  const { registry, store, sources, clock, logger } = deps;
  if (sources.length === 0) throw new InputError("imageInfo: at least one image-info source is required");
  if (store.kind !== "none") assertGroupName(options.group);
  if (store.kind !== "none") await store.signal(options.group, "image-info-updated");
  const inventory = new InventoryCache(registry, options.concurrency);
  const started = clock.now().getTime();
  const waitedFor = /* @__PURE__ */ new Map();
  let waitedMs = 0;
  let restarts = 0;
  for (; ; ) {
    const barrier = await waitForBarrier(options, store, clock, logger, started);
    waitedMs += barrier.waitedMs;
    for (const run of barrier.waitedFor) waitedFor.set(run.runId, run);
    const overdue = restarts > 0 && clock.now().getTime() - started >= options.timeoutMs;
    if (barrier.timedOut || overdue) {
      const names = barrier.blockers.map((run) => describeRun(run, clock.now())).join("; ") || "the image-info kept changing";
      const message = `timed out after ${Math.round((clock.now().getTime() - started) / 1e3)}s waiting for: ${names}`;
      if (options.onTimeout === "fail") throw new RuntimeError(`${message}. Nothing was annotated.`);
      logger.warning(`${message}. Nothing was annotated (onTimeout: skip).`);
      return { outcome: "timed-out", counts: zeroCounts(), waitedMs, waitedFor: [...waitedFor.values()], restarts };
    }
    const plan = await logger.group("Plan", () => makePlan(options, deps, inventory));
    logger.info(
      `plan: ${plan.annotate.length} to annotate, ${plan.alreadyAnnotated.length} already annotated, ${plan.tooYoung.length} too young`
    );
    const runs = store.kind === "none" ? [] : await store.listRuns(options.group);
    const fingerprint = await readFingerprint(sources);
    const verdict = validate(store.self, runs, plan.fingerprint, fingerprint);
    if (verdict.verdict === "restart") {
      restarts++;
      logger.info(`validation: ${verdict.reason}; going back to wait (restart ${restarts})`);
      continue;
    }
    const counts = {
      annotated: 0,
      alreadyAnnotated: plan.alreadyAnnotated.length,
      skippedTooYoung: plan.tooYoung.length,
      candidates: plan.annotate.length
    };
    if (options.dryRun) {
      logger.info("dry run: nothing was written");
      return { outcome: "dry-run", counts, waitedMs, waitedFor: [...waitedFor.values()], restarts, plan };
    }
    await logger.group(`Annotate ${plan.annotate.length} digest(s)`, async () => {
      counts.annotated = await apply(plan, options.concurrency, registry, clock, logger);
    });
    if (store.kind !== "none") await store.cleanup(options.group).catch((e) => logger.debug(`cleanup: ${e.message}`));
    return { outcome: "applied", counts, waitedMs, waitedFor: [...waitedFor.values()], restarts, plan };
  }
}
async function makePlan(options, deps, inventory) {
  const { registry, sources, clock, logger } = deps;
  const loaded = await loadImageInfo(sources);
  const supported = supportedSet(loaded.infos, options.repoPrefix);
  logger.info(`image-info: ${supported.digests.size} supported digest(s) in ${sources.map((s) => s.name).join(", ")}`);
  let scope;
  if (options.fromPlan) {
    scope = [...new Set(options.fromPlan.map((p) => p.repository))].sort();
  } else {
    const globbing = options.repositories.some((g) => /[*?]/.test(g));
    const all = globbing ? await registry.listRepositories() : void 0;
    if (globbing && !all) logger.warning(`${registry.displayName} does not list its catalog: only literal repository names are in scope`);
    scope = repositoriesInScope(all, supported, options.repositories);
  }
  logger.info(`scope: ${scope.length} repositor${scope.length === 1 ? "y" : "ies"}`);
  const records = await inventory.records(scope);
  const classification = classify(records, supported);
  if (options.fromPlan) restrictToPlan(classification.candidates, options.fromPlan, logger, records);
  await inventory.enrich(classification.candidates, options.minAgeMs > 0);
  return buildPlan({
    classification,
    lifecycle: inventory.lifecycle,
    created: inventory.created,
    now: clock.now(),
    minAgeMs: options.minAgeMs,
    eolDate: options.eolDate,
    fingerprint: loaded.fingerprint
  });
}
function restrictToPlan(candidates, planned, logger, records) {
  const wanted = new Map(planned.map((p) => [refKey(p.repository, p.digest), p]));
  const known = new Set(records.map((r) => refKey(r.repository, r.digest)));
  const kept = candidates.filter((c) => wanted.has(refKey(c.repository, c.digest)));
  const keptKeys = new Set(kept.map((c) => refKey(c.repository, c.digest)));
  for (const [key] of wanted) {
    if (keptKeys.has(key)) continue;
    logger.warning(known.has(key) ? `${key}: in the plan but supported or an artifact now; not annotated` : `${key}: in the plan but not found in the registry; not annotated`);
  }
  for (const c of kept) c.eolDate = wanted.get(refKey(c.repository, c.digest))?.eolDate;
  candidates.splice(0, candidates.length, ...kept);
}
async function apply(plan, concurrency, registry, clock, logger) {
  const progress = new ProgressReporter(plan.annotate.length, clock, logger, "annotated");
  let done = 0;
  await forEachLimited(plan.annotate, concurrency, async (entry) => {
    const subject = await subjectDescriptor(registry, entry);
    if (!subject) {
      logger.warning(`${entry.repository}@${entry.digest}: gone from the registry since the inventory; skipped`);
      return;
    }
    const date = entry.eolDate ?? plan.eolDate;
    const json = lifecycleManifestJson(subject, date);
    await registry.pushReferrer(entry.repository, subject, {
      bytes: new TextEncoder().encode(json),
      digest: sha256Digest(json),
      mediaType: MediaType.ociManifest,
      artifactType: LIFECYCLE_ARTIFACT_TYPE,
      annotations: { [EOL_DATE_ANNOTATION]: date }
    });
    done++;
    progress.tick();
  });
  progress.finish();
  return done;
}
async function subjectDescriptor(registry, entry) {
  if (entry.size !== void 0) return { mediaType: entry.mediaType, digest: entry.digest, size: entry.size };
  return registry.describeManifest(entry.repository, entry.digest);
}
function zeroCounts() {
  return { annotated: 0, alreadyAnnotated: 0, skippedTooYoung: 0, candidates: 0 };
}

// src/commands/signal.ts
async function signal(options, deps) {
  assertGroupName(options.group);
  if (deps.store.kind === "none") {
    throw new InputError("signal: no coordinator: run inside Azure Pipelines or GitHub Actions, or set coordinator");
  }
  await deps.store.signal(options.group, options.state);
  deps.logger.info(`run ${deps.store.self?.runId} attempt ${deps.store.self?.attempt}: ${options.state} (group ${options.group})`);
}

// src/commands/unannotate.ts
async function unannotate(options, deps) {
  const refs = options.digests.map((d, i) => parseImageRef(d, `digest[${i}]`));
  const removed = [];
  for (const ref2 of refs) {
    const referrers = await deps.registry.listReferrers(ref2.repository, ref2.digest, LIFECYCLE_ARTIFACT_TYPE);
    const marks = referrers.map(lifecycleMarkOf).filter((m) => m !== void 0);
    if (marks.length === 0) deps.logger.info(`${ref2.repository}@${ref2.digest}: no lifecycle mark`);
    for (const mark of marks) {
      await deps.registry.deleteReferrer(ref2.repository, ref2.digest, mark.digest);
      removed.push({ repository: ref2.repository, digest: ref2.digest, referrer: mark.digest, date: mark.date });
      deps.logger.info(`${ref2.repository}@${ref2.digest}: removed lifecycle mark ${mark.digest} (${mark.date ?? "no date"})`);
    }
  }
  return { removed };
}

// src/commands/verify.ts
async function verify(options, deps) {
  const { registry, logger } = deps;
  const loaded = await loadImageInfo(deps.sources);
  const supported = supportedSet(loaded.infos, options.repoPrefix);
  const scope = repositoriesInScope(
    options.repositories.some((g) => /[*?]/.test(g)) ? await registry.listRepositories() : void 0,
    supported,
    options.repositories
  );
  const records = (await Promise.all(scope.map((r) => registry.listManifests(r)))).flat();
  const targets = /* @__PURE__ */ new Map();
  for (const ref2 of supported.digests.values()) {
    targets.set(refKey(ref2.registryRepository, ref2.digest), { repository: ref2.registryRepository, digest: ref2.digest, why: "supported" });
  }
  const inScope = new Set(scope);
  for (const m of records) {
    if (!inScope.has(m.repository)) continue;
    const key = refKey(m.repository, m.digest);
    if (targets.has(key)) continue;
    if (supported.digests.has(m.digest)) targets.set(key, { repository: m.repository, digest: m.digest, why: "supported" });
  }
  const protectedChildren = childrenOfSupported(records, supported);
  for (const m of records) {
    const key = refKey(m.repository, m.digest);
    if (protectedChildren.has(m.digest) && !targets.has(key)) {
      targets.set(key, { repository: m.repository, digest: m.digest, why: "child-of-supported-index" });
    }
  }
  const findings = [];
  await forEachLimited([...targets.values()], options.concurrency, async (t) => {
    const referrers = await registry.listReferrers(t.repository, t.digest, LIFECYCLE_ARTIFACT_TYPE);
    const marks = referrers.map(lifecycleMarkOf).filter((m) => !!m);
    if (marks.length > 0) findings.push({ ...t, marks });
  });
  findings.sort((a, b) => refKey(a.repository, a.digest).localeCompare(refKey(b.repository, b.digest)));
  for (const f of findings) {
    logger.error(`${f.repository}@${f.digest} is ${f.why === "supported" ? "supported" : "a child of a supported index"} but marked end-of-life (${f.marks.map((m) => m.date ?? "no date").join(", ")})`);
  }
  let repaired = 0;
  if (options.repair) {
    for (const f of findings) {
      for (const mark of f.marks) {
        await registry.deleteReferrer(f.repository, f.digest, mark.digest);
        repaired++;
        logger.info(`removed lifecycle mark ${mark.digest} from ${f.repository}@${f.digest}`);
      }
    }
  }
  return { checked: targets.size, findings, repaired };
}

// src/core/plan-file.ts
var PLAN_FILE_VERSION = 1;
function serializePlan(plan, context) {
  const entry = (e) => ({
    repository: e.repository,
    digest: e.digest,
    mediaType: e.mediaType,
    tags: e.tags,
    created: e.created ?? null,
    reason: e.reason,
    ...e.existing ? { existing: e.existing } : {}
  });
  const doc = {
    tool: "eol-gate",
    version: PLAN_FILE_VERSION,
    registry: context.registry,
    dryRun: context.dryRun,
    eolDate: plan.eolDate,
    imageInfoFingerprint: plan.fingerprint,
    plannedAt: plan.plannedAt,
    minAgeSeconds: plan.minAgeMs / 1e3,
    counts: {
      candidates: plan.annotate.length,
      alreadyAnnotated: plan.alreadyAnnotated.length,
      skippedTooYoung: plan.tooYoung.length
    },
    excluded: plan.excluded,
    digests: plan.annotate.map(entry),
    alreadyAnnotated: plan.alreadyAnnotated.map(entry),
    tooYoung: plan.tooYoung.map(entry)
  };
  return `${JSON.stringify(doc, null, 2)}
`;
}
function parsePlanFile(text, source, defaultEolDate) {
  let doc;
  try {
    doc = JSON.parse(text.replace(/^\uFEFF/, ""));
  } catch (e) {
    throw new InputError(`${source}: not valid JSON: ${e.message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) {
    throw new InputError(`${source}: $: expected an object`);
  }
  const root = doc;
  if (Array.isArray(root.EolDigests)) return parseImageBuilder(root, source, defaultEolDate);
  if (root.tool === "eol-gate" && Array.isArray(root.digests)) {
    const date = dateAt(root.eolDate, `${source}: eolDate`) ?? defaultEolDate;
    return root.digests.map((value, i) => {
      const path = `${source}: digests[${i}]`;
      const e = value ?? {};
      if (typeof e.repository !== "string" || !e.repository) {
        throw new InputError(`${path}.repository: expected a repository name`);
      }
      return { repository: e.repository, digest: assertDigest(e.digest, `${path}.digest`), eolDate: date };
    });
  }
  throw new InputError(`${source}: neither an eol-gate plan (tool, digests[]) nor an ImageBuilder EOL file (EolDigests[])`);
}
function parseImageBuilder(root, source, defaultEolDate) {
  const top = dateAt(root.EolDate, `${source}: EolDate`) ?? defaultEolDate;
  return root.EolDigests.map((value, i) => {
    const path = `${source}: EolDigests[${i}]`;
    const e = value ?? {};
    const ref2 = parseImageRef(e.Digest, `${path}.Digest`);
    return { repository: ref2.repository, digest: ref2.digest, eolDate: dateAt(e.EolDate, `${path}.EolDate`) ?? top };
  });
}
function dateAt(value, where) {
  if (value === void 0 || value === null) return void 0;
  const date = typeof value === "string" ? readAnnotationDate(value) : void 0;
  if (!date) throw new InputError(`${where}: expected a date, got ${JSON.stringify(value)}`);
  return parseEolDate(date, where);
}

// src/util/http.ts
var DEFAULT_RETRY = {
  retries: 6,
  baseDelayMs: 500,
  maxDelayMs: 3e4,
  timeoutMs: 6e4
};
var RETRYABLE_STATUS = /* @__PURE__ */ new Set([408, 429, 500, 502, 503, 504]);
var HttpError = class extends RuntimeError {
  constructor(status, method, url, detail) {
    super(`${method} ${redactUrl(url)} failed: HTTP ${status}${detail ? ` ${detail}` : ""}`);
    this.status = status;
    this.method = method;
    this.url = url;
  }
  status;
  method;
  url;
};
function redactUrl(url) {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    for (const key of [...u.searchParams.keys()]) {
      if (/token|sig|secret|password|code/i.test(key)) u.searchParams.set(key, "***");
    }
    return u.toString();
  } catch {
    return url;
  }
}
function isLoopbackHost(hostname2) {
  const h = hostname2.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}
function assertSecureUrl(url, name) {
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && isLoopbackHost(url.hostname)) return;
  throw new InputError(`${name}: ${url.protocol}//${url.host} is not allowed: use https (plain http only for loopback hosts)`);
}
function retryAfterMs(headers, now = Date.now()) {
  const value = headers.get("retry-after");
  if (!value) return void 0;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Number(value) * 1e3;
  const at = Date.parse(value);
  return Number.isNaN(at) ? void 0 : Math.max(0, at - now);
}
function backoffDelay(attempt, policy, retryAfter) {
  const random = policy.random ?? Math.random;
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  const jittered = cap / 2 + random() * (cap / 2);
  return retryAfter !== void 0 ? Math.max(retryAfter, Math.min(jittered, policy.baseDelayMs)) : jittered;
}
var defaultSleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function fetchWithRetry(url, init, policy = DEFAULT_RETRY, retryable2 = (res) => RETRYABLE_STATUS.has(res.status)) {
  const sleep = policy.sleep ?? defaultSleep;
  const method = init.method ?? "GET";
  for (let attempt = 0; ; attempt++) {
    let cause;
    let wait;
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(policy.timeoutMs) });
      if (!retryable2(res) || attempt >= policy.retries) return res;
      cause = `HTTP ${res.status}`;
      wait = retryAfterMs(res.headers);
      await res.body?.cancel().catch(() => {
      });
    } catch (e) {
      if (attempt >= policy.retries) {
        throw new RuntimeError(`${method} ${redactUrl(url)} failed after ${attempt + 1} attempts: ${networkCause(e)}`);
      }
      cause = networkCause(e);
    }
    const delayMs = backoffDelay(attempt, policy, wait);
    policy.onRetry?.({ url: redactUrl(url), attempt: attempt + 1, delayMs, cause });
    await sleep(delayMs);
  }
}
function networkCause(e) {
  const err = e;
  if (err.name === "TimeoutError") return "timed out";
  return err.cause?.code ?? err.cause?.message ?? err.message;
}
async function errorDetail(res) {
  const text = await res.text().catch(() => "");
  return text.replace(/\s+/g, " ").slice(0, 300);
}

// src/coordination/rest.ts
var RETRYABLE = /* @__PURE__ */ new Set([408, 500, 502, 503, 504]);
var RestClient = class {
  constructor(options) {
    this.options = options;
    this.policy = { ...DEFAULT_RETRY, ...options.retry };
    this.now = options.now ?? Date.now;
  }
  options;
  policy;
  now;
  notBefore = 0;
  sleep(ms) {
    return (this.policy.sleep ?? ((t) => new Promise((r) => setTimeout(r, t))))(ms);
  }
  async request(method, url, body) {
    const headers = { ...this.options.headers };
    if (body !== void 0) headers["content-type"] = "application/json";
    const maxWait = this.options.maxRateLimitWaitMs ?? 15 * 6e4;
    for (let attempt = 0; ; attempt++) {
      const hold = this.notBefore - this.now();
      if (hold > 0) await this.sleep(hold);
      let cause;
      let waitMs;
      let rateLimited = false;
      try {
        const res = await fetch(url, {
          method,
          headers,
          body: body === void 0 ? void 0 : JSON.stringify(body),
          signal: AbortSignal.timeout(this.policy.timeoutMs)
        });
        const verdict = await this.options.rateLimit(res, this.now());
        if (verdict?.kind === "pause") {
          this.notBefore = Math.max(this.notBefore, this.now() + Math.min(verdict.waitMs, maxWait));
        }
        if (verdict?.kind === "retry") {
          if (verdict.waitMs > maxWait || attempt >= this.policy.retries) {
            const detail = await errorDetail(res);
            throw new RuntimeError(
              `${this.options.service}: ${method} ${redactUrl(url)} is rate limited (${verdict.reason}; would wait ${Math.ceil(verdict.waitMs / 1e3)}s)${detail ? `: ${detail}` : ""}`
            );
          }
          cause = `rate limited (${verdict.reason})`;
          waitMs = verdict.waitMs;
          rateLimited = true;
        } else if (RETRYABLE.has(res.status) && attempt < this.policy.retries) {
          cause = `HTTP ${res.status}`;
          waitMs = retryAfterMs(res.headers, this.now());
        } else {
          return res;
        }
        await res.body?.cancel().catch(() => {
        });
      } catch (e) {
        if (e instanceof RuntimeError) throw e;
        if (attempt >= this.policy.retries) {
          throw new RuntimeError(
            `${this.options.service}: ${method} ${redactUrl(url)} failed after ${attempt + 1} attempts: ${networkCause(e)}`
          );
        }
        cause = networkCause(e);
      }
      const delayMs = rateLimited ? (waitMs ?? 0) + Math.round((this.policy.random ?? Math.random)() * this.policy.baseDelayMs) : backoffDelay(attempt, this.policy, waitMs);
      this.policy.onRetry?.({ url: redactUrl(url), attempt: attempt + 1, delayMs, cause });
      this.options.logger?.debug(`${this.options.service}: ${method} ${redactUrl(url)}: ${cause}; retrying in ${Math.round(delayMs)}ms`);
      await this.sleep(delayMs);
    }
  }
  /** Parses a JSON body of a 2xx response; anything else is an HttpError. */
  async json(method, url, res) {
    if (!res.ok) throw new HttpError(res.status, method, url, await errorDetail(res));
    try {
      return await res.json();
    } catch (e) {
      throw new RuntimeError(`${this.options.service}: ${method} ${redactUrl(url)}: unreadable JSON (${e.message})`);
    }
  }
};
function resetHeaderWaitMs(headers, name, now) {
  const value = headers.get(name);
  if (!value || !/^\d+(\.\d+)?$/.test(value.trim())) return void 0;
  return Math.max(0, Number(value) * 1e3 - now);
}

// src/coordination/azure-devops.ts
var API_VERSION = "7.1";
var LIVE_STATUS_FILTER = "inProgress,cancelling,postponed,notStarted";
var MAX_PAGES = 1e3;
function azureDevOpsTag(group, state) {
  return `eol-gate.${group}.${state}`;
}
function listValue(body) {
  if (Array.isArray(body)) return body;
  const value = body?.value;
  if (Array.isArray(value)) return value;
  throw new RuntimeError(`Azure DevOps: unexpected response shape (expected a list)`);
}
var AzureDevOpsStore = class {
  constructor(options) {
    this.options = options;
    let url;
    try {
      url = new URL(options.collectionUri);
    } catch {
      throw new InputError(`collectionUri: not a URL: ${JSON.stringify(options.collectionUri)}`);
    }
    assertSecureUrl(url, "collectionUri");
    if (!options.project) throw new InputError("project: missing (System.TeamProject)");
    if (!/^\d+$/.test(String(options.buildId))) {
      throw new InputError(`buildId: expected a number (Build.BuildId), got ${JSON.stringify(options.buildId)}`);
    }
    if (!options.token) throw new InputError("token: missing (System.AccessToken)");
    this.base = url.toString().replace(/\/+$/, "");
    this.projects = options.projects?.length ? [...new Set(options.projects)] : [options.project];
    this.logger = options.logger;
    this.self = { runId: String(options.buildId), attempt: options.jobAttempt, url: this.buildWebUrl(options.project) };
    this.readBack = { attempts: options.readBack?.attempts ?? 8, delayMs: options.readBack?.delayMs ?? 250 };
    this.sleep = options.retry?.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.client = new RestClient({
      service: "Azure DevOps",
      headers: {
        authorization: `Bearer ${options.token}`,
        accept: `application/json;api-version=${API_VERSION}`
      },
      retry: options.retry,
      logger: options.logger,
      now: options.now,
      rateLimit: adoRateLimit
    });
  }
  options;
  kind = "azure-devops";
  self;
  base;
  projects;
  client;
  logger;
  readBack;
  sleep;
  buildWebUrl(project) {
    return `${this.base}/${encodeURIComponent(project)}/_build/results?buildId=${this.options.buildId}`;
  }
  tagsUrl() {
    return `${this.base}/${encodeURIComponent(this.options.project)}/_apis/build/builds/${this.options.buildId}/tags?api-version=${API_VERSION}`;
  }
  async signal(group, state) {
    assertGroupName(group);
    const add = [azureDevOpsTag(group, state)];
    const remove = state === "publishing" ? [azureDevOpsTag(group, "image-info-updated")] : [];
    await this.patchTags(add, remove, `signal ${state}`);
    const publishing = azureDevOpsTag(group, "publishing");
    const updated = azureDevOpsTag(group, "image-info-updated");
    await this.readBackUntil(`signal ${state}`, async () => {
      const tags = await this.getTags(this.options.project, this.options.buildId);
      if (!add.every((t) => tags.includes(t)) || !remove.every((t) => !tags.includes(t))) return false;
      const listed = (await this.listBuilds(this.options.project, publishing, this.self.runId)).find(
        (b) => String(b.id) === this.self.runId
      );
      if (state === "publishing") return !!listed && (!listed.tags || listed.tags.includes(publishing) && !listed.tags.includes(updated));
      return !listed || !listed.tags || listed.tags.includes(updated);
    });
    this.logger?.debug(`Azure DevOps: build ${this.options.buildId} tagged ${add.join(", ")}`);
  }
  async listRuns(group) {
    assertGroupName(group);
    const publishing = azureDevOpsTag(group, "publishing");
    const runs = /* @__PURE__ */ new Map();
    for (const project of this.projects) {
      for (const build of await this.listBuilds(project, publishing)) {
        if (build.status === "completed") continue;
        const tags = build.tags ?? await this.getTags(project, build.id);
        if (!tags.includes(publishing)) continue;
        const runId = String(build.id);
        runs.set(runId, {
          runId,
          attempt: runId === this.self.runId ? this.self.attempt : 0,
          states: MARKER_STATES.filter((s) => tags.includes(azureDevOpsTag(group, s))),
          alive: true,
          since: build.startTime ?? build.queueTime,
          url: build._links?.web?.href,
          name: [build.definition?.name, build.buildNumber].filter(Boolean).join(" ") || void 0
        });
      }
    }
    return [...runs.values()].sort((a, b) => Number(a.runId) - Number(b.runId));
  }
  /**
   * Removes this build's tags for the group in one PATCH (both at once, so the build never
   * shows `publishing` without `image-info-updated`). Other builds' tags are left alone:
   * completed builds are not listed anyway, and a retried build reuses its tags, so removing
   * them from a stale listing could drop a live `publishing`.
   */
  async cleanup(group) {
    assertGroupName(group);
    try {
      await this.patchTags([], MARKER_STATES.map((s) => azureDevOpsTag(group, s)), "cleanup");
    } catch (e) {
      this.logger?.warning(`Azure DevOps: could not remove this build's eol-gate tags: ${e.message}`);
    }
  }
  async listBuilds(project, tag, buildId) {
    const builds = [];
    let token;
    for (let page = 0; page < MAX_PAGES; page++) {
      const q = new URLSearchParams({ tagFilters: tag, statusFilter: LIVE_STATUS_FILTER, "api-version": API_VERSION });
      if (buildId) q.set("buildIds", buildId);
      if (token) q.set("continuationToken", token);
      const url = `${this.base}/${encodeURIComponent(project)}/_apis/build/builds?${q}`;
      const res = await this.client.request("GET", url);
      await this.assertAuthorized(res, `list builds of project ${project}`, "View builds");
      builds.push(...listValue(await this.client.json("GET", url, res)));
      token = res.headers.get("x-ms-continuationtoken") ?? void 0;
      if (!token) return builds;
    }
    throw new RuntimeError(`Azure DevOps: listing builds of ${project} did not end after ${MAX_PAGES} pages`);
  }
  async getTags(project, buildId) {
    const url = `${this.base}/${encodeURIComponent(project)}/_apis/build/builds/${buildId}/tags?api-version=${API_VERSION}`;
    const res = await this.client.request("GET", url);
    await this.assertAuthorized(res, `read the tags of build ${buildId}`, "View builds");
    return listValue(await this.client.json("GET", url, res));
  }
  async patchTags(tagsToAdd, tagsToRemove, what) {
    const url = this.tagsUrl();
    const res = await this.client.request("PATCH", url, { tagsToAdd, tagsToRemove });
    await this.assertAuthorized(res, `${what} (update the tags of build ${this.options.buildId})`, "Edit build quality");
    if (res.status === 404) {
      throw new InputError(
        `Azure DevOps: build ${this.options.buildId} not found in project ${this.options.project} (check Build.BuildId / System.TeamProject)`
      );
    }
    return listValue(await this.client.json("PATCH", url, res));
  }
  async readBackUntil(what, shows) {
    let delay = this.readBack.delayMs;
    for (let i = 0; i < this.readBack.attempts; i++) {
      if (await shows()) return;
      await this.sleep(delay);
      delay = Math.min(delay * 2, 4e3);
    }
    throw new RuntimeError(
      `Azure DevOps: ${what}: build ${this.options.buildId} did not show the change (tags and build list) after ${this.readBack.attempts} reads`
    );
  }
  /**
   * 401/403 and the sign-in page Azure DevOps serves (203, HTML) to a bad token become
   * errors naming the missing permission. The token itself never appears.
   */
  async assertAuthorized(res, what, permission) {
    const html = (res.headers.get("content-type") ?? "").includes("text/html");
    if (res.status === 401 || res.status === 203 || res.ok && html) {
      await res.body?.cancel().catch(() => {
      });
      throw new InputError(
        `Azure DevOps rejected the access token (HTTP ${res.status}) when trying to ${what}. Pass System.AccessToken to the step (for a script: env SYSTEM_ACCESSTOKEN: $(System.AccessToken)).`
      );
    }
    if (res.status === 403) {
      const detail = await errorDetail(res);
      throw new InputError(
        `Azure DevOps denied the build identity permission to ${what} (HTTP 403): it needs "${permission}" on the pipeline (and "View builds" in every project listed)${detail ? `. Server said: ${detail}` : ""}`
      );
    }
  }
};
function adoRateLimit(res, now) {
  const after = retryAfterMs(res.headers, now);
  if (res.status === 429) {
    const reset = resetHeaderWaitMs(res.headers, "x-ratelimit-reset", now);
    const resource = res.headers.get("x-ratelimit-resource");
    return { kind: "retry", waitMs: after ?? reset ?? 1e4, reason: `HTTP 429${resource ? ` ${resource}` : ""}` };
  }
  if (res.ok && after !== void 0) return { kind: "pause", waitMs: after, reason: "Retry-After on a throttled response" };
  return void 0;
}

// src/coordination/github.ts
var PERMISSIONS_HINT = "the token needs `contents: write` (markers are git refs) and `actions: read` (run status); in a workflow: `permissions: { contents: write, actions: read }`";
function parseMarkerRef(group, ref2) {
  const prefix = `refs/eol-gate/${group}/`;
  if (!ref2.startsWith(prefix)) return void 0;
  const m = /^(\d+)\.(\d+)\.(publishing|image-info-updated)$/.exec(ref2.slice(prefix.length));
  return m ? { runId: m[1], attempt: Number(m[2]), state: m[3] } : void 0;
}
function markerRef(group, runId, attempt, state) {
  return `refs/eol-gate/${group}/${runId}.${attempt}.${state}`;
}
var GitHubStore = class {
  constructor(options) {
    this.options = options;
    let url;
    try {
      url = new URL(options.apiUrl);
    } catch {
      throw new InputError(`apiUrl: not a URL: ${JSON.stringify(options.apiUrl)}`);
    }
    assertSecureUrl(url, "apiUrl");
    if (!/^[A-Za-z0-9_.-]+$/.test(options.owner) || !/^[A-Za-z0-9_.-]+$/.test(options.repo)) {
      throw new InputError(`repository: expected owner/name, got ${JSON.stringify(`${options.owner}/${options.repo}`)}`);
    }
    if (!/^\d+$/.test(String(options.runId))) throw new InputError(`runId: expected a number, got ${JSON.stringify(options.runId)}`);
    if (!Number.isInteger(options.runAttempt) || options.runAttempt < 1) {
      throw new InputError(`runAttempt: expected a positive integer, got ${JSON.stringify(options.runAttempt)}`);
    }
    if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(options.sha)) throw new InputError(`sha: expected a commit id, got ${JSON.stringify(options.sha)}`);
    if (!options.token) throw new InputError("token: missing (GITHUB_TOKEN)");
    this.api = `${url.toString().replace(/\/+$/, "")}/repos/${options.owner}/${options.repo}`;
    this.logger = options.logger;
    this.self = { runId: String(options.runId), attempt: options.runAttempt };
    this.readBack = { attempts: options.readBack?.attempts ?? 8, delayMs: options.readBack?.delayMs ?? 250 };
    this.sleep = options.retry?.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    const secondaryWait = options.secondaryRateLimitWaitMs ?? 6e4;
    this.client = new RestClient({
      service: "GitHub",
      headers: {
        authorization: `Bearer ${options.token}`,
        accept: "application/vnd.github+json",
        "x-github-api-version": "2022-11-28",
        "user-agent": "eol-gate"
      },
      retry: options.retry,
      logger: options.logger,
      now: options.now,
      rateLimit: (res, now) => githubRateLimit(res, now, secondaryWait)
    });
  }
  options;
  kind = "github";
  self;
  api;
  client;
  logger;
  readBack;
  sleep;
  own(group, state) {
    return markerRef(group, this.self.runId, this.self.attempt, state);
  }
  async signal(group, state) {
    assertGroupName(group);
    const want = this.own(group, state);
    const clear = state === "publishing" ? this.own(group, "image-info-updated") : void 0;
    if (clear) await this.deleteRef(clear, `signal ${state}`);
    await this.createRef(want, `signal ${state}`);
    const prefix = `eol-gate/${group}/${this.self.runId}.${this.self.attempt}.`;
    let delay = this.readBack.delayMs;
    for (let i = 0; i < this.readBack.attempts; i++) {
      const refs = (await this.matchingRefs(prefix)).map((r) => r.ref);
      if (refs.includes(want) && (!clear || !refs.includes(clear))) return;
      await this.sleep(delay);
      delay = Math.min(delay * 2, 4e3);
    }
    throw new RuntimeError(`GitHub: signal ${state}: ${want} did not show in matching-refs after ${this.readBack.attempts} reads`);
  }
  async listRuns(group) {
    return (await this.snapshot(group)).runs;
  }
  async cleanup(group) {
    assertGroupName(group);
    try {
      const { refs, runs } = await this.snapshot(group);
      const byRun = new Map(runs.map((r) => [r.runId, r]));
      for (const { ref: ref2, marker } of refs) {
        const run = byRun.get(marker.runId);
        const drop = marker.runId === this.self.runId || !run?.alive || marker.attempt < run.attempt;
        if (drop) await this.deleteRef(ref2, "cleanup");
      }
    } catch (e) {
      this.logger?.warning(`GitHub: could not clean up eol-gate refs: ${e.message}`);
    }
  }
  async snapshot(group) {
    assertGroupName(group);
    const refs = [];
    for (const r of await this.matchingRefs(`eol-gate/${group}/`)) {
      const marker = parseMarkerRef(group, r.ref);
      if (marker) refs.push({ ref: r.ref, marker });
      else this.logger?.debug(`GitHub: ignoring foreign ref ${r.ref}`);
    }
    const status = /* @__PURE__ */ new Map();
    for (const runId of new Set(refs.map((r) => r.marker.runId))) status.set(runId, await this.runStatus(runId));
    return { refs, runs: joinMarkers(refs.map((r) => r.marker), status) };
  }
  /** GET /repos/{owner}/{repo}/git/matching-refs/{ref} (one call; follows `Link: next` if sent). */
  async matchingRefs(prefix) {
    let url = `${this.api}/git/matching-refs/${prefix.split("/").map(encodeURIComponent).join("/")}`;
    const all = [];
    for (let page = 0; url && page < 100; page++) {
      const res = await this.client.request("GET", url);
      await this.assertAuthorized(res, "list marker refs");
      const body = await this.client.json("GET", url, res);
      if (!Array.isArray(body)) throw new RuntimeError("GitHub: matching-refs did not answer a list");
      all.push(...body);
      url = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link") ?? "")?.[1];
    }
    return all;
  }
  /** POST /repos/{owner}/{repo}/git/refs; 422 "Reference already exists" means done. */
  async createRef(ref2, what) {
    const url = `${this.api}/git/refs`;
    const res = await this.client.request("POST", url, { ref: ref2, sha: this.options.sha });
    await this.assertAuthorized(res, `${what} (create ${ref2})`);
    if (res.status === 201) {
      await res.body?.cancel().catch(() => {
      });
      return;
    }
    const detail = await errorDetail(res);
    if (res.status === 422 && /already exists/i.test(detail)) return;
    throw new RuntimeError(`GitHub: ${what}: POST ${url} for ${ref2} failed: HTTP ${res.status} ${detail}`);
  }
  /** DELETE /repos/{owner}/{repo}/git/refs/{ref}; a ref that is already gone (422/404) is fine. */
  async deleteRef(ref2, what) {
    const path = ref2.replace(/^refs\//, "").split("/").map(encodeURIComponent).join("/");
    const url = `${this.api}/git/refs/${path}`;
    const res = await this.client.request("DELETE", url);
    await this.assertAuthorized(res, `${what} (delete ${ref2})`);
    if (res.status === 204 || res.status === 404 || res.status === 422) {
      await res.body?.cancel().catch(() => {
      });
      return;
    }
    throw new RuntimeError(`GitHub: ${what}: DELETE ${url} failed: HTTP ${res.status} ${await errorDetail(res)}`);
  }
  /** GET /repos/{owner}/{repo}/actions/runs/{run_id}; a run GitHub no longer has is finished. */
  async runStatus(runId) {
    const url = `${this.api}/actions/runs/${runId}`;
    const res = await this.client.request("GET", url);
    await this.assertAuthorized(res, `read the status of run ${runId}`);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {
      });
      return void 0;
    }
    const run = await this.client.json("GET", url, res);
    if (typeof run.status !== "string" || typeof run.run_attempt !== "number") {
      throw new RuntimeError(`GitHub: run ${runId}: response without status / run_attempt`);
    }
    return {
      alive: run.status !== "completed",
      attempt: run.run_attempt,
      since: run.run_started_at ?? run.created_at,
      url: run.html_url,
      name: run.display_title ?? run.name
    };
  }
  /** 401/403 that are not rate limits (those were retried already) name the missing permission. */
  async assertAuthorized(res, what) {
    if (res.status !== 401 && res.status !== 403) return;
    const detail = await errorDetail(res);
    const reason = res.status === 401 ? "rejected the token" : "denied access";
    throw new InputError(`GitHub ${reason} (HTTP ${res.status}) when trying to ${what}: ${PERMISSIONS_HINT}${detail ? `. Server said: ${detail}` : ""}`);
  }
};
async function githubRateLimit(res, now, secondaryWaitMs) {
  const remaining = res.headers.get("x-ratelimit-remaining");
  const reset = resetHeaderWaitMs(res.headers, "x-ratelimit-reset", now);
  if (res.ok) {
    return remaining === "0" && reset !== void 0 ? { kind: "pause", waitMs: reset, reason: "primary rate limit spent" } : void 0;
  }
  if (res.status !== 403 && res.status !== 429) return void 0;
  const after = retryAfterMs(res.headers, now);
  if (after !== void 0) return { kind: "retry", waitMs: after, reason: `secondary rate limit, retry-after ${Math.ceil(after / 1e3)}s` };
  if (remaining === "0" && reset !== void 0) return { kind: "retry", waitMs: reset, reason: "primary rate limit exhausted" };
  const text = await res.clone().text().catch(() => "");
  if (res.status === 429 || /rate limit/i.test(text)) return { kind: "retry", waitMs: secondaryWaitMs, reason: "secondary rate limit" };
  return void 0;
}

// src/coordination/none.ts
var NoneStore = class {
  kind = "none";
  self = void 0;
  // Group names are still checked so a typo fails the same way under every coordinator.
  async signal(group, _state) {
    assertGroupName(group);
  }
  async listRuns(group) {
    assertGroupName(group);
    return [];
  }
  async cleanup(group) {
    assertGroupName(group);
  }
};

// src/coordination/from-environment.ts
var COORDINATOR_KINDS = ["auto", "azure-devops", "github", "none"];
function required(env, names, coordinator, hints = {}) {
  const missing = names.filter((n) => !env[n]);
  if (missing.length === 0) return;
  const hint = missing.map((n) => hints[n]).filter(Boolean).join(" ");
  throw new InputError(
    `coordinator ${coordinator}: missing environment variable${missing.length > 1 ? "s" : ""} ${missing.join(", ")}${hint ? `. ${hint}` : ""}`
  );
}
function positiveInt(value, name, fallback) {
  if (value === void 0 || value === "") {
    if (fallback !== void 0) return fallback;
    throw new InputError(`${name}: missing`);
  }
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InputError(`${name}: expected a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}
function createCoordinationStore(kind, env, logger, overrides = {}) {
  if (!COORDINATOR_KINDS.includes(kind)) {
    throw new InputError(`coordinator: expected one of ${COORDINATOR_KINDS.join(", ")}, got ${JSON.stringify(kind)}`);
  }
  let chosen = kind;
  if (kind === "auto") {
    chosen = env.TF_BUILD ? "azure-devops" : env.GITHUB_ACTIONS ? "github" : "none";
    if (chosen === "none") {
      logger.warning(
        "coordinator: not running in Azure Pipelines or GitHub Actions, so concurrent pipelines are not coordinated (set coordinator to azure-devops or github to coordinate, or none to silence this warning)"
      );
    } else {
      logger.debug(`coordinator: auto \u2192 ${chosen}`);
    }
  }
  if (chosen === "none") return new NoneStore();
  const e = { ...env };
  if (chosen === "azure-devops") {
    if (overrides.token) e.SYSTEM_ACCESSTOKEN = overrides.token;
    required(e, ["SYSTEM_COLLECTIONURI", "SYSTEM_TEAMPROJECT", "BUILD_BUILDID", "SYSTEM_ACCESSTOKEN"], "azure-devops", {
      SYSTEM_ACCESSTOKEN: "Map the token into the step: env: { SYSTEM_ACCESSTOKEN: $(System.AccessToken) }."
    });
    return new AzureDevOpsStore({
      collectionUri: e.SYSTEM_COLLECTIONURI,
      project: e.SYSTEM_TEAMPROJECT,
      buildId: e.BUILD_BUILDID,
      // Tags belong to the build, not the attempt; the attempt only names the run in logs.
      jobAttempt: positiveInt(e.SYSTEM_JOBATTEMPT, "SYSTEM_JOBATTEMPT", 1),
      token: e.SYSTEM_ACCESSTOKEN,
      projects: overrides.projects,
      retry: overrides.retry,
      logger
    });
  }
  if (overrides.token) e.GITHUB_TOKEN = overrides.token;
  required(e, ["GITHUB_REPOSITORY", "GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_SHA", "GITHUB_TOKEN"], "github", {
    GITHUB_TOKEN: "Pass the token (e.g. env: { GITHUB_TOKEN: ${{ github.token }} }) with permissions contents: write, actions: read."
  });
  const [owner, repo2, ...rest] = e.GITHUB_REPOSITORY.split("/");
  if (!owner || !repo2 || rest.length > 0) {
    throw new InputError(`GITHUB_REPOSITORY: expected owner/name, got ${JSON.stringify(e.GITHUB_REPOSITORY)}`);
  }
  return new GitHubStore({
    apiUrl: e.GITHUB_API_URL || "https://api.github.com",
    owner,
    repo: repo2,
    runId: e.GITHUB_RUN_ID,
    runAttempt: positiveInt(e.GITHUB_RUN_ATTEMPT, "GITHUB_RUN_ATTEMPT"),
    sha: e.GITHUB_SHA,
    token: e.GITHUB_TOKEN,
    retry: overrides.retry,
    logger
  });
}

// src/platform/inputs.ts
var COMMANDS = ["annotate", "signal", "verify", "unannotate", "publish-image-info"];
var REGISTRY_COMMANDS = ["annotate", "verify", "unannotate"];
var IMAGE_INFO_COMMANDS = ["annotate", "verify", "publish-image-info"];
var COORDINATED = ["annotate", "signal", "publish-image-info"];
var INPUTS = [
  { name: "command", description: "What to run: annotate, signal, verify, unannotate or publish-image-info.", default: "annotate" },
  { name: "registry", description: "Registry host or URL, e.g. myacr.azurecr.io or http://127.0.0.1:5000 (plain http only for loopback).", commands: REGISTRY_COMMANDS },
  { name: "registryType", description: "auto (ACR for *.azurecr.io hosts, else OCI), acr or oci.", default: "auto", commands: REGISTRY_COMMANDS },
  { name: "username", description: "Username for a plain OCI registry (basic or token auth).", commands: REGISTRY_COMMANDS },
  { name: "password", description: "Password or token for a plain OCI registry. Masked in logs.", commands: REGISTRY_COMMANDS, kind: "secret" },
  { name: "imageInfo", description: "Image-info sources, one per line: a path, an https URL, github:<owner>/<repo>/<path>@<branch> or azure-repos:<project>/<repo>/<path>@<branch>. Their union is supported.", commands: IMAGE_INFO_COMMANDS, kind: "multiline", repeatable: true },
  { name: "repoPrefix", description: "Prefix mapping image-info repositories to registry repositories, e.g. public/.", default: "", commands: ["annotate", "verify"] },
  { name: "repositories", description: "Repository globs in scope, one per line (default: every repository the image-info names).", commands: ["annotate", "verify"], kind: "multiline", repeatable: true },
  { name: "group", description: "Coordination group: the pipelines that publish to one registry and one image-info.", default: "default", commands: COORDINATED },
  { name: "state", description: "For signal: publishing (before the first push) or image-info-updated (after the image-info update is durable).", commands: ["signal"] },
  { name: "eolDate", description: "End-of-life date written into annotations, yyyy-MM-dd (default: today, UTC).", commands: ["annotate"] },
  { name: "minAge", description: "Never annotate manifests younger than this (e.g. 30m, 1h, 2d; 0 turns it off).", default: "1h", commands: ["annotate"] },
  { name: "timeout", description: "How long annotate waits for other runs of the group.", default: "60m", commands: ["annotate"] },
  { name: "pollInterval", description: "How often annotate polls the coordination store while waiting (jittered).", default: "30s", commands: ["annotate"] },
  { name: "onTimeout", description: "fail (default) or skip: succeed with a warning, annotating nothing.", default: "fail", commands: ["annotate"] },
  { name: "concurrency", description: "Registry requests in flight.", default: "8", commands: REGISTRY_COMMANDS },
  { name: "dryRun", description: "Write the plan, change nothing.", default: "false", commands: ["annotate"], kind: "boolean" },
  { name: "planFile", description: "Where annotate writes its plan (JSON). Default: a file in the runner temp directory.", commands: ["annotate"] },
  { name: "fromPlan", description: "Annotate only the digests of this eol-gate plan or ImageBuilder EOL data file; the image-info still protects.", commands: ["annotate"] },
  { name: "coordinator", description: "auto, azure-devops, github or none.", default: "auto", commands: COORDINATED },
  { name: "repair", description: "For verify: delete lifecycle marks found on supported digests.", default: "false", commands: ["verify"], kind: "boolean" },
  { name: "digest", description: "For unannotate: digests to roll back, <repository>@sha256:<hex>, one per line.", commands: ["unannotate"], kind: "multiline", repeatable: true }
];
function kebab(name) {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

// src/platform/options.ts
function readOptions(agent, now) {
  const raw = (name) => agent.input(name).trim();
  const label = (name) => agent.label(name);
  const list = (name) => agent.input(name).split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  const oneOf = (name, allowed, fallback) => {
    const value = raw(name) || fallback;
    if (!allowed.includes(value)) {
      throw new InputError(`${label(name)}: expected one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const bool = (name) => {
    const value = raw(name).toLowerCase();
    if (value === "" || value === "false") return false;
    if (value === "true") return true;
    throw new InputError(`${label(name)}: expected true or false, got ${JSON.stringify(raw(name))}`);
  };
  const duration = (name, fallback) => parseDuration(raw(name) || fallback, label(name));
  const password = agent.input("password");
  if (password) agent.setSecret(password);
  const command = oneOf("command", COMMANDS, "annotate");
  const concurrencyText = raw("concurrency") || "8";
  const concurrency = Number(concurrencyText);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new InputError(`${label("concurrency")}: expected a whole number from 1 to 64, got ${JSON.stringify(concurrencyText)}`);
  }
  const group = raw("group") || "default";
  assertGroupName(group, label("group"));
  const stateText = raw("state");
  const state = stateText ? oneOf("state", ["publishing", "image-info-updated"], "publishing") : void 0;
  const options = {
    command,
    registry: raw("registry"),
    registryType: oneOf("registryType", ["auto", "acr", "oci"], "auto"),
    username: raw("username"),
    password,
    imageInfo: list("imageInfo"),
    repoPrefix: raw("repoPrefix"),
    repositories: list("repositories"),
    group,
    state,
    eolDate: raw("eolDate") ? parseEolDate(raw("eolDate"), label("eolDate")) : utcDate(now),
    minAgeMs: duration("minAge", "1h"),
    timeoutMs: duration("timeout", "60m"),
    pollIntervalMs: duration("pollInterval", "30s"),
    onTimeout: oneOf("onTimeout", ["fail", "skip"], "fail"),
    concurrency,
    dryRun: bool("dryRun"),
    planFile: raw("planFile"),
    fromPlan: raw("fromPlan"),
    coordinator: oneOf("coordinator", COORDINATOR_KINDS, "auto"),
    repair: bool("repair"),
    digests: list("digest")
  };
  requireFor(options, agent);
  return options;
}
function requireFor(o, agent) {
  const missing = (name) => new InputError(`${agent.label(name)} is required for ${o.command}`);
  if (["annotate", "verify", "unannotate"].includes(o.command) && !o.registry) throw missing("registry");
  if (["annotate", "verify", "publish-image-info"].includes(o.command) && o.imageInfo.length === 0) throw missing("imageInfo");
  if (o.command === "signal" && !o.state) throw missing("state");
  if (o.command === "unannotate" && o.digests.length === 0) throw missing("digest");
  if (o.pollIntervalMs <= 0) throw new InputError(`${agent.label("pollInterval")}: must be more than 0`);
}

// src/platform/summary.ts
function annotateSummary(result, registry, planFile, now) {
  const c = result.counts;
  const lines = [
    `## eol-gate annotate: ${registry}`,
    "",
    result.outcome === "dry-run" ? "**Dry run: nothing was written.**\n" : "",
    result.outcome === "timed-out" ? "**Timed out waiting for other runs: nothing was annotated.**\n" : "",
    "| | count |",
    "|---|---:|",
    `| annotated end-of-life | ${c.annotated} |`,
    `| planned (candidates) | ${c.candidates} |`,
    `| already annotated | ${c.alreadyAnnotated} |`,
    `| younger than minAge | ${c.skippedTooYoung} |`
  ];
  if (result.plan) {
    lines.push("", "| excluded because | count |", "|---|---:|");
    for (const reason of EXCLUSION_REASONS) lines.push(`| ${reason} | ${result.plan.excluded[reason]} |`);
    lines.push("", `EOL date: \`${result.plan.eolDate}\` \xB7 image-info fingerprint: \`${result.plan.fingerprint}\``);
  }
  lines.push("", `Waited ${formatDuration(result.waitedMs)} for ${result.waitedFor.length} run(s); validation restarts: ${result.restarts}.`);
  for (const run of result.waitedFor) lines.push(`- ${describeRun(run, now)}`);
  if (planFile) lines.push("", `Plan file: \`${planFile}\``);
  return `${lines.filter((l, i) => l !== "" || lines[i - 1] !== "").join("\n")}
`;
}
function verifySummary(result, registry) {
  const lines = [
    `## eol-gate verify: ${registry}`,
    "",
    `Checked ${result.checked} supported digest(s): ${result.findings.length} carry a lifecycle mark${result.repaired ? `, ${result.repaired} mark(s) removed` : ""}.`
  ];
  if (result.findings.length > 0) {
    lines.push("", "| digest | why protected | marks |", "|---|---|---|");
    for (const f of result.findings) {
      lines.push(`| \`${f.repository}@${f.digest}\` | ${f.why} | ${f.marks.map((m) => m.date ?? "no date").join(", ")} |`);
    }
  }
  return `${lines.join("\n")}
`;
}

// src/imageinfo/factory.ts
var import_node_url = require("node:url");

// src/imageinfo/git-blob.ts
var import_node_crypto2 = require("node:crypto");
function gitBlobId(data) {
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  return (0, import_node_crypto2.createHash)("sha1").update(`blob ${bytes.length}\0`).update(bytes).digest("hex");
}

// src/imageinfo/source.ts
var ABSENT_FINGERPRINT = "absent";
var ImageInfoNotFoundError = class extends InputError {
};

// src/imageinfo/azure-repos-source.ts
var API = "api-version=7.1";
var PUSH_RETRIES = 5;
var AzureReposSource = class {
  constructor(location, options) {
    this.location = location;
    const collection = new URL(options.collectionUri);
    assertSecureUrl(collection, "System.CollectionUri");
    this.base = `${collection.toString().replace(/\/+$/, "")}/${encodeURIComponent(location.project)}/_apis/git/repositories/${encodeURIComponent(location.repo)}`;
    this.token = options.token;
    this.retry = options.retry ?? DEFAULT_RETRY;
  }
  location;
  base;
  token;
  retry;
  /** blob id read → commit it was read at, so a write can push on exactly that commit. */
  readAt = /* @__PURE__ */ new Map();
  get name() {
    const { project, repo: repo2, path, branch } = this.location;
    return `azure-repos:${project}/${repo2}/${path}@${branch}`;
  }
  get itemPath() {
    return `/${this.location.path}`;
  }
  headers(accept = "application/json") {
    const h = { accept };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  }
  async read() {
    const { commit, item } = await this.snapshot();
    if (!item) {
      throw new ImageInfoNotFoundError(
        `${this.name}: image-info not found (no such file at commit ${commit})`
      );
    }
    return { text: item.text, fingerprint: item.objectId };
  }
  async write(text, expectedFingerprint, message) {
    const creating = expectedFingerprint === ABSENT_FINGERPRINT;
    let commit = this.readAt.get(expectedFingerprint);
    let rejected;
    for (let attempt = 0; attempt <= PUSH_RETRIES; attempt++) {
      if (commit === void 0) {
        const now = await this.snapshot();
        if ((now.item?.objectId ?? ABSENT_FINGERPRINT) !== expectedFingerprint) return "conflict";
        if (rejected && rejected.commit === now.commit) {
          throw new RuntimeError(`${this.name}: Azure Repos refused the push (${rejected.detail})`);
        }
        commit = now.commit;
      }
      const pushed = await this.push(text, commit, creating, message);
      if (typeof pushed === "string") {
        const fingerprint = gitBlobId(text);
        if (pushed) this.readAt.set(fingerprint, pushed);
        return { text, fingerprint };
      }
      rejected = { commit, detail: pushed.rejected };
      commit = void 0;
    }
    return "conflict";
  }
  /** The branch head and the file at it (undefined when the file does not exist there). */
  async snapshot() {
    const commit = await this.head();
    const url = `${this.base}/items?path=${encodeURIComponent(this.itemPath)}&versionDescriptor.version=${commit}&versionDescriptor.versionType=commit&includeContent=true&$format=json&${API}`;
    const res = await fetchWithRetry(url, { headers: this.headers() }, this.retry);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {
      });
      return { commit };
    }
    if (!res.ok) await this.fail(res, "GET", url, "read");
    const body = await res.json();
    if (typeof body.objectId !== "string" || body.isFolder || body.gitObjectType && body.gitObjectType !== "blob") {
      throw new InputError(`${this.name}: not a file`);
    }
    let bytes = typeof body.content === "string" ? Buffer.from(body.content, "utf8") : void 0;
    if (!bytes || gitBlobId(bytes) !== body.objectId) {
      const blobUrl = `${this.base}/blobs/${body.objectId}?$format=octetstream&${API}`;
      const blob = await fetchWithRetry(
        blobUrl,
        { headers: this.headers("application/octet-stream") },
        this.retry
      );
      if (!blob.ok) await this.fail(blob, "GET", blobUrl, "read");
      bytes = Buffer.from(await blob.arrayBuffer());
      if (gitBlobId(bytes) !== body.objectId) {
        throw new RuntimeError(
          `${this.name}: content does not match blob ${body.objectId} (truncated or altered response)`
        );
      }
    }
    this.readAt.set(body.objectId, commit);
    return { commit, item: { objectId: body.objectId, text: bytes.toString("utf8") } };
  }
  async head() {
    const ref2 = `refs/heads/${this.location.branch}`;
    const url = `${this.base}/refs?filter=${encodeURIComponent(`heads/${this.location.branch}`)}&${API}`;
    const res = await fetchWithRetry(url, { headers: this.headers() }, this.retry);
    if (!res.ok) await this.fail(res, "GET", url, "read");
    const body = await res.json();
    const found = body.value?.find((r) => r.name === ref2);
    if (!found?.objectId)
      throw new ImageInfoNotFoundError(`${this.name}: branch ${this.location.branch} not found`);
    return found.objectId;
  }
  /** The new commit id ('' when the answer lacks it), or why the push was refused (409/400). */
  async push(text, oldCommit, creating, message) {
    const url = `${this.base}/pushes?${API}`;
    const body = {
      refUpdates: [{ name: `refs/heads/${this.location.branch}`, oldObjectId: oldCommit }],
      commits: [
        {
          comment: message,
          changes: [
            {
              changeType: creating ? "add" : "edit",
              item: { path: this.itemPath },
              newContent: {
                content: Buffer.from(text, "utf8").toString("base64"),
                contentType: "base64encoded"
              }
            }
          ]
        }
      ]
    };
    const res = await fetchWithRetry(
      url,
      {
        method: "POST",
        headers: { ...this.headers(), "content-type": "application/json" },
        body: JSON.stringify(body)
      },
      this.retry
    );
    if (res.status === 200 || res.status === 201) {
      const out = await res.json();
      return out.refUpdates?.[0]?.newObjectId ?? "";
    }
    if (res.status === 409 || res.status === 400)
      return { rejected: `HTTP ${res.status} ${await errorDetail(res)}` };
    return this.fail(res, "POST", url, "write");
  }
  async fail(res, method, url, action) {
    const detail = await errorDetail(res);
    if (res.status === 401)
      throw new InputError(`${this.name}: Azure DevOps rejected the token (HTTP 401)`);
    if (res.status === 403) {
      const need = action === "write" ? "'Contribute' permission on the repository" : "'Read' permission on the repository";
      throw new InputError(
        `${this.name}: HTTP 403 on ${action}: the token (System.AccessToken of the build service identity) lacks ${need} (${detail})`
      );
    }
    if (res.status === 404)
      throw new InputError(
        `${this.name}: HTTP 404 on ${action}: no such project or repository (${detail})`
      );
    throw new HttpError(res.status, method, url, detail);
  }
};

// src/imageinfo/file-source.ts
var import_node_crypto3 = require("node:crypto");
var import_node_fs = require("node:fs");
var import_promises = require("node:fs/promises");
var import_node_os = require("node:os");
var import_node_path = require("node:path");
var FileSource = class {
  constructor(path, options = {}) {
    this.path = path;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 3e4;
    this.staleLockMs = options.staleLockMs ?? 6e4;
    this.lockPollMs = options.lockPollMs ?? 20;
  }
  path;
  lockTimeoutMs;
  staleLockMs;
  lockPollMs;
  get name() {
    return this.path;
  }
  get lockPath() {
    return `${this.path}.lock`;
  }
  async read() {
    const text = await this.readCurrent();
    if (text === void 0) {
      throw new ImageInfoNotFoundError(`${this.path}: image-info not found (no such file)`);
    }
    return { text, fingerprint: sha256Digest(text) };
  }
  async write(text, expectedFingerprint, _message) {
    const lock = await this.acquireLock();
    try {
      const current = await this.readCurrent();
      const actual = current === void 0 ? ABSENT_FINGERPRINT : sha256Digest(current);
      if (actual !== expectedFingerprint) return "conflict";
      if (!await this.stillOwn(lock)) return "conflict";
      await this.replaceAtomically(text);
      return { text, fingerprint: sha256Digest(text) };
    } finally {
      await this.releaseLock(lock);
    }
  }
  async readCurrent() {
    try {
      return await (0, import_promises.readFile)(this.path, "utf8");
    } catch (e) {
      const code = e.code;
      if (code === "ENOENT") return void 0;
      throw new InputError(
        `${this.path}: cannot read image-info (${code ?? e.message})`
      );
    }
  }
  /** temp file in the same directory (same file system), fsync, rename over the target. */
  async replaceAtomically(text) {
    const tmp = `${this.path}.${process.pid}.${(0, import_node_crypto3.randomBytes)(6).toString("hex")}.tmp`;
    let handle;
    try {
      const mode = await (0, import_promises.stat)(this.path).then(
        (s) => s.mode & 511,
        () => 420
      );
      handle = await (0, import_promises.open)(tmp, import_node_fs.constants.O_CREAT | import_node_fs.constants.O_EXCL | import_node_fs.constants.O_WRONLY, mode);
      await handle.writeFile(text, "utf8");
      await handle.sync();
      await handle.close();
      handle = void 0;
      await (0, import_promises.rename)(tmp, this.path);
    } catch (e) {
      await handle?.close().catch(() => {
      });
      await (0, import_promises.unlink)(tmp).catch(() => {
      });
      throw new RuntimeError(
        `${this.path}: cannot write image-info (${e.code ?? e.message}); the file is unchanged`
      );
    }
    const dir = await (0, import_promises.open)((0, import_node_path.dirname)(this.path), "r").catch(() => void 0);
    await dir?.sync().catch(() => {
    });
    await dir?.close().catch(() => {
    });
  }
  async acquireLock() {
    const info = {
      token: (0, import_node_crypto3.randomBytes)(12).toString("hex"),
      pid: process.pid,
      host: (0, import_node_os.hostname)(),
      since: (/* @__PURE__ */ new Date()).toISOString()
    };
    const deadline = Date.now() + this.lockTimeoutMs;
    for (; ; ) {
      try {
        const handle = await (0, import_promises.open)(
          this.lockPath,
          import_node_fs.constants.O_CREAT | import_node_fs.constants.O_EXCL | import_node_fs.constants.O_WRONLY,
          420
        );
        try {
          await handle.writeFile(JSON.stringify(info));
        } finally {
          await handle.close();
        }
        return info;
      } catch (e) {
        const code = e.code;
        if (code !== "EEXIST") {
          throw new RuntimeError(
            `${this.lockPath}: cannot create lock file (${code ?? e.message})`
          );
        }
      }
      const holder = await this.readLock();
      if (holder && await this.isStale(holder)) {
        await this.breakLock(holder.raw);
        continue;
      }
      if (Date.now() >= deadline) {
        const who = holder?.info ? `pid ${holder.info.pid} on ${holder.info.host} since ${holder.info.since}` : "another writer";
        throw new RuntimeError(
          `${this.path}: timed out after ${this.lockTimeoutMs} ms waiting for ${this.lockPath} (held by ${who}); if no writer is running, delete the lock file`
        );
      }
      await new Promise((r) => setTimeout(r, this.lockPollMs * (0.5 + Math.random())));
    }
  }
  async readLock() {
    try {
      const [raw, s] = await Promise.all([(0, import_promises.readFile)(this.lockPath, "utf8"), (0, import_promises.stat)(this.lockPath)]);
      let info;
      try {
        info = JSON.parse(raw);
      } catch {
      }
      return { raw, info, mtimeMs: s.mtimeMs };
    } catch {
      return void 0;
    }
  }
  async isStale(holder) {
    if (Date.now() - holder.mtimeMs > this.staleLockMs) return true;
    if (holder.info && holder.info.host === (0, import_node_os.hostname)() && holder.info.pid !== process.pid) {
      try {
        process.kill(holder.info.pid, 0);
      } catch (e) {
        return e.code === "ESRCH";
      }
    }
    return false;
  }
  /**
   * Removes a stale lock only if it still holds what we judged stale: rename it away, then put it
   * back if it turned out to be a fresh lock someone created in between.
   */
  async breakLock(staleRaw) {
    const tomb = `${this.lockPath}.stale.${(0, import_node_crypto3.randomBytes)(6).toString("hex")}`;
    try {
      await (0, import_promises.rename)(this.lockPath, tomb);
    } catch {
      return;
    }
    const raw = await (0, import_promises.readFile)(tomb, "utf8").catch(() => staleRaw);
    if (raw !== staleRaw) {
      await (0, import_promises.link)(tomb, this.lockPath).catch(() => {
      });
    }
    await (0, import_promises.unlink)(tomb).catch(() => {
    });
  }
  async stillOwn(lock) {
    const holder = await this.readLock();
    return holder?.info?.token === lock.token;
  }
  async releaseLock(lock) {
    if (await this.stillOwn(lock)) await (0, import_promises.unlink)(this.lockPath).catch(() => {
    });
  }
};

// src/imageinfo/github-source.ts
var API_VERSION2 = "2022-11-28";
function retryable(res) {
  if ([408, 429, 500, 502, 503, 504].includes(res.status)) return true;
  return res.status === 403 && (res.headers.has("retry-after") || res.headers.get("x-ratelimit-remaining") === "0");
}
var GitHubContentsSource = class {
  constructor(location, options = {}) {
    this.location = location;
    const api = new URL(options.apiUrl ?? "https://api.github.com");
    assertSecureUrl(api, "GITHUB_API_URL");
    this.apiUrl = api.toString().replace(/\/+$/, "");
    this.token = options.token;
    this.retry = options.retry ?? DEFAULT_RETRY;
  }
  location;
  apiUrl;
  token;
  retry;
  get name() {
    const { owner, repo: repo2, path, branch } = this.location;
    return `github:${owner}/${repo2}/${path}@${branch}`;
  }
  get repoUrl() {
    const { owner, repo: repo2 } = this.location;
    return `${this.apiUrl}/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo2)}`;
  }
  get contentsUrl() {
    return `${this.repoUrl}/contents/${this.location.path.split("/").map(encodeURIComponent).join("/")}`;
  }
  headers(accept = "application/vnd.github+json") {
    const h = {
      accept,
      "x-github-api-version": API_VERSION2,
      "user-agent": "eol-gate"
    };
    if (this.token) h.authorization = `Bearer ${this.token}`;
    return h;
  }
  async read() {
    const url = `${this.contentsUrl}?ref=${encodeURIComponent(this.location.branch)}`;
    const res = await fetchWithRetry(url, { headers: this.headers() }, this.retry, retryable);
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {
      });
      throw new ImageInfoNotFoundError(
        `${this.name}: image-info not found (HTTP 404: no such file, branch or repository, or the token cannot see it)`
      );
    }
    if (!res.ok) await this.fail(res, "GET", url, "read");
    const body = await res.json();
    if (Array.isArray(body) || body.type !== "file" || typeof body.sha !== "string") {
      throw new InputError(
        `${this.name}: not a file (GitHub returned ${Array.isArray(body) ? "a directory" : `type ${JSON.stringify(body.type)}`})`
      );
    }
    let bytes;
    if (body.encoding === "base64" && typeof body.content === "string" && (body.content !== "" || body.size === 0)) {
      bytes = Buffer.from(body.content, "base64");
    } else {
      bytes = await this.readBlob(body.sha);
    }
    if (gitBlobId(bytes) !== body.sha) {
      throw new RuntimeError(
        `${this.name}: content does not match blob sha ${body.sha} (truncated or altered response)`
      );
    }
    return { text: bytes.toString("utf8"), fingerprint: body.sha };
  }
  async readBlob(sha) {
    const url = `${this.repoUrl}/git/blobs/${sha}`;
    const res = await fetchWithRetry(
      url,
      { headers: this.headers("application/vnd.github.raw+json") },
      this.retry,
      retryable
    );
    if (!res.ok) await this.fail(res, "GET", url, "read");
    return Buffer.from(await res.arrayBuffer());
  }
  async write(text, expectedFingerprint, message) {
    const creating = expectedFingerprint === ABSENT_FINGERPRINT;
    const body = {
      message,
      content: Buffer.from(text, "utf8").toString("base64"),
      branch: this.location.branch
    };
    if (!creating) body.sha = expectedFingerprint;
    const res = await fetchWithRetry(
      this.contentsUrl,
      {
        method: "PUT",
        headers: { ...this.headers(), "content-type": "application/json" },
        body: JSON.stringify(body)
      },
      this.retry,
      retryable
    );
    if (res.status === 200 || res.status === 201) {
      const out = await res.json();
      return { text, fingerprint: out.content?.sha ?? gitBlobId(text) };
    }
    if (res.status === 409) {
      await res.body?.cancel().catch(() => {
      });
      return "conflict";
    }
    if (res.status === 422) {
      const detail = await errorDetail(res);
      if (/\bsha\b/i.test(detail)) return "conflict";
      throw new InputError(`${this.name}: GitHub rejected the update (HTTP 422 ${detail})`);
    }
    return this.fail(res, "PUT", this.contentsUrl, "write");
  }
  async fail(res, method, url, action) {
    const detail = await errorDetail(res);
    if (res.status === 401)
      throw new InputError(`${this.name}: GitHub rejected the token (HTTP 401 ${detail})`);
    if (res.status === 403 && !retryable(res)) {
      const need = action === "write" ? "contents: write" : "contents: read";
      throw new InputError(
        `${this.name}: HTTP 403 on ${action}: the token lacks \`${need}\` permission on ${this.location.owner}/${this.location.repo} (workflow: \`permissions: { ${need} }\`) (${detail})`
      );
    }
    if (res.status === 404) {
      throw new InputError(
        `${this.name}: HTTP 404 on ${action}: no such repository or branch, or the token cannot see it`
      );
    }
    throw new HttpError(res.status, method, url, detail);
  }
};

// src/imageinfo/url-source.ts
var UrlSource = class {
  url;
  retry;
  cached;
  constructor(url, options = {}) {
    this.url = new URL(url);
    assertSecureUrl(this.url, "imageInfo");
    this.retry = options.retry ?? DEFAULT_RETRY;
  }
  get name() {
    return redactUrl(this.url.toString());
  }
  async read() {
    const headers = {
      "cache-control": "no-cache",
      accept: "application/json"
    };
    if (this.cached) headers["if-none-match"] = this.cached.etag;
    const res = await fetchWithRetry(this.url.toString(), { headers }, this.retry);
    if (res.status === 304 && this.cached) {
      await res.body?.cancel().catch(() => {
      });
      return this.cached.snapshot;
    }
    if (res.status === 404)
      throw new ImageInfoNotFoundError(`${this.name}: image-info not found (HTTP 404)`);
    if (!res.ok)
      throw new HttpError(res.status, "GET", this.url.toString(), await errorDetail(res));
    const text = await res.text();
    const snapshot = { text, fingerprint: sha256Digest(text) };
    const etag = res.headers.get("etag");
    this.cached = etag ? { etag, snapshot } : void 0;
    return snapshot;
  }
};

// src/imageinfo/factory.ts
function parseSourceSpec(spec) {
  const value = spec.trim();
  if (value === "") throw new InputError("imageInfo: empty image-info location");
  const repoSpec = /^(github|azure-repos):(.*)$/.exec(value);
  if (repoSpec) {
    const [, kind, rest] = repoSpec;
    const syntax = `${kind}:<${kind === "github" ? "owner" : "project"}>/<repo>/<path>@<branch>`;
    const at = rest.lastIndexOf("@");
    const where = at < 0 ? rest : rest.slice(0, at);
    const branch = at < 0 ? "" : rest.slice(at + 1);
    const [first, repo2, ...pathParts] = where.split("/");
    const path = pathParts.join("/");
    if (!first || !repo2 || !path || pathParts.some((p) => p === "" || p === "." || p === "..") || !branch) {
      throw new InputError(`imageInfo: ${JSON.stringify(value)} is not ${syntax}`);
    }
    return kind === "github" ? { kind, owner: first, repo: repo2, path, branch } : { kind: "azure-repos", project: first, repo: repo2, path, branch };
  }
  if (/^https?:\/\//i.test(value)) return { kind: "url", url: value };
  if (/^file:\/\//i.test(value)) return { kind: "file", path: (0, import_node_url.fileURLToPath)(value) };
  if (/^[a-z][a-z0-9+.-]+:/i.test(value)) {
    throw new InputError(
      `imageInfo: unsupported location ${JSON.stringify(value.split(":")[0] + ":")} (use a path, https://, github: or azure-repos:)`
    );
  }
  return { kind: "file", path: value };
}
function createImageInfoSource(spec, options = {}) {
  const parsed = parseSourceSpec(spec);
  switch (parsed.kind) {
    case "file":
      return new FileSource(parsed.path, options.file);
    case "url":
      return new UrlSource(parsed.url, { retry: options.retry });
    case "github":
      return new GitHubContentsSource(parsed, {
        apiUrl: options.githubApiUrl,
        token: options.githubToken,
        retry: options.retry
      });
    case "azure-repos":
      if (!options.azureCollectionUri) {
        throw new InputError(
          `imageInfo: ${spec} needs the Azure DevOps collection URI (System.CollectionUri)`
        );
      }
      return new AzureReposSource(parsed, {
        collectionUri: options.azureCollectionUri,
        token: options.azureToken,
        retry: options.retry
      });
  }
}

// src/core/ports.ts
var silentLogger = {
  info: () => {
  },
  warning: () => {
  },
  error: () => {
  },
  debug: () => {
  },
  group: (_title, fn) => fn()
};

// src/registry/oci/auth.ts
function parseChallenge(header) {
  if (!header) return void 0;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return void 0;
  const scheme = m[1].toLowerCase();
  if (scheme !== "bearer" && scheme !== "basic") return void 0;
  const params = {};
  const re = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (let p = re.exec(m[2]); p; p = re.exec(m[2])) {
    params[p[1].toLowerCase()] = p[2] !== void 0 ? p[2].replace(/\\(.)/g, "$1") : p[3];
  }
  return { scheme, params };
}
function basicHeader(creds) {
  return `Basic ${Buffer.from(`${creds.username ?? ""}:${creds.password ?? ""}`).toString("base64")}`;
}
var TokenAuth = class {
  constructor(host, creds, retry) {
    this.host = host;
    this.creds = creds;
    this.retry = retry;
  }
  host;
  creds;
  retry;
  tokens = /* @__PURE__ */ new Map();
  /** A cached, unexpired token for `key`, without asking the token endpoint. */
  async cached(key) {
    const entry = this.tokens.get(key);
    if (!entry) return void 0;
    try {
      const t = await entry;
      if (t.expiresAt - 1e4 > Date.now()) return t.token;
    } catch {
    }
    this.tokens.delete(key);
    return void 0;
  }
  forget(key) {
    this.tokens.delete(key);
  }
  /** Fetches (or joins an in-flight fetch of) a token for `key` from the challenge's realm. */
  token(key, challenge, scopes) {
    let entry = this.tokens.get(key);
    if (!entry) {
      entry = this.fetchToken(challenge, scopes);
      this.tokens.set(key, entry);
      entry.catch(() => this.tokens.delete(key));
    }
    return entry.then((t) => t.token);
  }
  async fetchToken(challenge, scopes) {
    const realm = challenge.params.realm;
    if (!realm)
      throw new RuntimeError(
        `authentication failed for ${this.host}: bearer challenge without a realm`
      );
    let url;
    try {
      url = new URL(realm);
    } catch {
      throw new RuntimeError(`authentication failed for ${this.host}: invalid token realm`);
    }
    try {
      assertSecureUrl(url, "token realm");
    } catch (e) {
      throw new RuntimeError(`authentication failed for ${this.host}: ${e.message}`);
    }
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    for (const scope of scopes) url.searchParams.append("scope", scope);
    const headers = { Accept: "application/json" };
    if (this.creds.username !== void 0) headers.Authorization = basicHeader(this.creds);
    const res = await fetchWithRetry(url.toString(), { method: "GET", headers }, this.retry);
    if (res.status === 401 || res.status === 403) {
      await res.body?.cancel().catch(() => {
      });
      throw new RuntimeError(
        `authentication failed for ${this.host}: the token endpoint answered HTTP ${res.status}`
      );
    }
    if (!res.ok) {
      await res.body?.cancel().catch(() => {
      });
      throw new HttpError(res.status, "GET", url.toString(), "from the token endpoint");
    }
    const body = await res.json().catch(() => void 0);
    const token = typeof body?.token === "string" ? body.token : body?.access_token;
    if (typeof token !== "string" || !token) {
      throw new RuntimeError(
        `authentication failed for ${this.host}: the token endpoint returned no token`
      );
    }
    const seconds = typeof body?.expires_in === "number" && body.expires_in > 0 ? body.expires_in : 60;
    return { token, expiresAt: Date.now() + seconds * 1e3 };
  }
};

// src/registry/oci/client.ts
var OciClient = class {
  constructor(url, creds, retry, logger) {
    this.creds = creds;
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      throw new InputError(`registry: invalid URL ${JSON.stringify(url)}`);
    }
    assertSecureUrl(parsed, "registry");
    if (parsed.username || parsed.password) {
      throw new InputError("registry: put credentials in username/password, not in the URL");
    }
    this.base = new URL(parsed.origin);
    this.host = parsed.host;
    const policy = retry ?? DEFAULT_RETRY;
    this.retry = {
      ...policy,
      onRetry: (info) => {
        policy.onRetry?.(info);
        logger.info(
          `${this.host}: retry ${info.attempt} in ${Math.round(info.delayMs)} ms after ${info.cause} (${info.url})`
        );
      }
    };
    this.auth = new TokenAuth(this.host, creds, this.retry);
  }
  creds;
  base;
  host;
  auth;
  retry;
  /** Learnt from the first challenge, so later scopes get a token without a 401 round trip. */
  bearer;
  basic = false;
  url(pathOrUrl) {
    return new URL(pathOrUrl, this.base).toString();
  }
  /**
   * Sends one request with retries (429/5xx/resets) and auth. Returns the response for any
   * status but 401; a 401 after authenticating throws (never read as "absent").
   */
  async request(pathOrUrl, opts = {}) {
    const url = this.url(pathOrUrl);
    const method = opts.method ?? "GET";
    const sameOrigin = new URL(url).origin === this.base.origin;
    const key = scopeKey(new URL(url).pathname, method);
    let authorization = sameOrigin ? await this.knownAuthorization(key) : void 0;
    for (let attempt = 0; ; attempt++) {
      const headers = { ...opts.headers };
      if (authorization) headers.Authorization = authorization;
      const body = opts.body ? new Uint8Array(opts.body) : void 0;
      const res = await fetchWithRetry(url, { method, headers, body }, this.retry);
      if (res.status !== 401 || !sameOrigin) return res;
      const challenge = parseChallenge(res.headers.get("www-authenticate"));
      if (attempt >= 1 || !challenge) {
        if (opts.insufficientScopeOk && this.bearer && authorization?.startsWith("Bearer "))
          return res;
        await res.body?.cancel().catch(() => {
        });
        throw new RuntimeError(
          `authentication failed for ${this.host}: HTTP 401 on ${method} ${new URL(url).pathname}`
        );
      }
      await res.body?.cancel().catch(() => {
      });
      if (challenge.scheme === "basic") {
        if (this.creds.username === void 0) {
          throw new RuntimeError(
            `authentication failed for ${this.host}: the registry requires a username and password`
          );
        }
        this.basic = true;
        authorization = basicHeader(this.creds);
      } else {
        this.bearer = challenge;
        this.auth.forget(key);
        const scopes = challenge.params.scope ? challenge.params.scope.split(" ").filter(Boolean) : scopesOf(key);
        authorization = `Bearer ${await this.auth.token(key, challenge, scopes)}`;
      }
    }
  }
  async knownAuthorization(key) {
    if (this.basic) return basicHeader(this.creds);
    const cached = await this.auth.cached(key);
    if (cached) return `Bearer ${cached}`;
    if (this.bearer) return `Bearer ${await this.auth.token(key, this.bearer, scopesOf(key))}`;
    return void 0;
  }
  /** Like `request` but throws `HttpError` unless the status is one of `ok`. */
  async expect(pathOrUrl, ok, opts = {}) {
    const res = await this.request(pathOrUrl, opts);
    if (!ok.includes(res.status))
      throw await httpError(res, opts.method ?? "GET", this.url(pathOrUrl));
    return res;
  }
  /**
   * Follows `Link: <…>; rel="next"` from `first`, yielding each page's JSON. Stops at a URL it
   * has already fetched so a buggy registry cannot loop forever.
   */
  async *pages(first, opts = {}) {
    const seen = /* @__PURE__ */ new Set();
    for (let next = this.url(first); next && !seen.has(next); ) {
      seen.add(next);
      const res = await this.request(next, opts);
      if (res.status === 404 && opts.notFound === "empty") {
        await res.body?.cancel().catch(() => {
        });
        return;
      }
      if (!res.ok) throw await httpError(res, "GET", next);
      const page = await readJson(res, next);
      const link2 = nextLink(res.headers.get("link"));
      next = link2 ? new URL(link2, next).toString() : void 0;
      yield page;
    }
  }
};
function scopeKey(pathname, method) {
  if (/^\/v2\/_catalog\/?$/.test(pathname)) return "registry:catalog:*";
  const m = /^\/v2\/(.+?)\/(manifests|blobs|tags|referrers)\//.exec(pathname);
  if (!m) return "";
  const name = decodeURIComponent(m[1]);
  const upper = method.toUpperCase();
  if (upper === "GET" || upper === "HEAD") return `repository:${name}:pull`;
  if (upper === "DELETE") return `repository:${name}:delete`;
  return `repository:${name}:pull,push`;
}
function scopesOf(key) {
  return key ? [key] : [];
}
function nextLink(header) {
  if (!header) return void 0;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2])) return m[1];
  }
  return void 0;
}
async function httpError(res, method, url) {
  return new HttpError(res.status, method, url, await errorDetail(res));
}
async function readJson(res, url) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new RuntimeError(`${url}: the registry answered invalid JSON`);
  }
}
async function errorCode(res) {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text);
    const code = body.errors?.[0]?.code;
    return typeof code === "string" ? code : void 0;
  } catch {
    return void 0;
  }
}

// src/registry/oci/manifests.ts
var ACCEPT_MANIFESTS = MANIFEST_MEDIA_TYPES.join(", ");
function manifestPath(repo2, reference) {
  return `/v2/${repo2}/manifests/${reference}`;
}
function blobPath(repo2, digest) {
  return `/v2/${repo2}/blobs/${digest}`;
}
function parseManifest(bytes, where) {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes));
    if (json && typeof json === "object" && !Array.isArray(json)) return json;
  } catch {
  }
  throw new RuntimeError(`${where}: the registry returned a manifest that is not a JSON object`);
}
async function getManifest(client, repo2, reference) {
  const path = manifestPath(repo2, reference);
  const res = await client.request(path, { headers: { Accept: ACCEPT_MANIFESTS } });
  if (res.status === 404) {
    await res.body?.cancel().catch(() => {
    });
    return void 0;
  }
  if (!res.ok) throw await httpError(res, "GET", client.url(path));
  const bytes = new Uint8Array(await res.arrayBuffer());
  const digest = sha256Digest(bytes);
  if (reference.startsWith("sha256:") && digest !== reference) {
    throw new RuntimeError(`${client.host}: manifest ${repo2}@${reference} has digest ${digest}`);
  }
  const bodyType = parseManifest(bytes, `${repo2}:${reference}`).mediaType;
  const mediaType = bodyType ?? res.headers.get("content-type")?.split(";")[0].trim() ?? "";
  return { bytes, mediaType, digest };
}
async function putManifest(client, repo2, reference, bytes, mediaType) {
  const digest = sha256Digest(bytes);
  const res = await client.expect(manifestPath(repo2, reference), [200, 201, 202], {
    method: "PUT",
    headers: { "Content-Type": mediaType },
    body: bytes
  });
  await res.body?.cancel().catch(() => {
  });
  const returned = res.headers.get("docker-content-digest");
  if (returned && returned !== digest) {
    throw new RuntimeError(
      `${client.host}: pushed ${repo2} manifest ${digest} but the registry stored ${returned}`
    );
  }
  return { digest, subjectHeader: res.headers.has("oci-subject") };
}
async function deleteManifest(client, repo2, digest) {
  const res = await client.expect(manifestPath(repo2, digest), [200, 202, 204, 404], {
    method: "DELETE"
  });
  await res.body?.cancel().catch(() => {
  });
  return res.status !== 404;
}
async function blobExists(client, repo2, digest) {
  const res = await client.expect(blobPath(repo2, digest), [200, 404], { method: "HEAD" });
  await res.body?.cancel().catch(() => {
  });
  return res.status === 200;
}
async function putBlob(client, repo2, bytes) {
  const digest = sha256Digest(bytes);
  if (await blobExists(client, repo2, digest)) return digest;
  const start = await client.expect(`/v2/${repo2}/blobs/uploads/`, [202], { method: "POST" });
  await start.body?.cancel().catch(() => {
  });
  const location = start.headers.get("location");
  if (!location)
    throw new RuntimeError(`${client.host}: blob upload for ${repo2} answered without a Location`);
  const target = new URL(location, client.base);
  target.searchParams.set("digest", digest);
  const done = await client.expect(target.toString(), [201, 204], {
    method: "PUT",
    headers: { "Content-Type": "application/octet-stream" },
    body: bytes
  });
  await done.body?.cancel().catch(() => {
  });
  return digest;
}
async function describeManifest(client, repo2, digest) {
  const path = manifestPath(repo2, digest);
  const res = await client.expect(path, [200, 404], {
    method: "HEAD",
    headers: { Accept: ACCEPT_MANIFESTS }
  });
  await res.body?.cancel().catch(() => {
  });
  if (res.status === 404) return void 0;
  const size = Number(res.headers.get("content-length"));
  const returned = res.headers.get("docker-content-digest");
  const mediaType = res.headers.get("content-type")?.split(";")[0].trim();
  if (returned === digest && Number.isInteger(size) && size > 0 && mediaType && mediaType !== "application/json") {
    return { mediaType, digest, size };
  }
  const m = await getManifest(client, repo2, digest);
  return m && { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length };
}

// src/registry/oci/pool.ts
async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  let failed = false;
  const guarded = async () => {
    try {
      await worker();
    } catch (e) {
      failed = true;
      next = items.length;
      throw e;
    }
  };
  const settled = await Promise.allSettled(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, guarded)
  );
  if (failed) throw settled.find((s) => s.status === "rejected").reason;
  return results;
}

// src/registry/oci/inventory.ts
var IMAGE_CONFIG_TYPES = /* @__PURE__ */ new Set([
  "application/vnd.oci.image.config.v1+json",
  "application/vnd.docker.container.image.v1+json"
]);
async function listRepositories(client, pageSize) {
  const first = `/v2/_catalog?n=${pageSize}`;
  const res = await client.request(first, { insufficientScopeOk: true });
  if (res.status === 401 || res.status === 403 || res.status === 404) {
    await res.body?.cancel().catch(() => {
    });
    return void 0;
  }
  if (!res.ok) throw await httpError(res, "GET", client.url(first));
  const names = [
    ...(await readJson(res, first)).repositories ?? []
  ];
  const next = nextLink(res.headers.get("link"));
  if (next) {
    for await (const page of client.pages(
      new URL(next, client.url(first)).toString()
    )) {
      names.push(...page.repositories ?? []);
    }
  }
  return [...new Set(names)];
}
async function listTags(client, repo2, pageSize) {
  const tags = [];
  for await (const page of client.pages(
    `/v2/${repo2}/tags/list?n=${pageSize}`,
    {
      notFound: "empty"
    }
  )) {
    tags.push(...page.tags ?? []);
  }
  return [...new Set(tags)].sort();
}
async function listManifests(client, repo2, pageSize, concurrency) {
  const tags = await listTags(client, repo2, pageSize);
  const fetched = await mapLimit(tags, concurrency, async (tag) => ({
    tag,
    m: await getManifest(client, repo2, tag)
  }));
  const records = /* @__PURE__ */ new Map();
  for (const { tag, m } of fetched) {
    if (!m) continue;
    const existing = records.get(m.digest);
    if (existing) {
      existing.tags.push(tag);
      continue;
    }
    records.set(m.digest, recordOf(repo2, tag, m));
  }
  for (const { tag, m } of fetched) {
    if (!m) continue;
    const json = parseManifest(m.bytes, `${repo2}:${tag}`);
    const subject = FALLBACK_TAG.test(tag) ? tag.replace("-", ":") : void 0;
    for (const d of json.manifests ?? []) {
      if (!d || !isDigest(d.digest)) continue;
      const known = records.get(d.digest);
      if (known) {
        if (subject && !known.subject) known.subject = subject;
        continue;
      }
      records.set(d.digest, {
        repository: repo2,
        digest: d.digest,
        mediaType: d.mediaType,
        size: typeof d.size === "number" ? d.size : void 0,
        tags: [],
        ...d.artifactType ? { artifactType: d.artifactType } : {},
        ...subject ? { subject } : {}
      });
    }
  }
  for (const r of records.values()) r.tags.sort();
  return [...records.values()];
}
function recordOf(repo2, tag, m) {
  const json = parseManifest(m.bytes, `${repo2}:${tag}`);
  const record = {
    repository: repo2,
    digest: m.digest,
    mediaType: m.mediaType,
    size: m.bytes.length,
    tags: [tag]
  };
  if (json.config?.mediaType) record.configMediaType = json.config.mediaType;
  if (json.artifactType) record.artifactType = json.artifactType;
  if (json.subject?.digest) record.subject = json.subject.digest;
  if (isIndexMediaType(m.mediaType) || Array.isArray(json.manifests)) {
    record.children = (json.manifests ?? []).map((d) => d?.digest).filter(isDigest);
  }
  return record;
}
async function imageCreated(client, repo2, digest) {
  const m = await getManifest(client, repo2, digest);
  if (!m || isIndexMediaType(m.mediaType)) return void 0;
  const config = parseManifest(m.bytes, `${repo2}@${digest}`).config;
  if (!config?.mediaType || !IMAGE_CONFIG_TYPES.has(config.mediaType) || !isDigest(config.digest))
    return void 0;
  const path = blobPath(repo2, config.digest);
  const res = await client.request(path);
  if (res.status === 404) {
    await res.body?.cancel().catch(() => {
    });
    return void 0;
  }
  if (!res.ok) throw await httpError(res, "GET", client.url(path));
  const created = (await readJson(res, path))?.created;
  return typeof created === "string" && !Number.isNaN(Date.parse(created)) ? created : void 0;
}

// src/registry/oci/referrers.ts
var FALLBACK_WRITE_ATTEMPTS = 4;
var Referrers = class {
  constructor(client) {
    this.client = client;
  }
  client;
  /** undefined until a referrers request or a push told us. */
  api;
  /** Serializes fallback-index updates per tag within this process (no lost updates between our own calls). */
  locks = /* @__PURE__ */ new Map();
  /**
   * Per repository: the empty blob is present (or being uploaded). Concurrent uploads of one
   * blob make distribution's filesystem driver briefly expose a truncated link file, which
   * fails a manifest PUT racing with it, so we upload it once.
   */
  emptyBlob = /* @__PURE__ */ new Map();
  async list(repo2, subject, artifactType) {
    if (this.api !== false) {
      const viaApi = await this.listViaApi(repo2, subject, artifactType);
      if (viaApi) return viaApi;
    }
    return this.listViaFallback(repo2, subject, artifactType);
  }
  /** undefined when the registry has no referrers API (it answered 404). */
  async listViaApi(repo2, subject, artifactType) {
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : "";
    const seen = /* @__PURE__ */ new Set();
    const out = [];
    for (let next = this.client.url(`/v2/${repo2}/referrers/${subject}${query}`); next && !seen.has(next); ) {
      seen.add(next);
      const res = await this.client.request(next, { headers: { Accept: MediaType.ociIndex } });
      if (res.status === 404) {
        const code = await errorCode(res);
        if (code === "NAME_UNKNOWN") return [];
        this.api = false;
        return void 0;
      }
      if (!res.ok) throw await httpError(res, "GET", next);
      this.api = true;
      const index = parseManifest(
        new Uint8Array(await res.arrayBuffer()),
        `${repo2} referrers of ${subject}`
      );
      const applied = (res.headers.get("oci-filters-applied") ?? "").split(",").map((s) => s.trim());
      const filterHere = artifactType !== void 0 && !applied.includes("artifactType");
      for (const d of index.manifests ?? []) {
        if (d && isDigest(d.digest) && (!filterHere || d.artifactType === artifactType))
          out.push(d);
      }
      const link2 = nextLink(res.headers.get("link"));
      next = link2 ? new URL(link2, next).toString() : void 0;
    }
    return out;
  }
  async listViaFallback(repo2, subject, artifactType) {
    const index = await getManifest(this.client, repo2, fallbackTag(subject));
    if (!index) return [];
    const json = parseManifest(index.bytes, `${repo2}:${fallbackTag(subject)}`);
    return (json.manifests ?? []).filter(
      (d) => d && isDigest(d.digest) && (artifactType === void 0 || d.artifactType === artifactType)
    );
  }
  async push(repo2, subject, manifest) {
    if (sha256Digest(manifest.bytes) !== manifest.digest) {
      throw new RuntimeError(
        `referrer manifest for ${repo2}@${subject.digest}: bytes do not match ${manifest.digest}`
      );
    }
    await this.ensureBlobs(repo2, parseManifest(manifest.bytes, `referrer ${manifest.digest}`));
    const { subjectHeader } = await putManifest(
      this.client,
      repo2,
      manifest.digest,
      manifest.bytes,
      manifest.mediaType
    );
    if (subjectHeader) {
      this.api = true;
      return;
    }
    const entry = {
      mediaType: manifest.mediaType,
      digest: manifest.digest,
      size: manifest.bytes.length,
      artifactType: manifest.artifactType,
      ...Object.keys(manifest.annotations).length ? { annotations: manifest.annotations } : {}
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.updateFallback(
          repo2,
          subject.digest,
          (list) => list.some((d) => d.digest === entry.digest) ? void 0 : [...list, entry]
        );
        return;
      } catch (e) {
        if (attempt >= FALLBACK_WRITE_ATTEMPTS || !isBlobUnknown(e)) throw e;
        await putManifest(this.client, repo2, manifest.digest, manifest.bytes, manifest.mediaType);
      }
    }
  }
  async delete(repo2, subject, referrer) {
    await this.updateFallback(
      repo2,
      subject,
      (list) => list.some((d) => d.digest === referrer) ? list.filter((d) => d.digest !== referrer) : void 0
    );
    await deleteManifest(this.client, repo2, referrer);
  }
  /** The config and layer blobs must exist before the manifest PUT; we can create only `{}`. */
  async ensureBlobs(repo2, json) {
    const digests = new Set(
      [json.config?.digest, ...(json.layers ?? []).map((l) => l?.digest)].filter(isDigest)
    );
    for (const digest of digests) {
      if (digest === EMPTY_DESCRIPTOR.digest) {
        let pending = this.emptyBlob.get(repo2);
        if (!pending) {
          pending = putBlob(this.client, repo2, EMPTY_BLOB);
          this.emptyBlob.set(repo2, pending);
          pending.catch(() => this.emptyBlob.delete(repo2));
        }
        await pending;
      } else if (!await blobExists(this.client, repo2, digest)) {
        throw new RuntimeError(
          `${this.client.host}: blob ${digest} of a referrer in ${repo2} does not exist`
        );
      }
    }
  }
  /**
   * Read-modify-write of the fallback index `sha256-<hex>`. `change` returns the new list, or
   * undefined for "nothing to do". Distribution has no conditional PUT, so a concurrent writer
   * can overwrite our update; we read back and redo it until our change holds. (A write lost
   * after our read-back heals on the next run: the referrer manifest itself is deterministic.)
   */
  updateFallback(repo2, subject, change) {
    const key = `${repo2}:${fallbackTag(subject)}`;
    const run = (this.locks.get(key) ?? Promise.resolve()).then(
      () => this.rewriteFallback(repo2, subject, change)
    );
    const tail = run.catch(() => {
    });
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }
  async rewriteFallback(repo2, subject, change) {
    const tag = fallbackTag(subject);
    for (let attempt = 0; attempt < FALLBACK_WRITE_ATTEMPTS; attempt++) {
      const current = await getManifest(this.client, repo2, tag);
      const json = current ? parseManifest(current.bytes, `${repo2}:${tag}`) : {};
      const list = dedupe((json.manifests ?? []).filter((d) => d && isDigest(d.digest)));
      const updated = change(list);
      if (!updated) return;
      if (updated.length === 0) {
        if (current) await deleteManifest(this.client, repo2, current.digest);
      } else {
        const index = {
          ...json,
          schemaVersion: 2,
          mediaType: MediaType.ociIndex,
          manifests: updated
        };
        const bytes = new TextEncoder().encode(JSON.stringify(index));
        await putManifest(this.client, repo2, tag, bytes, MediaType.ociIndex);
      }
    }
    throw new RuntimeError(
      `${this.client.host}: fallback index ${repo2}:${tag} kept changing under concurrent writers`
    );
  }
};
function isBlobUnknown(e) {
  return e instanceof HttpError && e.status === 400 && /MANIFEST_BLOB_UNKNOWN|DIGEST_INVALID/.test(e.message);
}
function dedupe(list) {
  const seen = /* @__PURE__ */ new Set();
  return list.filter((d) => !seen.has(d.digest) && seen.add(d.digest));
}

// src/registry/oci/index.ts
var OciRegistry = class {
  displayName;
  client;
  referrers;
  concurrency;
  pageSize;
  constructor(options) {
    this.client = new OciClient(
      options.url,
      { username: options.username, password: options.password },
      options.retry,
      options.logger ?? silentLogger
    );
    this.displayName = this.client.host;
    this.referrers = new Referrers(this.client);
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? 8));
    this.pageSize = Math.min(1e3, Math.max(1, Math.floor(options.pageSize ?? 1e3)));
  }
  async listRepositories() {
    return listRepositories(this.client, this.pageSize);
  }
  async listManifests(repository) {
    return listManifests(this.client, repo(repository), this.pageSize, this.concurrency);
  }
  async describeManifest(repository, digest) {
    return describeManifest(
      this.client,
      repo(repository),
      assertDigest(digest, "digest")
    );
  }
  async imageCreated(repository, digest) {
    return imageCreated(this.client, repo(repository), assertDigest(digest, "digest"));
  }
  async listReferrers(repository, subject, artifactType) {
    return this.referrers.list(repo(repository), assertDigest(subject, "subject"), artifactType);
  }
  async pushReferrer(repository, subject, manifest) {
    return this.referrers.push(
      repo(repository),
      { ...subject, digest: assertDigest(subject.digest, "subject") },
      manifest
    );
  }
  async deleteReferrer(repository, subject, referrer) {
    return this.referrers.delete(
      repo(repository),
      assertDigest(subject, "subject"),
      assertDigest(referrer, "referrer")
    );
  }
  // Helpers for seeding and tests; not part of the Registry port. Every method is async so
  // that input errors (bad names, digests) arrive as rejections, like every other failure.
  async listTags(repository) {
    return listTags(this.client, repo(repository), this.pageSize);
  }
  async putBlob(repository, bytes) {
    return putBlob(this.client, repo(repository), bytes);
  }
  async putManifest(repository, reference, bytes, mediaType) {
    return (await putManifest(this.client, repo(repository), ref(reference), bytes, mediaType)).digest;
  }
  async getManifest(repository, reference) {
    return getManifest(this.client, repo(repository), ref(reference));
  }
};
function repo(name) {
  if (!isRepositoryName(name))
    throw new InputError(`invalid repository name ${JSON.stringify(name)}`);
  return name;
}
function ref(reference) {
  if (isDigest(reference) || /^[\w][\w.-]{0,127}$/.test(reference)) return reference;
  throw new InputError(`invalid tag or digest ${JSON.stringify(reference)}`);
}

// src/platform/wiring.ts
function createRegistry(o, agent) {
  const url = /^[a-z]+:\/\//i.test(o.registry) ? o.registry : `https://${o.registry}`;
  let host;
  try {
    host = new URL(url).hostname;
  } catch {
    throw new InputError(`${agent.label("registry")}: not a registry host or URL: ${JSON.stringify(o.registry)}`);
  }
  const acr = o.registryType === "acr" || o.registryType === "auto" && /\.azurecr\.(io|cn|us)$/i.test(host);
  if (acr) throw new InputError(`${agent.label("registry")}: Azure Container Registry support is not available in this build`);
  return new OciRegistry({
    url,
    username: o.username || void 0,
    password: o.password || void 0,
    concurrency: o.concurrency,
    logger: agent.logger,
    retry: retryPolicy(agent.env)
  });
}
function retryPolicy(env) {
  const text = env.EOL_GATE_RETRIES;
  if (text === void 0 || text === "") return DEFAULT_RETRY;
  const retries = Number(text);
  if (!Number.isInteger(retries) || retries < 0 || retries > 20) {
    throw new InputError(`EOL_GATE_RETRIES: expected a whole number from 0 to 20, got ${JSON.stringify(text)}`);
  }
  return { ...DEFAULT_RETRY, retries };
}
function sourceOptions(agent) {
  const env = agent.env;
  const token = agent.platformToken();
  return {
    githubApiUrl: env.GITHUB_API_URL,
    githubToken: env.GITHUB_TOKEN || (agent.platform === "github" ? token : void 0),
    azureCollectionUri: env.SYSTEM_COLLECTIONURI,
    azureToken: env.SYSTEM_ACCESSTOKEN || (agent.platform === "azure-pipelines" ? token : void 0),
    retry: retryPolicy(env)
  };
}
function createSources(o, agent) {
  const options = sourceOptions(agent);
  return o.imageInfo.map((spec) => createImageInfoSource(spec, options));
}
function createStore(o, agent, logger) {
  return createCoordinationStore(o.coordinator, agent.env, logger, {
    token: agent.platformToken(),
    retry: retryPolicy(agent.env)
  });
}

// src/platform/job.ts
var systemClock = {
  now: () => /* @__PURE__ */ new Date(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  random: Math.random
};
async function runJob(agent, clock = systemClock) {
  try {
    const options = readOptions(agent, clock.now());
    return await dispatch(options, agent, clock);
  } catch (e) {
    const error = e;
    agent.logger.error(error.message);
    if (!(e instanceof InputError) && !(e instanceof RuntimeError)) agent.logger.debug(error.stack ?? "");
    return { exitCode: e instanceof InputError ? 2 : 1, result: { error: error.message, kind: e instanceof InputError ? "input" : "runtime" } };
  }
}
async function dispatch(o, agent, clock) {
  const logger = agent.logger;
  switch (o.command) {
    case "signal": {
      await signal({ group: o.group, state: o.state }, { store: createStore(o, agent, logger), logger });
      return { exitCode: 0, result: { command: "signal", group: o.group, state: o.state } };
    }
    case "annotate":
      return runAnnotate(o, agent, clock);
    case "verify": {
      const registry = createRegistry(o, agent);
      const sources = createSources(o, agent);
      const result = await verify(
        { repoPrefix: o.repoPrefix, repositories: o.repositories, concurrency: o.concurrency, repair: o.repair },
        { registry, sources, logger }
      );
      await agent.summary(verifySummary(result, registry.displayName));
      const clean = result.findings.length === 0 || result.repaired > 0;
      if (!clean) logger.error(`${result.findings.length} supported digest(s) are marked end-of-life; run verify with repair to remove the marks`);
      else logger.info(result.findings.length === 0 ? `verify: ${result.checked} supported digest(s), no lifecycle mark` : `verify: repaired ${result.repaired} mark(s)`);
      return { exitCode: clean ? 0 : 1, result: { command: "verify", ...result } };
    }
    case "unannotate": {
      const result = await unannotate({ digests: o.digests }, { registry: createRegistry(o, agent), logger });
      return { exitCode: 0, result: { command: "unannotate", ...result } };
    }
    default:
      throw new InputError(`${agent.label("command")}: ${o.command} is not available in this build`);
  }
}
async function runAnnotate(o, agent, clock) {
  const logger = agent.logger;
  const fromPlan = o.fromPlan ? parsePlanFile(await readInput(o.fromPlan, agent.label("fromPlan")), o.fromPlan, o.eolDate) : void 0;
  const registry = createRegistry(o, agent);
  const sources = createSources(o, agent);
  const store = createStore(o, agent, logger);
  const planFile = o.planFile || (0, import_node_path2.join)(agent.tempDir, `eol-gate-plan-${clock.now().getTime()}.json`);
  const result = await annotate(
    {
      repoPrefix: o.repoPrefix,
      repositories: o.repositories,
      eolDate: o.eolDate,
      minAgeMs: o.minAgeMs,
      concurrency: o.concurrency,
      dryRun: o.dryRun,
      fromPlan,
      group: o.group,
      timeoutMs: o.timeoutMs,
      pollIntervalMs: o.pollIntervalMs,
      onTimeout: o.onTimeout
    },
    { registry, store, sources, clock, logger }
  );
  if (result.plan) {
    await (0, import_promises2.mkdir)((0, import_node_path2.dirname)(planFile), { recursive: true });
    await (0, import_promises2.writeFile)(planFile, serializePlan(result.plan, { registry: registry.displayName, dryRun: o.dryRun }));
    logger.info(`plan written to ${planFile}`);
  }
  const c = result.counts;
  const outputs = {
    annotated: String(c.annotated),
    alreadyAnnotated: String(c.alreadyAnnotated),
    skippedTooYoung: String(c.skippedTooYoung),
    candidates: String(c.candidates),
    waitedSeconds: String(Math.round(result.waitedMs / 1e3)),
    planFile: result.plan ? planFile : ""
  };
  for (const [name, value] of Object.entries(outputs)) agent.setOutput(name, value);
  await agent.summary(annotateSummary(result, registry.displayName, result.plan ? planFile : void 0, clock.now()));
  return {
    exitCode: 0,
    result: {
      command: "annotate",
      outcome: result.outcome,
      counts: c,
      waitedSeconds: Math.round(result.waitedMs / 1e3),
      waitedFor: result.waitedFor,
      restarts: result.restarts,
      planFile: result.plan ? planFile : null,
      excluded: result.plan?.excluded
    }
  };
}
async function readInput(path, label) {
  try {
    return await (0, import_promises2.readFile)(path, "utf8");
  } catch (e) {
    throw new InputError(`${label}: cannot read ${path} (${e.code ?? e.message})`);
  }
}

// src/platform/cli/args.ts
var import_node_util = require("node:util");
function parseCli(argv) {
  const options = {
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" }
  };
  for (const input of INPUTS) {
    if (input.name === "command") continue;
    options[kebab(input.name)] = {
      type: input.kind === "boolean" ? "boolean" : "string",
      multiple: input.repeatable ?? false
    };
  }
  let parsed;
  try {
    parsed = (0, import_node_util.parseArgs)({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new InputError(e.message.replace(/\. To specify a positional argument.*$/s, ""));
  }
  const [command, ...extra] = parsed.positionals;
  if (command !== void 0 && !COMMANDS.includes(command)) {
    throw new InputError(`unknown command ${JSON.stringify(command)} (commands: ${COMMANDS.join(", ")})`);
  }
  if (extra.length > 0) throw new InputError(`unexpected argument ${JSON.stringify(extra[0])}`);
  const values = /* @__PURE__ */ new Map();
  if (command) values.set("command", command);
  for (const input of INPUTS) {
    const value = parsed.values[kebab(input.name)];
    if (value === void 0) continue;
    values.set(input.name, Array.isArray(value) ? value.join("\n") : String(value));
  }
  return { command, values, json: !!parsed.values.json, help: !!parsed.values.help };
}
function helpText(command) {
  if (!command) {
    return [
      "eol-gate: marks container images end-of-life without ever marking a supported one.",
      "",
      "Usage: eol-gate <command> [flags]",
      "",
      "Commands:",
      "  annotate            mark what the image-info no longer references (waits for other pipelines)",
      "  signal              record this run's state: --state publishing | image-info-updated",
      "  verify              check that no supported digest is marked; --repair removes such marks",
      "  unannotate          remove lifecycle marks from --digest <repo>@sha256:\u2026",
      "  publish-image-info  merge this run's image-info into the shared one without lost updates",
      "",
      "Run `eol-gate <command> --help` for its flags. Exit codes: 0 ok, 1 failure or findings, 2 bad input.",
      ""
    ].join("\n");
  }
  const lines = [`Usage: eol-gate ${command} [flags]`, ""];
  for (const input of INPUTS) {
    if (input.name === "command" || input.commands && !input.commands.includes(command)) continue;
    const flag = `--${kebab(input.name)}${input.kind === "boolean" ? "" : " <value>"}${input.repeatable ? " \u2026" : ""}`;
    lines.push(`  ${flag.padEnd(28)} ${input.description}${input.default ? ` (default: ${input.default})` : ""}`);
  }
  lines.push(`  ${"--json".padEnd(28)} Print one JSON result object on stdout.`, `  ${"-h, --help".padEnd(28)} Show this help.`, "");
  return lines.join("\n");
}

// src/platform/cli/cli-agent.ts
var import_node_os2 = require("node:os");
function consoleLogger(write, verbose, secrets) {
  const mask = (text) => [...secrets].reduce((t, s) => s ? t.split(s).join("***") : t, text);
  return {
    info: (m) => write(mask(m)),
    warning: (m) => write(mask(`warning: ${m}`)),
    error: (m) => write(mask(`error: ${m}`)),
    debug: (m) => verbose ? write(mask(`debug: ${m}`)) : void 0,
    group: async (title, fn) => {
      write(mask(`== ${title}`));
      return fn();
    }
  };
}
var CliAgent = class {
  constructor(values, env, writeLog) {
    this.values = values;
    this.env = env;
    this.logger = consoleLogger(writeLog, env.EOL_GATE_DEBUG === "1", this.secrets);
    this.tempDir = env.RUNNER_TEMP || env.AGENT_TEMPDIRECTORY || (0, import_node_os2.tmpdir)();
  }
  values;
  env;
  platform = "cli";
  outputs = /* @__PURE__ */ new Map();
  summaries = [];
  secrets = /* @__PURE__ */ new Set();
  logger;
  tempDir;
  input(name) {
    if (name === "password" && !this.values.has(name)) return this.env.EOL_GATE_PASSWORD ?? "";
    return this.values.get(name) ?? "";
  }
  label(name) {
    return `--${kebab(name)}`;
  }
  setSecret(value) {
    this.secrets.add(value);
  }
  setOutput(name, value) {
    this.outputs.set(name, value);
  }
  async summary(markdown) {
    this.summaries.push(markdown);
  }
  platformToken() {
    return void 0;
  }
};

// src/platform/cli/main.ts
async function main(argv, env) {
  let args;
  try {
    args = parseCli(argv);
  } catch (e) {
    process.stderr.write(`error: ${e.message}
${e instanceof InputError ? "Run `eol-gate --help` for usage.\n" : ""}`);
    return 2;
  }
  if (args.help || !args.command) {
    process.stdout.write(helpText(args.command));
    return args.help ? 0 : 2;
  }
  const agent = new CliAgent(args.values, env, (line) => process.stderr.write(`${line}
`));
  const { exitCode, result } = await runJob(agent);
  if (args.json) process.stdout.write(`${JSON.stringify(result)}
`);
  else for (const summary of agent.summaries) process.stdout.write(summary);
  return exitCode;
}
main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`error: ${e.message}
`);
    process.exitCode = 1;
  }
);
// Annotate the CommonJS export names for ESM import in node:
0 && (module.exports = {
  main
});
//# sourceMappingURL=index.cjs.map
