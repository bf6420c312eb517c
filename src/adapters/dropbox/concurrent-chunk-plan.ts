/**
 * The chunk size of one file's concurrent upload session, chosen from the file's size (known before
 * the upload) within a fixed budget for its chunk slots: memory buffers, or a spool file on disk
 * (chunk-slots.ts), which allows larger chunks. Pure arithmetic, no I/O.
 *
 * Every connection (lane) pays a fixed cost per request (a round trip plus Dropbox's work) next to
 * the time its bytes take, and the file is done when its busiest lane is. So the size trades fewer
 * requests (larger chunks) against an idle last round (a chunk count that does not divide over the
 * lanes), e.g. 256 MiB over 4 lanes: 12 MiB chunks make 22 requests, 6 rounds of which the last
 * carries 4 MiB on one lane (72 MiB on the busiest lane); 8 MiB chunks make 8 full rounds (64 MiB).
 */

const MiB = 1024 * 1024;
/** Dropbox takes concurrent pieces in multiples of 4 MiB (all but the closing one). */
const BLOCK_BYTES = 4 * MiB;
/**
 * What one request's fixed cost is worth in bytes one connection could have sent meanwhile: about
 * 270 ms (a 120 ms round trip and 150 ms of server work, the bench's WAN model, BENCHMARKS.md) at
 * 8 MiB/s per connection. Only the ratio matters; it decides between near costs, never the budget.
 */
export const REQUEST_OVERHEAD_BYTES: number = 2 * MiB + MiB / 4;
/** A concurrent session pays three requests that carry no data: start, the closing append, finish. */
const SESSION_REQUESTS = 3;

export interface ConcurrentChunkPlan {
  /** A multiple of 4 MiB. */
  chunkBytes: number;
  /** Chunk buffers to allocate: one per lane and one more, filled while every lane is sending. */
  buffers: number;
}

/**
 * The chunk size for a file of `fileBytes` (undefined: not known) sent over `lanes` connections,
 * with `lanes + 1` buffers of that size within `budgetBytes` (at least 4 MiB each).
 */
export function planConcurrentChunks(fileBytes: number | undefined, lanes: number, budgetBytes: number): ConcurrentChunkPlan {
  const buffers = lanes + 1;
  const largest = Math.max(BLOCK_BYTES, Math.floor(budgetBytes / buffers / BLOCK_BYTES) * BLOCK_BYTES);
  if (fileBytes === undefined || fileBytes <= 0) return { chunkBytes: largest, buffers };
  let best = { chunkBytes: largest, cost: Infinity };
  // Ascending, and only a strictly lower cost wins: between equal costs the smaller chunk (less memory).
  for (let chunkBytes = BLOCK_BYTES; chunkBytes <= largest; chunkBytes += BLOCK_BYTES) {
    const cost = busiestLaneCost(fileBytes, lanes, chunkBytes);
    if (cost < best.cost) best = { chunkBytes, cost };
  }
  return { chunkBytes: best.chunkBytes, buffers };
}

/** The busiest lane's time, in bytes: its rounds of one chunk and one request's cost, plus the session's own requests. */
export function busiestLaneCost(fileBytes: number, lanes: number, chunkBytes: number): number {
  const chunks = Math.ceil(fileBytes / chunkBytes);
  // One chunk goes up as one files/upload, no session.
  if (chunks === 1) return fileBytes + REQUEST_OVERHEAD_BYTES;
  const rounds = Math.ceil(chunks / lanes);
  return rounds * (chunkBytes + REQUEST_OVERHEAD_BYTES) + SESSION_REQUESTS * REQUEST_OVERHEAD_BYTES;
}
