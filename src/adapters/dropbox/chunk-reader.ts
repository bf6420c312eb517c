/**
 * Cuts a byte stream into chunks in caller-owned buffers (one copy per byte, into the buffer), hashes
 * the bytes as they pass, and tells whether a chunk is the last one by peeking one piece ahead.
 * Any failure of the stream becomes a SyncError of kind `source-interrupted`.
 */
import { SyncError } from "../../domain/errors.ts";
import type { ByteStream } from "../../domain/ports.ts";

export interface Chunk {
  /** A view of the caller's buffer holding this chunk's bytes. */
  bytes: Uint8Array;
  /** True when the stream has no bytes after this chunk. */
  last: boolean;
}

export class ChunkReader {
  readonly #iterator: AsyncIterator<Uint8Array>;
  readonly #onBytes: (bytes: Uint8Array) => void;
  readonly #describeSource: string;
  #pending: Uint8Array | undefined;
  #ended = false;
  #bytesRead = 0;

  /**
   * @param onBytes sees every byte once, in order (the content hasher).
   * @param describeSource names the stream in error messages, e.g. `the download of backup "x"`.
   */
  constructor(source: ByteStream, onBytes: (bytes: Uint8Array) => void, describeSource: string) {
    this.#iterator = source[Symbol.asyncIterator]();
    this.#onBytes = onBytes;
    this.#describeSource = describeSource;
  }

  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Fills `buffer` as far as the stream allows. */
  async fill(buffer: Uint8Array): Promise<Chunk> {
    let filled = 0;
    const { last } = await this.pass(buffer.length, (part) => {
      buffer.set(part, filled);
      filled += part.length;
    });
    return { bytes: buffer.subarray(0, filled), last };
  }

  /**
   * Hands the next `limit` bytes (fewer at the end of the stream) to `consume`, in order, as views of
   * the source's pieces; the next piece is read only once `consume` has settled, so a slow consumer
   * (a disk) holds the source back instead of piling its pieces up in memory.
   */
  async pass(limit: number, consume: (part: Uint8Array) => void | Promise<void>): Promise<{ length: number; last: boolean }> {
    let passed = 0;
    while (passed < limit) {
      const piece = this.#pending ?? (await this.#next());
      this.#pending = undefined;
      if (piece === undefined) break;
      const take = Math.min(piece.length, limit - passed);
      const part = piece.subarray(0, take);
      this.#onBytes(part);
      await consume(part);
      passed += take;
      if (take < piece.length) this.#pending = piece.subarray(take);
    }
    if (this.#pending === undefined && !this.#ended) this.#pending = await this.#next();
    this.#bytesRead += passed;
    return { length: passed, last: this.#pending === undefined };
  }

  /** Stops the stream early (after a failed upload), so the source stops sending. */
  cancel(): void {
    if (this.#ended) return;
    this.#ended = true;
    void this.#iterator.return?.()?.catch(() => undefined);
  }

  /** The next non-empty piece, or undefined at the end. */
  async #next(): Promise<Uint8Array | undefined> {
    while (!this.#ended) {
      let result: IteratorResult<Uint8Array>;
      try {
        result = await this.#iterator.next();
      } catch (error) {
        this.#ended = true;
        if (SyncError.is(error)) throw error;
        const why = error instanceof Error ? error.message || error.name : String(error);
        throw new SyncError(`Reading ${this.#describeSource} broke off after ${this.#bytesRead} bytes: ${why}`, {
          kind: "source-interrupted",
          code: "source.interrupted",
          cause: error,
        });
      }
      if (result.done) {
        this.#ended = true;
        return undefined;
      }
      const value = result.value;
      if (!(value instanceof Uint8Array)) {
        this.#ended = true;
        throw new SyncError(`Reading ${this.#describeSource}: the stream yielded ${typeof value}, not bytes`, {
          kind: "source-interrupted",
          code: "source.not_bytes",
        });
      }
      if (value.length > 0) return value;
    }
    return undefined;
  }
}
