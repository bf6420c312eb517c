/** What every UploadSessionStore must do: one record per backup id, replaced whole, removed on request. */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { UploadSessionRecord, UploadSessionStore } from "../../src/app/ports.ts";

export interface SessionStoreFixture {
  store: UploadSessionStore;
  /** A second instance over the same state (a later run); the memory store returns itself. */
  reopen: () => UploadSessionStore;
  cleanup: () => Promise<void>;
}

export function record(backupId: string, blocks = 2): UploadSessionRecord {
  return {
    backupId,
    sessionId: `session-${backupId}`,
    folder: "Backups",
    name: `unms-backup-20240101-0100_${backupId}.unms`,
    bytesCommitted: blocks * 4 * 1024 * 1024,
    blockHashes: Array.from({ length: blocks }, (_, i) => String(i).repeat(64).slice(0, 64)),
    startedAt: "2024-01-01T01:00:00.000Z",
  };
}

/** `body` on a fresh fixture, cleaned up after (try/finally: under Deno's node:test `t.after` never runs). */
async function withFixture(setup: () => Promise<SessionStoreFixture>, body: (f: SessionStoreFixture) => Promise<void>): Promise<void> {
  const f = await setup();
  try {
    await body(f);
  } finally {
    await f.cleanup();
  }
}

export function uploadSessionStoreContract(name: string, setup: () => Promise<SessionStoreFixture>): void {
  describe(`UploadSessionStore contract: ${name}`, () => {
    test("a saved record is found by its backup id, also from a later instance", () => withFixture(setup, async (f) => {
      assert.equal(await f.store.get("a"), undefined);
      await f.store.save(record("a"));
      await f.store.save(record("b", 1));
      assert.deepEqual(await f.reopen().get("a"), record("a"));
      assert.deepEqual((await f.reopen().all()).map((r) => r.backupId).sort(), ["a", "b"]);
    }));

    test("saving again replaces the record whole; remove forgets it and tolerates a missing one", () => withFixture(setup, async (f) => {
      await f.store.save(record("a", 1));
      await f.store.save(record("a", 3));
      assert.equal((await f.reopen().get("a"))?.blockHashes.length, 3);
      assert.equal((await f.store.all()).length, 1);
      await f.store.remove("a");
      await f.store.remove("never-saved");
      assert.deepEqual(await f.reopen().all(), []);
    }));

    test("a returned record is a copy: changing it changes nothing saved", () => withFixture(setup, async (f) => {
      await f.store.save(record("a"));
      const got = (await f.store.get("a"))!;
      got.blockHashes.push("f".repeat(64));
      assert.equal((await f.store.get("a"))?.blockHashes.length, 2);
    }));
  });
}
