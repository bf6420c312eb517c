/**
 * The retention policy (restic's keep-daily/weekly/monthly) as a pure function: tables of copies
 * in, the kept ones and why out. No mocks.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { localTimeIn, localTimeOfFileName, type LocalTime } from "../../../src/domain/backup.ts";
import { applyRetention, describeRetention, isoWeek, retentionActive, type RetentionPolicy } from "../../../src/domain/retention.ts";

/** "2026-11-30 23:59" as a LocalTime. */
function at(text: string): LocalTime {
  const [, y, mo, d, h, mi] = /^(\d+)-(\d\d)-(\d\d) (\d\d):(\d\d)$/.exec(text)!;
  return { year: Number(y), month: Number(mo), day: Number(d), hour: Number(h), minute: Number(mi) };
}

/** key -> "rule period; rule period" for the kept ones, in key order. */
function kept(copies: Record<string, string>, policy: RetentionPolicy): Record<string, string> {
  const result = applyRetention(Object.entries(copies).map(([key, time]) => ({ key, time: at(time) })), policy);
  return Object.fromEntries([...result].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, reasons]) => [key, reasons.map((r) => `${r.rule} ${r.period}`).join("; ")]));
}

const cases: { name: string; copies: Record<string, string>; policy: RetentionPolicy; expected: Record<string, string> }[] = [
  {
    name: "monthly: the newest of each month, across a year boundary",
    copies: { a: "2025-11-03 02:00", b: "2025-11-28 02:00", c: "2025-12-31 23:59", d: "2026-01-01 00:00", e: "2026-01-15 02:00" },
    policy: { keepMonthly: 12 },
    expected: { b: "monthly 2025-11", c: "monthly 2025-12", e: "monthly 2026-01" },
  },
  {
    name: "monthly N counts months that have copies, newest first (an empty month is skipped, not counted)",
    copies: { jan: "2026-01-10 02:00", mar: "2026-03-10 02:00", jun: "2026-06-10 02:00" },
    policy: { keepMonthly: 2 },
    expected: { jun: "monthly 2026-06", mar: "monthly 2026-03" },
  },
  {
    name: "daily: the last of each day; a day boundary at midnight",
    copies: { a: "2026-11-29 23:59", b: "2026-11-30 00:00", c: "2026-11-30 12:00", d: "2026-11-28 08:00" },
    policy: { keepDaily: 2 },
    expected: { a: "daily 2026-11-29", c: "daily 2026-11-30" },
  },
  {
    name: "weekly by ISO week: 2026-12-31 (Thursday) is in 2026-W53; 2027-01-04 (Monday) starts 2027-W01",
    copies: { a: "2026-12-28 02:00", b: "2027-01-03 02:00", c: "2027-01-04 02:00", d: "2026-12-27 02:00" },
    policy: { keepWeekly: 3 },
    expected: { b: "weekly 2026-W53", c: "weekly 2027-W01", d: "weekly 2026-W52" },
  },
  {
    name: "weekly: 2024-12-30 (Monday) already belongs to 2025-W01",
    copies: { a: "2024-12-29 02:00", b: "2024-12-30 02:00", c: "2025-01-05 02:00" },
    policy: { keepWeekly: 5 },
    expected: { a: "weekly 2024-W52", c: "weekly 2025-W01" },
  },
  {
    name: "several rules keep the same copy, each naming its period",
    copies: { a: "2026-11-30 02:00", b: "2026-11-29 02:00", c: "2026-10-31 02:00" },
    policy: { keepDaily: 1, keepWeekly: 1, keepMonthly: 2 },
    expected: { a: "daily 2026-11-30; weekly 2026-W49; monthly 2026-11", c: "monthly 2026-10" },
  },
  {
    name: "N = 0 keeps nothing; no copies keep nothing",
    copies: { a: "2026-11-30 02:00" },
    policy: { keepDaily: 0, keepWeekly: 0, keepMonthly: 0 },
    expected: {},
  },
  {
    name: "two copies at the same minute (a DST fall-back repeats an hour): the result does not depend on input order",
    copies: { zz: "2026-10-25 02:30", aa: "2026-10-25 02:30" },
    policy: { keepDaily: 1 },
    expected: { zz: "daily 2026-10-25" },
  },
];

for (const { name, copies, policy, expected } of cases) {
  test(`retention: ${name}`, () => {
    assert.deepEqual(kept(copies, policy), expected);
    // Input order never matters.
    assert.deepEqual(kept(Object.fromEntries(Object.entries(copies).reverse()), policy), expected);
  });
}

test("retention: no copies, no kept ones", () => {
  assert.equal(applyRetention([], { keepMonthly: 12 }).size, 0);
});

