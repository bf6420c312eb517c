import { describe, test, beforeEach, afterEach } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SyncBackups, SOURCE_ATTEMPTS } from "../../../src/app/sync-backups.ts";
import { LocalDirBackupStore } from "../../../src/adapters/local-dir/local-dir-backup-store.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { BackupDownload, BackupSource, BackupStore, PutOptions, SyncEvent } from "../../../src/domain/ports.ts";
import type { UnmsBackup } from "../../../src/domain/backup.ts";

/** A source over plain byte arrays; `breakDownloads[id]` makes that many downloads break midway. */
class ArraySource implements BackupSource {
  opened: string[] = [];
  constructor(
    private readonly items: { backup: UnmsBackup; bytes: Uint8Array }[],
    private readonly breakDownloads: Record<string, number> = {},
    private readonly zone: string | Error = "UTC",
  ) {}
  async list() {
    return this.items.map((i) => i.backup);
  }
  async timeZone() {
    if (this.zone instanceof Error) throw this.zone;
    return this.zone;
  }
  async open(id: string): Promise<BackupDownload> {
    this.opened.push(id);
    const item = this.items.find((i) => i.backup.id === id);
    if (!item) throw new SyncError(`no backup ${id}`, { kind: "not-found", code: "test.not_found" });
    const breaks = (this.breakDownloads[id] ?? 0) > 0;
    if (breaks) this.breakDownloads[id]!--;
    async function* stream() {
      yield item!.bytes.subarray(0, 10);
      if (breaks) throw new SyncError(`download of ${id} reset`, { kind: "source-interrupted", code: "test.reset" });
      yield item!.bytes.subarray(10);
    }
    return { stream: stream(), length: item.bytes.length };
  }
}

/** Wraps a store and fails `put` for chosen names with a chosen error. */
class FailingStore implements BackupStore {
  constructor(
    private readonly inner: BackupStore,
    private readonly failures: Record<string, SyncError>,
  ) {}
  list(folder: string) {
    return this.inner.list(folder);
  }
  put(folder: string, name: string, content: BackupDownload, options?: PutOptions) {
    const failure = Object.entries(this.failures).find(([id]) => name.includes(id))?.[1];
    if (failure) return Promise.reject(failure);
    return this.inner.put(folder, name, content, options);
  }
  remove(folder: string, name: string) {
    return this.inner.remove(folder, name);
  }
}

const backup = (id: string, state = "success"): UnmsBackup => ({ id, createdAt: "2024-02-03T04:05:00Z", state });
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const nameOf = (id: string) => `unms-backup-20240203-0405_${id}.unms`;

