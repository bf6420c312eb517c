/**
 * The one place that knows what a Dropbox failure means: whether to retry it (and how), and which
 * specific SyncError it becomes. Matches on `.tag` values, never on `error_summary` text, whose
 * trailing dots vary.
 */
import { SyncError, type FailureKind } from "../../domain/errors.ts";
import type { Redactor } from "../../domain/ports.ts";
import { SecretRedactor } from "../../domain/redactor.ts";
import { RetryError, type RetryDecision } from "../retry/retry.ts";

/** The shape of the SDK's DropboxResponseError (its type declaration does not extend Error). */
export interface DropboxFailure {
  status: number;
  error: unknown;
  headers?: { get?(name: string): string | null } | Record<string, string> | undefined;
}

/**
 * Thrown by the upload code when Dropbox answered `incorrect_offset`: the next attempt continues
 * from `correctOffset` at once (the earlier answer was lost, not the data).
 */
export class OffsetResync extends Error {
  constructor(readonly correctOffset: number) {
    super(`Dropbox already has the bytes up to offset ${correctOffset}; continuing from there`);
    this.name = "OffsetResync";
  }
}

export function isDropboxFailure(error: unknown): error is DropboxFailure {
  return typeof error === "object" && error !== null && typeof (error as DropboxFailure).status === "number" &&
    "error" in error && (error as { name?: unknown }).name === "DropboxResponseError";
}

/**
 * The `.tag` chain of a Dropbox error body, outermost first, e.g. `["path", "conflict", "file"]`
 * for both `{".tag":"path","path":{".tag":"conflict",...}}` (nested union) and
 * `{".tag":"path","reason":{".tag":"conflict",...}}` (struct fields inlined), and
 * `["too_many_write_operations"]` for a RateLimitError `{"reason":{".tag":...}}`.
 */
export function errorTags(body: unknown): string[] {
  const tags: string[] = [];
  let node: unknown = typeof body === "object" && body !== null && "error" in body ? (body as { error: unknown }).error : body;
  for (let depth = 0; depth < 8 && typeof node === "object" && node !== null; depth++) {
    const record = node as Record<string, unknown>;
    const tag = record[".tag"];
    if (typeof tag === "string") tags.push(tag);
    const next = typeof tag === "string" && isObject(record[tag]) ? record[tag]
      : Object.values(record).find((value) => isObject(value) && typeof (value as Record<string, unknown>)[".tag"] === "string");
    node = next;
  }
  if (tags.length === 0 && typeof body === "object" && body !== null) {
    const summary = (body as { error_summary?: unknown }).error_summary;
    if (typeof summary === "string") tags.push(...summary.split("/").filter((part) => /^[a-z_]+$/.test(part)));
  }
  return tags;
}

/** `correct_offset` from an `incorrect_offset` answer (append_v2 or finish's lookup_failed), if it is one. */
export function correctOffsetOf(error: unknown): number | undefined {
  if (!isDropboxFailure(error) || error.status !== 409 || !errorTags(error.error).includes("incorrect_offset")) return undefined;
  const found = findKey(error.error, "correct_offset");
  return typeof found === "number" ? found : undefined;
}

const RATE_LIMIT_TAGS = ["too_many_requests", "too_many_write_operations"];
const NETWORK_CODES = new Set([
  "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH",
  "ENETDOWN", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ERR_STREAM_PREMATURE_CLOSE",
]);

/** `error` and its causes, outermost first (at most five: a chain is never deeper in practice). */
export function* causeChain(error: unknown): Generator<unknown> {
  for (let current = error, depth = 0; current && depth < 5; current = (current as Error).cause, depth++) yield current;
}

/** True for failures of the connection itself (refused, reset, cut off mid-answer, timed out). */
export function isNetworkFailure(error: unknown): boolean {
  for (const current of causeChain(error)) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return true;
    if (current instanceof TypeError && /fetch failed|failed to fetch|network|terminated|socket/i.test(current.message)) return true;
    if (current instanceof Error && /^(aborted|socket hang up|other side closed)$/i.test(current.message)) return true;
  }
  return false;
}

