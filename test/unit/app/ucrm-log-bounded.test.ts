/**
 * Issue 12: plugin.log stays bounded during a run. A UCRM run (in process, local target folder)
 * over 1,000 listed backups, all already stored, adds a handful of lines, not 1,000, and the log
 * is trimmed to its last 256 lines at the end of the run as well as at the start. 1,000 is four
 * times the log's limit, so a line per backup would break both bounds just as 20,000 would (the
 * 20,000-backup scale is `npm run bench`'s, issue 10); it keeps the test about a second.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { runUcrmPlugin } from "../../../src/app/ucrm-main.ts";
import { backupFileName } from "../../../src/domain/backup.ts";
import { PLUGIN_LOG_MAX_LINES } from "../../../src/adapters/report/plugin-log.ts";
import { FakeUnms } from "../../../src/testing/fakes/unms.ts";
import { startLoopbackServer, type LoopbackServer } from "../../../src/testing/fakes/loopback.ts";

const TOKEN = "bounded-log-unms-token-77c1";
const BACKUPS = 1_000;
const unms = new FakeUnms({ apiToken: TOKEN, timezone: "Europe/Prague" });
let server: LoopbackServer;
let dir: string;

before(async () => {
  server = await startLoopbackServer(unms.handlers);
  dir = await mkdtemp(join(tmpdir(), "ucrm-bounded-log-"));
});
after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

test(`a UCRM run over ${BACKUPS.toLocaleString("en-US")} stored backups adds a few lines and leaves at most ${PLUGIN_LOG_MAX_LINES}`, { timeout: 120_000 }, async () => {
  const target = join(dir, "target");
  await mkdir(join(dir, "data"), { recursive: true });
  await mkdir(target);
  for (let i = 0; i < BACKUPS; i++) {
    const backup = unms.addBackup({ size: 16, createdAt: new Date(Date.UTC(2020, 0, 1) + i * 3_600_000).toISOString() });
    await writeFile(join(target, backupFileName(backup, "Europe/Prague")), Buffer.alloc(16));
  }
  await writeFile(join(dir, "ucrm.json"), JSON.stringify({ unmsLocalUrl: `${server.url}/nms/` }));
  await writeFile(join(dir, "data", "config.json"), JSON.stringify({ unmsApiToken: TOKEN, targetDir: target, dropboxFolder: "", maxBackupAgeHours: "87600" }));
  // A log already at the limit, as main.php leaves it after its own trim.
  const logPath = join(dir, "data", "plugin.log");
  const old = Array.from({ length: PLUGIN_LOG_MAX_LINES }, (_, i) => `old line ${i + 1} (2026-12-01T03:00:00+01:00)`);
  await writeFile(logPath, `${old.join("\n")}\n`);

  let echoed = "";
  const stdout = new Writable({ write: (chunk, _enc, done) => ((echoed += String(chunk)), done()) });
  const code = await runUcrmPlugin({ pluginDir: dir, stdout, env: { BACKUP_SYNC_PLUGIN_LOG_TRIMMED: "1" } });
  assert.equal(code, 0, echoed);

  const text = await readFile(logPath, "utf8");
  const lines = text.trimEnd().split("\n");
  const added = lines.filter((line) => !line.startsWith("old line "));
  assert.ok(added.length <= 10, `the run added ${added.length} lines:\n${added.join("\n")}`);
  assert.equal(lines.length, PLUGIN_LOG_MAX_LINES, "trimmed at the end of the run");
  assert.ok(Buffer.byteLength(text) < 40 * 1024, `${Buffer.byteLength(text)} bytes`);
  const summary = new RegExp(`^${BACKUPS.toLocaleString("en-US")} backup\\(s\\) already stored \\(not listed one by one\\) \\(\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\+0[12]:00\\)$`);
  assert.ok(added.some((line) => summary.test(line)), added.join("\n"));
  assert.ok(added.some((line) => line.startsWith(`Sync finished: 0 uploaded, ${BACKUPS} already stored, 0 deleted. (`)), added.join("\n"));
  // Once the NMS time zone is read, lines carry its offset.
  assert.match(added.at(-1)!, /\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00\)$/);
  console.log(`plugin.log after a run over ${BACKUPS} stored backups: ${lines.length} lines, ${Buffer.byteLength(text)} bytes; ${added.length} added by the run`);
});
