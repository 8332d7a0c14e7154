/**
 * Credential-bearing names: tokens, keys, signatures (Azure SAS `sig`, `X-Amz-Signature`), OAuth
 * codes, client secrets, passwords.
 */
export const SENSITIVE_PARAM =
  /^[\w.-]*(token|secret|passw(or)?d|pwd|sig|signature|key|code|credential|auth)[\w.-]*$/i;

/** JSON fields whose string values are credentials (`code` and `key` stay: error codes). */
const SENSITIVE_FIELD =
  /("[\w.-]*(?:token|secret|passw(?:or)?d|pwd|signature|authorization|api[_-]?key|credentials?)"\s*:\s*")(?:[^"\\]|\\.)*"/gi;

/** `name=value` in a query or form body, the name sensitive: the value goes. */
const PARAM = /(^|[?&;\s"'(,])([\w.-]+)=([^&#\s"',;)]+)/g;

/**
 * Before a log, error, `--json` or plan file (invariant 7): `Authorization` values of any scheme
 * (`Basic` is base64 user:password), bearer/basic credentials, JWTs, sensitive query / form / JSON
 * values, and URL user-info with or without a scheme. A `realm="…"` challenge stays readable.
 */
export function redactSecrets(text: string): string {
  return (
    text
      .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi, '$1***@')
      // `user:password@host` written without a scheme (an image reference `name:tag@sha256:` is not).
      .replace(/(^|[\s"'(=])[^\s"'/@:]+:[^\s"'/@]+@(?!sha256:)(?=[\w[])/g, '$1***@')
      .replace(/(authorization["']?\s*[:=]\s*["']?)(?!\*\*\*)[^"',;\r\n]+/gi, '$1***')
      .replace(/\b(bearer|basic)(\s+)(?!realm=)(?!\*\*\*)[\w~+/.=-]+/gi, '$1$2***')
      .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '***')
      .replace(SENSITIVE_FIELD, '$1***"')
      .replace(PARAM, (all, lead: string, name: string) =>
        SENSITIVE_PARAM.test(name) ? `${lead}${name}=***` : all,
      )
  );
}

/** As is, base64 (`Basic` credentials, config files) and URL-encoded (a query string). */
export function secretForms(secret: string): string[] {
  if (!secret) return [];
  return [
    ...new Set([
      secret,
      Buffer.from(secret, 'utf8').toString('base64'),
      encodeURIComponent(secret),
    ]),
  ];
}

/** Replaces every known secret in `text` with `***`, longest first (one may contain another). */
export function maskSecrets(text: string, secrets: Iterable<string>): string {
  const ordered = [...secrets].filter(Boolean).sort((a, b) => b.length - a.length);
  return ordered.reduce((t, secret) => t.split(secret).join('***'), text);
}
