/**
 * The one line a run prints before it retries an outside call. A retry is routine, so the notice is
 * short: the headline of the failure (what failed, where, the socket error or HTTP status), when
 * the next attempt comes and how many are left. The whole message, with its advice, comes once, in
 * the error of the last attempt, if that fails too.
 */
import { SyncError } from "../domain/errors.ts";

/** Longest headline kept; what is longer is cut with an ellipsis. */
export const RETRY_HEADLINE_MAX = 160;

export interface RetryNoticeInput {
  /** The failure's message (or the retry decision's reason). */
  reason: string;
  /** The failure itself, for its socket error code or HTTP status; optional. */
  error?: unknown;
  /** What is retried, e.g. "listing the backups", when the headline does not say it. */
  operation?: string;
  /** The attempt about to start, from 2. */
  attempt: number;
  /** Most attempts in all. */
  attempts: number;
  delayMs: number;
}

/** `<headline> (<ECONNREFUSED | HTTP 503>): retrying <operation> in 2 s (attempt 2 of 4)`. */
export function retryNotice({ reason, error, operation, attempt, attempts, delayMs }: RetryNoticeInput): string {
  const head = headline(reason);
  const detail = failureDetail(error);
  const tagged = detail && !head.includes(detail) ? `${head} (${detail})` : head;
  return `${tagged}: retrying ${operation ? `${operation} ` : ""}in ${formatWait(delayMs)} (attempt ${attempt} of ${attempts})`;
}

/**
 * The first clause of a message: up to its first ": ", ". " or " (", where the messages of this
 * tool move from what failed to why and what to do.
 */
export function headline(message: string): string {
  const text = message.replace(/\s+/g, " ").trim();
  const cut = [": ", ". ", " ("].map((mark) => text.indexOf(mark)).filter((at) => at > 0);
  const head = cut.length > 0 ? text.slice(0, Math.min(...cut)) : text.replace(/\.$/, "");
  return head.length <= RETRY_HEADLINE_MAX ? head : `${head.slice(0, RETRY_HEADLINE_MAX - 1)}…`;
}

/** The socket error code (ECONNREFUSED, ENOTFOUND...) from the cause chain, else the HTTP status. */
export function failureDetail(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^(E[A-Z0-9_]+|UND_ERR_[A-Z_]+)$/.test(code)) return code;
    current = current.cause;
  }
  return SyncError.is(error) && error.status !== undefined ? `HTTP ${error.status}` : undefined;
}

function formatWait(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  const seconds = ms / 1000;
  return `${seconds < 10 ? Math.round(seconds * 10) / 10 : Math.round(seconds)} s`;
}
