/** The staleness judgement, pure: listings and a time in, problems out. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { backupFileName, instantFromFileName, type UnmsBackup } from "../../../src/domain/backup.ts";
import { copyInstant, describeAge, newestSuccessful, stalenessProblems, type StalenessInput } from "../../../src/domain/staleness.ts";

const HOUR = 3_600_000;
const NOW = Date.parse("2026-12-02T12:00:00Z");
const id = (n: number) => `0000000${n}-0000-4000-8000-000000000000`;
const backup = (n: number, hoursAgo: number, state = "success"): UnmsBackup => ({ id: id(n), createdAt: new Date(NOW - hoursAgo * HOUR).toISOString(), state });
const nameOf = (b: UnmsBackup, zone = "Europe/Prague") => backupFileName(b, zone);

function judge(overrides: Partial<StalenessInput>) {
  return stalenessProblems({
    backups: [],
    copies: [],
    timeZone: "Europe/Prague",
    nowMs: NOW,
    maxAgeHours: 48,
    setting: "MAX_BACKUP_AGE_HOURS",
    whyNoCopy: () => "why",
    ...overrides,
  });
}

test("a fresh chain has no problem", () => {
  const backups = [backup(1, 30), backup(2, 6)];
  assert.deepEqual(judge({ backups, copies: backups.map((b) => nameOf(b)) }), []);
});

test("UNMS's newest success 3 days old: what, since when, where to look; later failed backups are counted", () => {
  const backups = [backup(1, 100), backup(2, 72), backup(3, 24, "failed"), backup(4, 1, "in-progress")];
  const problems = judge({ backups, copies: backups.slice(0, 2).map((b) => nameOf(b)) });
  assert.deepEqual(problems.map((p) => p.code), ["unms-stale"]);
  assert.equal(
    problems[0]!.message,
    `UNMS's newest successful backup is 3 days old (backup ${id(2)}, made 2026-11-29T12:00:00.000Z), older than MAX_BACKUP_AGE_HOURS (48 h): ` +
      "UNMS has made no successful backup since 2026-11-29T12:00:00.000Z (2 later backup(s) did not succeed). " +
      "Check the backup schedule and recent backups in UISP (Network -> Settings -> Backups) and the free disk space of the UISP host.",
  );
});

test("exactly at the limit is not stale; a minute past it is", () => {
  assert.deepEqual(judge({ backups: [backup(1, 48)], copies: [nameOf(backup(1, 48))] }), []);
  const past = { ...backup(1, 48), createdAt: new Date(NOW - 48 * HOUR - 60_000).toISOString() };
  assert.deepEqual(judge({ backups: [past], copies: [nameOf(past)] }).map((p) => p.code), ["unms-stale"]);
});

test("no successful backup at all is its own problem", () => {
  const problems = judge({ backups: [backup(1, 1, "failed")] });
  assert.deepEqual(problems.map((p) => p.code), ["unms-none"]);
  assert.match(problems[0]!.message, /UNMS lists no successful backup \(1 backup\(s\) listed in total\)/);
});

test("the newest copy older than the limit while UNMS has newer backups: which, and why", () => {
  const old = backup(1, 100);
  const backups = [old, backup(2, 20), backup(3, 2)];
  const problems = judge({ backups, copies: [nameOf(old)], whyNoCopy: (b) => `upload of ${b.id.slice(0, 8)} failed` });
  assert.deepEqual(problems.map((p) => p.code), ["copies-stale"]);
  assert.equal(
    problems[0]!.message,
    `The newest off-site copy is 4 days old (${nameOf(old)}), older than MAX_BACKUP_AGE_HOURS (48 h), while UNMS has 2 newer successful backup(s) without a copy: ` +
      `backup ${id(2)} of 2026-12-01T16:00:00.000Z (upload of 00000002 failed); backup ${id(3)} of 2026-12-02T10:00:00.000Z (upload of 00000003 failed).`,
  );
});

test("an old copy is fine when UNMS has nothing newer; no copy at all is a problem when UNMS has backups", () => {
  const old = backup(1, 100);
  assert.deepEqual(judge({ backups: [old], copies: [nameOf(old)], maxAgeHours: 200 }), []);
  assert.deepEqual(judge({ backups: [backup(2, 1)], copies: ["notes.txt"] }), [], "a first run that has not copied yet is not stale");
  const none = judge({ backups: [backup(2, 1), backup(3, 50)], copies: ["notes.txt"] });
  assert.deepEqual(none.map((p) => p.code), ["copies-none"]);
  assert.match(none[0]!.message, /^There is no off-site copy, while UNMS has had successful backups for longer than MAX_BACKUP_AGE_HOURS \(48 h\): backup 00000002/);
});

test("a copy's time: its backup's createdAt while listed, else its name read in the NMS time zone", () => {
  const b = backup(1, 5);
  assert.equal(copyInstant(nameOf(b), [b], "UTC"), Date.parse(b.createdAt));
  const gone = { ...backup(2, 0), createdAt: "2024-07-15T22:30:00Z" };
  assert.equal(copyInstant(nameOf(gone), [], "Europe/Prague"), Date.parse("2024-07-15T22:30:00Z"), "summer time, the date rolled over");
  assert.equal(instantFromFileName(nameOf(gone, "Asia/Kolkata"), "Asia/Kolkata"), Date.parse("2024-07-15T22:30:00Z"));
  assert.equal(copyInstant("notes.txt", [], "UTC"), undefined);
});

test("newestSuccessful ignores unusable and non-success items; ages read as people say them", () => {
  const newest = newestSuccessful([backup(1, 10), { ...backup(2, 1), unusable: "bad id" }, backup(3, 0, "failed"), backup(4, 5)]);
  assert.equal(newest?.id, id(4));
  assert.deepEqual([describeAge(59 * 60_000), describeAge(3 * HOUR), describeAge(72 * HOUR), describeAge(-5)], ["59 minutes", "3 hours", "3 days", "0 minutes"]);
});
