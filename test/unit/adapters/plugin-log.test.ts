import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { lstat, mkdir, readFile, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LOG_TIME_ZONE_FILE, PluginLog, formatLogLines, formatLogTime, zoneOffsetMinutes } from "../../../src/adapters/report/plugin-log.ts";
import { withTempDir } from "../../temp-dir.ts";

const fixedNow = () => new Date("2024-05-01T02:03:04.567Z");

const withPluginDir = (run: (dir: string) => Promise<void>) => withTempDir("plugin-log-", run);

describe("formatLogTime()", () => {
  test("formats like PHP's DateTimeInterface::ATOM in UTC", () => {
    assert.equal(formatLogTime(new Date("2024-05-01T02:03:04.567Z")), "2024-05-01T02:03:04+00:00");
  });

  test("carries the NMS time zone's offset, summer and winter, east and west", () => {
    assert.equal(formatLogTime(new Date("2026-12-02T02:00:01.900Z"), "Europe/Prague"), "2026-12-02T03:00:01+01:00");
    assert.equal(formatLogTime(new Date("2026-07-02T02:00:01Z"), "Europe/Prague"), "2026-07-02T04:00:01+02:00");
    assert.equal(formatLogTime(new Date("2026-12-02T02:00:01Z"), "America/New_York"), "2026-12-01T21:00:01-05:00");
    assert.equal(formatLogTime(new Date("2026-12-02T02:00:01Z"), "Asia/Kolkata"), "2026-12-02T07:30:01+05:30");
    assert.equal(formatLogTime(new Date("2026-12-02T02:00:01Z"), "UTC"), "2026-12-02T02:00:01+00:00");
  });

  test("an unknown zone counts as UTC rather than failing a log line", () => {
    assert.equal(zoneOffsetMinutes(new Date(), "Mars/Olympus_Mons"), 0);
  });
});

