import {
  isDigest,
  isRepositoryName,
  parseImageRef,
  REPOSITORY_NAME_RULE,
  type ImageRef,
} from './digest.js';
import { InputError } from './errors.js';
import { isObject, parseJsonText, type Json } from './image-info-json.js';

/** The subset of ImageBuilder's image-info we use; each field read is checked, errors give paths. */
export interface ImageInfo {
  source: string;
  schemaVersion: string;
  repos: RepoInfo[];
}

export interface RepoInfo {
  repo: string;
  images: ImageEntry[];
}

export interface ImageEntry {
  manifest?: ManifestListEntry;
  platforms: PlatformEntry[];
}

export interface ManifestListEntry {
  ref: ImageRef;
  sharedTags: string[];
  syndicated: ImageRef[];
}

export interface PlatformEntry {
  ref: ImageRef;
  dockerfile?: string;
  osType?: string;
  osVersion?: string;
  architecture?: string;
  simpleTags: string[];
  created?: string;
  syndicated: ImageRef[];
}

export const SUPPORTED_SCHEMA_VERSIONS = ['1.0', '2.0'];

class Reader {
  constructor(readonly source: string) {}

  fail(path: string, message: string): never {
    throw new InputError(`${this.source}: ${path}: ${message}`);
  }

  object(value: unknown, path: string): Json {
    if (!isObject(value)) this.fail(path, `expected an object, got ${describe(value)}`);
    return value;
  }

  array(value: unknown, path: string, optional = false): unknown[] {
    if (value === undefined && optional) return [];
    if (!Array.isArray(value)) this.fail(path, `expected an array, got ${describe(value)}`);
    return value;
  }

  string(value: unknown, path: string, optional = false): string | undefined {
    if (value === undefined && optional) return undefined;
    if (typeof value !== 'string' || value.length === 0)
      this.fail(path, `expected a non-empty string, got ${describe(value)}`);
    return value;
  }

  strings(value: unknown, path: string): string[] {
    return this.array(value, path, true).map((v, i) => this.string(v, `${path}[${i}]`) as string);
  }

  /** A digest written as `host/repo@sha256:…` or, within a repo, as a bare `sha256:…`. */
  ref(value: unknown, path: string, repo: string): ImageRef {
    if (value === undefined) this.fail(path, 'missing digest');
    if (isDigest(value)) return { repository: repo, digest: value };
    try {
      return parseImageRef(value, path);
    } catch (e) {
      this.fail(path, (e as Error).message.replace(`${path}: `, ''));
    }
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** `source` names the file or URL in every error. */
export function parseImageInfo(text: string, source: string): ImageInfo {
  const r = new Reader(source);
  const root = r.object(parseJsonText(text, source), '$');
  const version = root.schemaVersion;
  if (typeof version !== 'string' || !SUPPORTED_SCHEMA_VERSIONS.includes(version))
    r.fail(
      'schemaVersion',
      `unsupported schemaVersion ${describe(version)} (supported: ${SUPPORTED_SCHEMA_VERSIONS.join(', ')})`,
    );
  const repos = r.array(root.repos, 'repos').map((repoValue, ri): RepoInfo => {
    const repoPath = `repos[${ri}]`;
    const repoJson = r.object(repoValue, repoPath);
    const repo = r.string(repoJson.repo, `${repoPath}.repo`) as string;
    // Checked here, not when the registry refuses it: after the run's first write.
    if (!isRepositoryName(repo))
      r.fail(
        `${repoPath}.repo`,
        `invalid repository name ${describe(repo)} (expected ${REPOSITORY_NAME_RULE})`,
      );
    const images = r.array(repoJson.images, `${repoPath}.images`, true).map((imageValue, ii) => {
      const imagePath = `${repoPath}.images[${ii}]`;
      const image = r.object(imageValue, imagePath);
      const entry: ImageEntry = {
        platforms: r.array(image.platforms, `${imagePath}.platforms`, true).map((pv, pi) => {
          const path = `${imagePath}.platforms[${pi}]`;
          const p = r.object(pv, path);
          return {
            ref: r.ref(p.digest, `${path}.digest`, repo),
            dockerfile: r.string(p.dockerfile, `${path}.dockerfile`, true),
            osType: r.string(p.osType, `${path}.osType`, true),
            osVersion: r.string(p.osVersion, `${path}.osVersion`, true),
            architecture: r.string(p.architecture, `${path}.architecture`, true),
            simpleTags: r.strings(p.simpleTags, `${path}.simpleTags`),
            created: r.string(p.created, `${path}.created`, true),
            syndicated: syndicated(r, p.syndicatedDigests, `${path}.syndicatedDigests`, repo),
          };
        }),
      };
      if (image.manifest !== undefined) {
        const path = `${imagePath}.manifest`;
        const m = r.object(image.manifest, path);
        entry.manifest = {
          ref: r.ref(m.digest, `${path}.digest`, repo),
          sharedTags: r.strings(m.sharedTags, `${path}.sharedTags`),
          syndicated: syndicated(r, m.syndicatedDigests, `${path}.syndicatedDigests`, repo),
        };
      }
      return entry;
    });
    return { repo, images };
  });
  return { source, schemaVersion: version as string, repos };
}

function syndicated(r: Reader, value: unknown, path: string, repo: string): ImageRef[] {
  return r.array(value, path, true).map((v, i) => r.ref(v, `${path}[${i}]`, repo));
}

/** Every digest reference in an image-info, with where it came from. */
export interface SupportedRef extends ImageRef {
  kind: 'platform' | 'manifest-list' | 'syndicated';
  tags: string[];
}

export function supportedRefs(info: ImageInfo): SupportedRef[] {
  const out: SupportedRef[] = [];
  const add = (
    kind: SupportedRef['kind'],
    ref: ImageRef,
    tags: string[],
    syndicated: ImageRef[],
  ) => {
    out.push({ ...ref, kind, tags });
    for (const s of syndicated) out.push({ ...s, kind: 'syndicated', tags: [] });
  };
  for (const repo of info.repos) {
    for (const image of repo.images) {
      for (const p of image.platforms) add('platform', p.ref, p.simpleTags, p.syndicated);
      const m = image.manifest;
      if (m) add('manifest-list', m.ref, m.sharedTags, m.syndicated);
    }
  }
  return out;
}
