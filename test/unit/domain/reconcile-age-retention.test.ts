/**
 * reconcile() with encrypted copies (`.unms.age`: the same backups as plain ones) and with a
 * retention policy (KEEP_*), pure, no mocks.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { plaintextCapacity, reconcile, shortCopy, type StoredFile } from "../../../src/domain/reconcile.ts";
import { backupIdFromFileName, isBackupFileName, isEncryptedFileName, type UnmsBackup } from "../../../src/domain/backup.ts";

const id = (label: string) => `00000000-0000-4000-8000-${Buffer.from(label).toString("hex").padStart(12, "0").slice(-12)}`;
const ok = (id: string, createdAt = "2026-11-02T03:04:00Z", size?: number): UnmsBackup => ({ id, createdAt, state: "success", ...(size === undefined ? {} : { size }) });
const plain = (id: string, stamp = "20261102-0304", size?: number): StoredFile => ({ name: `unms-backup-${stamp}_${id}.unms`, ...(size === undefined ? {} : { size }) });
const sealed = (id: string, stamp = "20261102-0304", size?: number): StoredFile => ({ name: `unms-backup-${stamp}_${id}.unms.age`, ...(size === undefined ? {} : { size }) });
const names = (xs: { name: string }[]) => xs.map((x) => x.name).sort();
const fileNames = (xs: { file: StoredFile }[]) => xs.map((x) => x.file.name).sort();

/** Exact size of an age file with one X25519 recipient: header 200 - 16 - 16... measured: 200 bytes for 0 plaintext bytes. */
const X25519_HEADER = 168;
const ageSize = (plaintext: number) => X25519_HEADER + 16 + plaintext + 16 * Math.max(1, Math.ceil(plaintext / 65536));

describe("encrypted copies", () => {
  test("a .unms.age name is one of ours, carrying the same backup id", () => {
    const name = sealed(id("a")).name;
    assert.equal(isBackupFileName(name), true);
    assert.equal(isEncryptedFileName(name), true);
    assert.equal(isEncryptedFileName(plain(id("a")).name), false);
    assert.equal(backupIdFromFileName(name), id("a"));
    assert.equal(isBackupFileName(`${plain(id("a")).name}.gpg`), false);
    assert.equal(isBackupFileName(`${name}.age`), false);
  });

  test("with encrypt, new copies are named .unms.age; plain copies of listed backups are kept, not re-uploaded", () => {
    const plan = reconcile({ backups: [ok(id("a")), ok(id("b"))], stored: [plain(id("a"), "20261102-0304", 1000)], timeZone: "UTC", encrypt: true });
    assert.deepEqual(names(plan.uploads), [`unms-backup-20261102-0304_${id("b")}.unms.age`]);
    assert.deepEqual(fileNames(plan.keeps), [plain(id("a")).name]);
  });

  test("without encrypt, encrypted copies are kept too (switching encryption off re-uploads nothing)", () => {
    const plan = reconcile({ backups: [ok(id("a"), undefined, 5000)], stored: [sealed(id("a"), undefined, ageSize(5000))], timeZone: "UTC" });
    assert.deepEqual(plan.uploads, []);
    assert.deepEqual(fileNames(plan.keeps), [sealed(id("a")).name]);
  });

  test("when UNMS deletes a backup, its plain and its encrypted copy are both due", () => {
    const plan = reconcile({
      backups: [ok(id("a")), ok(id("c")), ok(id("d"))],
      stored: [plain(id("a")), plain(id("b")), sealed(id("b")), plain(id("c")), sealed(id("d"))],
      timeZone: "UTC",
      encrypt: true,
      policy: { maxDeletes: 2 },
    });
    assert.deepEqual(fileNames(plan.deletions), [plain(id("b")).name, sealed(id("b")).name]);
  });

  test("the size rule judges an encrypted copy by the plaintext it can hold: a full copy never reads as short", () => {
    for (const bytes of [0, 1, 65536, 65537, 5 * 1024 * 1024 + 3]) {
      const backup = ok(id("a"), undefined, bytes);
      assert.equal(shortCopy(backup, sealed(id("a"), undefined, ageSize(bytes)), { bytes, verified: true }), undefined, `${bytes} bytes`);
      assert.equal(shortCopy(backup, sealed(id("a"), undefined, ageSize(bytes)), undefined), undefined, `${bytes} bytes, no ledger`);
      assert.ok(plaintextCapacity(ageSize(bytes)) >= bytes, `capacity of ${bytes}`);
    }
    // Listed larger than UNMS sends, with a verified download: kept, as for plain copies.
    assert.equal(shortCopy(ok(id("a"), undefined, 2_000_000), sealed(id("a"), undefined, ageSize(1_000_000)), { bytes: 1_000_000, verified: true }), undefined);
  });

  test("the size rule still catches a truncated encrypted copy, and its replacement is encrypted too", () => {
    const backup = ok(id("a"), undefined, 1_000_000);
    const truncated = sealed(id("a"), undefined, 500_000);
    assert.match(shortCopy(backup, truncated, { bytes: 1_000_000, verified: true }) ?? "", /the encrypted copy \(500000 bytes\) holds at most \d+ bytes of the backup, fewer than the 1000000 bytes UNMS sent for it/);
    const plan = reconcile({ backups: [backup], stored: [truncated], timeZone: "UTC", encrypt: true });
    assert.deepEqual(plan.uploads.map((u) => [u.name, u.reason]), [[truncated.name, "size-mismatch"]]);
    // A short plain copy is replaced by an encrypted one when encryption is on (a new name).
    const fromPlain = reconcile({ backups: [backup], stored: [plain(id("a"), undefined, 10)], timeZone: "UTC", encrypt: true });
    assert.deepEqual(fromPlain.uploads.map((u) => [u.name, u.reason]), [[sealed(id("a")).name, "size-mismatch"]]);
  });

  test("plaintextCapacity is 0 for files too small to hold anything", () => {
    assert.equal(plaintextCapacity(0), 0);
    assert.equal(plaintextCapacity(100), 0);
  });
});

