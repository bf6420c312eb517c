import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { RetryingBackupSource, classifySourceFailure } from "../../../src/adapters/retry/retrying-source.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { BackupSource } from "../../../src/domain/ports.ts";

const transient = () => new SyncError("UNMS failed to answer GET nms/backups (HTTP 503)", { kind: "transient", code: "unms.server_error", status: 503 });

/** A source whose list() fails with the given errors, then answers. */
function flaky(failures: Error[]): BackupSource & { calls: number } {
  return {
    calls: 0,
    async list() {
      this.calls++;
      const next = failures.shift();
      if (next) throw next;
      return [{ id: "a", createdAt: "2024-01-01T00:00:00Z", state: "success" }];
    },
    async timeZone() {
      return "UTC";
    },
    async open() {
      throw new SyncError("no such backup", { kind: "not-found", code: "unms.backup_not_found" });
    },
  };
}

const noSleep = { sleep: async () => {} };

describe("RetryingBackupSource", () => {
  test("rides out transient failures and says so", async () => {
    const inner = flaky([transient(), transient()]);
    const told: string[] = [];
    const source = new RetryingBackupSource(inner, { retry: noSleep, onRetry: (i) => told.push(`${i.operation} #${i.attempt}`) });
    assert.equal((await source.list()).length, 1);
    assert.equal(inner.calls, 3);
    assert.deepEqual(told, ["listing the backups #2", "listing the backups #3"]);
  });

  test("gives up after capped attempts with the last failure and the count", async () => {
    const inner = flaky([transient(), transient(), transient(), transient(), transient()]);
    const source = new RetryingBackupSource(inner, { retry: noSleep });
    await assert.rejects(source.list(), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.kind, "transient");
      assert.equal(error.code, "unms.server_error");
      assert.match(error.message, /HTTP 503.*gave up listing the backups after 4 attempts/);
      return true;
    });
    assert.equal(inner.calls, 4);
  });

  test("never retries what a retry cannot fix", async () => {
    const unauthorized = new SyncError("UNMS refused the API token (HTTP 401)", { kind: "unauthorized", code: "unms.unauthorized" });
    const inner = flaky([unauthorized]);
    await assert.rejects(new RetryingBackupSource(inner, { retry: noSleep }).list(), /refused the API token/);
    assert.equal(inner.calls, 1);
    await assert.rejects(new RetryingBackupSource(inner, { retry: noSleep }).open("x"), /no such backup/);
  });

  test("waits what UNMS asked for on 429", () => {
    const decision = classifySourceFailure(new SyncError("slow down", { kind: "rate-limited", code: "unms.rate_limited", retryAfterMs: 7000 }));
    assert.deepEqual(decision, { action: "retry-after", delayMs: 7000, reason: "slow down" });
    assert.equal(classifySourceFailure(new Error("boom")).action, "fatal");
  });
});

describe("RetryingBackupSource.open from an offset", () => {
  test("passes the offset on to the source it wraps (a resumed upload downloads only the rest)", async () => {
    const asked: (number | undefined)[] = [];
    const inner = {
      ...flaky([]),
      async open(_id: string, _signal?: AbortSignal, options?: { offset?: number }) {
        asked.push(options?.offset);
        return { stream: (async function* () {})(), offset: options?.offset ?? 0 };
      },
    };
    const download = await new RetryingBackupSource(inner, { retry: noSleep }).open("a", undefined, { offset: 8 });
    assert.deepEqual(asked, [8]);
    assert.equal(download.offset, 8);
  });
});
