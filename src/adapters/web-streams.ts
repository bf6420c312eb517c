/**
 * Between our byte streams (async iterables) and web streams: the age package works on web streams,
 * and Node 16's `Readable.toWeb` stand-in is built on the same pull. Both directions pull on demand,
 * so only a chunk or two is ever held: memory stays flat.
 */
import type { ByteStream } from "../domain/ports.ts";

export interface ToReadableStreamHooks {
  /** Hears every chunk as it is handed on (e.g. to count the bytes). */
  onChunk?: (chunk: Uint8Array) => void;
  /** Hears the reader's cancel, with its reason, before `bytes` is ended. */
  onCancel?: (reason: unknown) => void;
}

/** A ReadableStream that reads `bytes` only as it is read itself; cancelling it ends `bytes`. */
export function toReadableStream(bytes: ByteStream, hooks: ToReadableStreamHooks = {}): ReadableStream<Uint8Array> {
  const iterator = bytes[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await iterator.next();
        if (next.done) controller.close();
        else {
          hooks.onChunk?.(next.value);
          controller.enqueue(next.value);
        }
      },
      async cancel(reason) {
        hooks.onCancel?.(reason);
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}

/** The stream's chunks as an async iterable (Node 16's web streams are not iterable themselves). */
export async function* fromReadableStream(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let done = false;
  try {
    for (;;) {
      const next = await reader.read();
      if (next.done) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // Stopped early (a failed upload): the source behind it is told to stop too.
    if (!done) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
