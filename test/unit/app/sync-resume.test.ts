/**
 * SyncBackups across runs: the time budget pauses an upload between chunks (reported as resumable),
 * the next run continues it from the stored offset, and the local store leaves no partial file behind.
 * Real LocalDirBackupStore in a temp folder, sessions in memory, a clock the test moves.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SyncBackups } from "../../../src/app/sync-backups.ts";
import { LocalDirBackupStore } from "../../../src/adapters/local-dir/local-dir-backup-store.ts";
import { MemoryUploadSessionStore } from "../../../src/adapters/upload-sessions/memory-upload-session-store.ts";
import { contentHashOf } from "../../../src/adapters/content-hash/content-hash.ts";
import type { BackupDownload, BackupSource, BackupStore, OpenOptions, SyncEvent } from "../../../src/domain/ports.ts";
import type { UnmsBackup } from "../../../src/domain/backup.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import { patternBytes, streamOf } from "../../../src/testing/contract/backup-store.ts";
import { freshDirEach } from "../../temp-dir.ts";

const MiB = 1024 * 1024;

/** Serves byte arrays; honours offsets unless told not to, and records what it was asked for. */
class OffsetSource implements BackupSource {
  readonly opened: { id: string; offset: number }[] = [];
  bytesServed = 0;
  constructor(private readonly items: Map<string, Uint8Array>, private readonly honourOffset = true) {}
  async list(): Promise<UnmsBackup[]> {
    return [...this.items.keys()].map((id, i) => ({ id, createdAt: `2024-02-0${i + 1}T04:05:00Z`, state: "success" }));
  }
  async timeZone() {
    return "UTC";
  }
  async open(id: string, _signal?: AbortSignal, options: OpenOptions = {}): Promise<BackupDownload> {
    const offset = options.offset ?? 0;
    this.opened.push({ id, offset });
    const all = this.items.get(id)!;
    const body = this.honourOffset ? all.subarray(offset) : all;
    this.bytesServed += body.length;
    return { stream: streamOf(body), length: body.length, ...(this.honourOffset && offset > 0 ? { offset } : {}) };
  }
}

let dir: string;
let events: SyncEvent[];
let now = 0;
const clock = { now: () => now };

// UNMS ids are guids; a non-guid id is ignored (domain/backup.ts), so these are guids.
const A = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
const B = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb";
const GONE = "00000000-0000-4000-8000-00000000900e";
const nameOf = (id: string, day: number) => `unms-backup-2024020${day}-0405_${id}.unms`;

