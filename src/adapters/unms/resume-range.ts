/**
 * Starting a backup download part-way (a resumed upload). Whether UNMS honours `Range` is not
 * documented, so both answers are handled: 206 with the Content-Range asked for is used as it is;
 * 200 (the whole body) has its first bytes read and dropped here, so the caller always gets the
 * stream from the offset it asked for.
 */
import { SyncError } from "../../domain/errors.ts";
import type { ByteStream } from "../../domain/ports.ts";

/** `bytes=N-`: everything from byte N on. */
export function rangeHeader(offset: number): string {
  return `bytes=${offset}-`;
}

/**
 * Why a 206 answer's Content-Range does not start at `offset` (undefined when it does).
 * RFC 9110: `bytes first-last/complete` or `bytes first-last/*`.
 */
export function contentRangeProblem(header: string | null, offset: number): string | undefined {
  if (header === null) return "it has no Content-Range header";
  const match = /^\s*bytes\s+(\d+)-(\d+)\/(\d+|\*)\s*$/i.exec(header);
  if (!match) return `its Content-Range "${header.slice(0, 80)}" cannot be read`;
  if (Number(match[1]) !== offset) return `its Content-Range "${header}" does not start at byte ${offset}`;
  if (match[3] !== "*" && Number(match[2]) !== Number(match[3]) - 1) return `its Content-Range "${header}" does not run to the end`;
  return undefined;
}

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