/** Retry-After in ms: the header (seconds), else the body's `retry_after`, else 1 s (Dropbox's default). */
export function retryAfterMs(failure: DropboxFailure): number {
  const header = headerOf(failure, "retry-after");
  const seconds = header !== null && header.trim() !== "" ? Number(header) : findKey(failure.error, "retry_after");
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : 1000;
}

/** The one classifier: retry-after | retry (backoff) | refresh-token | fatal. */
export function classifyDropboxFailure(error: unknown): RetryDecision {
  if (error instanceof OffsetResync) return { action: "retry-after", delayMs: 0, reason: error.message };
  if (SyncError.is(error)) {
    if (error.kind === "transient") return { action: "retry", reason: error.message };
    if (error.kind === "rate-limited") return { action: "retry-after", delayMs: error.retryAfterMs ?? 1000, reason: error.message };
    return { action: "fatal", reason: error.message };
  }
  if (isDropboxFailure(error)) {
    const tags = errorTags(error.error);
    const reason = `HTTP ${error.status} ${tags.join("/") || "(no error tag)"}`;
    if (error.status === 429 || tags.some((tag) => RATE_LIMIT_TAGS.includes(tag))) {
      return { action: "retry-after", delayMs: retryAfterMs(error), reason };
    }
    // Both 401s go to the token provider, once: it refreshes (expired, or a token Dropbox dropped)
    // or, for a legacy token that cannot be refreshed, fails with the migration steps.
    if (error.status === 401 && (tags.includes("expired_access_token") || tags.includes("invalid_access_token"))) {
      return { action: "refresh-token", reason };
    }
    if (error.status >= 500) return { action: "retry", reason };
    return { action: "fatal", reason };
  }
  if (isNetworkFailure(error)) return { action: "retry", reason: `network error: ${messageOf(error)}` };
  return { action: "fatal", reason: messageOf(error) };
}

export interface FailureContext {
  /** The Dropbox operation, e.g. "upload_session/append_v2". */
  operation: string;
  /** What it was about, e.g. `file "/backups/x.unms"` or `folder "/backups"`. */
  target: string;
  /** Takes the access token in use (and every other secret) out of Dropbox's text; default: tokens by shape only. */
  redactor?: Redactor;
}

interface TagAdvice {
  kind: FailureKind;
  advice: string;
}

const ADVICE: Record<string, TagAdvice> = {
  insufficient_space: { kind: "permanent", advice: "Dropbox is full: free space or upgrade the plan" },
  malformed_path: { kind: "permanent", advice: "Dropbox does not accept this path: check the folder setting and the file name" },
  disallowed_name: { kind: "permanent", advice: "Dropbox does not allow this file name: rename it" },
  no_write_permission: { kind: "permanent", advice: "the app may not write there: check the app's permissions in the Dropbox App Console" },
  team_folder: { kind: "permanent", advice: "team folders cannot be written this way: choose another folder" },
  conflict: { kind: "permanent", advice: "something of that name already exists and was left unchanged: remove it or let the sync overwrite it" },
  not_folder: { kind: "permanent", advice: "that path is a file, not a folder: choose another folder" },
  not_found: { kind: "not-found", advice: "it does not exist (any more)" },
  incorrect_offset: { kind: "permanent", advice: "the upload session got out of step with Dropbox: the backup will be sent again on the next run" },
  closed: { kind: "permanent", advice: "the upload session was already closed: the backup will be sent again on the next run" },
  not_closed: { kind: "permanent", advice: "the upload session was not closed: the backup will be sent again on the next run" },
  too_large: { kind: "permanent", advice: "the file is larger than Dropbox accepts" },
  payload_too_large: { kind: "permanent", advice: "a request was larger than 150 MiB: lower DROPBOX_CHUNK_MIB" },
  content_hash_mismatch: { kind: "integrity", advice: "the bytes Dropbox received do not match what was sent: the backup will be sent again" },
  expired_access_token: { kind: "unauthorized", advice: "the access token expired and could not be refreshed: authorize the app again" },
  invalid_access_token: { kind: "unauthorized", advice: "Dropbox no longer accepts the token (revoked or invalid): authorize the app again" },
  missing_scope: { kind: "unauthorized", advice: "the app lacks a permission it needs: enable it in the Dropbox App Console, then authorize again" },
  too_many_requests: { kind: "rate-limited", advice: "Dropbox kept asking to slow down: try again later" },
  too_many_write_operations: { kind: "rate-limited", advice: "Dropbox kept reporting too many writes in this folder: try again later" },
};

