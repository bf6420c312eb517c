import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { contentHashOf, DropboxContentHasher, DROPBOX_HASH_BLOCK_BYTES } from "../../../src/adapters/content-hash/content-hash.ts";

const MiB = 1024 * 1024;

describe("Dropbox content hash", () => {
  test("contentHashOf() of an empty file is SHA-256 of nothing", () => {
    assert.equal(contentHashOf(new Uint8Array(0)), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });

  test("contentHashOf() matches the documented vectors", () => {
    assert.equal(contentHashOf(new TextEncoder().encode("hello")), "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50");
    assert.equal(contentHashOf(new Uint8Array(4 * MiB)), "c7e946d101855255d919ef0c70718633adf77d3dfb3adeeecf5d0cb4e951be58");
    assert.equal(contentHashOf(new Uint8Array(4 * MiB + 1)), "14a4d47f23a30177885d9820122f17d2d3a55fe63f7f5c27b95f689e0b2accd6");
  });

  test("DropboxContentHasher gives the same hash however the bytes are split", () => {
    const bytes = new Uint8Array(9 * MiB + 12345);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 11)) & 0xff;
    const whole = contentHashOf(bytes);
    for (const piece of [4096, 65536 + 7, 3 * MiB + 1, DROPBOX_HASH_BLOCK_BYTES, 5 * MiB]) {
      const hasher = new DropboxContentHasher();
      for (let offset = 0; offset < bytes.length; offset += piece) hasher.update(bytes.subarray(offset, offset + piece));
      assert.equal(hasher.digest(), whole, `pieces of ${piece} bytes`);
    }
    // Single bytes where they matter, across each block boundary (not 9 million calls for the rest).
    const hasher = new DropboxContentHasher();
    let offset = 0;
    for (const boundary of [DROPBOX_HASH_BLOCK_BYTES, 2 * DROPBOX_HASH_BLOCK_BYTES]) {
      hasher.update(bytes.subarray(offset, boundary - 300));
      for (offset = boundary - 300; offset < boundary + 300; offset++) hasher.update(bytes.subarray(offset, offset + 1));
    }
    hasher.update(bytes.subarray(offset));
    assert.equal(hasher.digest(), whole, "single bytes across the block boundaries");
  });

  test("DropboxContentHasher follows the block definition (independent computation)", () => {
    const bytes = new Uint8Array(8 * MiB + 3).fill(0x41);
    const blockDigests = [0, 4 * MiB, 8 * MiB].map((start) =>
      createHash("sha256").update(bytes.subarray(start, start + 4 * MiB)).digest(),
    );
    const expected = createHash("sha256").update(Buffer.concat(blockDigests)).digest("hex");
    assert.equal(contentHashOf(bytes), expected);
  });

  test("DropboxContentHasher refuses use after digest()", () => {
    const hasher = new DropboxContentHasher();
    hasher.digest();
    assert.throws(() => hasher.update(new Uint8Array(1)), /after digest/);
    assert.throws(() => hasher.digest(), /twice/);
  });
});

describe("Dropbox content hash resumed from saved block digests", () => {
  test("a hasher resumed after whole blocks gives the hash of the whole file", () => {
    const bytes = new Uint8Array(3 * DROPBOX_HASH_BLOCK_BYTES + 777);
    for (let i = 0; i < bytes.length; i += 4093) bytes[i] = i % 251;
    const first = new DropboxContentHasher().update(bytes.subarray(0, 2 * DROPBOX_HASH_BLOCK_BYTES));
    const saved = first.completedBlocks();
    assert.equal(saved.length, 2);
    const resumed = DropboxContentHasher.resume(JSON.parse(JSON.stringify(saved)) as string[]);
    assert.equal(resumed.bytesHashed, 2 * DROPBOX_HASH_BLOCK_BYTES);
    resumed.update(bytes.subarray(2 * DROPBOX_HASH_BLOCK_BYTES));
    assert.equal(resumed.digest(), contentHashOf(bytes));
  });

  test("a saved digest that is not 64 hex digits is refused, naming the block", () => {
    assert.throws(() => DropboxContentHasher.resume(["ab".repeat(32), "xyz"]), /block 1 is not 64 hex digits/);
  });
});
