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
        `Another sync run is in progress (pid ${process.pid}, started 2024-05-01T02:30:00.000Z); this run did nothing. ` +
          `The lock is taken over by itself once that process is gone, its pid runs another program, or it is 12 hours old; ` +
          `if you are sure no sync is running, delete ${first.path}.`,
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

  test("a live pid that now runs another program (pid reuse) does not block: the lock is taken over at once", async () => {
    await withDir(async (dir) => {
      const held = { pid: 4242, startedAt, hostname: hostname(), token: "someone-else", command: "node dist/cli.mjs sync" };
      await writeFile(join(dir, RUN_LOCK_FILE), JSON.stringify(held));
      const messages: string[] = [];
      const commandOf = (pid: number) => (pid === 4242 ? "/usr/sbin/nginx -g daemon off;" : "node dist/cli.mjs sync");
      const lock = await acquireRunLock(dir, { now, isAlive: () => true, commandOf, onStaleLock: (m) => messages.push(m) });
      assert.match(messages[0]!, /: it names pid 4242, which now runs another program \(the pid was reused\)\.$/);
      assert.doesNotMatch(messages[0]!, /nginx/, "another program's command line is not logged");
      await lock.release();
    });
  });

  test("the same live sync (same command line) still blocks; a lock without a command line falls back to the pid check", async () => {
    await withDir(async (dir) => {
      const commandOf = () => "node dist/cli.mjs sync";
      await writeFile(join(dir, RUN_LOCK_FILE), JSON.stringify({ pid: 4242, startedAt, hostname: hostname(), token: "t", command: "node dist/cli.mjs sync" }));
      await assert.rejects(acquireRunLock(dir, { now, isAlive: () => true, commandOf }), (e: unknown) => SyncError.is(e) && e.code === "lock.busy");
      await writeFile(join(dir, RUN_LOCK_FILE), lockOf(4242));
      await assert.rejects(acquireRunLock(dir, { now, isAlive: () => true, commandOf: () => "anything" }), (e: unknown) => SyncError.is(e) && e.code === "lock.busy");
    });
  });

  test("the lock records this process's real command line from /proc, so a real sync is told from a reused pid", async () => {
    await withDir(async (dir) => {
      const lock = await acquireRunLock(dir, { now });
      const held = JSON.parse(await readFile(lock.path, "utf8")) as { command?: string };
      if (process.platform === "linux") assert.ok(held.command?.includes(process.argv[1]!.split("/").pop()!) || held.command?.includes("node"), String(held.command));
      await lock.release();
    });
  });

  test("a lock dated in the future (clock set back) does not block for 12 hours", async () => {
    await withDir(async (dir) => {
      await writeFile(join(dir, RUN_LOCK_FILE), lockOf(process.pid, hostname(), "2024-05-01T09:00:00.000Z"));
      const messages: string[] = [];
      const lock = await acquireRunLock(dir, { now, onStaleLock: (m) => messages.push(m) });
      assert.match(messages[0]!, /: it is dated in the future \(the clock was set back\?\)\.$/);
      await lock.release();
      // A few minutes ahead is clock jitter between runs, not a reason to break a live lock.
      await writeFile(join(dir, RUN_LOCK_FILE), lockOf(process.pid, hostname(), "2024-05-01T02:33:00.000Z"));
      await assert.rejects(acquireRunLock(dir, { now }), (e: unknown) => SyncError.is(e) && e.code === "lock.busy");
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

test("the README says what the busy message says about a stale lock", async () => {
  const readme = (await readFile(new URL("../../../README.md", import.meta.url), "utf8")).replace(/\s+/g, " ");
  for (const phrase of ["once its process is gone, its pid runs another program", "12 hours old", "if you are sure no sync is running, delete the lock file"]) {
    assert.ok(readme.includes(phrase), `README: ${phrase}`);
  }
});
