import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { reconcile, defaultMaxDeletes, type StoredFile } from "../../../src/domain/reconcile.ts";
import type { UnmsBackup } from "../../../src/domain/backup.ts";

const ok = (id: string, createdAt = "2024-01-02T03:04:00Z", size?: number): UnmsBackup => ({ id, createdAt, state: "success", ...(size === undefined ? {} : { size }) });
const file = (id: string, size?: number, stamp = "20240102-0304"): StoredFile => ({ name: `unms-backup-${stamp}_${id}.unms`, ...(size === undefined ? {} : { size }) });
const names = (xs: { name: string }[]) => xs.map((x) => x.name).sort();

describe("reconcile()", () => {
  test("uploads every successful backup that is absent, named in the NMS time zone", () => {
    const plan = reconcile({ backups: [ok("a"), ok("b")], stored: [], timeZone: "Europe/Prague" });
    assert.deepEqual(names(plan.uploads), ["unms-backup-20240102-0404_a.unms", "unms-backup-20240102-0404_b.unms"]);
    assert.deepEqual(plan.uploads.map((u) => u.reason), ["missing", "missing"]);
    assert.deepEqual(plan.deletions, []);
    assert.deepEqual(plan.guards, []);
  });

  test("ignores backups that are not successful and says why", () => {
    const plan = reconcile({ backups: [ok("a"), { id: "b", createdAt: "2024-01-01T00:00:00Z", state: "in-progress" }, { id: "c", createdAt: "2024-01-01T00:00:00Z", state: "failed" }], stored: [], timeZone: "UTC" });
    assert.deepEqual(names(plan.uploads), ["unms-backup-20240102-0304_a.unms"]);
    assert.deepEqual(plan.ignored.map((i) => [i.backup.id, i.reason]), [
      ["b", 'its state is "in-progress", not "success"'],
      ["c", 'its state is "failed", not "success"'],
    ]);
  });

  test("ignores backups whose id cannot be a file name", () => {
    const plan = reconcile({ backups: [ok("../../etc")], stored: [], timeZone: "UTC" });
    assert.deepEqual(plan.uploads, []);
    assert.match(plan.ignored[0]!.reason, /path separator/);
  });

  test("a rerun with everything present changes nothing", () => {
    const plan = reconcile({ backups: [ok("a"), ok("b")], stored: [file("a"), file("b")], timeZone: "UTC" });
    assert.deepEqual(plan.uploads, []);
    assert.deepEqual(plan.deletions, []);
    assert.deepEqual(names(plan.keeps.map((k) => k.file)), names([file("a"), file("b")]));
  });

  test("identity is the id, case-insensitive, whatever the timestamp in the name says", () => {
    // Written by the old plugin in another time zone, with a lower-cased id.
    const plan = reconcile({ backups: [ok("AbC")], stored: [file("abc", undefined, "19991231-2300")], timeZone: "Asia/Tokyo" });
    assert.deepEqual(plan.uploads, []);
    assert.deepEqual(plan.deletions, []);
    assert.equal(plan.keeps.length, 1);
  });

  test("deletes our files whose backup UNMS no longer lists as successful", () => {
    const plan = reconcile({ backups: [ok("a"), ok("b"), ok("c")], stored: [file("a"), file("b"), file("c"), file("gone")], timeZone: "UTC" });
    assert.deepEqual(plan.deletions.map((d) => d.backupId), ["gone"]);
    assert.deepEqual(plan.guards, []);
  });

  test("never touches files that are not ours, nor counts them", () => {
    const foreign = [{ name: "notes.txt" }, { name: "unms-backup-final.unms" }, { name: "photo.jpg", size: 10 }];
    const plan = reconcile({ backups: [ok("a")], stored: [...foreign, file("a")], timeZone: "UTC" });
    assert.deepEqual(plan.deletions, []);
    assert.deepEqual(names(plan.foreign), names(foreign));
  });

  test("empty-source guard: UNMS lists no successful backup -> delete nothing, even with allowMassDelete", () => {
    for (const backups of [[], [{ id: "x", createdAt: "2024-01-01T00:00:00Z", state: "failed" }]]) {
      const plan = reconcile({ backups, stored: [file("a"), file("b"), { name: "mine.txt" }], timeZone: "UTC", policy: { allowMassDelete: true } });
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
    const plan = reconcile({ backups: [ok("a")], stored: [file("a"), file("b"), file("c"), file("d")], timeZone: "UTC" });
    assert.deepEqual(plan.deletions, []);
    assert.equal(plan.guards[0]!.code, "mass-delete");
    assert.match(plan.guards[0]!.message, /3 of 4 .* allowed 2/);
    assert.match(plan.guards[0]!.advice, /--allow-mass-delete/);
  });

  test("mass-delete guard: exactly the default maximum is allowed", () => {
    const plan = reconcile({ backups: [ok("a"), ok("b")], stored: [file("a"), file("b"), file("c"), file("d")], timeZone: "UTC" });
    assert.deepEqual(plan.deletions.map((d) => d.backupId).sort(), ["c", "d"]);
    assert.deepEqual(plan.guards, []);
  });

  test("mass-delete guard is lifted by allowMassDelete and tuned by maxDeletes", () => {
    const stored = [file("a"), file("b"), file("c"), file("d")];
    assert.equal(reconcile({ backups: [ok("a")], stored, timeZone: "UTC", policy: { allowMassDelete: true } }).deletions.length, 3);
    assert.equal(reconcile({ backups: [ok("a")], stored, timeZone: "UTC", policy: { maxDeletes: 3 } }).deletions.length, 3);
    assert.equal(reconcile({ backups: [ok("a"), ok("b"), ok("c")], stored, timeZone: "UTC", policy: { maxDeletes: 0 } }).guards[0]!.code, "mass-delete");
  });

  test("defaultMaxDeletes() is half, rounded down, at least 1", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 9].map(defaultMaxDeletes), [1, 1, 1, 1, 2, 4]);
  });

  test("a single file of ours may be deleted when its backup is gone", () => {
    const plan = reconcile({ backups: [ok("new")], stored: [file("old")], timeZone: "UTC" });
    assert.deepEqual(plan.deletions.map((d) => d.backupId), ["old"]);
    assert.equal(plan.uploads.length, 1);
  });

  test("sizes decide only when both sides know them", () => {
    const plan = reconcile({ backups: [ok("a", undefined, 100), ok("b", undefined, 100), ok("c")], stored: [file("a", 100), file("b", 42), file("c", 7)], timeZone: "UTC" });
    assert.deepEqual(plan.uploads.map((u) => [u.backup.id, u.reason, u.name]), [["b", "size-mismatch", file("b").name]]);
    assert.equal(plan.uploads[0]!.replaces?.size, 42);
    assert.deepEqual(plan.keeps.map((k) => k.backup.id).sort(), ["a", "c"]);
  });

  test("duplicate copies of one backup are kept, not deleted", () => {
    const plan = reconcile({ backups: [ok("a")], stored: [file("a"), file("a", undefined, "20200101-0000")], timeZone: "UTC" });
    assert.deepEqual(plan.deletions, []);
    assert.deepEqual(plan.uploads, []);
  });

  test("a listing with the same id twice uploads it once", () => {
    const plan = reconcile({ backups: [ok("a"), ok("A")], stored: [], timeZone: "UTC" });
    assert.equal(plan.uploads.length, 1);
    assert.match(plan.ignored[0]!.reason, /twice/);
  });
});
