/**
 * Where a concurrent upload's chunks wait: the memory slots and the spool file answer alike (one
 * suite over both), and the spool leaves no file behind, not even while it is open.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { ChunkReader } from "../../../src/adapters/dropbox/chunk-reader.ts";
import { type ChunkSlots, MemoryChunkSlots, SpooledChunkSlots } from "../../../src/adapters/dropbox/chunk-slots.ts";
import { BODY_LENGTH } from "../../../src/adapters/http/node-http-fetch.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import { withTempDir } from "../../temp-dir.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** `bytes` as a stream of uneven pieces (some larger than a spool write, some tiny). */
async function* piecesOf(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  const sizes = [1, 4093, 3 * MiB + 7, 64 * KiB, 1500 * KiB];
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length]!;
    yield bytes.slice(at, at + size);
    at += size;
  }
}

async function concat(body: Uint8Array | AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  if (body instanceof Uint8Array) return body;
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  return new Uint8Array(Buffer.concat(parts));
}

const kinds: { name: string; with: (count: number, slotBytes: number, run: (slots: ChunkSlots) => Promise<void>) => Promise<void> }[] = [
  { name: "MemoryChunkSlots", with: (count, slotBytes, run) => run(new MemoryChunkSlots(count, slotBytes)) },
  {
    name: "SpooledChunkSlots",
    with: (count, slotBytes, run) =>
      withTempDir("chunk-slots-", async (dir) => {
        const slots = await SpooledChunkSlots.create(dir, count, slotBytes);
        try {
          await run(slots);
        } finally {
          await slots.close();
        }
      }),
  },
];

for (const kind of kinds) {
  describe(kind.name, () => {
    test("cuts a stream into slot-sized chunks, hashes every byte once in order, and hands each chunk back whole or in part", async () => {
      const source = new Uint8Array(randomBytes(10 * MiB + 12_345));
      const hashed: Uint8Array[] = [];
      const reader = new ChunkReader(piecesOf(source), (part) => hashed.push(part.slice()), "the test source");
      await kind.with(3, 4 * MiB, async (slots) => {
        assert.equal(slots.count, 3);
        const chunks = [await slots.fill(reader, 2), await slots.fill(reader, 0), await slots.fill(reader, 1)];
        assert.deepEqual(chunks.map((c) => [c.slot, c.length, c.last]), [[2, 4 * MiB, false], [0, 4 * MiB, false], [1, 2 * MiB + 12_345, true]]);
        for (const [index, chunk] of chunks.entries()) {
          const expected = source.subarray(index * 4 * MiB, index * 4 * MiB + chunk.length);
          assert.deepEqual(await concat(slots.body(chunk.slot, 0, chunk.length)), expected, `chunk ${index} as a body`);
          assert.deepEqual(await slots.bytes(chunk.slot, 100, 5000), expected.subarray(100, 5100), `bytes 100..5100 of chunk ${index}`);
        }
        // A body is read afresh each time it is iterated (a request sent again).
        const again = slots.body(0, 7, MiB + 3);
        assert.deepEqual(await concat(again), await concat(again));
        assert.deepEqual(new Uint8Array(Buffer.concat(hashed)), source);
      });
    });

    test("a stream that ends on a chunk boundary: the last full chunk says so", async () => {
      const source = new Uint8Array(randomBytes(8 * MiB));
      const reader = new ChunkReader(piecesOf(source), () => undefined, "the test source");
      await kind.with(2, 4 * MiB, async (slots) => {
        assert.equal((await slots.fill(reader, 0)).last, false);
        const second = await slots.fill(reader, 1);
        assert.deepEqual([second.length, second.last], [4 * MiB, true]);
      });
    });
  });
}

describe("SpooledChunkSlots", () => {
  test("keeps its file without a name: the folder is empty while it is open and after", async () => {
    await withTempDir("chunk-slots-", async (dir) => {
      const slots = await SpooledChunkSlots.create(dir, 2, 4 * MiB);
      const reader = new ChunkReader(piecesOf(new Uint8Array(randomBytes(MiB))), () => undefined, "the test source");
      await slots.fill(reader, 1);
      assert.deepEqual(await readdir(dir), []);
      await slots.close();
      await slots.close();
      assert.deepEqual(await readdir(dir), []);
    });
  });

  test("a body carries its length for the node:http fetch (sent with Content-Length, not chunked)", async () => {
    await withTempDir("chunk-slots-", async (dir) => {
      const slots = await SpooledChunkSlots.create(dir, 1, 4 * MiB);
      try {
        const reader = new ChunkReader(piecesOf(new Uint8Array(randomBytes(3 * MiB))), () => undefined, "the test source");
        await slots.fill(reader, 0);
        assert.equal(slots.body(0, MiB, 2 * MiB)[BODY_LENGTH], 2 * MiB);
      } finally {
        await slots.close();
      }
    });
  });

  test("a folder it cannot write is named in a specific error", async () => {
    await withTempDir("chunk-slots-", async (dir) => {
      const missing = join(dir, "gone");
      await assert.rejects(SpooledChunkSlots.create(missing, 2, 4 * MiB), (error: unknown) => {
        assert.ok(SyncError.is(error));
        assert.equal(error.code, "upload.spool");
        assert.match(error.message, new RegExp(`^Could not create the upload spool file in "${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}" \\(it holds the chunks of a concurrent upload while they are sent\\): ENOENT`));
        return true;
      });
    });
  });
});
