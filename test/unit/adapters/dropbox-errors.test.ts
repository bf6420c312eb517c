import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DropboxResponseError } from "dropbox";
import { classifyDropboxFailure, correctOffsetOf, errorTags, toSyncError } from "../../../src/adapters/dropbox/dropbox-errors.ts";
import { SecretRedactor } from "../../../src/domain/redactor.ts";
import { RetryError } from "../../../src/adapters/retry/retry.ts";
import { SyncError } from "../../../src/domain/errors.ts";

const sdkError = (status: number, error: unknown, headers: Record<string, string> = {}) =>
  new DropboxResponseError(status, new Headers(headers), error);

describe("Dropbox failure classifier", () => {
  test("errorTags() reads nested unions, inlined structs and rate-limit reasons", () => {
    assert.deepEqual(errorTags({ error: { ".tag": "path", path: { ".tag": "conflict", conflict: { ".tag": "file" } } } }), ["path", "conflict", "file"]);
    assert.deepEqual(errorTags({ error: { ".tag": "path", reason: { ".tag": "insufficient_space" }, upload_session_id: "x" } }), ["path", "insufficient_space"]);
    assert.deepEqual(errorTags({ error: { reason: { ".tag": "too_many_write_operations" } } }), ["too_many_write_operations"]);
  });

  test("classifyDropboxFailure() maps each failure to its decision", () => {
    assert.deepEqual(classifyDropboxFailure(sdkError(429, { error: { reason: { ".tag": "too_many_requests" } } }, { "Retry-After": "4" })),
      { action: "retry-after", delayMs: 4000, reason: "HTTP 429 too_many_requests" });
    assert.equal((classifyDropboxFailure(sdkError(429, { error: { reason: { ".tag": "too_many_requests" }, retry_after: 9 } })) as { delayMs: number }).delayMs, 9000);
    assert.equal(classifyDropboxFailure(sdkError(409, { error: { ".tag": "path", path: { ".tag": "too_many_write_operations" } } })).action, "retry-after");
    assert.equal(classifyDropboxFailure(sdkError(503, "Service unavailable")).action, "retry");
    assert.equal(classifyDropboxFailure(new TypeError("fetch failed", { cause: Object.assign(new Error("x"), { code: "ECONNRESET" }) })).action, "retry");
    assert.equal(classifyDropboxFailure(sdkError(401, { error: { ".tag": "expired_access_token" } })).action, "refresh-token");
    // The token provider decides: refresh once, or fail with the legacy migration steps.
    assert.equal(classifyDropboxFailure(sdkError(401, { error: { ".tag": "invalid_access_token" } })).action, "refresh-token");
    for (const fatal of [
      sdkError(401, { error: { ".tag": "missing_scope" } }),
      sdkError(409, { error: { ".tag": "path", reason: { ".tag": "insufficient_space" } } }),
      sdkError(409, { error: { ".tag": "path", path: { ".tag": "malformed_path" } } }),
      sdkError(409, { error: { ".tag": "path", path: { ".tag": "disallowed_name" } } }),
      sdkError(400, "Error in call to API function"),
      new TypeError("Cannot read properties of undefined"),
    ]) assert.equal(classifyDropboxFailure(fatal).action, "fatal", String((fatal as { status?: number }).status ?? fatal));
  });

  test("correctOffsetOf() reads append and finish shapes", () => {
    assert.equal(correctOffsetOf(sdkError(409, { error: { ".tag": "incorrect_offset", correct_offset: 12 } })), 12);
    assert.equal(correctOffsetOf(sdkError(409, { error: { ".tag": "lookup_failed", lookup_failed: { ".tag": "incorrect_offset", correct_offset: 34 } } })), 34);
    assert.equal(correctOffsetOf(sdkError(409, { error: { ".tag": "closed" } })), undefined);
  });

  test("toSyncError() names the operation, target, tag and advice, and counts attempts", () => {
    const error = toSyncError(new RetryError(5, { action: "retry", reason: "503" }, sdkError(503, "down"), "attempts exhausted"), { operation: "upload", target: 'file "/a"' });
    assert.ok(SyncError.is(error));
    assert.equal(error.kind, "transient");
    assert.equal(error.message, 'Dropbox upload for file "/a" failed after 5 attempts: Dropbox server error (HTTP 503): try again later');
    const full = toSyncError(sdkError(409, { error: { ".tag": "path", reason: { ".tag": "insufficient_space" } } }), { operation: "upload", target: 'file "/a"' });
    assert.equal(full.code, "dropbox.insufficient_space");
    assert.match(full.message, /path\/insufficient_space \(HTTP 409\): Dropbox is full: free space or upgrade the plan/);
  });

  test("the redactor toSyncError uses removes bearer tokens and known secrets", () => {
    assert.equal(new SecretRedactor([]).redact('header "Authorization": "Bearer sl.abc123"'), 'header "Authorization": "Bearer [redacted]"');
    assert.equal(new SecretRedactor(["xyz-secret"]).redact("token xyz-secret here"), "token [redacted] here");
  });
});