let dir: string;
let events: SyncEvent[];
const reporter = { report: (e: SyncEvent) => void events.push(e) };
let ticks = 0;
const clock = { now: () => (ticks += 5) };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sync-backups-test-"));
  events = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("SyncBackups.run()", () => {
  test("uploads what is missing, keeps what is there, deletes what UNMS dropped", async () => {
    const store = new LocalDirBackupStore(dir);
    await mkdir(join(dir, "f"));
    await writeFile(join(dir, "f", nameOf("kept")), bytes(30, 1));
    await writeFile(join(dir, "f", nameOf("kept2")), bytes(30, 1));
    await writeFile(join(dir, "f", nameOf("dropped")), bytes(30, 2));
    await writeFile(join(dir, "f", nameOf("dropped2")), bytes(30, 2));
    await writeFile(join(dir, "f", "mine.txt"), "x");
    const source = new ArraySource([
      { backup: backup("kept"), bytes: bytes(30, 1) },
      { backup: backup("kept2"), bytes: bytes(30, 1) },
      { backup: backup("new"), bytes: bytes(100, 3) },
      { backup: backup("busy", "in-progress"), bytes: bytes(5, 4) },
    ]);
    const report = await new SyncBackups(source, store, reporter, clock, "test store").run({ folder: "f" });
    assert.deepEqual(report.uploaded, [nameOf("new")]);
    assert.deepEqual(report.skipped, [nameOf("kept"), nameOf("kept2")]);
    assert.deepEqual(report.deleted.sort(), [nameOf("dropped"), nameOf("dropped2")]);
    assert.deepEqual(report.failed, []);
    assert.equal(report.bytesUploaded, 100);
    assert.deepEqual(report.uploads.map((u) => [u.name, u.bytes]), [[nameOf("new"), 100]]);
    assert.deepEqual(report.ignored, [{ backupId: "busy", reason: 'its state is "in-progress", not "success"' }]);
    assert.deepEqual((await readdir(join(dir, "f"))).sort(), [nameOf("kept"), nameOf("kept2"), nameOf("new"), "mine.txt"].sort());
    assert.deepEqual(source.opened, ["new"]);
  });

  test("a dry run reports the plan and changes nothing", async () => {
    const store = new LocalDirBackupStore(dir);
    await writeFile(join(dir, nameOf("old")), "x");
    const source = new ArraySource([{ backup: backup("a"), bytes: bytes(20, 1) }, { backup: backup("b"), bytes: bytes(20, 1) }]);
    const report = await new SyncBackups(source, store, reporter, clock, "t").run({ folder: "", dryRun: true });
    assert.equal(report.dryRun, true);
    assert.deepEqual(report.uploaded.sort(), [nameOf("a"), nameOf("b")]);
    assert.deepEqual(report.deleted, [nameOf("old")]);
    assert.deepEqual(await readdir(dir), [nameOf("old")]);
    assert.deepEqual(source.opened, []);
  });

  test("a broken download starts that backup over and then succeeds", async () => {
    const source = new ArraySource([{ backup: backup("a"), bytes: bytes(50, 7) }], { a: SOURCE_ATTEMPTS - 1 });
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf("a")]);
    assert.deepEqual(source.opened, Array(SOURCE_ATTEMPTS).fill("a"));
    assert.equal(events.filter((e) => e.type === "retrying").length, SOURCE_ATTEMPTS - 1);
    assert.deepEqual(await readdir(dir), [nameOf("a")]);
  });

  test("a download that keeps breaking fails that backup only, after capped attempts", async () => {
    const source = new ArraySource(
      [{ backup: backup("a"), bytes: bytes(50, 7) }, { backup: backup("b"), bytes: bytes(50, 8) }],
      { a: 99 },
    );
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf("b")]);
    assert.equal(report.failed.length, 1);
    assert.equal(report.failed[0]!.name, nameOf("a"));
    assert.match(report.failed[0]!.error, /download of a reset/);
    assert.equal(source.opened.filter((id) => id === "a").length, SOURCE_ATTEMPTS);
    assert.deepEqual(await readdir(dir), [nameOf("b")]);
  });

  test("a failed upload still lets the safe deletions happen, and is reported", async () => {
    await writeFile(join(dir, nameOf("gone")), "x");
    await writeFile(join(dir, nameOf("k1")), "x");
    await writeFile(join(dir, nameOf("k2")), "x");
    const store = new FailingStore(new LocalDirBackupStore(dir), {
      bad: new SyncError("Dropbox is full", { kind: "permanent", code: "dropbox.insufficient_space" }),
    });
    const source = new ArraySource([
      { backup: backup("k1"), bytes: bytes(1, 1) },
      { backup: backup("k2"), bytes: bytes(1, 1) },
      { backup: backup("bad"), bytes: bytes(10, 1) },
      { backup: backup("good"), bytes: bytes(10, 1) },
    ]);
    const report = await new SyncBackups(source, store, reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.failed, [{ name: nameOf("bad"), error: "Dropbox is full" }]);
    assert.deepEqual(report.uploaded, [nameOf("good")]);
    assert.deepEqual(report.deleted, [nameOf("gone")]);
    assert.ok(events.some((e) => e.type === "failed" && e.name === nameOf("bad")));
  });

  test("after an authorization failure nothing else is attempted, and nothing deleted", async () => {
    await writeFile(join(dir, nameOf("gone")), "x");
    await writeFile(join(dir, nameOf("k")), "x");
    const lost = new SyncError("Dropbox authorization was revoked or is invalid", { kind: "authorization-required", code: "dropbox.auth_lost" });
    const store = new FailingStore(new LocalDirBackupStore(dir), { a: lost });
    const source = new ArraySource([
      { backup: backup("k"), bytes: bytes(1, 1) },
      { backup: backup("a"), bytes: bytes(1, 1) },
      { backup: backup("b"), bytes: bytes(1, 1) },
    ]);
    const report = await new SyncBackups(source, store, reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, []);
    assert.deepEqual(report.deleted, []);
    assert.deepEqual(report.failed.map((f) => f.name), [nameOf("a"), nameOf("b"), nameOf("gone")]);
    assert.match(report.failed[1]!.error, /^Not attempted: Dropbox authorization was revoked/);
    assert.deepEqual(source.opened, ["a"]);
  });

  test("guards are reported with their advice and hold deletions back", async () => {
    for (const id of ["a", "b", "c"]) await writeFile(join(dir, nameOf(id)), "x");
    const report = await new SyncBackups(new ArraySource([]), new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.deleted, []);
    assert.equal(report.guarded.length, 1);
    assert.match(report.guarded[0]!, /no successful backup.*Check that UNMS is creating backups/);
    assert.equal((await readdir(dir)).length, 3);
  });

  test("an NMS time zone that cannot be read falls back to UTC with a warning", async () => {
    const source = new ArraySource([{ backup: backup("a"), bytes: bytes(1, 1) }], {}, new Error("HTTP 500 on GET nms/settings"));
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf("a")]);
    assert.match(report.warnings[0]!, /Could not read the NMS time zone \(HTTP 500 on GET nms\/settings\); new file names use UTC/);
  });

  test("an unknown NMS time zone falls back to UTC with a warning", async () => {
    const source = new ArraySource([{ backup: backup("a"), bytes: bytes(1, 1) }], {}, "Mars/Olympus");
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf("a")]);
    assert.match(report.warnings[0]!, /"Mars\/Olympus" is unknown/);
  });

  test("a listing failure is thrown, not swallowed", async () => {
    const source: BackupSource = {
      list: () => Promise.reject(new SyncError("UNMS refused the API token", { kind: "unauthorized", code: "unms.unauthorized" })),
      timeZone: async () => "UTC",
      open: () => Promise.reject(new Error("unreachable")),
    };
    await assert.rejects(new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" }), /UNMS refused the API token/);
  });
});
