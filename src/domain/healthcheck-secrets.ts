/**
 * What of a health-check ping URL must never be shown: the URL is a secret (it carries the check's
 * token), and an error may quote a part of it alone. Pure: the run registers these with its redactor
 * before any line is written, and the pinger adapter does so again for itself.
 */

/**
 * The URL and the parts of it an error might quote alone: token-sized path segments (where
 * healthchecks.io puts the check's uuid or ping key), a password and the query.
 */
export function healthcheckSecrets(url: string): string[] {
  const secrets = [url];
  try {
    const parsed = new URL(url);
    // Only token-sized segments: a word like "checks" must not vanish from every line.
    const tokenLike = parsed.pathname.split("/").filter((segment) => segment.length >= 16);
    secrets.push(...tokenLike, parsed.password, parsed.search.slice(1));
  } catch {
    // Not a URL: the settings check already said so; the whole text is registered.
  }
  return secrets.filter((s) => s !== "" && s !== "/");
}
