/**
 * The report is a fold over SyncBackups' events (collectReport / ReportCollector): a table of event
 * sequences and the report each adds up to, plus the fan-out that hands events to collector and output.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { collectReport, fanOut, jsonSummary, jsonSummaryPieces, ReportCollector, type SyncReport } from "../../../src/app/sync-report.ts";
import { SecretRedactor } from "../../../src/domain/redactor.ts";
import { formatEvent } from "../../../src/adapters/report/format.ts";
import type { SyncEvent } from "../../../src/domain/ports.ts";

const empty: SyncReport = {
  dryRun: false, uploaded: [], skipped: [], deleted: [], failed: [], guarded: [], bytesUploaded: 0,
  uploads: [], ignored: [], warnings: [], resumable: [], durationMs: 0,
};
const started = (dryRun = false): SyncEvent => ({ type: "run-started", target: "Dropbox /Backups", dryRun });

const cases: { name: string; events: SyncEvent[]; durationMs?: number; report: Partial<SyncReport> }[] = [
  { name: "no events: the empty report", events: [], report: {} },
  {
    name: "uploads are named, recorded with their bytes (and where they resumed), and summed",
    events: [
      started(),
      { type: "uploading", name: "a.unms", size: 10 },
      { type: "progress", name: "a.unms", bytesDone: 10, elapsedMs: 5 },
      { type: "uploaded", name: "a.unms", bytes: 10, durationMs: 5, dryRun: false },
      { type: "uploaded", name: "b.unms", bytes: 30, durationMs: 7, dryRun: false, resumedFrom: 20 },
    ],
    durationMs: 42,
    report: {
      uploaded: ["a.unms", "b.unms"],
      uploads: [{ name: "a.unms", bytes: 10, durationMs: 5 }, { name: "b.unms", bytes: 30, durationMs: 7, resumedFrom: 20 }],
      bytesUploaded: 40,
      durationMs: 42,
    },
  },
  {
    name: "a dry run names what would be uploaded and deleted, with no upload records or bytes",
    events: [
      started(true),
      { type: "uploaded", name: "a.unms", bytes: 0, durationMs: 0, dryRun: true },
      { type: "deleted", name: "old.unms", dryRun: true },
    ],
    report: { dryRun: true, uploaded: ["a.unms"], deleted: ["old.unms"] },
  },
  {
    name: "kept, ignored, guarded and warned about, each in its own list",
    events: [
      started(),
      { type: "listed", backups: 3, successful: 2, stored: 1, timeZone: "UTC" },
      { type: "ignored", backupId: "id-1", reason: "it failed in UNMS" },
      { type: "skipped", name: "kept.unms" },
      { type: "warning", message: "The NMS settings name no time zone; new file names use UTC" },
      { type: "guarded", message: "UNMS lists no backups", advice: "Check the NMS" },
      { type: "info", message: "Replacing x.unms: short" },
      { type: "retrying", name: "x.unms", attempt: 2, reason: "broke off" },
    ],
    report: {
      skipped: ["kept.unms"],
      ignored: [{ backupId: "id-1", reason: "it failed in UNMS" }],
      warnings: ["The NMS settings name no time zone; new file names use UTC"],
      guarded: ["UNMS lists no backups. Check the NMS"],
    },
  },
  {
    name: "failures, tried or not, keep their order and name",
    events: [
      started(),
      { type: "failed", name: "a.unms", message: "Dropbox refused the token" },
      { type: "not-attempted", name: "b.unms", message: "Not attempted: Dropbox refused the token" },
      { type: "not-attempted", name: "old.unms", message: "Not deleted: Dropbox refused the token" },
      { type: "failed", message: "a failure of no backup" },
    ],
    report: {
      failed: [
        { name: "a.unms", error: "Dropbox refused the token" },
        { name: "b.unms", error: "Not attempted: Dropbox refused the token" },
        { name: "old.unms", error: "Not deleted: Dropbox refused the token" },
        { name: "", error: "a failure of no backup" },
      ],
    },
  },
  {
    name: "held-over backups continue on the next run",
    events: [started(), { type: "info", message: "Paused the copy of a.unms" }, { type: "held-over", name: "a.unms" }, { type: "held-over", name: "b.unms" }],
    report: { resumable: ["a.unms", "b.unms"] },
  },
];

describe("collectReport()", () => {
  for (const { name, events, durationMs, report } of cases) {
    test(name, () => {
      assert.deepEqual(collectReport(events, durationMs ?? 0), { ...empty, ...report });
    });
  }
});

describe("ReportCollector", () => {
  test("sofar follows the events as they arrive; finish adds the duration", () => {
    const collector = new ReportCollector();
    collector.report(started());
    collector.report({ type: "held-over", name: "a.unms" });
    assert.deepEqual(collector.sofar.resumable, ["a.unms"]);
    collector.report({ type: "uploaded", name: "b.unms", bytes: 3, durationMs: 1, dryRun: false });
    assert.deepEqual(collector.sofar.uploaded, ["b.unms"]);
    assert.deepEqual(collector.finish(9), { ...empty, uploaded: ["b.unms"], uploads: [{ name: "b.unms", bytes: 3, durationMs: 1 }], bytesUploaded: 3, resumable: ["a.unms"], durationMs: 9 });
  });

  test("fanOut hands each event to every reporter, in order", () => {
    const seen: string[] = [];
    const collector = new ReportCollector();
    const reporter = fanOut(collector, { report: (event) => void seen.push(event.type) });
    reporter.report({ type: "skipped", name: "a.unms" });
    reporter.report({ type: "deleted", name: "b.unms", dryRun: false });
    assert.deepEqual(seen, ["skipped", "deleted"]);
    assert.deepEqual(collector.finish(0), { ...empty, skipped: ["a.unms"], deleted: ["b.unms"] });
  });

  test("the events only the report needs print no line of their own", () => {
    assert.equal(formatEvent({ type: "held-over", name: "a.unms" }), undefined);
    assert.equal(formatEvent({ type: "not-attempted", name: "a.unms", message: "Not attempted: x" }), undefined);
  });
});

describe("jsonSummary() of a run that stopped before syncing", () => {
  test("a configuration error or a held lock: an error field and the exit code, no failure with an empty name", () => {
    assert.deepEqual(JSON.parse(jsonSummary({ exitCode: 2, error: "UNMS_URL is not set" })), { error: "UNMS_URL is not set", exitCode: 2 });
  });

  test("waiting for authorization: the empty summary with the error and the URL", () => {
    const summary = JSON.parse(jsonSummary({ exitCode: 3, error: "Dropbox is not authorized yet.", authorizationUrl: "https://www.dropbox.com/oauth2/authorize?x" }));
    assert.equal(summary.error, "Dropbox is not authorized yet.");
    assert.deepEqual(summary.failed, []);
    assert.deepEqual(summary.uploaded, []);
    assert.equal(summary.exitCode, 3);
    assert.equal(summary.authorizationUrl, "https://www.dropbox.com/oauth2/authorize?x");
  });
});

describe("jsonSummaryPieces(): the --json line in pieces (a dry run over a million backups lists a million names)", () => {
  const many = (count: number) => Array.from({ length: count }, (_, i) => `unms-backup-20200101-0000_3f1c2a9e-0000-4000-8000-${String(i).padStart(12, "0")}.unms`);
  const bigReport = (): SyncReport => ({
    dryRun: true, uploaded: many(20_000), skipped: many(3), deleted: [], failed: [{ name: "a.unms", error: "token sl.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123 refused" }],
    guarded: [], bytesUploaded: 0, uploads: [], ignored: [{ backupId: "x", reason: "its state is \"failed\", not \"success\"" }], warnings: ["w \"quoted\""],
    resumable: [], retained: [{ name: "r.unms", why: "newest of 2024-01", reasons: [{ rule: "monthly", period: "2024-01" }] }], durationMs: 12,
  });

  test("add up to jsonSummary exactly, in pieces of about 64 KiB", () => {
    const outcome = { exitCode: 0, report: bigReport() };
    const pieces = [...jsonSummaryPieces(outcome)];
    assert.equal(pieces.join(""), jsonSummary(outcome));
    assert.ok(pieces.length > 10, `${pieces.length} pieces`);
    assert.ok(pieces.every((p) => p.length < 64 * 1024 + 200), "no piece much over 64 KiB");
  });

  test("stopped runs and runs awaiting authorization come out the same as jsonSummary too", () => {
    for (const outcome of [{ exitCode: 2, error: "UNMS_URL is not set" }, { exitCode: 3, error: "Dropbox is not authorized yet.", authorizationUrl: "https://www.dropbox.com/oauth2/authorize?x" }]) {
      assert.equal([...jsonSummaryPieces(outcome)].join(""), jsonSummary(outcome));
    }
  });

  test("redacted piece by piece as the whole text would be", () => {
    const redactor = new SecretRedactor(["3f1c2a9e-0000-4000-8000-000000000007"]);
    const outcome = { exitCode: 1, report: bigReport() };
    const joined = [...jsonSummaryPieces(outcome, (text) => redactor.redact(text))].join("");
    assert.equal(joined, redactor.redact(jsonSummary(outcome)));
    assert.ok(!joined.includes("sl.ABCDEFGHIJKLMNOPQRSTUVWXYZ0123") && !joined.includes("000000000007"));
  });
});
