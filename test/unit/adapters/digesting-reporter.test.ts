import { test } from "node:test";
import assert from "node:assert/strict";
import { DigestingReporter } from "../../../src/adapters/report/digesting-reporter.ts";
import type { SyncEvent } from "../../../src/domain/ports.ts";

test("DigestingReporter passes each kind of per-backup event up to its cap, then one count before the run's last word", () => {
  const seen: SyncEvent[] = [];
  const reporter = new DigestingReporter({ report: (event) => void seen.push(event) }, 2);
  reporter.report({ type: "run-started", target: "Dropbox", dryRun: true });
  for (const name of ["a", "b", "c", "d"]) reporter.report({ type: "uploaded", name, bytes: 0, durationMs: 0, dryRun: true });
  reporter.report({ type: "deleted", name: "x", dryRun: true });
  reporter.report({ type: "run-finished", summary: "Dry run finished: 4 would be uploaded" });
  assert.deepEqual(seen.map((e) => ("name" in e ? `${e.type} ${e.name}` : e.type === "info" ? e.message : e.type)), [
    "run-started", "uploaded a", "uploaded b", "deleted x", "... and 2 more backup(s) would be uploaded (not listed one by one)", "run-finished",
  ]);
});
