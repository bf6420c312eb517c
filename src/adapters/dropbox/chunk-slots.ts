/**
 * Where the chunks of one concurrent upload session wait while they are sent: a slot per lane and one
 * filled ahead. In memory (a buffer per slot), or spooled to a temporary file, which keeps the
 * process's memory flat whatever the chunk size: a lane sends its chunk straight from the file, and
 * a chunk sent again (429, 5xx before sending) is read again, not kept.
 *
 * Why a file: over a real uplink, 4 connections fill the link only with chunks of 16-32 MiB (each
 * request waits a round trip and Dropbox's work, BENCHMARKS.md "The WAN model"), and 5 such buffers
 * (80-160 MiB) do not fit next to the process in the 160 MiB a 1 GiB upload may take. On disk they
 * cost nothing in RSS; the page cache does the rest.
 */
import { randomUUID } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { open, unlink } from "node:fs/promises";
import { join } from "node:path";
import { SyncError } from "../../domain/errors.ts";
import { BODY_LENGTH, type SizedBody } from "../http/node-http-fetch.ts";
import type { ChunkReader } from "./chunk-reader.ts";

/** A chunk read into a slot. */
export interface SlotChunk {
  slot: number;
  length: number;
  /** True when the stream has no bytes after this chunk. */
  last: boolean;
}

export interface ChunkSlots {
  readonly count: number;
  /** Reads the next chunk (up to the slot size) from `reader` into `slot`. */
  fill(reader: ChunkReader, slot: number): Promise<SlotChunk>;
  /** A request body of `length` bytes of `slot` from `start`: bytes, or a body the node:http fetch streams. */
  body(slot: number, start: number, length: number): Uint8Array | SizedBody;
  /** `length` bytes of `slot` from `start`, in memory. */
  bytes(slot: number, start: number, length: number): Promise<Uint8Array>;
  /**
   * True when a body of `slot` may be taken while the slot is still being filled: its pieces then
   * wait for the bytes to arrive (the spool; a memory slot must be full first).
   */
  readonly streamsWhileFilling: boolean;
  /** Frees the slots (the spool file goes). Idempotent. */
  close(): Promise<void>;
}

/** One buffer per slot, allocated when first filled. */
export class MemoryChunkSlots implements ChunkSlots {
  readonly #buffers: (Uint8Array | undefined)[];
  readonly #slotBytes: number;

  constructor(count: number, slotBytes: number) {
    this.#buffers = new Array<Uint8Array | undefined>(count);
    this.#slotBytes = slotBytes;
  }

  get count(): number {
    return this.#buffers.length;
  }

  get streamsWhileFilling(): boolean {
    return false;
  }

  async fill(reader: ChunkReader, slot: number): Promise<SlotChunk> {
    const buffer = (this.#buffers[slot] ??= new Uint8Array(this.#slotBytes));
    const chunk = await reader.fill(buffer);
    return { slot, length: chunk.bytes.length, last: chunk.last };
  }

  body(slot: number, start: number, length: number): Uint8Array {
    return this.#buffers[slot]!.subarray(start, start + length);
  }

  async bytes(slot: number, start: number, length: number): Promise<Uint8Array> {
    return this.body(slot, start, length);
  }

  async close(): Promise<void> {
    this.#buffers.fill(undefined);
  }
}

/** Bytes gathered before one write to the spool, and read per piece of a request body. */
const PIECE_BYTES = 1024 * 1024;

/**
 * The slots in one temporary file (slot i at i x slot size), created with mode 0600 in `dir` and
 * unlinked at once: the open file lives on without a name, so not even a hard kill leaves it behind.
 */
export class SpooledChunkSlots implements ChunkSlots {
  readonly #file: FileHandle;
  readonly #slotBytes: number;
  readonly #count: number;
  readonly #describe: string;
  /**
   * Two stages gather the source's small pieces into writes of PIECE_BYTES: one is written while the
   * other fills, so the download does not stop for the disk (the fill rate sets how far apart the
   * first lanes start).
   */
  readonly #stages = [new Uint8Array(PIECE_BYTES), new Uint8Array(PIECE_BYTES)];
  /** Per slot, how far its current fill has written, so a body can follow the fill. */
  readonly #fills = new Map<number, SlotFill>();
  #closed = false;

  private constructor(file: FileHandle, count: number, slotBytes: number, describe: string) {
    this.#file = file;
    this.#count = count;
    this.#slotBytes = slotBytes;
    this.#describe = describe;
  }

  /** @param dir a folder this process may write (the state folder). */
  static async create(dir: string, count: number, slotBytes: number): Promise<SpooledChunkSlots> {
    const path = join(dir, `.upload-spool-${randomUUID()}.tmp`);
    const describe = `the upload spool file in "${dir}"`;
    let file: FileHandle;
    try {
      file = await open(path, "wx+", 0o600);
    } catch (error) {
      throw spoolError(`Could not create ${describe} (it holds the chunks of a concurrent upload while they are sent)`, error);
    }
    try {
      await unlink(path);
    } catch (error) {
      await file.close().catch(() => undefined);
      await unlink(path).catch(() => undefined);
      throw spoolError(`Could not unlink ${describe} after creating it (it must not outlive the run)`, error);
    }
    return new SpooledChunkSlots(file, count, slotBytes, describe);
  }

