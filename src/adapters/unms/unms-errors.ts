/**
 * Turns what UNMS (or the network on the way) did into SyncErrors a person can act on. Messages
 * name the endpoint and the host+path asked, never the API token: foreign text (UNMS's own error
 * message, socket errors) passes through `redact` first.
 */
import { SyncError, describeError } from "../../domain/errors.ts";
import { certificateProblem, unmsCertificateError } from "./unms-tls-errors.ts";

/** Which call failed, for messages: `GET nms/backups` at `unms:8081/nms/api/v2.1/nms/backups`. */
export interface UnmsCallContext {
  endpoint: string;
  /** Host and path of the URL asked; no query, no credentials. */
  location: string;
  /** The full URL asked (never carries the token), to resolve relative redirects. */
  url: string;
  backupId?: string;
  /** Removes the API token from foreign text. */
  redact(text: string): string;
}

const TOKEN_SETTING = "the UNMS API token setting (unmsApiToken / UNMS_API_TOKEN)";
const TOKEN_ORIGIN = "create one in UNMS under Network -> Settings -> Users.";
const URL_ADVICE = "check that the UNMS URL setting (unmsUrl / UNMS_URL) points at the NMS, e.g. https://uisp.example.com/nms";

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  408: "Request Timeout",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Maps a non-2xx answer. `body` is what openapi-fetch parsed: UNMS's JSON error, or text. */
export function unmsHttpError(
  call: UnmsCallContext,
  response: { status: number; statusText: string; headers: Headers },
  body: unknown,
  now: () => number = Date.now,
): SyncError {
  const { status } = response;
  const said = unmsMessage(body, call);
  const reason = response.statusText || errorField(body) || REASONS[status] || "";
  const http = `HTTP ${status}${reason ? ` ${reason}` : ""} on ${call.endpoint}${said ? `; UNMS says "${said}"` : ""}`;

  if (status >= 300 && status < 400) {
    // Redirects are not followed: the x-auth-token header would go along to wherever they point.
    const target = redirectTarget(response.headers.get("location"), call);
    return new SyncError(
      `UNMS redirected ${call.endpoint} at ${call.location} (HTTP ${status}) to ${target}: set the UNMS URL setting (unmsUrl / UNMS_URL) to the address UNMS really answers on (the NMS base, e.g. https://uisp.example.com/nms).`,
      { kind: "config", code: "unms.redirected", status },
    );
  }
  if (status === 401 || status === 403) {
    const permission = status === 403 ? " and that its user may manage backups" : "";
    return new SyncError(`UNMS refused the API token (${http}): check ${TOKEN_SETTING}${permission}; ${TOKEN_ORIGIN}`, {
      kind: "unauthorized",
      code: "unms.unauthorized",
      status,
    });
  }
  if (status === 404) {
    if (call.backupId !== undefined) {
      return new SyncError(
        `UNMS has no backup "${call.backupId}" (${http}): it was probably deleted after it was listed; the next run works from the current list.`,
        { kind: "not-found", code: "unms.backup_not_found", status },
      );
    }
    return new SyncError(`UNMS has no ${call.endpoint} at ${call.location} (${http}): ${URL_ADVICE}.`, {
      kind: "not-found",
      code: "unms.not_found",
      status,
    });
  }
  if (status === 429) {
    const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), now);
    const wait = retryAfterMs === undefined ? "" : ` for ${Math.ceil(retryAfterMs / 1000)} s`;
    return new SyncError(`UNMS asked us to slow down${wait} (${http} at ${call.location}).`, {
      kind: "rate-limited",
      code: "unms.rate_limited",
      status,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (status >= 500 || status === 408) {
    return new SyncError(
      `UNMS failed to answer ${call.endpoint} at ${call.location} (${http}). This is usually temporary (UNMS busy, restarting or upgrading); if it persists, check the UNMS logs.`,
      { kind: "transient", code: "unms.server_error", status },
    );
  }
  return new SyncError(
    `UNMS rejected ${call.endpoint} at ${call.location} (${http}): this UNMS may not support the v2.1 API calls this tool makes; ${URL_ADVICE} and that UNMS is 2.1 or newer.`,
    { kind: "permanent", code: "unms.request_rejected", status },
  );
}

/** Connection refused, DNS, TLS, reset, or our own timeout before an answer arrived. */
export function unmsNetworkError(call: UnmsCallContext, error: unknown, timeoutMs: number | undefined): SyncError {
  // A refused certificate stays refused: say so now instead of retrying.
  const certificate = certificateProblem(error);
  if (certificate) return unmsCertificateError(call, certificate, error);
  if (timeoutMs !== undefined) {
    return new SyncError(
      `UNMS did not answer ${call.endpoint} at ${call.location} within ${formatSeconds(timeoutMs)}. If this persists, check that UNMS is running and reachable from here.`,
      { kind: "transient", code: "unms.timeout", cause: error },
    );
  }
  return new SyncError(
    `Could not reach UNMS for ${call.endpoint} at ${call.location}: ${call.redact(networkReason(error))}. ` +
      `If this persists, check that UNMS is running and ${URL_ADVICE.replace("check that ", "")}.`,
    { kind: "transient", code: "unms.unreachable", cause: error },
  );
}

/**
 * Whether reading or parsing a body failed because it is too large for this runtime (V8's string
 * limit of about 512 MiB: undici's ERR_STRING_TOO_LONG, "Invalid string length"), not the network.
 */
export function isTooLargeToRead(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e?.code === "ERR_STRING_TOO_LONG") return true;
  return error instanceof RangeError && /string length|string longer|array length|allocation/i.test(String(e?.message));
}

