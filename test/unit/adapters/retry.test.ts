import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay, retry, RetryError, type RetryDecision } from "../../../src/adapters/retry/retry.ts";

/** A fake clock that only sleeping advances. */
function fakeTime() {
  const state = { now: 0, sleeps: [] as number[] };
  return {
    state,
    now: () => state.now,
    sleep: async (ms: number) => { state.sleeps.push(ms); state.now += ms; },
  };
}

function failing(times: number, error: unknown = new Error("boom")) {
  let calls = 0;
  const fn = async (attempt: number) => {
    calls++;
    if (calls <= times) throw error;
    return `ok after ${attempt}`;
  };
  return { fn, calls: () => calls };
}

describe("retry()", () => {
  test("retry() returns the first success and sleeps an exponential backoff between attempts", async () => {
    const time = fakeTime();
    const { fn, calls } = failing(3);
    const result = await retry(fn, { ...time, baseDelayMs: 100, jitter: 0 });
    assert.equal(result, "ok after 4");
    assert.equal(calls(), 4);
    assert.deepEqual(time.state.sleeps, [100, 200, 400]);
  });

  test("retry() applies jitter within [delay*(1-jitter), delay] and caps at maxDelayMs", () => {
    const options = { baseDelayMs: 1000, maxDelayMs: 5000, jitter: 0.5 };
    assert.equal(backoffDelay(1, { ...options, random: () => 0 }), 1000);
    assert.equal(backoffDelay(1, { ...options, random: () => 1 }), 500);
    assert.equal(backoffDelay(10, { ...options, random: () => 0 }), 5000);
  });

  test("retry() throws RetryError with the last error as cause when attempts run out", async () => {
    const time = fakeTime();
    const last = new Error("still down");
    const { fn, calls } = failing(10, last);
    await assert.rejects(retry(fn, { ...time, attempts: 3, jitter: 0 }), (error: unknown) => {
      assert.ok(error instanceof RetryError);
      assert.equal(error.attempts, 3);
      assert.equal(error.cause, last);
      assert.match(error.message, /Gave up after 3 attempts \(attempts exhausted\); last failure: still down/);
      return true;
    });
    assert.equal(calls(), 3);
  });

  test("retry() stops when the next wait would exceed the total time budget", async () => {
    const time = fakeTime();
    const { fn, calls } = failing(10);
    await assert.rejects(retry(fn, { ...time, attempts: 100, baseDelayMs: 1000, jitter: 0, maxTotalMs: 5000 }), (error: unknown) => {
      assert.ok(error instanceof RetryError);
      assert.match(error.message, /time budget/);
      return true;
    });
    assert.deepEqual(time.state.sleeps, [1000, 2000]);
    assert.equal(calls(), 3);
  });

  test("retry() never retries a fatal decision and rethrows the error itself", async () => {
    const time = fakeTime();
    const fatal = new Error("no space");
    const { fn, calls } = failing(5, fatal);
    const classify = (): RetryDecision => ({ action: "fatal", reason: "insufficient_space" });
    await assert.rejects(retry(fn, { ...time, classify }), (error: unknown) => error === fatal);
    assert.equal(calls(), 1);
    assert.deepEqual(time.state.sleeps, []);
  });

  test("retry() waits exactly the server-given delay for retry-after, capped by maxDelayMs", async () => {
    const time = fakeTime();
    const { fn } = failing(2);
    const classify = (_e: unknown, attempt: number): RetryDecision => ({ action: "retry-after", delayMs: attempt === 1 ? 3000 : 900_000, reason: "429" });
    await retry(fn, { ...time, classify, maxDelayMs: 60_000 });
    assert.deepEqual(time.state.sleeps, [3000, 60_000]);
  });

  test("retry() refreshes once for refresh-token and treats a second one in a row as fatal", async () => {
    const time = fakeTime();
    const expired = new Error("expired");
    const { fn, calls } = failing(5, expired);
    let refreshes = 0;
    const classify = (): RetryDecision => ({ action: "refresh-token", reason: "expired_access_token" });
    await assert.rejects(retry(fn, { ...time, classify, refresh: async () => { refreshes++; } }), (error: unknown) => error === expired);
    assert.equal(refreshes, 1);
    assert.equal(calls(), 2);
    assert.deepEqual(time.state.sleeps, []);
  });

  test("retry() succeeds after one refresh", async () => {
    const { fn } = failing(1);
    let refreshes = 0;
    const result = await retry(fn, { ...fakeTime(), classify: () => ({ action: "refresh-token", reason: "expired" }), refresh: async () => { refreshes++; } });
    assert.equal(result, "ok after 2");
    assert.equal(refreshes, 1);
  });

  test("retry() reports each retry through onRetry", async () => {
    const infos: Array<{ attempt: number; delayMs: number; reason: string }> = [];
    await retry(failing(2).fn, { ...fakeTime(), jitter: 0, baseDelayMs: 10, onRetry: ({ attempt, delayMs, reason }) => infos.push({ attempt, delayMs, reason }) });
    assert.deepEqual(infos, [{ attempt: 1, delayMs: 10, reason: "boom" }, { attempt: 2, delayMs: 20, reason: "boom" }]);
  });

  test("retry() honours isRetriable when no classifier is given", async () => {
    const { fn, calls } = failing(3, new TypeError("bad"));
    await assert.rejects(retry(fn, { ...fakeTime(), isRetriable: (e) => !(e instanceof TypeError) }), TypeError);
    assert.equal(calls(), 1);
  });

  test("retry() stops at once when the signal is aborted", async () => {
    const controller = new AbortController();
    const { fn, calls } = failing(5);
    const sleep = async () => { controller.abort(new Error("stopped by user")); };
    await assert.rejects(retry(fn, { sleep, signal: controller.signal }), /stopped by user/);
    assert.equal(calls(), 1);
  });

  test("retry() rejects attempts below 1", async () => {
    await assert.rejects(retry(async () => 1, { attempts: 0 }), RangeError);
  });
});

describe("retry() under a run deadline", () => {
  test("no wait or attempt starts past the run's deadline: a service that never answers costs the budget plus at most one call", async () => {
    const time = fakeTime();
    // Each attempt "hangs" 120 s before failing, as a call that times out would.
    const fn = async () => {
      time.state.now += 120_000;
      throw new Error("timed out after 120 s");
    };
    const error = await retry(fn, { ...time, attempts: 8, baseDelayMs: 2_000, jitter: 0, maxTotalMs: 60 * 60_000, deadline: 300_000 })
      .catch((e: unknown) => e);
    assert.ok(error instanceof RetryError);
    // Attempts start at 0, 122 s and 246 s; a fourth would start at 374 s, past the 300 s budget.
    assert.match(error.message, /Gave up after 3 attempts \(the run's time budget \(MAX_RUN_MINUTES\) is spent\)/);
    assert.deepEqual(time.state.sleeps, [2_000, 4_000]);
    assert.ok(time.state.now <= 300_000 + 120_000, `spent ${time.state.now} ms, budget 300000 + one 120 s call`);
  });

  test("without a deadline the per-call limits alone apply (unchanged)", async () => {
    const time = fakeTime();
    const { fn } = failing(3);
    assert.equal(await retry(fn, { ...time, baseDelayMs: 10, jitter: 0 }), "ok after 4");
  });
});
