import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, readdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { RUN_LOCK_FILE, acquireRunLock } from "../../../src/adapters/lock/run-lock.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import { withTempDir } from "../../temp-dir.ts";

const startedAt = "2024-05-01T02:00:00.000Z";
const now = () => new Date("2024-05-01T02:30:00.000Z");

const withDir = (run: (dir: string) => Promise<void>) => withTempDir("run-lock-", run);

function lockOf(pid: number, host = hostname(), started = startedAt): string {
  return JSON.stringify({ pid, startedAt: started, hostname: host, token: "someone-else" });
}

/** A pid that really existed and has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", ""]);
  assert.ok(child.pid, "could not start a short-lived process");
  return child.pid;
}

describe("acquireRunLock()", () => {
  test("creates the lock file with pid, start time and host, and release() removes it", async () => {
    await withDir(async (dir) => {
      const lock = await acquireRunLock(dir, { now, pid: 4242 });
      assert.equal(lock.path, join(dir, RUN_LOCK_FILE));
      const held = JSON.parse(await readFile(lock.path, "utf8"));
      assert.equal(held.pid, 4242);
      assert.equal(held.startedAt, "2024-05-01T02:30:00.000Z");
      assert.equal(held.hostname, hostname());
      await lock.release();
      assert.deepEqual(await readdir(dir), []);
      await lock.release(); // twice is harmless
      const again = await acquireRunLock(dir);
      await again.release();
    });
  });

  test("a second run while the first is alive fails with lock.busy and leaves the lock alone", async () => {
    await withDir(async (dir) => {
      const first = await acquireRunLock(dir, { now });
      const error = await acquireRunLock(dir, { now }).then(
        () => assert.fail("the second run got the lock"),
        (e: unknown) => e,
      );
      assert.ok(SyncError.is(error));
      assert.equal(error.kind, "permanent");
      assert.equal(error.code, "lock.busy");
      assert.equal(
        error.message,
        `Another sync run is in progress (pid ${process.pid}, started 2024-05-01T02:30:00.000Z); this run did nothing. If no run is active, delete ${first.path}.`,
      );
      await first.release();
      assert.deepEqual(await readdir(dir), []);
    });
  });

  test("takes over a lock whose process is dead, and says so", async () => {
    await withDir(async (dir) => {
      const pid = deadPid();
      await writeFile(join(dir, RUN_LOCK_FILE), lockOf(pid));
      const messages: string[] = [];
      const lock = await acquireRunLock(dir, { now, onStaleLock: (m) => messages.push(m) });
      assert.equal(JSON.parse(await readFile(lock.path, "utf8")).pid, process.pid);
      assert.deepEqual(messages, [
        `Took over a stale run lock ${lock.path} left by pid ${pid} (started ${startedAt}): it belongs to a process that is no longer running.`,
      ]);
      await lock.release();
      assert.deepEqual(await readdir(dir), [], "no file set aside is left behind");
    });
  });

  test("takes over a garbage lock file", async () => {
    await withDir(async (dir) => {
      await writeFile(join(dir, RUN_LOCK_FILE), "{not json");
      const messages: string[] = [];
      const lock = await acquireRunLock(dir, { now, onStaleLock: (m) => messages.push(m) });
      assert.deepEqual(messages, [`Took over a stale run lock ${lock.path}: it is unreadable.`]);
      await lock.release();
    });
  });

  test("takes over a lock older than staleAfterMs even if its pid looks alive (pid reuse)", async () => {
    await withDir(async (dir) => {
      await writeFile(join(dir, RUN_LOCK_FILE), lockOf(1, hostname(), "2024-04-30T00:00:00.000Z"));
      const messages: string[] = [];
      const lock = await acquireRunLock(dir, {
        now,
        isAlive: () => true,
        staleAfterMs: 60 * 60 * 1000,
        onStaleLock: (m) => messages.push(m),
      });
      assert.match(messages[0]!, /left by pid 1 \(started 2024-04-30T00:00:00.000Z\): it is older than 60 minutes\.$/);
      await lock.release();
    });
  });

  test("a recent lock from another host counts as busy: its pid cannot be checked from here", async () => {
    await withDir(async (dir) => {
      await writeFile(join(dir, RUN_LOCK_FILE), lockOf(deadPid(), "other-host"));
      await assert.rejects(acquireRunLock(dir, { now }), (error: unknown) => {
        assert.ok(SyncError.is(error));
        assert.equal(error.code, "lock.busy");
        assert.match(error.message, /^Another sync run is in progress on host other-host \(pid \d+, started/);
        return true;
      });
    });
  });

  test("release() does not remove a lock that another run has taken over meanwhile", async () => {
    await withDir(async (dir) => {
      const lock = await acquireRunLock(dir, { now });
      const theirs = lockOf(process.pid);
      await writeFile(lock.path, theirs);
      await lock.release();
      assert.equal(await readFile(lock.path, "utf8"), theirs);
    });
  });

  test("creates the directory when it does not exist yet", async () => {
    await withDir(async (dir) => {
      const lock = await acquireRunLock(join(dir, "state", "nested"));
      assert.equal(lock.path, join(dir, "state", "nested", RUN_LOCK_FILE));
      await lock.release();
    });
  });
});
