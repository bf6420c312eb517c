/**
 * A backup body as a ByteStream that throws instead of ending quietly: a broken connection, a
 * stall longer than the timeout, or a body shorter than its content-length all surface as a
 * SyncError of kind `source-interrupted`, so no truncated backup is ever stored as complete.
 */
import type { ByteStream } from "../../domain/ports.ts";
import type { RequestDeadline } from "./request-deadline.ts";
import { networkReason, unmsDownloadInterrupted } from "./unms-errors.ts";
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
      return;
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
  } finally {
    deadline.dispose();
  }
}

/** Not every body follows its request's signal (mocked ones do not), so race the read against it. */
function readOrAbort(
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
