import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backupFileName, backupIdFromFileName, isKnownTimeZone, unusableBackupId } from "../../../src/domain/backup.ts";

describe("backupFileName()", () => {
  const abc = "0000abc0-0000-4000-8000-000000000abc";
  const upper = "5F3C1A2B-0000-4C3E-9D1E-ABCDEFABCDEF";
  const cases: [string, string, string, string][] = [
    // [createdAt, time zone, id, expected]
    ["2024-01-31T23:59:00.000Z", "UTC", abc, `unms-backup-20240131-2359_${abc}.unms`],
    ["2024-01-31T23:59:00.000Z", "Europe/Prague", abc, `unms-backup-20240201-0059_${abc}.unms`],
    ["2024-07-01T03:30:00Z", "America/New_York", abc, `unms-backup-20240630-2330_${abc}.unms`],
    ["2024-03-10T12:05:09+02:00", "Asia/Kolkata", upper, `unms-backup-20240310-1535_${upper}.unms`],
    ["2024-01-01T00:00:00Z", "Not/AZone", abc, `unms-backup-20240101-0000_${abc}.unms`],
    ["+010000-01-01T00:00:00Z", "UTC", abc, `unms-backup-100000101-0000_${abc}.unms`],
  ];
  for (const [createdAt, zone, id, expected] of cases) {
    test(`formats ${createdAt} in ${zone} as ${expected}`, () => {
      assert.equal(backupFileName({ id, createdAt }, zone), expected);
      assert.equal(backupIdFromFileName(expected), id, "the name parses back to its id");
    });
  }

  test("uses 00 for midnight, not 24", () => {
    assert.equal(backupFileName({ id: abc, createdAt: "2024-05-05T00:00:00Z" }, "UTC"), `unms-backup-20240505-0000_${abc}.unms`);
  });

  test("throws a RangeError naming the backup for an invalid createdAt", () => {
    assert.throws(() => backupFileName({ id: abc, createdAt: "yesterday" }, "UTC"), /0000abc0-.*"yesterday"/);
  });
});

describe("backupIdFromFileName()", () => {
  test("round-trips the id of a name we wrote", () => {
    const id = "5f3c1a2b-0000-4c3e-9d1e-abcdefabcdef";
    assert.equal(backupIdFromFileName(backupFileName({ id, createdAt: "2024-01-01T00:00:00Z" }, "UTC")), id);
  });
  test("accepts the original plugin's lower-cased names and any case", () => {
    const id = "5f3c1a2b-0000-4c3e-9d1e-abcdefabcdef";
    assert.equal(backupIdFromFileName(`UNMS-BACKUP-20240101-0000_${id.toUpperCase()}.UNMS`), id.toUpperCase());
    assert.equal(backupIdFromFileName(`unms-backup-20240101-0000_${id}.unms`), id);
  });
  test("every representable year parses back, the last one included", () => {
    const id = "5f3c1a2b-0000-4c3e-9d1e-abcdefabcdef";
    for (const createdAt of ["0001-01-01T00:00:00Z", "9999-12-31T23:59:00Z", "+275760-09-13T00:00:00Z"]) {
      assert.equal(backupIdFromFileName(backupFileName({ id, createdAt }, "Europe/Prague")), id, createdAt);
    }
  });
  const guid = "5f3c1a2b-0000-4c3e-9d1e-abcdefabcdef";
  for (const name of [
    "notes.txt",
    `unms-backup-2024-0000_${guid}.unms`,
    "unms-backup-20240101-0000_.unms",
    `unms-backup-20240101-0000_${guid}.unms.bak`,
    `my unms-backup-20240101-0000_${guid}.unms`,
    "unms-backup-20240101-0000_my-copy.unms",
    "unms-backup-20240101-0000_abc.unms",
    `unms-backup-20240101-0000_${guid}x.unms`,
    `unms-backup-20240101-0000_${guid.slice(1)}.unms`,
  ]) {
    test(`does not claim "${name}"`, () => assert.equal(backupIdFromFileName(name), undefined));
  }
});

