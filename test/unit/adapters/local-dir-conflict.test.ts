/**
 * Two state folders writing one TARGET_DIR: each run lists, then stores. A file of the backup's name
 * that appears in between (the other run stored it) is success when it holds the same bytes, a
 * conflict when not; a partial file restarted under our name by the other run is never removed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalDirBackupStore } from "../../../src/adapters/local-dir/local-dir-backup-store.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import { patternBytes, streamOf } from "../../../src/testing/contract/backup-store.ts";
import { tempDirFor } from "../../temp-dir.ts";

const NAME = "unms-backup-20240301-1100_a.unms";

test("the same bytes already stored under the name by another writer: success, the partial file removed", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-local-");
  const bytes = patternBytes(3 * 1024 * 1024 + 17);
  await writeFile(join(dir, NAME), bytes);
  const stored = await new LocalDirBackupStore(dir).put("", NAME, { stream: streamOf(bytes) });
  assert.equal(stored.size, bytes.length);
  assert.deepEqual(await readdir(dir), [NAME]);
  assert.deepEqual(new Uint8Array(await readFile(join(dir, NAME))), bytes);
});

test("a different file of the name (same size, other bytes; or other size) is a conflict and is left as it is", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-local-");
  const bytes = patternBytes(2 * 1024 * 1024);
  for (const other of [bytes.map((b, i) => (i === bytes.length - 1 ? b ^ 1 : b)), bytes.subarray(1)]) {
    await writeFile(join(dir, NAME), other);
    await assert.rejects(new LocalDirBackupStore(dir).put("", NAME, { stream: streamOf(bytes) }), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.code, "store.conflict");
      assert.match(error.message, /a different file of that name already exists/);
      return true;
    });
    assert.deepEqual(new Uint8Array(await readFile(join(dir, NAME))), other, "left as it is");
    assert.deepEqual(await readdir(dir), [NAME], "no partial file left");
  }
});

test("our partial file restarted by another writer mid-copy: a specific error, and theirs is not removed", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-local-");
  const partial = join(dir, `.backup-sync-partial-${NAME}`);
  const bytes = patternBytes(1024);
  async function* racing(): AsyncGenerator<Uint8Array> {
    yield bytes.subarray(0, 512);
    // The other writer removes our partial file and starts its own under the same name.
    await rm(partial);
    await writeFile(partial, "theirs");
    yield bytes.subarray(512);
  }
  await assert.rejects(new LocalDirBackupStore(dir).put("", NAME, { stream: racing() }), (error: unknown) => {
    assert.ok(SyncError.is(error));
    assert.equal(error.code, "store.concurrent_writer");
    assert.match(error.message, /^Another run is writing .* at the same time \(a second STATE_DIR on the same TARGET_DIR\?\)/);
    return true;
  });
  assert.equal(await readFile(partial, "utf8"), "theirs", "the other writer's partial file is untouched");
  assert.deepEqual((await readdir(dir)).sort(), [`.backup-sync-partial-${NAME}`]);
});
