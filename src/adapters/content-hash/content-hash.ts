/**
 * Dropbox `content_hash`, computed while bytes stream past.
 *
 * The file is cut into 4 MiB blocks (the last one may be shorter, an empty file has none); each
 * block is hashed with SHA-256, the 32-byte digests are concatenated and hashed once more, and the
 * result is written as lowercase hex. Pieces are fed to node:crypto as views, never copied.
 */
import { Buffer } from "node:buffer";
import { createHash, type Hash } from "node:crypto";

/** Dropbox hashes in blocks of exactly this many bytes. */
export const DROPBOX_HASH_BLOCK_BYTES: number = 4 * 1024 * 1024;

export class DropboxContentHasher {
  readonly #overall: Hash = createHash("sha256");
  #block: Hash | undefined;
  #blockFill = 0;
  #finished = false;
  /** Hex digests of the completed blocks: the whole state at a block boundary, so it can be saved. */
  readonly #blocks: string[] = [];

  /**
   * A hasher that continues after `blockHashes.length` whole blocks, from the digests that
   * `completedBlocks()` gave then (an upload resumed by a later run).
   */
  static resume(blockHashes: readonly string[]): DropboxContentHasher {
    const hasher = new DropboxContentHasher();
    for (const [index, hex] of blockHashes.entries()) {
      if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`Saved content-hash block ${index} is not 64 hex digits`);
      hasher.#overall.update(Buffer.from(hex, "hex"));
      hasher.#blocks.push(hex);
    }
    return hasher;
  }

  /** Bytes fed so far, saved blocks included. */
  get bytesHashed(): number {
    return this.#blocks.length * DROPBOX_HASH_BLOCK_BYTES + this.#blockFill;
  }

  /** Digests of the completed 4 MiB blocks so far (hex); a copy. */
  completedBlocks(): string[] {
    return [...this.#blocks];
  }

  /** Feeds the next bytes of the file; pieces of any size, in order. */
  update(bytes: Uint8Array): this {
    if (this.#finished) throw new Error("DropboxContentHasher.update() called after digest(): create a new hasher per file");
    let offset = 0;
    while (offset < bytes.length) {
      const take = Math.min(DROPBOX_HASH_BLOCK_BYTES - this.#blockFill, bytes.length - offset);
      (this.#block ??= createHash("sha256")).update(bytes.subarray(offset, offset + take));
      this.#blockFill += take;
      offset += take;
      if (this.#blockFill === DROPBOX_HASH_BLOCK_BYTES) this.#closeBlock();
    }
    return this;
  }

  /** The content hash of everything fed so far (64 lowercase hex characters); ends the hasher. */
  digest(): string {
    if (this.#finished) throw new Error("DropboxContentHasher.digest() called twice: create a new hasher per file");
    if (this.#blockFill > 0) this.#closeBlock();
    this.#finished = true;
    return this.#overall.digest("hex");
  }

  #closeBlock(): void {
    const digest = this.#block!.digest();
    this.#blocks.push(digest.toString("hex"));
    this.#overall.update(digest);
    this.#block = undefined;
    this.#blockFill = 0;
  }
}

/**
 * The Dropbox content hash of bytes held in memory.
 *
 * @example
 * ```ts
 * import { contentHashOf } from "unms-dropbox-backup-sync";
 *
 * contentHashOf(new TextEncoder().encode("hello")); // 64 hex characters, as Dropbox lists it
 * ```
 */
export function contentHashOf(bytes: Uint8Array): string {
  return new DropboxContentHasher().update(bytes).digest();
}