/** Maps any failure of a Dropbox call to a specific SyncError (SyncErrors pass through). */
export function toSyncError(error: unknown, context: FailureContext): SyncError {
  let attempts = 1;
  let failure = error;
  if (error instanceof RetryError) {
    attempts = error.attempts;
    failure = error.cause;
  }
  if (SyncError.is(failure)) return failure;
  const redactor = context.redactor ?? new SecretRedactor();
  const after = attempts > 1 ? ` after ${attempts} attempts` : "";
  const where = `Dropbox ${context.operation} for ${context.target} failed${after}`;

  if (isDropboxFailure(failure)) {
    const tags = errorTags(failure.error);
    const status = failure.status;
    const leaf = [...tags].reverse().find((tag) => ADVICE[tag]) ?? tags.at(-1);
    const known = leaf === undefined ? undefined : ADVICE[leaf];
    if (known) {
      const required = findKey(failure.error, "required_scope");
      const scope = typeof required === "string" ? ` (${required})` : "";
      return new SyncError(`${where}: ${tags.join("/")}${scope} (HTTP ${status}): ${known.advice}`, {
        kind: known.kind,
        code: `dropbox.${leaf}`,
        status,
        ...(known.kind === "rate-limited" ? { retryAfterMs: retryAfterMs(failure) } : {}),
      });
    }
    if (status >= 500) {
      return new SyncError(`${where}: Dropbox server error (HTTP ${status}): try again later`, { kind: "transient", code: "dropbox.server_error", status });
    }
    if (status === 429) {
      return new SyncError(`${where}: rate limited (HTTP 429): try again later`, { kind: "rate-limited", code: "dropbox.rate_limited", status, retryAfterMs: retryAfterMs(failure) });
    }
    if (status === 401 || status === 403) {
      return new SyncError(`${where}: ${tags.join("/") || "access refused"} (HTTP ${status}): authorize the app again`, { kind: "unauthorized", code: `dropbox.${tags.at(-1) ?? "unauthorized"}`, status });
    }
    if (status === 400) {
      const text = redactor.redact(typeof failure.error === "string" ? failure.error : JSON.stringify(failure.error)).slice(0, 300);
      return new SyncError(`${where}: Dropbox rejected the request (HTTP 400): ${text.trim() || "no details"}. This is a bug in this tool or a bad setting: report it with this message`, { kind: "permanent", code: "dropbox.bad_request", status });
    }
    return new SyncError(`${where}: ${tags.join("/") || "unexpected answer"} (HTTP ${status})`, { kind: "permanent", code: `dropbox.${tags.at(-1) ?? `http_${status}`}`, status });
  }
  if (isNetworkFailure(failure)) {
    return new SyncError(`${where}: network error (${redactor.redact(messageOf(failure))}): check the connection to Dropbox and try again`, { kind: "transient", code: "dropbox.network", cause: failure });
  }
  if (failure instanceof Error && failure.name === "AbortError") {
    return new SyncError(`${where}: cancelled`, { kind: "permanent", code: "dropbox.aborted", cause: failure });
  }
  return new SyncError(`${where}: ${redactor.redact(messageOf(failure))}`, { kind: "permanent", code: "dropbox.unexpected", cause: failure });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

function isObject(value: unknown): boolean {
  return typeof value === "object" && value !== null;
}

function headerOf(failure: DropboxFailure, name: string): string | null {
  const headers = failure.headers;
  if (!headers) return null;
  if (typeof (headers as { get?: unknown }).get === "function") return (headers as { get(name: string): string | null }).get(name);
  const record = headers as Record<string, string>;
  const key = Object.keys(record).find((k) => k.toLowerCase() === name);
  return key === undefined ? null : record[key] ?? null;
}

/** The first value under `key` anywhere in a (small) JSON value. */
function findKey(value: unknown, key: string, depth = 0): unknown {
  if (depth > 8 || typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (key in record) return record[key];
  for (const child of Object.values(record)) {
    const found = findKey(child, key, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