describe("retention", () => {
  // Listed: the newest backup. Stored: copies of deleted backups over three months (UTC names).
  const listed = ok(id("now"), "2026-11-20T02:00:00Z");
  const stored = [
    plain(id("now"), "20261120-0200"),
    plain(id("nov1"), "20261101-0200"),
    plain(id("oct1"), "20261001-0200"),
    sealed(id("oct2"), "20261031-0200"),
    plain(id("sep1"), "20260915-0200"),
    sealed(id("sep1"), "20260915-0200"),
  ];

  test("without a policy (the default), copies of deleted backups are due, as UNMS is mirrored", () => {
    const plan = reconcile({ backups: [listed], stored, timeZone: "UTC", policy: { allowMassDelete: true } });
    assert.equal(plan.deletions.length, 5);
    assert.deepEqual(plan.retained, []);
  });

  test("KEEP_MONTHLY keeps the newest copy of each month; a month's newest may be a listed backup, so the rest of that month goes", () => {
    const plan = reconcile({ backups: [listed], stored, timeZone: "UTC", policy: { retention: { keepMonthly: 12 }, maxDeletes: 10 } });
    assert.deepEqual(fileNames(plan.deletions), [plain(id("nov1"), "20261101-0200").name, plain(id("oct1"), "20261001-0200").name].sort());
    assert.deepEqual(
      plan.retained.map((r) => [r.file.name, r.reasons]).sort(),
      [
        [sealed(id("oct2"), "20261031-0200").name, [{ rule: "monthly", period: "2026-10" }]],
        [plain(id("sep1"), "20260915-0200").name, [{ rule: "monthly", period: "2026-09" }]],
        [sealed(id("sep1"), "20260915-0200").name, [{ rule: "monthly", period: "2026-09" }]],
      ].sort(),
    );
    // Copies UNMS still lists are never deleted nor "retained": they are kept as copies.
    assert.deepEqual(fileNames(plan.keeps), [plain(id("now"), "20261120-0200").name]);
  });

  test("KEEP_MONTHLY=1 keeps only the current month's newest (the listed backup): every deleted backup's copy goes", () => {
    const plan = reconcile({ backups: [listed], stored, timeZone: "UTC", policy: { retention: { keepMonthly: 1 }, maxDeletes: 10 } });
    assert.equal(plan.deletions.length, 5);
    assert.deepEqual(plan.retained, []);
  });

  test("a backup listed but not yet copied counts for its month (by createdAt in the NMS time zone)", () => {
    // 2026-10-31 23:30 UTC is 1 November in Prague: the new backup is November's newest, not October's.
    const plan = reconcile({
      backups: [ok(id("new"), "2026-10-31T23:30:00Z"), ok(id("sep"), "2026-09-01T00:00:00Z")],
      stored: [plain(id("oct"), "20261030-0100"), plain(id("nov"), "20261101-0000"), plain(id("sep"), "20260901-0200")],
      timeZone: "Europe/Prague",
      policy: { retention: { keepMonthly: 3 } },
    });
    assert.deepEqual(names(plan.uploads), [`unms-backup-20261101-0030_${id("new")}.unms`]);
    assert.deepEqual(fileNames(plan.retained), [plain(id("oct"), "20261030-0100").name]);
    assert.deepEqual(fileNames(plan.deletions), [plain(id("nov"), "20261101-0000").name]);
  });

  test("the guards still apply to what retention leaves due", () => {
    const many = Array.from({ length: 6 }, (_, i) => plain(id(`d${i}`), `2026110${i + 1}-0200`));
    const massive = reconcile({ backups: [ok(id("now"), "2026-11-20T02:00:00Z")], stored: [plain(id("now"), "20261120-0200"), ...many], timeZone: "UTC", policy: { retention: { keepDaily: 2 } } });
    assert.deepEqual(massive.guards.map((g) => g.code), ["mass-delete"]);
    assert.deepEqual(massive.deletions, []);
    assert.equal(massive.guards[0]!.heldBack.length, 5, "d5 is kept (newest of its day), the other five are held back");
    assert.deepEqual(fileNames(massive.retained), [many[5]!.name]);

    const empty = reconcile({ backups: [], stored: many, timeZone: "UTC", policy: { retention: { keepDaily: 1 }, allowMassDelete: true } });
    assert.deepEqual(empty.guards.map((g) => g.code), ["empty-source"]);
    assert.deepEqual(empty.deletions, []);
  });
});
