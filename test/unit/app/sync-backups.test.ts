import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, rm, writeFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { SyncBackups, SOURCE_ATTEMPTS } from "../../../src/app/sync-backups.ts";
import { LocalDirBackupStore } from "../../../src/adapters/local-dir/local-dir-backup-store.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { BackupDownload, BackupSource, BackupStore, PutOptions, SyncEvent } from "../../../src/domain/ports.ts";
import type { UnmsBackup } from "../../../src/domain/backup.ts";
import { MemoryDownloadLedger } from "../../../src/adapters/memory/memory-download-ledger.ts";
import { freshDirEach } from "../../temp-dir.ts";

/** A source over plain byte arrays; `breakDownloads[id]` makes that many downloads break midway. */
class ArraySource implements BackupSource {
  opened: string[] = [];
  /** False plays a UNMS that sends no content-length. */
  announceLength = true;
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
    return this.announceLength ? { stream: stream(), length: item.bytes.length } : { stream: stream() };
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

/** A guid per label (UNMS ids are guids): gid("a") is the same guid throughout this file. */
const gids = new Map<string, string>();
const gid = (label: string): string => {
  if (!gids.has(label)) gids.set(label, `00000000-0000-4000-8000-${(gids.size + 1).toString(16).padStart(12, "0")}`);
  return gids.get(label)!;
};
const backup = (id: string, state = "success"): UnmsBackup => ({ id, createdAt: "2024-02-03T04:05:00Z", state });
const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const nameOf = (id: string) => `unms-backup-20240203-0405_${id}.unms`;

let dir: string;
let events: SyncEvent[];
const reporter = { report: (e: SyncEvent) => void events.push(e) };
let ticks = 0;
const clock = { now: () => (ticks += 5) };

describe("SyncBackups.run()", () => {
  freshDirEach("sync-backups-test-", (fresh) => {
    dir = fresh;
    events = [];
  });
  test("uploads what is missing, keeps what is there, deletes what UNMS dropped", async () => {
    const store = new LocalDirBackupStore(dir);
    await mkdir(join(dir, "f"));
    await writeFile(join(dir, "f", nameOf(gid("kept"))), bytes(30, 1));
    await writeFile(join(dir, "f", nameOf(gid("kept2"))), bytes(30, 1));
    await writeFile(join(dir, "f", nameOf(gid("dropped"))), bytes(30, 2));
    await writeFile(join(dir, "f", nameOf(gid("dropped2"))), bytes(30, 2));
    await writeFile(join(dir, "f", "mine.txt"), "x");
    const source = new ArraySource([
      { backup: backup(gid("kept")), bytes: bytes(30, 1) },
      { backup: backup(gid("kept2")), bytes: bytes(30, 1) },
      { backup: backup(gid("new")), bytes: bytes(100, 3) },
      { backup: backup(gid("busy"), "in-progress"), bytes: bytes(5, 4) },
    ]);
    const report = await new SyncBackups(source, store, reporter, clock, "test store").run({ folder: "f" });
    assert.deepEqual(report.uploaded, [nameOf(gid("new"))]);
    assert.deepEqual(report.skipped, [nameOf(gid("kept")), nameOf(gid("kept2"))]);
    assert.deepEqual(report.deleted.sort(), [nameOf(gid("dropped")), nameOf(gid("dropped2"))]);
    assert.deepEqual(report.failed, []);
    assert.equal(report.bytesUploaded, 100);
    assert.deepEqual(report.uploads.map((u) => [u.name, u.bytes]), [[nameOf(gid("new")), 100]]);
    assert.deepEqual(report.ignored, [{ backupId: gid("busy"), reason: 'its state is "in-progress", not "success"' }]);
    assert.deepEqual((await readdir(join(dir, "f"))).sort(), [nameOf(gid("kept")), nameOf(gid("kept2")), nameOf(gid("new")), "mine.txt"].sort());
    assert.deepEqual(source.opened, [gid("new")]);
  });

  test("a dry run reports the plan and changes nothing", async () => {
    const store = new LocalDirBackupStore(dir);
    await writeFile(join(dir, nameOf(gid("old"))), "x");
    const source = new ArraySource([{ backup: backup(gid("a")), bytes: bytes(20, 1) }, { backup: backup(gid("b")), bytes: bytes(20, 1) }]);
    const report = await new SyncBackups(source, store, reporter, clock, "t").run({ folder: "", dryRun: true });
    assert.equal(report.dryRun, true);
    assert.deepEqual(report.uploaded.sort(), [nameOf(gid("a")), nameOf(gid("b"))]);
    assert.deepEqual(report.deleted, [nameOf(gid("old"))]);
    assert.deepEqual(await readdir(dir), [nameOf(gid("old"))]);
    assert.deepEqual(source.opened, []);
  });

  test("a broken download starts that backup over and then succeeds", async () => {
    const source = new ArraySource([{ backup: backup(gid("a")), bytes: bytes(50, 7) }], { [gid("a")]: SOURCE_ATTEMPTS - 1 });
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf(gid("a"))]);
    assert.deepEqual(source.opened, Array(SOURCE_ATTEMPTS).fill(gid("a")));
    assert.equal(events.filter((e) => e.type === "retrying").length, SOURCE_ATTEMPTS - 1);
    assert.deepEqual(await readdir(dir), [nameOf(gid("a"))]);
  });

