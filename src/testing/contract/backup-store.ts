/**
 * What every BackupStore must do, as node:test cases. An adapter's test file calls
 * `backupStoreContract(name, setup)` with a setup that gives a fresh store and a folder in it;
 * capability differences (case folding, content hashes) are options, not copies of the suite.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { describe } from "node:test";
import { SyncError } from "../../domain/errors.ts";
import type { BackupStore } from "../../domain/ports.ts";
import { refContentHash } from "../fakes/content-hash-ref.ts";
import { fixtureTest } from "./fixture.ts";

export interface BackupStoreFixture {
  store: BackupStore;
  /** The folder the tests write into ("" for the store's root). */
  folder: string;
  teardown?(): Promise<void>;
}

/**
 * What the store under test can do (case folding, content hashes), so the suite expects the right behaviour.
 *
 * @example
 * ```ts
 * import type { BackupStoreContractOptions } from "unms-dropbox-backup-sync/testing";
 *
 * const options: BackupStoreContractOptions = { caseInsensitive: true, reportsContentHash: true };
 * ```
 */
export interface BackupStoreContractOptions {
  /** Names differing only in case are the same file (Dropbox). Default false. */
  caseInsensitive?: boolean;
  /** list() and put() report a Dropbox content hash. Default false. */
  reportsContentHash?: boolean;
  /** A size larger than the store's chunk (so a multi-chunk upload is exercised). Default 9 MiB + 5. */
  multiChunkBytes?: number;
  /** The store implements the optional `openCopy` (restore); its cases run only then. Default false. */
  opensCopies?: boolean;
}

const MiB = 1024 * 1024;

/**
 * Deterministic, non-repeating-looking bytes.
 *
 * @example
 * ```ts
 * import { patternBytes, streamOf } from "unms-dropbox-backup-sync/testing";
 * import type { BackupStore } from "unms-dropbox-backup-sync";
 *
 * declare const store: BackupStore;
 *
 * await store.put("", "x.unms", { stream: streamOf(patternBytes(1000)), length: 1000 });
 * ```
 */
export function patternBytes(size: number, seed = 1): Uint8Array {
  const known = generatedPatterns.get(seed);
  if (known && known.length >= size) return known.slice(0, size);
  const bytes = new Uint8Array(size);
  // A 32-bit xorshift step per 4 bytes (a step per byte cost tests seconds of CPU): whole words
  // through a Uint32Array view, the last 1-3 bytes from the next word, low byte first as the view
  // writes them on every platform we run on (little-endian), so a shorter pattern is a prefix.
  const words = new Uint32Array(bytes.buffer, 0, size >>> 2);
  let x = seed * 2654435761 >>> 0 || 0x9e3779b9;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  for (let i = 0; i < words.length; i++) words[i] = next();
  const tail = size & 3;
  if (tail > 0) {
    const last = next();
    for (let k = 0; k < tail; k++) bytes[size - tail + k] = (last >>> (8 * k)) & 0xff;
  }
  if (size <= PATTERN_CACHE_MAX_BYTES && size > (known?.length ?? 0)) generatedPatterns.set(seed, bytes.slice());
  return bytes;
}

/**
 * A seed's bytes do not depend on the size asked (a longer pattern starts with every shorter one),
 * and the suites ask for the same multi-MiB patterns many times: each seed's longest one is kept (a
 * copy, so callers may change theirs) and sliced, which cost a byte-at-a-time loop before (issue 10).
 */
const generatedPatterns = new Map<number, Uint8Array>();
const PATTERN_CACHE_MAX_BYTES = 64 * MiB;

/** Yields `bytes` in pieces of `pieceBytes` (as a network download would). */
export async function* streamOf(bytes: Uint8Array, pieceBytes: number = 64 * 1024): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += pieceBytes) yield bytes.subarray(offset, offset + pieceBytes);
}

/** Yields `before` bytes, then throws like a download that broke off. */
export async function* breakingStream(before: number): AsyncGenerator<Uint8Array> {
  yield* streamOf(patternBytes(before, 7));
  throw Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
}

/**
 * What every BackupStore must do, as node:test cases; `setup` gives a fresh store and a folder in it.
 *
 * @example
 * ```ts
 * import { backupStoreContract } from "unms-dropbox-backup-sync/testing";
 * import type { BackupStore } from "unms-dropbox-backup-sync";
 *
 * declare class MyS3Store implements BackupStore {
 *   constructor(bucket: string);
 *   list: BackupStore["list"];
 *   put: BackupStore["put"];
 *   remove: BackupStore["remove"];
 * }
 * declare const bucket: string;
 * declare function emptyBucket(bucket: string): Promise<void>;
 *
 * backupStoreContract("MyS3Store", async () => ({ store: new MyS3Store(bucket), folder: "uisp", teardown: () => emptyBucket(bucket) }));
 * ```
 */
