/**
 * Reference Dropbox content hasher for the fake (kept separate from src/ on purpose: the fake must not
 * share code with the implementation it checks).
 *
 * 4 MiB blocks, SHA-256 per block, SHA-256 over the concatenated raw block digests, lowercase hex.
 */
import { createHash } from "node:crypto";
import type { Hash } from "node:crypto";

export const CONTENT_HASH_BLOCK_SIZE: number = 4 * 1024 * 1024;

export class RefContentHasher {
  private overall: Hash;
  private block: Hash;
  private blockFill: number;
  private total: number;

  constructor(state?: { overall: Hash; block: Hash; blockFill: number; total: number }) {
    this.overall = state?.overall ?? createHash("sha256");
    this.block = state?.block ?? createHash("sha256");
    this.blockFill = state?.blockFill ?? 0;
    this.total = state?.total ?? 0;
  }

  /** Bytes hashed so far. */
  get size(): number {
    return this.total;
  }

  update(bytes: Uint8Array): this {
    let offset = 0;
    while (offset < bytes.length) {
      const take = Math.min(CONTENT_HASH_BLOCK_SIZE - this.blockFill, bytes.length - offset);
      this.block.update(bytes.subarray(offset, offset + take));
      this.blockFill += take;
      offset += take;
      if (this.blockFill === CONTENT_HASH_BLOCK_SIZE) {
        this.overall.update(this.block.digest());
        this.block = createHash("sha256");
        this.blockFill = 0;
      }
    }
    this.total += bytes.length;
    return this;
  }

  /** An independent copy: lets a request hash into a draft that is committed only if the request succeeds. */
  fork(): RefContentHasher {
    return new RefContentHasher({
      overall: this.overall.copy(),
      block: this.block.copy(),
      blockFill: this.blockFill,
      total: this.total,
    });
  }

  /** Does not disturb the running state, so the hasher can keep going afterwards. */
  hex(): string {
    const overall = this.overall.copy();
    if (this.blockFill > 0) overall.update(this.block.copy().digest());
    return overall.digest("hex");
  }
}

export function refContentHash(bytes: Uint8Array | string): string {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  return new RefContentHasher().update(data).hex();
}
