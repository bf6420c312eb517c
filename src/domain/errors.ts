/**
 * Typed failures that cross layer boundaries.
 *
 * Every failure carries a stable `code` (so it survives bundling and realm boundaries where
 * `instanceof` does not), a `kind` that the retry classifier and the entrypoints act on, and a
 * message a person can act on at 3 a.m.: what failed, on what, why, and what to do.
 *
 * Never put a secret into a message, `detail` or `cause`: messages reach plugin.log, which every
 * UCRM admin can read. The reporters redact as a second line of defence, not the first.
 */

/**
 * How a failure should be handled by whoever catches it.
 *
 * @example
 * ```ts
 * import type { FailureKind } from "unms-dropbox-backup-sync";
 *
 * const retryable = (kind: FailureKind) => kind === "transient" || kind === "rate-limited";
 * ```
 */
export type FailureKind =
  /** Bad or missing settings, bad command-line usage: exit 2, fix the configuration. */
  | "config"
  /** A service refused our credentials (401/403). Not retried. */
  | "unauthorized"
  /** The user must (re)authorize Dropbox: exit 3 with the authorization URL. */
  | "authorization-required"
  /** The thing asked for does not exist. */
  | "not-found"
  /** The service asked us to slow down; `retryAfterMs` says for how long. */
  | "rate-limited"
  /** Network errors, 5xx, timeouts: retry with backoff. */
  | "transient"
  /** The backup download from UNMS broke off: start that backup over. */
  | "source-interrupted"
  /** Stored bytes do not match what was sent (content hash mismatch). */
  | "integrity"
  /** The run's time budget ran out between chunks; the saved upload continues on the next run. */
  | "paused"
  /** Anything else that a retry will not fix. */
  | "permanent";

const brand = Symbol.for("unms-dropbox-backup-sync.SyncError");

export interface SyncErrorOptions {
  kind: FailureKind;
  /** Stable identifier such as `unms.unauthorized` or `dropbox.insufficient_space`. */
  code: string;
  /** For `rate-limited`: how long the service asked us to wait. */
  retryAfterMs?: number;
  /** HTTP status, when the failure came from an HTTP answer. */
  status?: number;
  cause?: unknown;
}

/**
 * The typed failure every part throws: a `kind` to act on, a stable `code`, an actionable message.
 *
 * @example
 * ```ts
 * import { SyncError, type BackupSync } from "unms-dropbox-backup-sync";
 *
 * declare const backupSync: BackupSync;
 * declare function showSettings(): void;
 *
 * try {
 *   await backupSync.sync();
 * } catch (error) {
 *   if (SyncError.is(error) && error.kind === "config") showSettings();
 * }
 * ```
 */
export class SyncError extends Error {
  readonly kind: FailureKind;
  readonly code: string;
  readonly retryAfterMs: number | undefined;
  readonly status: number | undefined;

  constructor(message: string, options: SyncErrorOptions) {
    super(message || `${options.code} (no message)`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "SyncError";
    this.kind = options.kind;
    this.code = options.code;
    this.retryAfterMs = options.retryAfterMs;
    this.status = options.status;
    // Set here, not declared as a field: a symbol-keyed field would need its type spelled out in
    // the published declarations, and the mark is for is() only.
    (this as unknown as Record<symbol, boolean>)[brand] = true;
  }

  /** Works across bundles and realms, unlike `instanceof`. */
  static is(value: unknown): value is SyncError {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}

/**
 * A readable message for any thrown value; never empty.
 *
 * @example
 * ```ts
 * import { describeError, type BackupSync } from "unms-dropbox-backup-sync";
 *
 * declare const backupSync: BackupSync;
 *
 * try {
 *   await backupSync.sync();
 * } catch (error) {
 *   console.error(describeError(error));
 * }
 * ```
 */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const message = error.message.trim();
    if (message) return message;
    return `${error.name || "Error"} without a message${error.cause ? ` (cause: ${describeError(error.cause)})` : ""}`;
  }
  if (typeof error === "string" && error.trim()) return error.trim();
  try {
    const json = JSON.stringify(error);
    if (json && json !== "{}") return `Unexpected failure: ${json}`;
  } catch {
    // fall through to the generic text
  }
  return `Unexpected failure of type ${typeof error}`;
}

export function configError(message: string, code = "config.invalid"): SyncError {
  return new SyncError(message, { kind: "config", code });
}

/**
 * The OAuth token endpoint answered `invalid_grant`: the code was used or expired, or the refresh
 * token was revoked. `description` is the provider's reason (no secrets in it). Thrown by the OAuth
 * client adapter; the token session turns it into a rejection of the token lifecycle.
 */
export class OAuthGrantError extends SyncError {
  constructor(
    message: string,
    readonly description: string,
    readonly grantType: "authorization_code" | "refresh_token",
  ) {
    super(message, { kind: "authorization-required", code: "dropbox.oauth.invalid_grant", status: 400 });
    this.name = "OAuthGrantError";
  }

  static isGrantError(value: unknown): value is OAuthGrantError {
    return SyncError.is(value) && value.code === "dropbox.oauth.invalid_grant" && typeof (value as OAuthGrantError).description === "string";
  }
}
