import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PluginLog, formatLogLines, formatLogTime } from "../../../src/adapters/report/plugin-log.ts";
import { withTempDir } from "../../temp-dir.ts";

const fixedNow = () => new Date("2024-05-01T02:03:04.567Z");

const withPluginDir = (run: (dir: string) => Promise<void>) => withTempDir("plugin-log-", run);

describe("formatLogTime()", () => {
  test("formats like PHP's DateTimeInterface::ATOM in UTC", () => {
    assert.equal(formatLogTime(new Date("2024-05-01T02:03:04.567Z")), "2024-05-01T02:03:04+00:00");
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
});
