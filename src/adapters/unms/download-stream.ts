/**
 * A backup body as a ByteStream that throws instead of ending quietly: a broken connection, a
 * stall longer than the timeout, or a body shorter than its content-length all surface as a
 * SyncError of kind `source-interrupted`, so no truncated backup is ever stored as complete.
 *
 * A wrong download must never become the backup: an answer that declares an HTML, JSON or text
 * content type (a proxy's login or error page) is refused before any byte is passed on, and so is
 * an empty body (a UNMS backup is a non-empty archive). Both fail as `unms.download_refused`.
 */
import type { ByteStream } from "../../domain/ports.ts";
import type { RequestDeadline } from "./request-deadline.ts";
import { networkReason, unmsDownloadInterrupted, unmsDownloadRefused } from "./unms-errors.ts";
import type { UnmsCallContext } from "./unms-errors.ts";

/** The announced body length, when it counts the bytes we will read (no content-encoding). */
export function announcedLength(headers: Headers): number | undefined {
  const encoding = headers.get("content-encoding")?.trim().toLowerCase();
  if (encoding && encoding !== "identity") return undefined;
  const value = headers.get("content-length")?.trim();
  if (!value || !/^\d+$/.test(value)) return undefined;
  const length = Number(value);
  return Number.isSafeInteger(length) ? length : undefined;
}

/** Content types that are never a backup file; the backup itself comes as octet-stream (or none). */
const NOT_A_BACKUP = /^(text\/|application\/(json|xhtml\+xml|problem\+json)\b|[^;]*\+json\b)/i;

/** The declared content type when it says the body is a page or a message, not a backup. */
function pageContentType(headers: Headers): string | undefined {
  const type = headers.get("content-type")?.trim();
  return type && NOT_A_BACKUP.test(type) ? type : undefined;
}

/** How much of a refused page is quoted: enough to recognise a login page, never the whole thing. */
const QUOTED_BYTES = 120;

/**
 * Refuses a download before streaming it when its headers already show it is not a backup: a page
 * content type (quoting the start of the page) or a declared length of 0. Reads at most one chunk.
 */
export async function refuseNonBackup(
  response: Response,
  body: ReadableStream<Uint8Array> | null | undefined,
  call: UnmsCallContext & { backupId: string },
): Promise<void> {
  const type = pageContentType(response.headers);
  if (type !== undefined) {
    const start = body ? await firstText(body, QUOTED_BYTES) : "";
    throw unmsDownloadRefused(call, `content-type ${type}${start ? `, starting "${start}"` : ""}`);
  }
  if (announcedLength(response.headers) === 0) {
    await body?.cancel().catch(() => {});
    throw unmsDownloadRefused(call, "an empty body (content-length 0)");
  }
}

async function firstText(body: ReadableStream<Uint8Array>, bytes: number): Promise<string> {
  const reader = body.getReader();
  try {
    const { value } = await reader.read();
    if (!value) return "";
    return new TextDecoder().decode(value.subarray(0, bytes)).replace(/\s+/g, " ").trim();
  } catch {
    return "";
  } finally {
    reader.cancel().catch(() => {});
  }
}

export async function* guardedDownload(
  body: ReadableStream<Uint8Array> | null | undefined,
  call: UnmsCallContext & { backupId: string },
  expected: number | undefined,
  deadline: RequestDeadline,
): ByteStream {
  let received = 0;
  const interrupted = (why: string, cause?: unknown) => unmsDownloadInterrupted(call, received, expected, why, cause);
  try {
    if (!body) {
      if (expected) throw interrupted("UNMS sent no body");
      throw unmsDownloadRefused(call, "no body at all");
    }
    const reader = body.getReader();
    try {
      for (;;) {
        let next: ReadableStreamReadResult<Uint8Array>;
        deadline.arm();
        try {
          next = await readOrAbort(reader, deadline.signal);
        } catch (error) {
          if (deadline.callerAborted) throw deadline.callerReason;
          const why = deadline.timedOut
            ? `no data arrived for ${deadline.timeoutMs} ms`
            : `the connection broke (${call.redact(networkReason(error))})`;
          throw interrupted(why, error);
        } finally {
          deadline.disarm();
        }
        if (next.done) break;
        received += next.value.byteLength;
        if (expected !== undefined && received > expected) {
          throw interrupted("UNMS sent more bytes than the content-length it announced");
        }
        yield next.value;
      }
    } finally {
      // Releases the connection when the consumer stopped early or the transfer failed.
      reader.cancel().catch(() => {});
    }
    if (expected !== undefined && received < expected) {
      throw interrupted(`the body ended ${expected - received} bytes short of the announced content-length`);
    }
    if (received === 0) throw unmsDownloadRefused(call, "an empty body (0 bytes)");
  } finally {
    deadline.dispose();
  }
}

/** Not every body follows its request's signal (mocked ones do not), so race the read against it. */
/** One read of `reader`, or the signal's reason once it aborts. */
export function readOrAbort(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  signal: AbortSignal,
): Promise<ReadableStreamReadResult<Uint8Array>> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    reader.read().then(
      (result) => {
        signal.removeEventListener("abort", onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
