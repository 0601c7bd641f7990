/**
 * Secret masking. Every text lpclust logs, prints, stores as a param or tag, or writes into an
 * artifact passes through {@link maskSecrets} when it may hold a credential.
 */

/** Secret values registered at run time (tokens, passwords from the environment). */
const registered = new Set<string>();

/** Remember a secret value so that it is masked wherever it appears later. Ignores short values. */
export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 4) registered.add(value);
}

/** The text shown in place of a secret. */
export const MASK = '***';

/** Environment variable names whose values are secrets. */
export function isSecretName(name: string): boolean {
  return /(PASSWORD|PASSWD|SECRET|TOKEN|API_KEY|APIKEY|CREDENTIAL|PRIVATE_KEY)/i.test(name);
}

/**
 * Mask credentials in a text: `scheme://user:password@host` → `scheme://user:***@host`,
 * `password=...`/`token=...` query or key-value pairs, `Bearer ...`/`Basic ...` headers, and every
 * registered secret value.
 */
export function maskSecrets(text: string): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):([^@/\s]*)@/gi, (_m, head: string) => `${head}:${MASK}@`);
  out = out.replace(/\b((?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)\s*[=:]\s*)("?)[^&\s"',;]+\2/gi, `$1$2${MASK}$2`);
  out = out.replace(/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${MASK}`);
  for (const s of registered) {
    if (out.includes(s)) out = out.split(s).join(MASK);
  }
  return out;
}

/** Mask the password of a URI (for logging a database or server address). */
export function maskUri(uri: string): string {
  return maskSecrets(uri);
}

/**
 * Register the password of a `scheme://user:password@host…` URI (database, Redis, tracking
 * server) as a secret, as written and percent-decoded, so that it is masked in all output.
 */
export function registerUriPassword(uri: string): void {
  const m = /^[a-z][a-z0-9+.-]*:\/\/[^:/?#@]*:([^@/]*)@/i.exec(uri);
  if (!m?.[1]) return;
  registerSecret(m[1]);
  try {
    registerSecret(decodeURIComponent(m[1]));
  } catch {
    // not percent-encoded
  }
}
