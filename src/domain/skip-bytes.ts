/**
 * Dropping the first bytes of a backup stream: a resumed upload needs the backup from the offset
 * already stored, and a source that ignores `Range` (or a download that restarts) sends it all.
 * Pure: it only reads the stream it is given.
 */
import { SyncError } from "./errors.ts";
import type { ByteStream } from "./ports.ts";

/**
 * `stream` without its first `count` bytes. Ending before that many bytes arrived is an
 * interruption (the backup is shorter than what was already stored), never a quiet short stream.
 */
export async function* skipBytes(stream: ByteStream, count: number, describe: string): ByteStream {
  let skipped = 0;
  for await (const piece of stream) {
    if (skipped >= count) {
      yield piece;
      continue;
    }
    const take = Math.min(count - skipped, piece.length);
    skipped += take;
    if (take < piece.length) yield piece.subarray(take);
  }
  if (skipped < count) {
    throw new SyncError(
      `${describe} ended after ${skipped} bytes, before byte ${count} where the unfinished upload stopped: the backup changed; it starts over`,
      { kind: "source-interrupted", code: "unms.resume_short" },
    );
  }
}
