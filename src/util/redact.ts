/**
 * Hides secrets before a message reaches a log, an error or a plan file (invariant 7):
 * anything shaped like a JWT, bearer tokens, token-like query or form fields, and the
 * user-info (`user:password@`) of URLs.
 */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi, '$1***@')
    .replace(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g, '***')
    .replace(/(bearer\s+|access_token=|refresh_token=|client_secret=)[^\s&"']+/gi, '$1***');
}
