import { test } from "node:test";
import assert from "node:assert/strict";
import { LogDigest } from "../../../src/adapters/report/log-digest.ts";
import type { SyncEvent } from "../../../src/domain/ports.ts";

function admitAll(digest: LogDigest, events: SyncEvent[]): SyncEvent[] {
  return events.flatMap((event) => digest.admit(event));
}

test("backups already stored become one count before the run's last line", () => {
  const digest = new LogDigest(3);
  const events: SyncEvent[] = [
    { type: "run-started", target: "Dropbox app folder /Backups", dryRun: false },
    { type: "listed", backups: 18_000, successful: 18_000, stored: 18_000, timeZone: "UTC" },
    ...Array.from({ length: 18_000 }, (_, i): SyncEvent => ({ type: "skipped", name: `b${i}.unms` })),
    { type: "run-finished", summary: "Sync finished: 0 uploaded, 18000 already stored, 0 deleted." },
  ];
  assert.deepEqual(admitAll(digest, events), [
    events[0],
    events[1],
    { type: "info", message: "18,000 backup(s) already stored (not listed one by one)" },
    events.at(-1),
  ]);
});

test("changes and failures keep their own lines up to the cap, then one 'and N more' each", () => {
  const digest = new LogDigest(2);
  const uploaded = (i: number): SyncEvent => ({ type: "uploaded", name: `u${i}.unms`, bytes: 1, durationMs: 1, dryRun: false });
  const failed = (i: number): SyncEvent => ({ type: "failed", name: `f${i}.unms`, message: "Dropbox refused it" });
  const events: SyncEvent[] = [
    ...[1, 2, 3, 4, 5].map(uploaded),
    ...[1, 2, 3].map(failed),
    { type: "warning", message: "a warning is never summarised" },
    { type: "warning", message: "a warning is never summarised" },
    { type: "warning", message: "a warning is never summarised" },
    { type: "run-finished", summary: "done" },
  ];
  const out = admitAll(digest, events);
  assert.deepEqual(out.slice(0, 4), [uploaded(1), uploaded(2), failed(1), failed(2)]);
  assert.equal(out.filter((e) => e.type === "warning" && e.message === "a warning is never summarised").length, 3);
  assert.deepEqual(out.slice(-3), [
    { type: "info", message: "... and 3 more backup(s) uploaded (not listed one by one)" },
    { type: "warning", message: "... and 1 more backup(s) failed (not listed one by one; the next run tries them again)" },
    { type: "run-finished", summary: "done" },
  ]);
});

test("a short list keeps the names of the backups already stored", () => {
  const digest = new LogDigest(3);
  const events: SyncEvent[] = [
    { type: "listed", backups: 3, successful: 2, stored: 2, timeZone: "UTC" },
    { type: "skipped", name: "a.unms" },
    { type: "skipped", name: "b.unms" },
    { type: "run-finished", summary: "done" },
  ];
  assert.deepEqual(admitAll(digest, events), events);
});

test("a run that fails as a whole still gets its counts before the error", () => {
  const digest = new LogDigest(1);
  admitAll(digest, [{ type: "listed", backups: 2, successful: 2, stored: 2, timeZone: "UTC" }, { type: "skipped", name: "a" }, { type: "skipped", name: "b" }]);
  assert.deepEqual(digest.admit({ type: "failed", message: "Dropbox is unreachable" }), [
    { type: "info", message: "2 backup(s) already stored (not listed one by one)" },
    { type: "failed", message: "Dropbox is unreachable" },
  ]);
});