describe("formatLogLines()", () => {
  test("puts the time after the message and prefixes errors and warnings", () => {
    const date = fixedNow();
    assert.deepEqual(formatLogLines("Uploaded a.unms", "info", date), ["Uploaded a.unms (2024-05-01T02:03:04+00:00)"]);
    assert.deepEqual(formatLogLines("Disk full", "error", date), ["ERROR: Disk full (2024-05-01T02:03:04+00:00)"]);
    assert.deepEqual(formatLogLines("Legacy token", "warning", date), [
      "WARNING: Legacy token (2024-05-01T02:03:04+00:00)",
    ]);
  });

  test("never writes an empty ERROR line", () => {
    const [line] = formatLogLines("  \n ", "error", fixedNow());
    assert.match(line!, /^ERROR: \(empty log message: please report this as a bug\) \(/);
  });
});

describe("PluginLog", () => {
  test("append() writes data/plugin.log, creating data/ when missing", async () => {
    await withPluginDir(async (dir) => {
      const log = new PluginLog(dir, { now: fixedNow });
      log.append("Sync started");
      log.append("Dropbox refused the upload of a.unms", "error");
      assert.equal(log.path, join(dir, "data", "plugin.log"));
      assert.equal(
        await readFile(log.path, "utf8"),
        "Sync started (2024-05-01T02:03:04+00:00)\nERROR: Dropbox refused the upload of a.unms (2024-05-01T02:03:04+00:00)\n",
      );
    });
  });

  test("append() formats each line of a multi-line message, dropping blank ones", async () => {
    await withPluginDir(async (dir) => {
      const log = new PluginLog(dir, { now: fixedNow });
      log.append("==========\r\nhttps://www.dropbox.com/oauth2/authorize?client_id=app\n\n==========", "info");
      assert.deepEqual((await readFile(log.path, "utf8")).split("\n"), [
        "========== (2024-05-01T02:03:04+00:00)",
        "https://www.dropbox.com/oauth2/authorize?client_id=app (2024-05-01T02:03:04+00:00)",
        "========== (2024-05-01T02:03:04+00:00)",
        "",
      ]);
    });
  });

  test("trim() keeps the last 256 lines by default", async () => {
    await withPluginDir(async (dir) => {
      const log = new PluginLog(dir, { now: fixedNow });
      await mkdir(join(dir, "data"));
      const lines = Array.from({ length: 300 }, (_, i) => `line ${i + 1}`);
      await writeFile(log.path, `${lines.join("\n")}\n`);
      await log.trim();
      const kept = (await readFile(log.path, "utf8")).split("\n");
      assert.equal(kept.pop(), "");
      assert.equal(kept.length, 256);
      assert.equal(kept[0], "line 45");
      assert.equal(kept.at(-1), "line 300");
      assert.deepEqual(await readdir(join(dir, "data")), ["plugin.log"], "no temporary file is left behind");
    });
  });

  test("trim() leaves a short log as it is and handles a file without a final newline", async () => {
    await withPluginDir(async (dir) => {
      const log = new PluginLog(dir);
      await mkdir(join(dir, "data"));
      await writeFile(log.path, "a\nb\nc");
      await log.trim(3);
      assert.equal(await readFile(log.path, "utf8"), "a\nb\nc");
      await log.trim(2);
      assert.equal(await readFile(log.path, "utf8"), "b\nc\n");
    });
  });

  test("trim() on a missing log does nothing", async () => {
    await withPluginDir(async (dir) => {
      const log = new PluginLog(dir);
      await log.trim();
      await assert.rejects(readFile(log.path), { code: "ENOENT" });
    });
  });

  test("lines carry the NMS time zone once it is known, and the next run's first lines too", async () => {
    await withPluginDir(async (dir) => {
      const now = () => new Date("2026-12-02T02:00:01Z");
      const log = new PluginLog(dir, { now });
      log.append("before the zone is known");
      log.setTimeZone("Europe/Prague");
      log.append("after");
      log.setTimeZone("Not/A_Zone");
      log.append("an unknown zone is ignored");
      const next = new PluginLog(dir, { now });
      next.append("next run, first line");
      assert.deepEqual((await readFile(log.path, "utf8")).trim().split("\n"), [
        "before the zone is known (2026-12-02T02:00:01+00:00)",
        "after (2026-12-02T03:00:01+01:00)",
        "an unknown zone is ignored (2026-12-02T03:00:01+01:00)",
        "next run, first line (2026-12-02T03:00:01+01:00)",
      ]);
      assert.equal((await readFile(join(dir, "data", LOG_TIME_ZONE_FILE), "utf8")).trim(), "Europe/Prague");
    });
  });

  test("append() never writes through a symbolic link planted at data/plugin.log", async () => {
    await withPluginDir(async (dir) => {
      const target = join(dir, "precious.txt");
      await writeFile(target, "do not touch\n");
      await mkdir(join(dir, "data"));
      const log = new PluginLog(dir, { now: fixedNow });
      await symlink(target, log.path);
      assert.throws(() => log.append("hello"), /plugin\.log is a symbolic link/);
      assert.throws(() => log.appendRaw(["=="]), /symbolic link/);
      assert.equal(await readFile(target, "utf8"), "do not touch\n");
    });
  });

  test("trim() neither reads nor writes through a symbolic link at data/plugin.log", async () => {
    await withPluginDir(async (dir) => {
      const target = join(dir, "secret.txt");
      await writeFile(target, `${Array.from({ length: 300 }, (_, i) => `secret ${i}`).join("\n")}\n`);
      await mkdir(join(dir, "data"));
      const log = new PluginLog(dir);
      await symlink(target, log.path);
      await assert.rejects(log.trim(), /symbolic link/);
      assert.ok((await lstat(log.path)).isSymbolicLink(), "the link stays a link; nothing was copied out of its target");
      assert.equal((await readFile(target, "utf8")).split("\n").length, 301);
      assert.deepEqual((await readdir(join(dir, "data"))).sort(), ["plugin.log"]);
    });
  });

  test("trim()'s temporary file has an unpredictable name and is created exclusively: planted links are never written", async () => {
    await withPluginDir(async (dir) => {
      const log = new PluginLog(dir);
      await mkdir(join(dir, "data"));
      await writeFile(log.path, `${Array.from({ length: 300 }, (_, i) => `line ${i + 1}`).join("\n")}\n`);
      // The old, predictable name (pid-based), and a guess at every name shape: linked to a victim.
      const victim = join(dir, "victim.txt");
      await writeFile(victim, "untouched\n");
      for (const name of [`plugin.log.${process.pid}.tmp`, "plugin.log.tmp", "plugin.log.0.tmp"]) await symlink(victim, join(dir, "data", name));
      await log.trim();
      assert.equal(await readFile(victim, "utf8"), "untouched\n");
      const kept = (await readFile(log.path, "utf8")).trim().split("\n");
      assert.equal(kept.length, 256);
      assert.ok((await lstat(log.path)).isFile());
      const left = (await readdir(join(dir, "data"))).filter((name) => !name.startsWith("plugin.log.") || !name.endsWith(".tmp") || [`plugin.log.${process.pid}.tmp`, "plugin.log.tmp", "plugin.log.0.tmp"].includes(name));
      assert.equal(left.length, (await readdir(join(dir, "data"))).length, "no temporary file of the trim is left behind");
    });
  });
});
