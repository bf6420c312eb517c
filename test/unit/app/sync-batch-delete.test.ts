/**
 * SyncBackups hands more than a few deletions to the store's optional removeMany (Dropbox:
 * delete_batch) and still reports per file; stores without it get remove() per file.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BATCH_DELETE_ABOVE, SyncBackups } from "../../../src/app/sync-backups.ts";
import { LocalDirBackupStore } from "../../../src/adapters/local-dir/local-dir-backup-store.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { BackupDownload, BackupSource, BackupStore, PutOptions, RemoveOutcome, SyncEvent } from "../../../src/domain/ports.ts";
import { freshDirEach } from "../../temp-dir.ts";

const gid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;
const nameOf = (id: string) => `unms-backup-20240203-0405_${id}.unms`;
const source = (ids: string[]): BackupSource => ({
  list: async () => ids.map((id) => ({ id, createdAt: "2024-02-03T04:05:00Z", state: "success" })),
  timeZone: async () => "UTC",
  open: async () => { throw new Error("nothing should be downloaded"); },
});

/** A local store that also deletes in batches, failing the names it is told to. */
class BatchingStore implements BackupStore {
  batches: string[][] = [];
  singles: string[] = [];
  constructor(private readonly inner: LocalDirBackupStore, private readonly failing: ReadonlySet<string>, private readonly whole?: Error) {}
  list(folder: string) { return this.inner.list(folder); }
  put(folder: string, name: string, content: BackupDownload, options?: PutOptions) { return this.inner.put(folder, name, content, options); }
  async remove(folder: string, name: string) {
    this.singles.push(name);
    await this.inner.remove(folder, name);
  }
  async removeMany(folder: string, names: readonly string[]): Promise<RemoveOutcome[]> {
    this.batches.push([...names]);
    if (this.whole) throw this.whole;
    const outcomes: RemoveOutcome[] = [];
    for (const name of names) {
      if (this.failing.has(name)) {
        outcomes.push({ name, error: new SyncError(`Dropbox delete_batch for file "/${name}" failed: too_many_write_operations`, { kind: "rate-limited", code: "dropbox.too_many_write_operations" }) });
      } else {
        await this.inner.remove(folder, name);
        outcomes.push({ name });
      }
    }
    return outcomes;
  }
}

let dir: string;
let events: SyncEvent[];
const reporter = { report: (e: SyncEvent) => void events.push(e) };
const clock = { now: () => 0 };
/** 8 copies kept by UNMS, `dropped` copies UNMS no longer lists. */
async function copies(dropped: number): Promise<{ kept: string[]; gone: string[] }> {
  const kept = Array.from({ length: 8 }, (_, i) => gid(i + 1));
  const gone = Array.from({ length: dropped }, (_, i) => gid(100 + i));
  for (const id of [...kept, ...gone]) await writeFile(join(dir, nameOf(id)), "x");
  return { kept, gone };
}

describe("SyncBackups: many deletions in batches", () => {
  freshDirEach("sync-batch-delete-", (fresh) => {
    dir = fresh;
    events = [];
  });
  test(`more than ${BATCH_DELETE_ABOVE} deletions go in one removeMany; a file that failed is reported by name`, async () => {
    const { kept, gone } = await copies(4);
    const store = new BatchingStore(new LocalDirBackupStore(dir), new Set([nameOf(gone[2]!)]));
    const report = await new SyncBackups(source(kept), store, reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(store.batches.map((b) => b.length), [4]);
    assert.deepEqual(store.singles, []);
    assert.deepEqual(report.deleted.sort(), [gone[0], gone[1], gone[3]].map((id) => nameOf(id!)).sort());
    assert.equal(report.failed.length, 1);
    assert.equal(report.failed[0]!.name, nameOf(gone[2]!));
    assert.match(report.failed[0]!.error, /Could not delete .*too_many_write_operations/);
    assert.ok(events.some((e) => e.type === "failed" && e.name === nameOf(gone[2]!)));
    assert.ok((await readdir(dir)).includes(nameOf(gone[2]!)), "the file that failed is still there");
  });

  test(`${BATCH_DELETE_ABOVE} deletions or fewer go one by one`, async () => {
    const { kept, gone } = await copies(BATCH_DELETE_ABOVE);
    const store = new BatchingStore(new LocalDirBackupStore(dir), new Set());
    const report = await new SyncBackups(source(kept), store, reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(store.batches, []);
    assert.deepEqual(store.singles.sort(), gone.map(nameOf).sort());
    assert.equal(report.deleted.length, BATCH_DELETE_ABOVE);
  });

  test("a batch that fails as a whole reports every file with that failure, and nothing is lost", async () => {
    const { kept, gone } = await copies(4);
    const store = new BatchingStore(new LocalDirBackupStore(dir), new Set(), new SyncError("Dropbox delete_batch for 4 files failed: server error (HTTP 503)", { kind: "transient", code: "dropbox.server_error" }));
    const report = await new SyncBackups(source(kept), store, reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.deleted, []);
    assert.deepEqual(report.failed.map((f) => f.name).sort(), gone.map(nameOf).sort());
    assert.ok(report.failed.every((f) => /HTTP 503/.test(f.error)));
    assert.equal((await readdir(dir)).length, 12);
  });

  test("a dry run never calls removeMany", async () => {
    const { kept } = await copies(4);
    const store = new BatchingStore(new LocalDirBackupStore(dir), new Set());
    const report = await new SyncBackups(source(kept), store, reporter, clock, "t").run({ folder: "", dryRun: true });
    assert.deepEqual(store.batches, []);
    assert.equal(report.deleted.length, 4);
    assert.equal((await readdir(dir)).length, 12);
  });
});
