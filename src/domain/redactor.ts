/**
 * The one redactor of a run (built in the composition root): every reporter passes its lines through
 * it, and the adapters (UNMS source, Dropbox store, OAuth client) pass the text from outside they put
 * into errors. It replaces, with "[redacted]":
 * - every registered secret (6+ characters: shorter ones cannot be told from words), raw and in its
 *   URL-encoded forms;
 * - what follows `Bearer ` and the value of an echoed `HTTP header "Authorization"` (Dropbox's 400
 *   text quotes the header it refused);
 * - Dropbox short-lived tokens (`sl.` + 20 or more token characters);
 * - long opaque runs (40+ characters of [A-Za-z0-9_-] mixing upper case, lower case and digits):
 *   refresh tokens, legacy tokens, PKCE verifiers, codes in odd places.
 * Deliberately left alone: hex hashes and UUIDs (single case, so backup names and content hashes stay
 * readable) and the `code_challenge` of an authorization URL (public by design, and the admin must
 * be able to open the URL).
 */
import type { Redactor } from "./ports.ts";

export const REDACTED = "[redacted]";

const MIN_SECRET_LENGTH = 6;
const SHORT_LIVED_TOKEN = /\bsl\.[A-Za-z0-9_\-.]{20,}/g;
/** A trailing full stop is the sentence's, not the token's. */
const BEARER_TOKEN = /(Bearer\s+)[^\s"'\\]*[^\s"'\\.]/gi;
const AUTHORIZATION_ECHO = /(HTTP header \\?"Authorization\\?":\s*\\?")[^"\\]*/gi;
const OPAQUE_RUN = /(?<![A-Za-z0-9_\-])(?<!code_challenge=)[A-Za-z0-9_\-]{40,}(?![A-Za-z0-9_\-])/g;

function looksOpaque(run: string): boolean {
  return /[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export class SecretRedactor implements Redactor {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | undefined;

  constructor(secrets: Iterable<string | undefined> = []) {
    this.register(secrets);
  }

  register(secrets: Iterable<string | undefined>): void {
    for (const secret of secrets) this.addSecret(secret);
  }

  addSecret(secret: string | undefined): void {
    const value = secret?.trim();
    if (!value || value.length < MIN_SECRET_LENGTH) return;
    for (const form of [value, encodeURIComponent(value), new URLSearchParams({ v: value }).toString().slice(2)]) {
      if (!this.secrets.has(form)) {
        this.secrets.add(form);
        this.pattern = undefined;
      }
    }
  }

  redact(text: string): string {
    if (!text) return text;
    let out = text;
    if (this.secrets.size > 0) {
      // Longest first, so a secret containing another is replaced whole.
      this.pattern ??= new RegExp([...this.secrets].sort((a, b) => b.length - a.length).map(escapeRegExp).join("|"), "g");
      out = out.replace(this.pattern, REDACTED);
    }
    out = out.replace(BEARER_TOKEN, `$1${REDACTED}`).replace(AUTHORIZATION_ECHO, `$1${REDACTED}`);
    // A sentence's full stop after a token is not part of it.
    out = out.replace(SHORT_LIVED_TOKEN, (token) => REDACTED + (/\.+$/.exec(token)?.[0] ?? ""));
    out = out.replace(OPAQUE_RUN, (run) => (looksOpaque(run) ? REDACTED : run));
    return out;
  }
}

/** A function that redacts `secrets` (and anything token-shaped) from text. */
export function createRedactor(secrets: Iterable<string | undefined>): (text: string) => string {
  const redactor = new SecretRedactor(secrets);
  return (text) => redactor.redact(text);
}
