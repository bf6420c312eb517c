import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backupFileName, backupIdFromFileName, isKnownTimeZone, unusableBackupId } from "../../../src/domain/backup.ts";

describe("backupFileName()", () => {
  const cases: [string, string, string, string][] = [
    // [createdAt, time zone, id, expected]
    ["2024-01-31T23:59:00.000Z", "UTC", "abc", "unms-backup-20240131-2359_abc.unms"],
    ["2024-01-31T23:59:00.000Z", "Europe/Prague", "abc", "unms-backup-20240201-0059_abc.unms"],
    ["2024-07-01T03:30:00Z", "America/New_York", "x1", "unms-backup-20240630-2330_x1.unms"],
    ["2024-03-10T12:05:09+02:00", "Asia/Kolkata", "ID-9", "unms-backup-20240310-1535_ID-9.unms"],
    ["2024-01-01T00:00:00Z", "Not/AZone", "abc", "unms-backup-20240101-0000_abc.unms"],
  ];
  for (const [createdAt, zone, id, expected] of cases) {
    test(`formats ${createdAt} in ${zone} as ${expected}`, () => {
      assert.equal(backupFileName({ id, createdAt }, zone), expected);
    });
  }

  test("uses 00 for midnight, not 24", () => {
    assert.equal(backupFileName({ id: "m", createdAt: "2024-05-05T00:00:00Z" }, "UTC"), "unms-backup-20240505-0000_m.unms");
  });

  test("throws a RangeError naming the backup for an invalid createdAt", () => {
    assert.throws(() => backupFileName({ id: "bad-1", createdAt: "yesterday" }, "UTC"), /bad-1.*"yesterday"/);
  });
});

describe("backupIdFromFileName()", () => {
  test("round-trips the id of a name we wrote", () => {
    const id = "5f3c1a2b-0000-4c3e-9d1e-abcdefabcdef";
    assert.equal(backupIdFromFileName(backupFileName({ id, createdAt: "2024-01-01T00:00:00Z" }, "UTC")), id);
  });
  test("accepts the original plugin's lower-cased names and any case", () => {
    assert.equal(backupIdFromFileName("UNMS-BACKUP-20240101-0000_ABC.UNMS"), "ABC");
    assert.equal(backupIdFromFileName("unms-backup-20240101-0000_abc.unms"), "abc");
  });
  for (const name of ["notes.txt", "unms-backup-2024-0000_abc.unms", "unms-backup-20240101-0000_.unms", "unms-backup-20240101-0000_abc.unms.bak", "my unms-backup-20240101-0000_abc.unms"]) {
    test(`does not claim "${name}"`, () => assert.equal(backupIdFromFileName(name), undefined));
  }
});

describe("isKnownTimeZone()", () => {
  test("knows IANA zones and rejects garbage", () => {
    assert.equal(isKnownTimeZone("Europe/Prague"), true);
    assert.equal(isKnownTimeZone("UTC"), true);
    assert.equal(isKnownTimeZone("Mars/Olympus"), false);
  });
});

describe("unusableBackupId()", () => {
  test("refuses ids that could escape the folder or break names", () => {
    assert.match(unusableBackupId("../x") ?? "", /path separator/);
    assert.match(unusableBackupId("a\\b") ?? "", /path separator/);
    assert.match(unusableBackupId(" ") ?? "", /empty/);
    assert.match(unusableBackupId("a\nb") ?? "", /control/);
    assert.equal(unusableBackupId("0f8e-11"), undefined);
  });
});