  test("a download that keeps breaking fails that backup only, after capped attempts", async () => {
    const source = new ArraySource(
      [{ backup: backup(gid("a")), bytes: bytes(50, 7) }, { backup: backup(gid("b")), bytes: bytes(50, 8) }],
      { [gid("a")]: 99 },
    );
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf(gid("b"))]);
    assert.equal(report.failed.length, 1);
    assert.equal(report.failed[0]!.name, nameOf(gid("a")));
    assert.match(report.failed[0]!.error, new RegExp(`download of ${gid("a")} reset`));
    assert.equal(source.opened.filter((id) => id === gid("a")).length, SOURCE_ATTEMPTS);
    assert.deepEqual(await readdir(dir), [nameOf(gid("b"))]);
  });

  test("a failed upload still lets the safe deletions happen, and is reported", async () => {
    await writeFile(join(dir, nameOf(gid("gone"))), "x");
    await writeFile(join(dir, nameOf(gid("k1"))), "x");
    await writeFile(join(dir, nameOf(gid("k2"))), "x");
    const store = new FailingStore(new LocalDirBackupStore(dir), {
      [gid("bad")]: new SyncError("Dropbox is full", { kind: "permanent", code: "dropbox.insufficient_space" }),
    });
    const source = new ArraySource([
      { backup: backup(gid("k1")), bytes: bytes(1, 1) },
      { backup: backup(gid("k2")), bytes: bytes(1, 1) },
      { backup: backup(gid("bad")), bytes: bytes(10, 1) },
      { backup: backup(gid("good")), bytes: bytes(10, 1) },
    ]);
    const report = await new SyncBackups(source, store, reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.failed, [{ name: nameOf(gid("bad")), error: "Dropbox is full" }]);
    assert.deepEqual(report.uploaded, [nameOf(gid("good"))]);
    assert.deepEqual(report.deleted, [nameOf(gid("gone"))]);
    assert.ok(events.some((e) => e.type === "failed" && e.name === nameOf(gid("bad"))));
  });

  test("after an authorization failure nothing else is attempted, and nothing deleted", async () => {
    await writeFile(join(dir, nameOf(gid("gone"))), "x");
    await writeFile(join(dir, nameOf(gid("k"))), "x");
    const lost = new SyncError("Dropbox authorization was revoked or is invalid", { kind: "authorization-required", code: "dropbox.auth_lost" });
    const store = new FailingStore(new LocalDirBackupStore(dir), { [gid("a")]: lost });
    const source = new ArraySource([
      { backup: backup(gid("k")), bytes: bytes(1, 1) },
      { backup: backup(gid("a")), bytes: bytes(1, 1) },
      { backup: backup(gid("b")), bytes: bytes(1, 1) },
    ]);
    const report = await new SyncBackups(source, store, reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, []);
    assert.deepEqual(report.deleted, []);
    assert.deepEqual(report.failed.map((f) => f.name), [nameOf(gid("a")), nameOf(gid("b")), nameOf(gid("gone"))]);
    assert.match(report.failed[1]!.error, /^Not attempted: Dropbox authorization was revoked/);
    assert.deepEqual(source.opened, [gid("a")]);
  });

  test("guards are reported with their advice and hold deletions back", async () => {
    for (const id of ["a", "b", "c"]) await writeFile(join(dir, nameOf(gid(id))), "x");
    const report = await new SyncBackups(new ArraySource([]), new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.deleted, []);
    assert.equal(report.guarded.length, 1);
    assert.match(report.guarded[0]!, /no successful backup.*Check that UNMS is creating backups/);
    assert.equal((await readdir(dir)).length, 3);
  });

  test("an NMS time zone that cannot be read falls back to UTC with a warning", async () => {
    const source = new ArraySource([{ backup: backup(gid("a")), bytes: bytes(1, 1) }], {}, new Error("HTTP 500 on GET nms/settings"));
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf(gid("a"))]);
    assert.match(report.warnings[0]!, /Could not read the NMS time zone \(HTTP 500 on GET nms\/settings\); new file names use UTC/);
  });

  test("an unknown NMS time zone falls back to UTC with a warning", async () => {
    const source = new ArraySource([{ backup: backup(gid("a")), bytes: bytes(1, 1) }], {}, "Mars/Olympus");
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf(gid("a"))]);
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

