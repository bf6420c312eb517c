/**
 * plugin/main.php's log helpers in real php: the trim keeps 256 lines, never reads or writes through
 * a symbolic link (at data/plugin.log or at a temporary path), and lines carry the NMS time zone.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const mainPhp = fileURLToPath(new URL("../../../plugin/main.php", import.meta.url));

function php(body: string): { status: number | null; stdout: string; stderr: string } {
  const code = `define('BSD_LAUNCHER_NO_MAIN', true); require ${JSON.stringify(mainPhp)}; ${body}`;
  const run = spawnSync("php", ["-d", "display_errors=stderr", "-r", code], { encoding: "utf8" });
  assert.equal(run.status, 0, `php failed: ${run.stderr}${run.stdout}`);
  return run;
}

function pluginDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "launcher-log-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "data"));
  return dir;
}

const lines = (n: number, word = "line") => `${Array.from({ length: n }, (_, i) => `${word} ${i + 1}`).join("\n")}\n`;

test("bsd_trim_log keeps the last 256 lines and leaves no temporary file", (t) => {
  const dir = pluginDir(t);
  writeFileSync(join(dir, "data", "plugin.log"), lines(300));
  php(`bsd_trim_log(${JSON.stringify(dir)});`);
  const kept = readFileSync(join(dir, "data", "plugin.log"), "utf8").trimEnd().split("\n");
  assert.equal(kept.length, 256);
  assert.equal(kept[0], "line 45");
  assert.deepEqual(readdirSync(join(dir, "data")), ["plugin.log"]);
});

test("bsd_trim_log leaves a symbolic link at data/plugin.log alone: its target is neither copied nor cut", (t) => {
  const dir = pluginDir(t);
  const target = join(dir, "elsewhere.txt");
  writeFileSync(target, lines(300, "secret"));
  symlinkSync(target, join(dir, "data", "plugin.log"));
  php(`bsd_trim_log(${JSON.stringify(dir)});`);
  assert.ok(lstatSync(join(dir, "data", "plugin.log")).isSymbolicLink());
  assert.equal(readFileSync(target, "utf8"), lines(300, "secret"));
});

test("bsd_trim_log never writes through a link planted at the old, predictable temporary name", (t) => {
  const dir = pluginDir(t);
  writeFileSync(join(dir, "data", "plugin.log"), lines(300));
  const victim = join(dir, "victim.txt");
  writeFileSync(victim, "untouched\n");
  symlinkSync(victim, join(dir, "data", "plugin.log.tmp"));
  // The old name was plugin.log.<pid>.tmp: plant that link from inside the very php process.
  const data = JSON.stringify(join(dir, "data"));
  php(`symlink(${JSON.stringify(victim)}, ${data} . '/plugin.log.' . getmypid() . '.tmp'); bsd_trim_log(${JSON.stringify(dir)});`);
  assert.equal(readFileSync(victim, "utf8"), "untouched\n");
  assert.equal(readFileSync(join(dir, "data", "plugin.log"), "utf8").trimEnd().split("\n").length, 256);
});

test("bsd_log writes in the NMS time zone the sync last saw, and never through a link", (t) => {
  const dir = pluginDir(t);
  writeFileSync(join(dir, "data", "log-time-zone"), "Asia/Kolkata\n");
  php(`bsd_log(${JSON.stringify(dir)}, 'Running the sync');`);
  assert.match(readFileSync(join(dir, "data", "plugin.log"), "utf8"), /^Running the sync \(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30\)\n$/);

  writeFileSync(join(dir, "data", "log-time-zone"), "Not/A_Zone\n");
  php(`bsd_log(${JSON.stringify(dir)}, 'unknown zone');`);
  assert.match(readFileSync(join(dir, "data", "plugin.log"), "utf8"), /unknown zone \(\S+\+00:00\)\n$/);

  const linked = pluginDir(t);
  const victim = join(linked, "victim.txt");
  writeFileSync(victim, "untouched\n");
  symlinkSync(victim, join(linked, "data", "plugin.log"));
  const run = php(`bsd_log(${JSON.stringify(linked)}, 'hello');`);
  assert.equal(readFileSync(victim, "utf8"), "untouched\n");
  assert.match(run.stderr, /plugin\.log is a symbolic link/);
});