  get count(): number {
    return this.#count;
  }

  get streamsWhileFilling(): boolean {
    return true;
  }

  async fill(reader: ChunkReader, slot: number): Promise<SlotChunk> {
    const base = slot * this.#slotBytes;
    const progress = new SlotFill();
    this.#fills.set(slot, progress);
    let stage = this.#stages[0]!;
    let staged = 0;
    let queued = 0;
    /** The write in flight (writes go one at a time, in order). */
    let writing: Promise<void> = Promise.resolve();
    const flush = async () => {
      if (staged === 0) return;
      // The other stage is free once its write is done; this one is written meanwhile.
      await writing;
      const bytes = stage.subarray(0, staged);
      const at = base + queued;
      queued += staged;
      writing = this.#write(bytes, at).then(() => progress.advance(bytes.length));
      writing.catch(() => undefined);
      stage = stage === this.#stages[0] ? this.#stages[1]! : this.#stages[0]!;
      staged = 0;
    };
    try {
      const { length, last } = await reader.pass(this.#slotBytes, async (part) => {
        for (let at = 0; at < part.length; ) {
          const take = Math.min(part.length - at, PIECE_BYTES - staged);
          stage.set(part.subarray(at, at + take), staged);
          staged += take;
          at += take;
          if (staged === PIECE_BYTES) await flush();
        }
      });
      await flush();
      await writing;
      progress.end();
      return { slot, length, last };
    } catch (error) {
      await writing.catch(() => undefined);
      progress.end(error);
      throw error;
    }
  }

  body(slot: number, start: number, length: number): SizedBody {
    const position = slot * this.#slotBytes + start;
    const read = (at: number, bytes: number) => this.#read(at, bytes);
    const progress = this.#fills.get(slot);
    return {
      [BODY_LENGTH]: length,
      async *[Symbol.asyncIterator]() {
        // A fresh buffer per piece: the socket may still hold the previous one.
        for (let done = 0; done < length; ) {
          const want = Math.min(PIECE_BYTES, length - done);
          // A slot still being filled: wait until its bytes are on disk.
          if (progress) await progress.reached(start + done + want);
          const piece = await read(position + done, want);
          done += piece.length;
          yield piece;
        }
      },
    };
  }

  async bytes(slot: number, start: number, length: number): Promise<Uint8Array> {
    return this.#read(slot * this.#slotBytes + start, length);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#file.close().catch(() => undefined);
  }

  async #write(bytes: Uint8Array, position: number): Promise<void> {
    try {
      for (let done = 0; done < bytes.length; ) {
        const { bytesWritten } = await this.#file.write(bytes, done, bytes.length - done, position + done);
        done += bytesWritten;
      }
    } catch (error) {
      throw spoolError(`Could not write ${bytes.length} bytes to ${this.#describe} at byte ${position}`, error);
    }
  }

  async #read(position: number, length: number): Promise<Uint8Array> {
    const bytes = new Uint8Array(length);
    try {
      for (let done = 0; done < length; ) {
        const { bytesRead } = await this.#file.read(bytes, done, length - done, position + done);
        if (bytesRead === 0) throw new Error(`the file ended ${length - done} bytes early`);
        done += bytesRead;
      }
    } catch (error) {
      throw spoolError(`Could not read ${length} bytes of ${this.#describe} at byte ${position}`, error);
    }
    return bytes;
  }
}

/**
 * A body taken while its slot was filling, whose fill then failed or ended short (the download broke
 * off, or UNMS sent fewer bytes than it announced). The request carrying it is cut off before its
 * Content-Length was sent, so Dropbox cannot have taken that chunk.
 */
export class SpoolFillFailed extends Error {
  override readonly name = "SpoolFillFailed";
}

/** How far one fill of a slot has written; a body following it waits here. */
class SlotFill {
  written = 0;
  #ended = false;
  #failure: unknown;
  #waiters: (() => void)[] = [];

  advance(bytes: number): void {
    this.written += bytes;
    this.#wake();
  }

  end(failure?: unknown): void {
    this.#ended = true;
    this.#failure = failure;
    this.#wake();
  }

  /** Resolves once `bytes` are written; rejects when the fill ends before that. */
  async reached(bytes: number): Promise<void> {
    while (this.written < bytes) {
      if (this.#ended) {
        const why = this.#failure instanceof Error ? this.#failure.message : this.#failure === undefined ? "the source ended" : String(this.#failure);
        throw new SpoolFillFailed(`the chunk's bytes stopped at ${this.written} of ${bytes}: ${why}`);
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  #wake(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

function spoolError(what: string, error: unknown): SyncError {
  const why = error instanceof Error ? error.message || error.name : String(error);
  // A full disk or a folder gone read-only lasts beyond a retry; the next run tries again.
  return new SyncError(
    `${what}: ${why}. The next run tries again; if that folder keeps too little free disk (up to connections + 1 times ` +
      `32 MiB while a backup uploads), free some there, or set DROPBOX_CONNECTIONS to 1 (one chunk at a time, in memory, no spool file)`,
    { kind: "permanent", code: "upload.spool", cause: error },
  );
}