test("retentionActive: only a rule above 0 switches retention on", () => {
  assert.equal(retentionActive(undefined), false);
  assert.equal(retentionActive({}), false);
  assert.equal(retentionActive({ keepDaily: 0, keepMonthly: 0 }), false);
  assert.equal(retentionActive({ keepWeekly: 1 }), true);
});

test("describeRetention is the line --dry-run and status show", () => {
  assert.equal(describeRetention([{ rule: "monthly", period: "2026-11" }]), "kept: newest of 2026-11 (monthly)");
  assert.equal(
    describeRetention([{ rule: "daily", period: "2026-11-30" }, { rule: "weekly", period: "2026-W49" }]),
    "kept: newest of 2026-11-30 (daily), newest of 2026-W49 (weekly)",
  );
});

test("isoWeek: ISO 8601 weeks at year ends", () => {
  const table: [string, string][] = [
    ["2020-12-31", "2020-W53"], ["2021-01-03", "2020-W53"], ["2021-01-04", "2021-W01"],
    ["2026-01-01", "2026-W01"], ["2026-12-31", "2026-W53"], ["2027-01-01", "2026-W53"],
    ["2019-12-30", "2020-W01"], ["2024-02-29", "2024-W09"],
  ];
  for (const [date, expected] of table) {
    const [year, month, day] = date.split("-").map(Number) as [number, number, number];
    const { year: y, week } = isoWeek({ year, month, day });
    assert.equal(`${y}-W${String(week).padStart(2, "0")}`, expected, date);
  }
});

test("periods are the NMS time zone's wall clock: the same instant falls in different days and months per zone", () => {
  // 2026-10-31 23:30 UTC is 2026-11-01 00:30 in Prague (CET, after the DST change) and 19:30 in New York.
  const instant = new Date("2026-10-31T23:30:00Z");
  const copies = (zone: string) => [{ key: "x", time: localTimeIn(instant, zone) }, { key: "y", time: localTimeIn(new Date("2026-10-15T12:00:00Z"), zone) }];
  assert.deepEqual([...applyRetention(copies("Europe/Prague"), { keepMonthly: 5 })].map(([k, r]) => `${k} ${r[0]!.period}`).sort(), ["x 2026-11", "y 2026-10"]);
  assert.deepEqual([...applyRetention(copies("America/New_York"), { keepMonthly: 5 })].map(([k, r]) => `${k} ${r[0]!.period}`).sort(), ["x 2026-10"]);
});

test("DST: a day with a skipped hour and one with a repeated hour are one period each, in wall-clock time", () => {
  const zone = "Europe/Prague";
  // 2026-03-29: clocks jump 02:00 -> 03:00. 00:30 UTC is 01:30 CET; 01:30 UTC is 03:30 CEST.
  const spring = [new Date("2026-03-29T00:30:00Z"), new Date("2026-03-29T01:30:00Z"), new Date("2026-03-28T23:30:00Z")];
  assert.deepEqual(spring.map((d) => localTimeIn(d, zone)).map((t) => `${t.day} ${t.hour}:${t.minute}`), ["29 1:30", "29 3:30", "29 0:30"]);
  const springKept = applyRetention(spring.map((d, i) => ({ key: `s${i}`, time: localTimeIn(d, zone) })), { keepDaily: 3 });
  assert.deepEqual([...springKept.keys()], ["s1"], "all three are on 29 March in Prague: one day, its newest copy");
  // 2026-10-25: clocks go 03:00 -> 02:00; 00:30 UTC and 01:30 UTC are both 02:30 local.
  const fall = [new Date("2026-10-25T00:30:00Z"), new Date("2026-10-25T01:30:00Z"), new Date("2026-10-24T21:59:00Z")];
  assert.deepEqual(fall.map((d) => localTimeIn(d, zone)).map((t) => `${t.day} ${t.hour}:${t.minute}`), ["25 2:30", "25 2:30", "24 23:59"]);
  const fallKept = applyRetention(fall.map((d, i) => ({ key: `f${i}`, time: localTimeIn(d, zone) })), { keepDaily: 5 });
  assert.deepEqual([...fallKept.keys()].sort(), ["f1", "f2"]);
});

test("a file name's stamp reads back as the wall-clock time it shows, plain or encrypted, five-digit years too", () => {
  const id = "3f1c2a9e-0000-4000-8000-0000000000b1";
  assert.deepEqual(localTimeOfFileName(`unms-backup-20261130-2359_${id}.unms`), at("2026-11-30 23:59"));
  assert.deepEqual(localTimeOfFileName(`unms-backup-20261130-0005_${id}.unms.age`), at("2026-11-30 00:05"));
  assert.deepEqual(localTimeOfFileName(`unms-backup-100000101-0000_${id}.unms`), { year: 10000, month: 1, day: 1, hour: 0, minute: 0 });
  assert.equal(localTimeOfFileName(`notes.txt`), undefined);
});