export function backupStoreContract(
  name: string,
  setup: () => Promise<BackupStoreFixture>,
  options: BackupStoreContractOptions = {},
): void {
  const multiChunkBytes = options.multiChunkBytes ?? 9 * MiB + 5;

  describe(`BackupStore contract: ${name}`, () => {
    const withStore = fixtureTest(setup);

    const put = (fixture: BackupStoreFixture, fileName: string, bytes: Uint8Array, overwrite = false) =>
      fixture.store.put(fixture.folder, fileName, { stream: streamOf(bytes), length: bytes.length }, { overwrite });

    withStore("list() of an empty folder is an empty array", async ({ store, folder }) => {
      assert.deepEqual(await store.list(folder), []);
    });

    withStore("list() of a folder that does not exist is an empty array", async ({ store, folder }) => {
      const missing = folder ? `${folder}/never-created-${Date.now()}` : `never-created-${Date.now()}`;
      assert.deepEqual(await store.list(missing), []);
    });

    withStore("put() then list() shows the file with its size (and its Dropbox content hash)", async (fixture) => {
      const bytes = patternBytes(100_000);
      const stored = await put(fixture, "unms-backup-20240301-0200_a.unms", bytes);
      assert.equal(stored.name, "unms-backup-20240301-0200_a.unms");
      assert.equal(stored.size, bytes.length);
      const listed = await fixture.store.list(fixture.folder);
      assert.equal(listed.length, 1);
      assert.equal(listed[0]!.name, "unms-backup-20240301-0200_a.unms");
      assert.equal(listed[0]!.size, bytes.length);
      if (options.reportsContentHash) {
        assert.equal(stored.contentHash, refContentHash(bytes));
        assert.equal(listed[0]!.contentHash, refContentHash(bytes));
      } else if (listed[0]!.contentHash !== undefined) {
        assert.equal(listed[0]!.contentHash, refContentHash(bytes));
      }
    });

    withStore("put() of an existing name without overwrite fails specifically and keeps the old file", async (fixture) => {
      const old = patternBytes(1000, 1);
      await put(fixture, "same.unms", old);
      await assert.rejects(put(fixture, "same.unms", patternBytes(2000, 2)), (error: unknown) => {
        assert.ok(SyncError.is(error), `expected a SyncError, got ${String(error)}`);
        assert.equal(error.kind, "permanent");
        assert.match(error.message, /same\.unms/);
        assert.notEqual(error.code, "dropbox.unexpected");
        return true;
      });
      const listed = await fixture.store.list(fixture.folder);
      assert.deepEqual(listed.map((f) => [f.name, f.size]), [["same.unms", 1000]]);
    });

    withStore("put() with overwrite replaces an existing file", async (fixture) => {
      await put(fixture, "replace.unms", patternBytes(1000, 1));
      const fresh = patternBytes(3000, 3);
      const stored = await put(fixture, "replace.unms", fresh, true);
      assert.equal(stored.size, 3000);
      const listed = await fixture.store.list(fixture.folder);
      assert.deepEqual(listed.map((f) => [f.name, f.size]), [["replace.unms", 3000]]);
      if (options.reportsContentHash) assert.equal(listed[0]!.contentHash, refContentHash(fresh));
    });

    for (const [label, before] of [["within the first chunk", 1000], ["after more than a chunk", multiChunkBytes]] as const) {
      withStore(`put() from a stream that breaks ${label} fails as source-interrupted and leaves no file`, async ({ store, folder }) => {
        await assert.rejects(store.put(folder, "broken.unms", { stream: breakingStream(before) }), (error: unknown) => {
          assert.ok(SyncError.is(error), `expected a SyncError, got ${String(error)}`);
          assert.equal(error.kind, "source-interrupted");
          return true;
        });
        assert.deepEqual(await store.list(folder), []);
      });
    }

    withStore("put() passes a source-interrupted SyncError from the stream through unchanged", async ({ store, folder }) => {
      const own = new SyncError("UNMS download of backup x broke off", { kind: "source-interrupted", code: "unms.download_interrupted" });
      async function* failing(): AsyncGenerator<Uint8Array> {
        yield new Uint8Array(10);
        throw own;
      }
      await assert.rejects(store.put(folder, "own.unms", { stream: failing() }), (error: unknown) => error === own);
    });

    withStore("remove() deletes the file", async (fixture) => {
      await put(fixture, "keep.unms", patternBytes(10, 1));
      await put(fixture, "drop.unms", patternBytes(20, 2));
      await fixture.store.remove(fixture.folder, "drop.unms");
      const listed = await fixture.store.list(fixture.folder);
      assert.deepEqual(listed.map((f) => f.name), ["keep.unms"]);
    });

    withStore("remove() of a missing file is not an error", async ({ store, folder }) => {
      await store.remove(folder, "not-there.unms");
      assert.deepEqual(await store.list(folder), []);
    });

    withStore("put() and list() handle non-ASCII file names", async (fixture) => {
      const fileName = "zálohа-ünms-😀-备份.unms";
      const bytes = patternBytes(500, 5);
      const stored = await put(fixture, fileName, bytes);
      assert.equal(stored.name, fileName);
      const listed = await fixture.store.list(fixture.folder);
      assert.deepEqual(listed.map((f) => [f.name, f.size]), [[fileName, 500]]);
      await fixture.store.remove(fixture.folder, fileName);
      assert.deepEqual(await fixture.store.list(fixture.folder), []);
    });

    if (options.caseInsensitive) {
      withStore("names differing only in case are the same file", async (fixture) => {
        await put(fixture, "Case.unms", patternBytes(10, 1));
        await assert.rejects(put(fixture, "case.UNMS", patternBytes(20, 2)), (error: unknown) => SyncError.is(error));
        await put(fixture, "CASE.unms", patternBytes(30, 3), true);
        const listed = await fixture.store.list(fixture.folder);
        assert.equal(listed.length, 1);
        assert.equal(listed[0]!.size, 30);
        await fixture.store.remove(fixture.folder, "case.unms");
        assert.deepEqual(await fixture.store.list(fixture.folder), []);
      });
    }

    withStore("put() stores a 0-byte file", async (fixture) => {
      const stored = await put(fixture, "empty.unms", new Uint8Array(0));
      assert.equal(stored.size, 0);
      if (options.reportsContentHash) assert.equal(stored.contentHash, refContentHash(new Uint8Array(0)));
      assert.deepEqual((await fixture.store.list(fixture.folder)).map((f) => [f.name, f.size]), [["empty.unms", 0]]);
    });

    withStore("put() stores a file larger than one chunk, byte for byte", async (fixture) => {
      const bytes = patternBytes(multiChunkBytes, 9);
      const stored = await put(fixture, "large.unms", bytes);
      assert.equal(stored.size, bytes.length);
      const listed = await fixture.store.list(fixture.folder);
      assert.equal(listed[0]!.size, bytes.length);
      if (options.reportsContentHash) assert.equal(listed[0]!.contentHash, refContentHash(bytes));
    });

    if (options.opensCopies) {
      const readAll = async (stream: AsyncIterable<Uint8Array>) => {
        const pieces: Uint8Array[] = [];
        for await (const piece of stream) pieces.push(piece.slice());
        const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
        let at = 0;
        for (const piece of pieces) {
          out.set(piece, at);
          at += piece.length;
        }
        return out;
      };

      withStore("openCopy() streams a stored file byte for byte with its size (and content hash)", async (fixture) => {
        for (const size of [0, 1000, multiChunkBytes]) {
          const bytes = patternBytes(size, 11);
          await put(fixture, `copy-${size}.unms`, bytes);
          const copy = await fixture.store.openCopy!(fixture.folder, `copy-${size}.unms`);
          assert.equal(copy.size, size);
          const read = await readAll(copy.stream);
          assert.equal(read.length, size);
          // One native comparison: a per-byte callback over 9 MiB cost a second per store (issue 10).
          assert.ok(Buffer.from(read.buffer, read.byteOffset, read.length).equals(bytes), `the ${size} bytes read back differ from those stored`);
          if (options.reportsContentHash) assert.equal(copy.contentHash, refContentHash(bytes));
          else if (copy.contentHash !== undefined) assert.equal(copy.contentHash, refContentHash(bytes));
        }
      });

      withStore("openCopy() of a missing file fails as not-found, naming the file", async ({ store, folder }) => {
        await assert.rejects(store.openCopy!(folder, "never-stored.unms"), (error: unknown) => {
          assert.ok(SyncError.is(error), `expected a SyncError, got ${String(error)}`);
          assert.equal(error.kind, "not-found");
          assert.match(error.message, /never-stored\.unms/);
          return true;
        });
      });

      withStore("openCopy() finds a file listed by list(), under the name list() gave", async (fixture) => {
        await put(fixture, "Listed-Name.unms", patternBytes(321, 4));
        const [listed] = await fixture.store.list(fixture.folder);
        const copy = await fixture.store.openCopy!(fixture.folder, listed!.name);
        assert.equal(copy.size, 321);
        assert.equal((await readAll(copy.stream)).length, 321);
      });
    }

    withStore("put() reports monotonic progress ending at the size", async ({ store, folder }) => {
      for (const size of [0, 777, multiChunkBytes]) {
        const seen: number[] = [];
        await store.put(folder, `progress-${size}.unms`, { stream: streamOf(patternBytes(size)) }, { onProgress: (done) => seen.push(done) });
        assert.ok(seen.length > 0, `no progress reported for ${size} bytes`);
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `progress went back: ${seen.join(", ")}`);
        assert.equal(seen.at(-1), size);
      }
    });
  });
}
