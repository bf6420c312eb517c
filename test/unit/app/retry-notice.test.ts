import { test } from "node:test";
import assert from "node:assert/strict";
import { failureDetail, headline, retryNotice, RETRY_HEADLINE_MAX } from "../../../src/app/retry-notice.ts";
import { SyncError } from "../../../src/domain/errors.ts";

const unreachable = new SyncError(
  "Could not reach UNMS for GET nms/backups at uisp.example.com:8443/nms/api/v2.1/nms/backups: fetch failed: connect ECONNREFUSED 10.0.0.5:8443. " +
    "If this persists, check that UNMS is running and the UNMS URL setting (unmsUrl / UNMS_URL) points at the NMS, e.g. https://uisp.example.com/nms.",
  { kind: "transient", code: "unms.unreachable", cause: new TypeError("fetch failed", { cause: Object.assign(new Error("connect ECONNREFUSED 10.0.0.5:8443"), { code: "ECONNREFUSED" }) }) },
);

test("one short line: the headline, the socket error, the wait and the attempt", () => {
  assert.equal(
    retryNotice({ reason: unreachable.message, error: unreachable, operation: "listing the backups", attempt: 2, attempts: 4, delayMs: 2_000 }),
    "Could not reach UNMS for GET nms/backups at uisp.example.com:8443/nms/api/v2.1/nms/backups (ECONNREFUSED): retrying listing the backups in 2 s (attempt 2 of 4)",
  );
});

test("an HTTP failure carries its status; a Dropbox one names its operation in the headline", () => {
  const busy = new SyncError("UNMS failed to answer GET nms/backups at unms:8081/nms/api/v2.1/nms/backups (HTTP 503 Service Unavailable on GET nms/backups). This is usually temporary", { kind: "transient", code: "unms.server_error", status: 503 });
  assert.equal(
    retryNotice({ reason: busy.message, error: busy, operation: "listing the backups", attempt: 3, attempts: 4, delayMs: 12_345 }),
    "UNMS failed to answer GET nms/backups at unms:8081/nms/api/v2.1/nms/backups (HTTP 503): retrying listing the backups in 12 s (attempt 3 of 4)",
  );
  assert.equal(
    retryNotice({ reason: "Dropbox upload_session/append_v2 failed with HTTP 503 (no error tag)", attempt: 2, attempts: 8, delayMs: 450 }),
    "Dropbox upload_session/append_v2 failed with HTTP 503: retrying in 450 ms (attempt 2 of 8)",
  );
});

test("headline(): the first clause, whitespace folded, capped with an ellipsis", () => {
  assert.equal(headline("UNMS did not answer X at Y within 30 s. If this persists, check"), "UNMS did not answer X at Y within 30 s");
  assert.equal(headline("no clause marks here."), "no clause marks here");
  assert.equal(headline("a\n  b: c"), "a b");
  const long = headline("x".repeat(500));
  assert.equal(long.length, RETRY_HEADLINE_MAX);
  assert.ok(long.endsWith("…"));
});

test("failureDetail(): the errno code down the cause chain, else the HTTP status, else nothing", () => {
  assert.equal(failureDetail(unreachable), "ECONNREFUSED");
  assert.equal(failureDetail(new SyncError("x", { kind: "transient", code: "x", status: 502 })), "HTTP 502");
  assert.equal(failureDetail(new Error("plain")), undefined);
  assert.equal(failureDetail("not an error"), undefined);
});