describe("isKnownTimeZone()", () => {
  test("knows IANA zones and rejects garbage", () => {
    assert.equal(isKnownTimeZone("Europe/Prague"), true);
    assert.equal(isKnownTimeZone("UTC"), true);
    assert.equal(isKnownTimeZone("Mars/Olympus"), false);
  });

  test("knows what a formatter accepts beyond the runtime's list of canonical zones: other case, old names, offsets", () => {
    // Most are not in Intl.supportedValuesOf("timeZone") (canonical names only); a formatter takes them all, as before.
    for (const zone of ["europe/prague", "Europe/Kiev", "US/Eastern", "Etc/GMT+5", "utc"]) assert.equal(isKnownTimeZone(zone), true, zone);
    assert.equal(isKnownTimeZone("Europe/Pragu"), false);
  });
});

describe("unusableBackupId()", () => {
  test("refuses ids that could escape the folder or break names", () => {
    assert.match(unusableBackupId("../x") ?? "", /path separator/);
    assert.match(unusableBackupId("a\\b") ?? "", /path separator/);
    assert.match(unusableBackupId(" ") ?? "", /empty/);
    assert.match(unusableBackupId("a\nb") ?? "", /control/);
    assert.match(unusableBackupId("0f8e-11") ?? "", /"0f8e-11" is not a guid/);
    assert.equal(unusableBackupId("5F3C1A2B-0000-4C3E-9D1E-abcdefabcdef"), undefined);
  });
});

describe("backupFileName(): the stamp's time zone arithmetic (Intl asked twice a day, not once per name)", () => {
  /** One Intl formatter per zone: building one per instant took 8 s of the 50,000 comparisons (issue 10). */
  const formatters = new Map<string, Intl.DateTimeFormat>();
  /** The stamp as Intl alone says it: the reference the day-offset cache must always agree with. */
  function intlStamp(instant: number, timeZone: string): string {
    let formatter = formatters.get(timeZone);
    if (!formatter) {
      formatter = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
      formatters.set(timeZone, formatter);
    }
    // "MM/DD/YYYY, HH:mm" (en-US, h23): read from format(), a third of formatToParts()'s cost.
    const text = formatter.format(new Date(instant));
    const match = /^(\d{2})\/(\d{2})\/(\d+), (\d{2}):(\d{2})$/.exec(text);
    assert.ok(match, `Intl formatted ${instant} in ${timeZone} as ${JSON.stringify(text)}, not MM/DD/YYYY, HH:mm`);
    const [, month, day, year, hour, minute] = match;
    return `${year!.padStart(4, "0")}${month}${day}-${hour}${minute}`;
  }

  test("every 7 minutes across DST changes, half-hour and 45-minute zones, and date lines, the stamp is Intl's", () => {
    const zones = ["Europe/Prague", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "Pacific/Apia", "America/Santiago", "UTC"];
    const spans = [[Date.UTC(2024, 2, 8), Date.UTC(2024, 3, 8)], [Date.UTC(2024, 9, 1), Date.UTC(2024, 10, 10)], [Date.UTC(2011, 11, 28), Date.UTC(2012, 0, 2)]];
    let compared = 0;
    for (const zone of zones) {
      for (const [from, to] of spans) {
        for (let t = from!; t < to!; t += 7 * 60_000 + 13_000) {
          const id = "3f1c2a9e-0000-4000-8000-0000000000b1";
          const createdAt = new Date(t).toISOString();
          const expected = `unms-backup-${intlStamp(t, zone)}_${id}.unms`;
          // assert.equal only on a mismatch: its call cost more than the comparison itself.
          const actual = backupFileName({ id, createdAt }, zone);
          if (actual !== expected) assert.equal(actual, expected, `${zone} at ${createdAt}`);
          compared++;
        }
      }
    }
    assert.ok(compared > 50_000);
  });

  test("dates before 1970 and after 9999 are stamped as Intl says", () => {
    for (const createdAt of ["1891-09-30T23:30:00Z", "1969-12-31T23:59:59Z", "+010000-01-01T00:00:00Z"]) {
      const id = "3f1c2a9e-0000-4000-8000-0000000000b1";
      assert.equal(backupFileName({ id, createdAt }, "Europe/Prague"), `unms-backup-${intlStamp(Date.parse(createdAt), "Europe/Prague")}_${id}.unms`, createdAt);
    }
  });
});
