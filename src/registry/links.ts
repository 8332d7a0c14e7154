/** The `rel="next"` target of an HTTP `Link` header (OCI and ACR listings page with it). */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /<([^>]*)>\s*;(.*)$/.exec(part.trim());
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2])) return m[1];
  }
  return undefined;
}
