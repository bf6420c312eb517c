import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { reconcile, defaultMaxDeletes, shortCopy, type DownloadRecord, type StoredFile } from "../../../src/domain/reconcile.ts";
import { backupKey, type UnmsBackup } from "../../../src/domain/backup.ts";

/** A guid per label, readable in failures: id("a") -> "00000000-0000-4000-8000-000000000061". */
const id = (label: string) => `00000000-0000-4000-8000-${Buffer.from(label).toString("hex").padStart(12, "0").slice(-12)}`;

const ok = (id: string, createdAt = "2024-01-02T03:04:00Z", size?: number): UnmsBackup => ({ id, createdAt, state: "success", ...(size === undefined ? {} : { size }) });
const file = (id: string, size?: number, stamp = "20240102-0304"): StoredFile => ({ name: `unms-backup-${stamp}_${id}.unms`, ...(size === undefined ? {} : { size }) });
const names = (xs: { name: string }[]) => xs.map((x) => x.name).sort();

describe("reconcile()", () => {
  test("uploads every successful backup that is absent, named in the NMS time zone", () => {
    const plan = reconcile({ backups: [ok(id("a")), ok(id("b"))], stored: [], timeZone: "Europe/Prague" });
    assert.deepEqual(names(plan.uploads), [`unms-backup-20240102-0404_${id("a")}.unms`, `unms-backup-20240102-0404_${id("b")}.unms`]);
    assert.deepEqual(plan.uploads.map((u) => u.reason), ["missing", "missing"]);
    assert.deepEqual(plan.deletions, []);
    assert.deepEqual(plan.guards, []);
  });

  test("ignores backups that are not successful and says why", () => {
    const plan = reconcile({ backups: [ok(id("a")), { id: id("b"), createdAt: "2024-01-01T00:00:00Z", state: "in-progress" }, { id: id("c"), createdAt: "2024-01-01T00:00:00Z", state: "failed" }], stored: [], timeZone: "UTC" });
    assert.deepEqual(names(plan.uploads), [`unms-backup-20240102-0304_${id("a")}.unms`]);
    assert.deepEqual(plan.ignored.map((i) => [i.backup.id, i.reason]), [
      [id("b"), 'its state is "in-progress", not "success"'],
      [id("c"), 'its state is "failed", not "success"'],
    ]);
  });

  test("ignores backups whose id cannot be a file name", () => {
    const plan = reconcile({ backups: [ok("../../etc")], stored: [], timeZone: "UTC" });
    assert.deepEqual(plan.uploads, []);
    assert.match(plan.ignored[0]!.reason, /path separator/);
  });

  test("a rerun with everything present changes nothing", () => {
    const plan = reconcile({ backups: [ok(id("a")), ok(id("b"))], stored: [file(id("a")), file(id("b"))], timeZone: "UTC" });
    assert.deepEqual(plan.uploads, []);
    assert.deepEqual(plan.deletions, []);
    assert.deepEqual(names(plan.keeps.map((k) => k.file)), names([file(id("a")), file(id("b"))]));
  });

  test("identity is the id, case-insensitive, whatever the timestamp in the name says", () => {
    // Written by the old plugin in another time zone, with a lower-cased id.
    const plan = reconcile({ backups: [ok("5F3C1A2B-0000-4C3E-9D1E-ABCDEFABCDEF")], stored: [file("5f3c1a2b-0000-4c3e-9d1e-abcdefabcdef", undefined, "19991231-2300")], timeZone: "Asia/Tokyo" });
    assert.deepEqual(plan.uploads, []);
    assert.deepEqual(plan.deletions, []);
    assert.equal(plan.keeps.length, 1);
  });

  test("deletes our files whose backup UNMS no longer lists as successful", () => {
    const plan = reconcile({ backups: [ok(id("a")), ok(id("b")), ok(id("c"))], stored: [file(id("a")), file(id("b")), file(id("c")), file(id("gone"))], timeZone: "UTC" });
    assert.deepEqual(plan.deletions.map((d) => d.backupId), [id("gone")]);
    assert.deepEqual(plan.guards, []);
  });

  test("never touches files that are not ours, nor counts them", () => {
    const foreign = [{ name: "notes.txt" }, { name: "unms-backup-final.unms" }, { name: "photo.jpg", size: 10 }, { name: "unms-backup-20240101-0000_my-copy.unms" }];
    const plan = reconcile({ backups: [ok(id("a"))], stored: [...foreign, file(id("a"))], timeZone: "UTC" });
    assert.deepEqual(plan.deletions, []);
    assert.deepEqual(names(plan.foreign), names(foreign));
  });

  test("empty-source guard: UNMS lists no successful backup -> delete nothing, even with allowMassDelete", () => {
    for (const backups of [[], [{ id: id("x"), createdAt: "2024-01-01T00:00:00Z", state: "failed" }]]) {
      const plan = reconcile({ backups, stored: [file(id("a")), file(id("b")), { name: "mine.txt" }], timeZone: "UTC", policy: { allowMassDelete: true } });
      assert.deepEqual(plan.deletions, []);
      assert.equal(plan.guards.length, 1);
      assert.equal(plan.guards[0]!.code, "empty-source");
      assert.equal(plan.guards[0]!.heldBack.length, 2);
      assert.match(plan.guards[0]!.message, /no successful backup/);
      assert.ok(plan.guards[0]!.advice.length > 0);
    }
  });

  test("an empty source and an empty folder raise no guard", () => {
    const plan = reconcile({ backups: [], stored: [{ name: "mine.txt" }], timeZone: "UTC" });
    assert.deepEqual(plan.guards, []);
  });

  test("mass-delete guard: more than half of our files -> delete nothing", () => {
    const plan = reconcile({ backups: [ok(id("a"))], stored: [file(id("a")), file(id("b")), file(id("c")), file(id("d"))], timeZone: "UTC" });
    assert.deepEqual(plan.deletions, []);
    assert.equal(plan.guards[0]!.code, "mass-delete");
    assert.match(plan.guards[0]!.message, /3 of 4 .* allowed 2/);
    assert.match(plan.guards[0]!.advice, /--allow-mass-delete/);
  });

  test("mass-delete guard: exactly the default maximum is allowed", () => {
    const plan = reconcile({ backups: [ok(id("a")), ok(id("b"))], stored: [file(id("a")), file(id("b")), file(id("c")), file(id("d"))], timeZone: "UTC" });
    assert.deepEqual(plan.deletions.map((d) => d.backupId).sort(), [id("c"), id("d")]);
    assert.deepEqual(plan.guards, []);
  });

  test("mass-delete guard is lifted by allowMassDelete and tuned by maxDeletes", () => {
    const stored = [file(id("a")), file(id("b")), file(id("c")), file(id("d"))];
    assert.equal(reconcile({ backups: [ok(id("a"))], stored, timeZone: "UTC", policy: { allowMassDelete: true } }).deletions.length, 3);
    assert.equal(reconcile({ backups: [ok(id("a"))], stored, timeZone: "UTC", policy: { maxDeletes: 3 } }).deletions.length, 3);
    assert.equal(reconcile({ backups: [ok(id("a")), ok(id("b")), ok(id("c"))], stored, timeZone: "UTC", policy: { maxDeletes: 0 } }).guards[0]!.code, "mass-delete");
  });

  test("defaultMaxDeletes() is half, rounded down, at least 1", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 9].map(defaultMaxDeletes), [1, 1, 1, 1, 2, 4]);
  });

  test("a single file of ours may be deleted when its backup is gone", () => {
    const plan = reconcile({ backups: [ok(id("new"))], stored: [file(id("old"))], timeZone: "UTC" });
    assert.deepEqual(plan.deletions.map((d) => d.backupId), [id("old")]);
    assert.equal(plan.uploads.length, 1);
  });

  test("sizes decide only when both sides know them", () => {
    const plan = reconcile({ backups: [ok(id("a"), undefined, 100), ok(id("b"), undefined, 100), ok(id("c"))], stored: [file(id("a"), 100), file(id("b"), 42), file(id("c"), 7)], timeZone: "UTC" });
    assert.deepEqual(plan.uploads.map((u) => [u.backup.id, u.reason, u.name]), [[id("b"), "size-mismatch", file(id("b")).name]]);
    assert.equal(plan.uploads[0]!.replaces?.size, 42);
    assert.deepEqual(plan.keeps.map((k) => k.backup.id).sort(), [id("a"), id("c")]);
  });

  test("duplicate copies of one backup are kept, not deleted", () => {
    const plan = reconcile({ backups: [ok(id("a"))], stored: [file(id("a")), file(id("a"), undefined, "20200101-0000")], timeZone: "UTC" });
    assert.deepEqual(plan.deletions, []);
    assert.deepEqual(plan.uploads, []);
  });

  test("a listing with the same id twice uploads it once", () => {
    const plan = reconcile({ backups: [ok(id("a")), ok(id("a").toUpperCase())], stored: [], timeZone: "UTC" });
    assert.equal(plan.uploads.length, 1);
    assert.match(plan.ignored[0]!.reason, /twice/);
  });

  test("ignores a success item the source marked unusable, with the source's reason", () => {
    const plan = reconcile({ backups: [ok(id("a")), { ...ok(id("b")), unusable: 'its createdAt "yesterday" is not an ISO-8601 date' }], stored: [], timeZone: "UTC" });
    assert.deepEqual(plan.uploads.map((u) => u.backup.id), [id("a")]);
    assert.deepEqual(plan.ignored.map((i) => [i.backup.id, i.reason]), [[id("b"), 'its createdAt "yesterday" is not an ISO-8601 date']]);
  });

  test("the copy of a success item skipped for a bad field is kept, not deleted, and counts as overlap", () => {
    const odd = { ...ok(id("b")), unusable: "it has no createdAt" };
    // One new backup plus the odd one: the odd one's copy proves this is the same NMS.
    const plan = reconcile({ backups: [odd, ok(id("new"))], stored: [file(id("b")), file(id("old"))], timeZone: "UTC" });
    assert.deepEqual(plan.deletions.map((d) => d.backupId), [id("old")]);
    assert.deepEqual(plan.guards, []);
    const alone = reconcile({ backups: [odd], stored: [file(id("b"))], timeZone: "UTC" });
    assert.deepEqual([alone.deletions, alone.uploads], [[], []]);
  });

  test("ignores a success item whose id is not a guid: its copy could never be matched again", () => {
    const plan = reconcile({ backups: [ok("backup-7")], stored: [], timeZone: "UTC" });
    assert.deepEqual(plan.uploads, []);
    assert.match(plan.ignored[0]!.reason, /"backup-7" is not a guid/);
  });

  test("a name whose id part is not a guid is foreign: never deleted, even when nothing else matches", () => {
    const mine = { name: "unms-backup-20240101-0000_my-copy.unms" };
    const plan = reconcile({ backups: [ok(id("a"))], stored: [file(id("a")), mine, file(id("old"))], timeZone: "UTC" });
    assert.deepEqual(plan.deletions.map((d) => d.file.name), [file(id("old")).name]);
    assert.deepEqual(plan.foreign, [mine]);
  });

  describe("no-overlap guard (UNMS reset or another NMS): nothing deleted, whatever the overrides", () => {
    const stored = Array.from({ length: 10 }, (_, i) => file(id(`old${i}`)));
    const cases: { title: string; backups: UnmsBackup[]; stored: StoredFile[]; policy: object; guard: string | undefined; deletions: number }[] = [
      { title: "one new backup, ten old copies", backups: [ok(id("new"))], stored, policy: {}, guard: "no-overlap", deletions: 0 },
      { title: "with allowMassDelete", backups: [ok(id("new"))], stored, policy: { allowMassDelete: true }, guard: "no-overlap", deletions: 0 },
      { title: "with a high maxDeletes", backups: [ok(id("new"))], stored, policy: { maxDeletes: 100, allowMassDelete: true }, guard: "no-overlap", deletions: 0 },
      { title: "two copies, two other backups", backups: [ok(id("n1")), ok(id("n2"))], stored: stored.slice(0, 2), policy: { allowMassDelete: true }, guard: "no-overlap", deletions: 0 },
      { title: "a single copy is not enough evidence of a reset", backups: [ok(id("new"))], stored: stored.slice(0, 1), policy: {}, guard: undefined, deletions: 1 },
      { title: "one match lifts it (mass-delete guard decides)", backups: [ok(id("new")), ok(id("old0"))], stored, policy: {}, guard: "mass-delete", deletions: 0 },
      { title: "one match with allowMassDelete deletes the rest", backups: [ok(id("new")), ok(id("old0"))], stored, policy: { allowMassDelete: true }, guard: undefined, deletions: 9 },
      { title: "foreign files do not count as copies", backups: [ok(id("new"))], stored: [stored[0]!, { name: "unms-backup-20240101-0000_my-copy.unms" }], policy: {}, guard: undefined, deletions: 1 },
    ];
    for (const c of cases) {
      test(c.title, () => {
        const plan = reconcile({ backups: c.backups, stored: c.stored, timeZone: "UTC", policy: c.policy });
        assert.equal(plan.guards[0]?.code, c.guard);
        assert.equal(plan.deletions.length, c.deletions);
        if (c.guard === "no-overlap") {
          assert.equal(plan.guards[0]!.heldBack.length, c.stored.length);
          assert.match(plan.guards[0]!.message, new RegExp(`None of the ${c.backups.length} successful backup\\(s\\) .* ${c.stored.length} backup file\\(s\\).*reinstalled`));
          assert.match(plan.guards[0]!.advice, /no setting lifts this guard/);
        }
      });
    }
  });

  describe("the size rule: only a copy that is really shorter is replaced", () => {
    const verified = (bytes: number): DownloadRecord => ({ bytes, verified: true });
    const unverified = (bytes: number): DownloadRecord => ({ bytes, verified: false });
    const cases: [title: string, listed: number | undefined, stored: number | undefined, download: DownloadRecord | undefined, replaced: RegExp | undefined][] = [
      ["sizes agree", 100, 100, undefined, undefined],
      ["the store does not tell the size", 100, undefined, undefined, undefined],
      ["UNMS lists no size", undefined, 42, undefined, undefined],
      ["the copy is longer than listed (UNMS under-reports)", 100, 120, undefined, undefined],
      ["shorter than listed, no earlier download known (old plugin's copy)", 100, 42, undefined, /42 bytes, fewer than the 100 bytes UNMS lists/],
      ["shorter than listed, but a verified download sent exactly that", 100, 90, verified(90), undefined],
      ["shorter than listed, download not verified (no length sent): try once more", 100, 90, unverified(90), /90 bytes, fewer than the 100 bytes UNMS lists/],
      ["shorter than what UNMS sent before (copy damaged)", 100, 50, verified(90), /50 bytes, fewer than the 90 bytes UNMS sent/],
      ["shorter than sent before, no listed size", undefined, 50, verified(90), /50 bytes, fewer than the 90 bytes UNMS sent/],
      ["longer than the listed size, verified download too", 100, 130, verified(130), undefined],
    ];
    for (const [title, listed, size, download, replaced] of cases) {
      test(title, () => {
        const backup = ok(id("a"), undefined, listed);
        const stored = file(id("a"), size);
        const downloads = new Map(download ? [[backupKey(id("a")), download]] : []);
        const plan = reconcile({ backups: [backup], stored: [stored], timeZone: "UTC", downloads });
        assert.equal(shortCopy(backup, stored, download) === undefined, replaced === undefined);
        if (replaced === undefined) {
          assert.deepEqual(plan.uploads, []);
          assert.equal(plan.keeps.length, 1);
        } else {
          assert.equal(plan.uploads.length, 1);
          assert.equal(plan.uploads[0]!.reason, "size-mismatch");
          assert.match(plan.uploads[0]!.why ?? "", replaced);
        }
      });
    }
  });
});