/** The answer arrived but is too large to read as one JSON text. */
export function unmsResponseTooLarge(call: UnmsCallContext, error: unknown): SyncError {
  return new SyncError(
    `UNMS answered ${call.endpoint} at ${call.location}, but the answer is too large for this runtime to read (${call.redact(describeError(error))}). ` +
      `UNMS was reached; nothing was uploaded or deleted. Remove old backups in UNMS so the list gets shorter, or run the sync on a machine with more memory.`,
    { kind: "permanent", code: "unms.response_too_large", cause: error },
  );
}

/** A 2xx answer whose body is not what the API promises. */
export function unmsMalformedResponse(call: UnmsCallContext, problem: string): SyncError {
  return new SyncError(
    `UNMS answered ${call.endpoint} at ${call.location} with ${problem}. ` +
      `If a proxy or login page answered instead of UNMS, ${URL_ADVICE}; otherwise this UNMS version answers differently than the v2.1 API this tool expects.`,
    { kind: "permanent", code: "unms.malformed_response" },
  );
}

/** The backup body broke off or ended short; the whole backup must be fetched again. `why` must be redacted already. */
export function unmsDownloadInterrupted(
  call: UnmsCallContext & { backupId: string },
  received: number,
  expected: number | undefined,
  why: string,
  cause?: unknown,
): SyncError {
  const of = expected === undefined ? "" : ` of ${expected}`;
  return new SyncError(
    `The download of UNMS backup "${call.backupId}" (${call.endpoint}) broke off after ${received}${of} bytes: ${why}. It will be downloaded again from the start.`,
    { kind: "source-interrupted", code: "unms.download_interrupted", ...(cause === undefined ? {} : { cause }) },
  );
}

/**
 * A 200 answer that is not the backup (a proxy's login page, an empty body): refused, never stored,
 * and not retried within the run, since the same answer would come again.
 */
export function unmsDownloadRefused(call: UnmsCallContext & { backupId: string }, whatCame: string): SyncError {
  return new SyncError(
    `Refused the download of UNMS backup "${call.backupId}" (${call.endpoint} at ${call.location}): it answered with ${call.redact(whatCame)} instead of the backup file, so nothing was stored. A proxy or login page in front of UNMS does this: ${URL_ADVICE}.`,
    { kind: "permanent", code: "unms.download_refused" },
  );
}

/** Seconds (`120`) or an HTTP date; undefined when absent or unreadable. */
function parseRetryAfter(value: string | null, now: () => number = Date.now): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now());
}

function unmsMessage(body: unknown, call: UnmsCallContext): string {
  if (typeof body === "object" && body !== null && typeof (body as { message?: unknown }).message === "string") {
    return call.redact((body as { message: string }).message.trim()).slice(0, 300);
  }
  return "";
}

function redirectTarget(location: string | null, call: UnmsCallContext): string {
  if (!location) return "an address it did not name";
  try {
    const url = new URL(location, call.url);
    return `${url.protocol}//${url.host}${url.pathname}`;
  } catch {
    return `"${call.redact(location).slice(0, 200)}"`;
  }
}

function errorField(body: unknown): string {
  if (typeof body === "object" && body !== null && typeof (body as { error?: unknown }).error === "string") {
    return (body as { error: string }).error;
  }
  return "";
}

/** undici says only "fetch failed"; the useful part (ECONNREFUSED, ENOTFOUND...) is in `cause`. */
export function networkReason(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (current instanceof Error) {
      const code = (current as { code?: unknown }).code;
      const text = current.message.trim() || current.name;
      parts.push(typeof code === "string" && !text.includes(code) ? `${text} (${code})` : text);
      current = current.cause;
    } else {
      parts.push(String(current));
      break;
    }
  }
  return parts.filter(Boolean).join(": ") || "unknown network error";
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}
