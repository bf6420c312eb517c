/**
 * What every BackupStore with `resumePoint` must do: an upload stopped between chunks keeps its
 * state, the next `put` from the offset `resumePoint` gives stores exactly the backup, and a
 * finished or fresh upload leaves no saved state behind.
 */
import assert from "node:assert/strict";
import { describe } from "node:test";
import { SyncError } from "../../src/domain/errors.ts";
import type { BackupStore } from "../../src/domain/ports.ts";
import type { UploadSessionStore } from "../../src/app/ports.ts";
import { refContentHash } from "../../src/testing/fakes/content-hash-ref.ts";
import { patternBytes, streamOf } from "../../src/testing/contract/backup-store.ts";
import { fixtureTest } from "../../src/testing/contract/fixture.ts";

export interface ResumableStoreFixture {
  store: BackupStore;
  sessions: UploadSessionStore;
  folder: string;
  /** The stored file's Dropbox content hash, read back from the store's own storage. */
  storedHash(name: string): Promise<string | undefined>;
  teardown?(): Promise<void>;
}

const MiB = 1024 * 1024;

export function resumableStoreContract(name: string, setup: () => Promise<ResumableStoreFixture>): void {
  describe(`Resumable BackupStore contract: ${name}`, () => {
    const withStore = fixtureTest(setup);
    const fileName = "unms-backup-20240301-0200_00000000-0000-4000-8000-00000000000a.unms";

    async function pauseAfter(f: ResumableStoreFixture, bytes: Uint8Array, checks: number): Promise<void> {
      let asked = 0;
      const error = await f.store
        .put(f.folder, fileName, { stream: streamOf(bytes), length: bytes.length }, { backupId: "a", shouldPause: () => ++asked >= checks })
        .then(() => undefined, (e: unknown) => e);
      assert.ok(SyncError.is(error) && error.kind === "paused", `expected a pause, got ${String(error)}`);
    }

    // Three 4 MiB chunks (the last one short) are enough to pause between chunks and continue from
    // the middle; 22 MiB tested the same and cost a second per store (issue 10).
    withStore("a paused upload is continued from resumePoint() and stores exactly the backup", async (f) => {
      const bytes = patternBytes(10 * MiB + 17, 9);
      await pauseAfter(f, bytes, 2);
      const point = await f.store.resumePoint!(f.folder, fileName, "a");
      assert.ok(point.offset > 0 && point.offset < bytes.length && point.offset % (4 * MiB) === 0, `offset ${point.offset}`);
      assert.match(point.note ?? "", /Continuing/);
      const rest = bytes.subarray(point.offset);
      const stored = await f.store.put(f.folder, fileName, { stream: streamOf(rest), length: rest.length, offset: point.offset }, { backupId: "a" });
      assert.equal(stored.size, bytes.length);
      assert.equal(stored.contentHash, refContentHash(bytes));
      assert.equal(await f.storedHash(fileName), refContentHash(bytes));
      assert.deepEqual(await f.sessions.all(), []);
      assert.deepEqual(await f.store.resumePoint!(f.folder, fileName, "a"), { offset: 0 });
      assert.deepEqual((await f.store.list(f.folder)).map((file) => file.name), [fileName]);
    });

    withStore("a fresh upload (offset 0) of a backup with saved state starts over and leaves no state", async (f) => {
      const bytes = patternBytes(9 * MiB, 10);
      await pauseAfter(f, bytes, 2);
      const stored = await f.store.put(f.folder, fileName, { stream: streamOf(bytes), length: bytes.length }, { backupId: "a" });
      assert.equal(stored.contentHash, refContentHash(bytes));
      assert.deepEqual(await f.sessions.all(), []);
    });

    withStore("resumePoint() of a backup never started is 0, without a note", async (f) => {
      assert.deepEqual(await f.store.resumePoint!(f.folder, fileName, "never"), { offset: 0 });
    });
  });
}