describe("SyncBackups.run(): listed sizes, short copies, refused downloads", () => {
  freshDirEach("sync-backups-test-", (fresh) => {
    dir = fresh;
    events = [];
  });
  const listed = (id: string, size: number): UnmsBackup => ({ ...backup(id), size });
  const uploadsOf = (report: { uploaded: string[] }) => report.uploaded.length;

  test("three runs against a UNMS whose listed size is wrong upload each backup exactly once, with one warning each", async () => {
    const store = new LocalDirBackupStore(dir);
    const ledger = new MemoryDownloadLedger();
    // Listed 1 KiB-rounded (a unit mismatch) and one byte too many (an off-by-one).
    const source = new ArraySource([
      { backup: listed(gid("kib"), 2048), bytes: bytes(2000, 1) },
      { backup: listed(gid("off"), 101), bytes: bytes(100, 2) },
    ]);
    const sync = new SyncBackups(source, store, reporter, clock, "t", ledger);
    const reports = [];
    for (let run = 0; run < 3; run++) reports.push(await sync.run({ folder: "" }));
    assert.deepEqual(reports.map(uploadsOf), [2, 0, 0]);
    assert.deepEqual(source.opened.sort(), [gid("kib"), gid("off")].sort(), "each backup downloaded once");
    assert.deepEqual(reports.map((r) => r.failed), [[], [], []]);
    const warnings = reports.flatMap((r) => r.warnings);
    assert.equal(warnings.length, 2, warnings.join("\n"));
    assert.match(warnings.find((w) => w.includes(gid("kib")))!, new RegExp(`UNMS lists backup ${gid("kib")} as 2048 bytes, but its download sent 2000 bytes`));
    assert.match(warnings.find((w) => w.includes(gid("off")))!, /as 101 bytes, but its download sent 100 bytes/);
    assert.deepEqual(await ledger.read(), new Map([[gid("kib"), { bytes: 2000, verified: true }], [gid("off"), { bytes: 100, verified: true }]]));
  });

  test("without a content-length a short download is confirmed by one more download, then kept", async () => {
    const source = new ArraySource([{ backup: listed(gid("a"), 101), bytes: bytes(100, 2) }]);
    source.announceLength = false;
    const sync = new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t", new MemoryDownloadLedger());
    const reports = [];
    for (let run = 0; run < 4; run++) reports.push(await sync.run({ folder: "" }));
    assert.deepEqual(reports.map(uploadsOf), [1, 1, 0, 0]);
    assert.match(reports[0]!.warnings[0]!, /came without a length, so the next run downloads it once more/);
    assert.deepEqual(reports[1]!.warnings, [], "the same count again is not warned twice");
  });

  test("a copy cut short without a declared length is repaired by a later honest run", async () => {
    const full = bytes(300, 9);
    const item = { backup: listed(gid("a"), 300), bytes: full.subarray(0, 120) };
    const source = new ArraySource([item]);
    source.announceLength = false;
    const ledger = new MemoryDownloadLedger();
    const sync = new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t", ledger);
    const first = await sync.run({ folder: "" });
    assert.deepEqual(first.uploads.map((u) => u.bytes), [120]);
    item.bytes = full; // UNMS answers honestly again
    source.announceLength = true;
    events = [];
    const second = await sync.run({ folder: "" });
    assert.deepEqual(second.uploads.map((u) => u.bytes), [300]);
    assert.ok(events.some((e) => e.type === "info" && new RegExp(`Replacing ${nameOf(gid("a"))}: the copy holds 120 bytes, fewer than the 300 bytes UNMS lists`).test(e.message)));
    const third = await sync.run({ folder: "" });
    assert.deepEqual(third.uploaded, []);
    assert.deepEqual(third.skipped, [nameOf(gid("a"))]);
  });

  test("a copy shorter than what UNMS sent before is repaired even without a listed size", async () => {
    const ledger = new MemoryDownloadLedger();
    await ledger.write(new Map([[gid("a"), { bytes: 50, verified: true }]]));
    await writeFile(join(dir, nameOf(gid("a"))), bytes(20, 1));
    const source = new ArraySource([{ backup: backup(gid("a")), bytes: bytes(50, 1) }]);
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t", ledger).run({ folder: "" });
    assert.deepEqual(report.uploads.map((u) => [u.name, u.bytes]), [[nameOf(gid("a")), 50]]);
  });

  test("a success item the source marked unusable is reported by id and skipped; the rest sync; a dropped size is warned", async () => {
    const source = new ArraySource([
      { backup: { ...backup(gid("bad")), unusable: 'its createdAt "yesterday" is not an ISO-8601 date' }, bytes: bytes(1, 1) },
      { backup: { ...backup(gid("odd-size")), warning: `UNMS lists backup ${gid("odd-size")} with size "big", not a byte count; its size is treated as unknown` }, bytes: bytes(5, 1) },
      { backup: { id: gid("failed"), createdAt: "", state: "failed" }, bytes: bytes(1, 1) },
    ]);
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf(gid("odd-size"))]);
    assert.deepEqual(report.ignored, [
      { backupId: gid("bad"), reason: 'its createdAt "yesterday" is not an ISO-8601 date' },
      { backupId: gid("failed"), reason: 'its state is "failed", not "success"' },
    ]);
    assert.match(report.warnings.join("\n"), /with size "big", not a byte count/);
  });

  test("a refused download fails that backup only, by name, and stores nothing", async () => {
    const refusing: BackupSource = {
      list: async () => [backup(gid("page")), backup(gid("ok"))],
      timeZone: async () => "UTC",
      open: async (id) => {
        if (id === gid("page")) throw new SyncError(`Refused the download of UNMS backup "${id}": content-type text/html`, { kind: "permanent", code: "unms.download_refused" });
        return { stream: (async function* () { yield bytes(3, 1); })(), length: 3 };
      },
    };
    const report = await new SyncBackups(refusing, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf(gid("ok"))]);
    assert.deepEqual(report.failed.map((f) => f.name), [nameOf(gid("page"))]);
    assert.match(report.failed[0]!.error, /Refused the download of UNMS backup .*text\/html/);
    assert.deepEqual(await readdir(dir), [nameOf(gid("ok"))]);
  });

  test("a reset NMS with one new backup deletes none of the old copies, even with allowMassDelete", async () => {
    for (let i = 0; i < 10; i++) await writeFile(join(dir, nameOf(gid(`old${i}`))), "x");
    const source = new ArraySource([{ backup: backup(gid("new")), bytes: bytes(4, 1) }]);
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t").run({ folder: "", policy: { allowMassDelete: true } });
    assert.deepEqual(report.deleted, []);
    assert.deepEqual(report.uploaded, [nameOf(gid("new"))]);
    assert.match(report.guarded[0]!, /None of the 1 successful backup\(s\) UNMS lists matches any of the 10 backup file\(s\).*reinstalled/);
    assert.equal((await readdir(dir)).length, 11);
  });

  test("a dry run writes no download records; records of backups UNMS dropped are forgotten", async () => {
    const ledger = new MemoryDownloadLedger();
    await ledger.write(new Map([[gid("gone"), { bytes: 7, verified: true }]]));
    const source = new ArraySource([{ backup: backup(gid("a")), bytes: bytes(4, 1) }]);
    const sync = new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t", ledger);
    await sync.run({ folder: "", dryRun: true });
    assert.equal(ledger.writes, 1, "only the seeding write");
    await sync.run({ folder: "" });
    assert.deepEqual(await ledger.read(), new Map([[gid("a"), { bytes: 4, verified: true }]]));
  });

  test("each upload is recorded at once, and an unwritable ledger is warned about once per run", async () => {
    const writes: number[] = [];
    const ledger = { read: async () => new Map(), write: async (records: ReadonlyMap<string, unknown>) => void writes.push(records.size) };
    const source = new ArraySource([{ backup: backup(gid("a")), bytes: bytes(4, 1) }, { backup: backup(gid("b")), bytes: bytes(4, 2) }]);
    await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t", ledger).run({ folder: "" });
    assert.deepEqual(writes, [1, 2], "one write per upload, none at the end when nothing else changed");

    await rm(dir, { recursive: true, force: true });
    await mkdir(dir);
    const broken = { read: async () => new Map(), write: () => Promise.reject(new SyncError("Cannot write the download ledger /s/downloads.json: EROFS.", { kind: "config", code: "config.ledger_unwritable" })) };
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t", broken).run({ folder: "" });
    assert.deepEqual(report.uploaded.length, 2);
    assert.equal(report.warnings.length, 1, report.warnings.join("\n"));
    assert.match(report.warnings[0]!, /Cannot write the download ledger \/s\/downloads\.json: EROFS\. The next run may upload a backup again/);
  });

  test("an unreadable ledger is a warning, and the run goes on", async () => {
    const ledger = { read: () => Promise.reject(new SyncError("The download ledger /s/downloads.json is malformed: x.", { kind: "config", code: "config.ledger_malformed" })), write: async () => {} };
    const source = new ArraySource([{ backup: backup(gid("a")), bytes: bytes(4, 1) }]);
    const report = await new SyncBackups(source, new LocalDirBackupStore(dir), reporter, clock, "t", ledger).run({ folder: "" });
    assert.deepEqual(report.uploaded, [nameOf(gid("a"))]);
    assert.match(report.warnings[0]!, /downloads\.json is malformed: x\. It is rebuilt from this run/);
  });
});