describe("SyncBackups: time budget and resumed uploads (local store)", () => {
  freshDirEach("sync-resume-test-", (fresh) => {
    dir = fresh;
    events = [];
    now = 0;
  });
  for (const honourOffset of [true, false]) {
    test(`a spent budget pauses at a checkpoint and defers the rest; the next run continues (source ${honourOffset ? "honours" : "ignores"} offsets)`, async () => {
      const a = patternBytes(20 * MiB + 99, 3);
      const b = patternBytes(6 * MiB, 4);
      const source = new OffsetSource(new Map([[A, a], [B, b]]), honourOffset);
      const sessions = new MemoryUploadSessionStore();
      const store = new LocalDirBackupStore(dir, { sessions, checkpointBytes: 4 * MiB });
      // The budget runs out once 9 MiB of the first backup are written.
      const reporter = {
        report: (e: SyncEvent) => {
          events.push(e);
          if (e.type === "progress" && e.bytesDone >= 9 * MiB) now = 1000;
        },
      };
      const first = await new SyncBackups(source, store, reporter, clock, "t").run({ folder: "", budgetMs: 500 });
      assert.deepEqual(first.resumable, [nameOf(A, 1), nameOf(B, 2)]);
      assert.deepEqual(first.failed, []);
      assert.deepEqual(first.uploaded, []);
      const warning = first.warnings.find((w) => w.includes("time budget"));
      assert.match(warning ?? "", /MAX_RUN_MINUTES \/ maxRunMinutes: 0\.5 s\) is spent: .*_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa\.unms, .*_bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb\.unms continue on the next run/);
      assert.ok(events.some((e) => e.type === "info" && /Paused the copy of .*_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa\.unms after 12582912 bytes/.test(e.message)));
      assert.equal((await sessions.get(A))?.bytesCommitted, 12 * MiB);
      assert.deepEqual(source.opened, [{ id: A, offset: 0 }], "b was never started");

      const served = source.bytesServed;
      events = [];
      const second = await new SyncBackups(source, store, { report: (e) => void events.push(e) }, clock, "t").run({ folder: "" });
      assert.deepEqual(second.uploaded.sort(), [nameOf(A, 1), nameOf(B, 2)]);
      assert.deepEqual(second.resumable, []);
      assert.deepEqual(source.opened.slice(1), [{ id: A, offset: 12 * MiB }, { id: B, offset: 0 }]);
      assert.ok(events.some((e) => e.type === "info" && /Continuing the unfinished copy of .*_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa\.unms from byte 12582912/.test(e.message)));
      assert.equal(source.bytesServed - served, (honourOffset ? a.length - 12 * MiB : a.length) + b.length);
      assert.equal(contentHashOf(await readFile(join(dir, nameOf(A, 1)))), contentHashOf(a));
      assert.equal(contentHashOf(await readFile(join(dir, nameOf(B, 2)))), contentHashOf(b));
      assert.deepEqual((await readdir(dir)).sort(), [nameOf(A, 1), nameOf(B, 2)], "no partial file is left behind");
      assert.deepEqual(await sessions.all(), []);
    });
  }

  test("a partial file left by a killed run is continued; stale partials of ours are removed after the run stores a file", async () => {
    const a = patternBytes(10 * MiB + 5, 5);
    const sessions = new MemoryUploadSessionStore();
    const store = new LocalDirBackupStore(dir, { sessions, checkpointBytes: 4 * MiB });
    const name = nameOf(A, 1);
    // What a run killed after its second checkpoint leaves: 8 MiB saved, more written after it.
    const firstEight = a.subarray(0, 8 * MiB);
    await writeFile(join(dir, `.backup-sync-partial-${name}`), a.subarray(0, 9 * MiB));
    const hashes = [0, 1].map((i) => contentHashOfBlock(firstEight.subarray(i * 4 * MiB, (i + 1) * 4 * MiB)));
    await sessions.save({ backupId: A, sessionId: "", folder: "", name, bytesCommitted: 8 * MiB, blockHashes: hashes, startedAt: "2024-02-01T00:00:00Z" });
    // Leaked by older versions (random names) and by a killed copy of a backup UNMS no longer lists.
    await writeFile(join(dir, ".backup-sync-partial-0a1b2c3d4e5f"), patternBytes(MiB));
    await writeFile(join(dir, `.backup-sync-partial-${nameOf(GONE, 9)}`), patternBytes(MiB));

    const source = new OffsetSource(new Map([[A, a]]));
    const report = await new SyncBackups(source, store, { report: (e) => void events.push(e) }, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [name]);
    assert.deepEqual(source.opened, [{ id: A, offset: 8 * MiB }]);
    assert.equal(contentHashOf(await readFile(join(dir, name))), contentHashOf(a));
    assert.deepEqual(await readdir(dir), [name]);
  });

  test("a saved state whose partial file is gone starts over, with a line saying so", async () => {
    const a = patternBytes(5 * MiB, 6);
    const sessions = new MemoryUploadSessionStore();
    const name = nameOf(A, 1);
    await sessions.save({ backupId: A, sessionId: "", folder: "", name, bytesCommitted: 4 * MiB, blockHashes: ["0".repeat(64)], startedAt: "2024-02-01T00:00:00Z" });
    const source = new OffsetSource(new Map([[A, a]]));
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir, { sessions }), { report: (e) => void events.push(e) }, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [name]);
    assert.deepEqual(source.opened, [{ id: A, offset: 0 }]);
    assert.ok(report.warnings.some((w) => /unfinished copy of .*_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa\.unms cannot be continued: its partial file .* is gone; it starts over/.test(w)));
    assert.equal(contentHashOf(await readFile(join(dir, name))), contentHashOf(a));
  });

  test("a run with nothing to copy still forgets unfinished copies of backups UNMS no longer lists and deletes their partial files", async () => {
    const a = patternBytes(MiB, 7);
    const sessions = new MemoryUploadSessionStore();
    const store = new LocalDirBackupStore(dir, { sessions, checkpointBytes: 4 * MiB });
    await writeFile(join(dir, nameOf(A, 1)), a);
    const goneName = nameOf(GONE, 9);
    await writeFile(join(dir, `.backup-sync-partial-${goneName}`), patternBytes(4 * MiB));
    await sessions.save({ backupId: GONE, sessionId: "", folder: "", name: goneName, bytesCommitted: 4 * MiB, blockHashes: ["1".repeat(64)], startedAt: "2024-02-01T00:00:00Z" });
    // A Dropbox session record in the same state file is not the local store's to forget.
    await sessions.save({ backupId: "remote", sessionId: "AAA", folder: "", name: "x.unms", bytesCommitted: 0, blockHashes: [], startedAt: "2024-02-01T00:00:00Z" });

    const source = new OffsetSource(new Map([[A, a]]));
    const report = await new SyncBackups(source, store, { report: (e) => void events.push(e) }, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, []);
    assert.deepEqual(report.skipped, [nameOf(A, 1)]);
    assert.deepEqual(await readdir(dir), [nameOf(A, 1)]);
    assert.deepEqual((await sessions.all()).map((r) => r.backupId), ["remote"]);
  });

  test("a source that refuses the download from the middle (416) gets the backup from byte 0; the run converges", async () => {
    const a = patternBytes(9 * MiB, 8);
    const sessions = new MemoryUploadSessionStore();
    const store = new LocalDirBackupStore(dir, { sessions, checkpointBytes: 4 * MiB });
    const name = nameOf(A, 1);
    await writeFile(join(dir, `.backup-sync-partial-${name}`), a.subarray(0, 4 * MiB));
    await sessions.save({
      backupId: A, sessionId: "", folder: "", name, bytesCommitted: 4 * MiB,
      blockHashes: [contentHashOfBlock(a.subarray(0, 4 * MiB))], startedAt: "2024-02-01T00:00:00Z",
    });
    const source = new OffsetSource(new Map([[A, a]]));
    const inner = source.open.bind(source);
    source.open = async (id, signal, options) => {
      if ((options?.offset ?? 0) > 0) {
        throw new SyncError(`HTTP 416 Range Not Satisfiable on GET nms/backups/${id}`, { kind: "permanent", code: "unms.http_416", status: 416 });
      }
      return inner(id, signal, options);
    };
    const report = await new SyncBackups(source, store, { report: (e) => void events.push(e) }, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [name]);
    assert.ok(report.warnings.some((w) => /Could not download backup "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa" from byte 4194304 to continue .*HTTP 416.*; starting it over/.test(w)), report.warnings.join("\n"));
    assert.equal(contentHashOf(await readFile(join(dir, name))), contentHashOf(a));
    assert.deepEqual(await readdir(dir), [name]);
    assert.deepEqual(await sessions.all(), []);
  });

  test("a store that cannot check its saved upload starts it over instead of failing every night", async () => {
    const a = patternBytes(2 * MiB, 2);
    const local = new LocalDirBackupStore(dir);
    const store: BackupStore = {
      list: (folder) => local.list(folder),
      put: (folder, name, content, options) => local.put(folder, name, content, options),
      remove: (folder, name) => local.remove(folder, name),
      resumePoint: async () => {
        throw new SyncError("Dropbox upload_session/append_v2 failed: HTTP 400", { kind: "permanent", code: "dropbox.bad_request" });
      },
    };
    const report = await new SyncBackups(new OffsetSource(new Map([[A, a]])), store, { report: (e) => void events.push(e) }, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf(A, 1)]);
    assert.ok(report.warnings.some((w) => /Could not check the unfinished upload of .*_aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa\.unms \(Dropbox upload_session\/append_v2 failed: HTTP 400\); starting it over/.test(w)));
  });
});

/** SHA-256 of exactly one 4 MiB block, as the content hasher saves it. */
function contentHashOfBlock(block: Uint8Array): string {
  return createHash("sha256").update(block).digest("hex");
}
