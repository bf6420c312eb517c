/**
 * Issue 12: which stream each line takes, through the real main(argv, env, io) in process.
 * Results on stdout; ERROR:, WARNING:, progress and retry notices on stderr; with --json, stdout
 * carries the JSON object alone. Checked with pipes (cron, `> file`) and with a fake 80-column TTY.
 */
import { test } from "node:test";
import { guid } from "../../src/testing/fakes/unms.ts";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createServer, type AddressInfo } from "node:net";
import { http, HttpResponse } from "msw";
import { main } from "../../src/app/cli-main.ts";
import { explain, lastJsonLine, MiB, startHarness, type Harness, type HarnessOptions } from "./helpers.ts";

// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[[0-9;]*[A-Za-z]/g;
const DIAGNOSTIC = /^(ERROR|WARNING): /m;

async function syncHarness(t: TestContext, options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness(options);
  t.after(() => h.close());
  h.baseEnv.DROPBOX_REFRESH_TOKEN = h.dropbox.issueRefreshToken();
  return h;
}

function fakeStream(isTTY: boolean, columns?: number): { stream: NodeJS.WriteStream; text: () => string } {
  let text = "";
  const stream = { isTTY, columns, write: (chunk: string | Uint8Array) => ((text += String(chunk)), true) };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const noSleep = (_ms: number, signal?: AbortSignal): Promise<void> => (signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve());

test("through pipes: results on stdout, WARNING and ERROR lines on stderr", async (t) => {
  const h = await syncHarness(t, { timezone: null });
  h.unms.addBackup({ createdAt: "2024-02-01T00:00:00Z", size: MiB });
  const broken = h.unms.addBackup({ createdAt: "2024-02-02T00:00:00Z", size: MiB });
  // UNMS answers this backup's download with a 404 every time (deleted after it was listed).
  h.unmsOverrides.push(http.get(`*/nms/api/v2.1/nms/backups/${broken.id}`, () => HttpResponse.json({ message: "Backup not found" }, { status: 404 })));

  const run = await h.run(["sync"]);
  assert.equal(run.code, 1, explain(run));
  assert.doesNotMatch(run.stdout, DIAGNOSTIC, explain(run));
  assert.match(run.stdout, /^Uploaded unms-backup-20240201-0000_/m);
  assert.match(run.stdout, /Sync finished with failures: 1 uploaded, 0 already stored, 0 deleted, 1 failed/);
  assert.match(run.stderr, /^WARNING: .*time zone.*UTC/m);
  assert.match(run.stderr, new RegExp(`^ERROR: unms-backup-20240202-0000_${broken.id}\\.unms: `, "m"));
  // Every stderr line is a diagnostic: nothing of the results strays there.
  for (const line of run.stderr.split("\n").filter(Boolean)) assert.match(line, DIAGNOSTIC, line);
});

test("--json: stdout holds the JSON object alone; every other line goes to stderr", async (t) => {
  const h = await syncHarness(t, { timezone: null });
  h.unms.addBackup({ createdAt: "2024-02-01T00:00:00Z", size: MiB });

  const run = await h.run(["sync", "--json"]);
  assert.equal(run.code, 0, explain(run));
  const lines = run.stdout.split("\n").filter(Boolean);
  assert.equal(lines.length, 1, explain(run));
  assert.equal(lastJsonLine(run).uploaded.length, 1);
  assert.match(run.stderr, /^Uploaded unms-backup-/m);
  assert.match(run.stderr, /^WARNING: .*time zone/m);
});

test("on an 80-column terminal: results on stdout; progress frames on stderr fit in 79 columns", async (t) => {
  const h = await syncHarness(t);
  h.unms.addBackup({ createdAt: "2024-02-01T00:00:00Z", size: 12 * MiB });
  const stdout = fakeStream(true, 80);
  const stderr = fakeStream(true, 80);

  const code = await main(["sync"], { ...h.baseEnv, DROPBOX_FOLDER: `Backups of the main site, copied every night by the sync` }, { stdout: stdout.stream, stderr: stderr.stream, sleep: noSleep });
  assert.equal(code, 0, `${stdout.text()}\n${stderr.text()}`);
  assert.doesNotMatch(stdout.text(), /\x1b|\r/);
  assert.match(stdout.text(), /^Uploaded unms-backup-/m);
  const frames = stderr.text().split("\r").filter((frame) => frame.replace(ESCAPE, "") !== "");
  assert.ok(frames.length >= 1, `no progress frame: ${JSON.stringify(stderr.text())}`);
  for (const frame of frames) {
    assert.ok(frame.startsWith("\x1b[2K"), JSON.stringify(frame));
    const visible = frame.replace(ESCAPE, "");
    assert.ok(visible.length <= 79 && !visible.includes("\n"), `${visible.length} columns: ${JSON.stringify(visible)}`);
    assert.match(visible, /\d+% [\d.]+ (B|KiB|MiB) of 12\.0 MiB, /);
  }
});

test("TERM=dumb on a TTY: no escapes anywhere", async (t) => {
  const h = await syncHarness(t);
  h.unms.addBackup({ createdAt: "2024-02-01T00:00:00Z", size: 12 * MiB });
  const stdout = fakeStream(true, 80);
  const stderr = fakeStream(true, 80);
  const code = await main(["sync"], { ...h.baseEnv, TERM: "dumb" }, { stdout: stdout.stream, stderr: stderr.stream, sleep: noSleep });
  assert.equal(code, 0);
  assert.doesNotMatch(stdout.text() + stderr.text(), /[\x1b\r]/);
});

test("an unreachable UNMS: one short line per retry, then the whole error once", async (t) => {
  const h = await syncHarness(t);
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}/nms`;

  const run = await h.run(["sync"], { UNMS_URL: url });
  assert.equal(run.code, 1, explain(run));
  const notices = run.stderr.split("\n").filter((line) => line.startsWith("WARNING: "));
  assert.equal(notices.length, 3, explain(run));
  notices.forEach((line, i) => {
    assert.ok(line.length <= 200, `${line.length} characters: ${line}`);
    assert.match(line, new RegExp(`^WARNING: Could not reach UNMS for GET nms/backups at 127\\.0\\.0\\.1:${port}/nms/api/v2\\.1/nms/backups \\(ECONNREFUSED\\): retrying listing the backups in [\\d.]+ m?s \\(attempt ${i + 2} of 4\\)$`));
  });
  const errors = run.stderr.split("\n").filter((line) => line.startsWith("ERROR: "));
  assert.equal(errors.length, 1, explain(run));
  assert.match(errors[0]!, /check that UNMS is running .*\(gave up listing the backups after 4 attempts\)/);
  assert.doesNotMatch(run.stdout, DIAGNOSTIC);
});

test("a stale run lock is taken over with one plainly worded warning", async (t) => {
  const h = await syncHarness(t);
  h.unms.addBackup({ id: guid("stale-lock"), createdAt: new Date().toISOString(), size: 1000 });
  const dead = spawnSync(process.execPath, ["-e", ""]).pid;
  await h.holdLock(dead);

  const run = await h.run(["sync"]);
  assert.equal(run.code, 0, explain(run));
  const warnings = run.stderr.split("\n").filter((line) => /stale run lock/.test(line));
  assert.equal(warnings.length, 1, explain(run));
  assert.match(warnings[0]!, new RegExp(`^WARNING: Took over a stale run lock \\S+ left by pid ${dead} \\(started [^)]+\\): it belongs to a process that is no longer running\\.$`));
  assert.equal(warnings[0]!.split("Took over").length, 2, "the prefix appears once");
});
