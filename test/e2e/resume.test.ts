/**
 * Uploads that survive the run that started them, through the command line and the loopback fakes:
 * a run SIGKILLed half-way through a multi-chunk upload is continued by the next run, which sends
 * less than 60% of the file; SIGTERM and SIGINT exit 143 and 130 with the state kept; MAX_RUN_MINUTES
 * pauses and exits 0 with "resumable"; a saved session older than Dropbox's 7 days starts over; the
 * local-folder target continues its partial file and leaves none behind; a UNMS that never answers
 * costs the budget plus the grace, timed on mocked timers. The signal tests spawn the built
 * dist/cli.mjs (a signal needs a process of its own); the others run in process through main().
 *
 * Sizes are a few 4 MiB chunks: what is tested is where a run stops and where the next one picks up,
 * which four chunks show as well as 75 did (these tests used 300 MiB, 96 MiB and 64 MiB backups and
 * 8 MiB chunks before). A signal test holds the first append past the kill point unanswered, so the
 * run is stopped exactly there instead of racing a poll on a file big enough to be caught. The byte
 * counts each test measured are printed (t.diagnostic) for the report.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { http, type RequestHandler } from "msw";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UPLOAD_SESSIONS_FILE } from "../../src/adapters/upload-sessions/file-upload-session-store.ts";
import { contentHashOfFile } from "./content-hash-file.ts";
import { assertNoSecrets, cliPath, explain, lastJsonLine, MiB, startHarness, type CliRun, type Harness } from "./helpers.ts";

const FOLDER = "Backups";

async function syncHarness(t: TestContext): Promise<Harness> {
  const h = await startHarness();
  t.after(() => h.close());
  h.baseEnv.DROPBOX_REFRESH_TOKEN = h.dropbox.issueRefreshToken();
  h.baseEnv.DROPBOX_CHUNK_MIB = "4";
  return h;
}

interface SavedSession {
  backupId: string;
  name: string;
  bytesCommitted: number;
  blockHashes: string[];
  startedAt: string;
}

function savedSessions(h: Harness): SavedSession[] {
  const path = join(h.stateDir, UPLOAD_SESSIONS_FILE);
  if (!existsSync(path)) return [];
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { sessions: SavedSession[] }).sessions;
  } catch {
    return []; // never half-written (atomic), but it may be replaced between exists and read
  }
}

/**
 * Holds the first upload-session append at or past `offset` unanswered (unread, so FakeDropbox never
 * counts its bytes): a sequential session cannot commit past it, so a signal sent meanwhile stops
 * the run at exactly that point.
 */
function holdAppendsFrom(offset: number): RequestHandler {
  return http.post("*/2/files/upload_session/append_v2", ({ request }) => {
    const arg = request.headers.get("dropbox-api-arg") ?? new URL(request.url).searchParams.get("arg") ?? "{}";
    const at = (JSON.parse(arg) as { cursor?: { offset?: number } }).cursor?.offset ?? 0;
    return at >= offset ? new Promise<Response>(() => undefined) : undefined;
  });
}

/**
 * Runs `node dist/cli.mjs sync` with appends past `killAt` held, and sends `signal` once the saved
 * state shows `killAt` bytes committed. Resolves with the run's output and exit code (or the signal
 * that ended it).
 */
function runUntilCommitted(h: Harness, killAt: number, signal: NodeJS.Signals, env: Record<string, string> = {}) {
  h.dropboxOverrides.push(holdAppendsFrom(killAt));
  return new Promise<CliRun & { signal: NodeJS.Signals | null; committedAtSignal: number }>((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, "sync"], { env: { ...h.baseEnv, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let committedAtSignal = -1;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
    const poll = setInterval(() => {
      const committed = savedSessions(h)[0]?.bytesCommitted ?? 0;
      if (committed >= killAt && committedAtSignal < 0) {
        committedAtSignal = committed;
        child.kill(signal);
      }
    }, 5);
    const timeout = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code, ended) => {
      clearInterval(poll);
      clearTimeout(timeout);
      h.dropboxOverrides.length = 0;
      const run = { code, signal: ended, stdout, stderr, output: `${stdout}${stderr}`, committedAtSignal };
      assertNoSecrets(run, [h.unmsApiToken, h.dropbox.appSecret, ...h.dropbox.secretsIssued()], "node dist/cli.mjs sync (signalled)");
      resolve(run);
    });
  });
}

/** Lets the fakes finish with the sockets of a process that was just stopped. */
function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 300));
}

function storedPath(h: Harness): string {
  const files = h.dropbox.listFiles().filter((f) => f.path.startsWith(`/${FOLDER}/unms-backup-`));
  assert.equal(files.length, 1, `expected one stored backup, found ${JSON.stringify(files.map((f) => f.path))}`);
  return files[0]!.path;
}

test("a sync SIGKILLed half-way through a 4-chunk upload is continued by the next run: < 60% sent again, right content hash", async (t) => {
  const h = await syncHarness(t);
  // A sequential session: its position after a kill is Dropbox's to tell (incorrect_offset). A
  // concurrent one killed with chunks unanswered starts over (test/unit/adapters/dropbox-concurrent.test.ts).
  h.baseEnv.DROPBOX_CONNECTIONS = "1";
  const size = 16 * MiB;
  const backup = h.unms.addBackup({ size });

  const killed = await runUntilCommitted(h, size / 2, "SIGKILL");
  assert.equal(killed.signal, "SIGKILL", explain(killed));
  assert.equal(killed.committedAtSignal, size / 2, "killed with half of the file committed");
  // The fakes notice the dead sockets a moment later; what they count until then belongs to run 1.
  await settle();
  const firstSent = h.dropbox.uploadBytesReceived;
  const saved = savedSessions(h)[0];
  assert.ok(saved, "the killed run left its upload state");
  assert.equal(saved.backupId, backup.id);
  assert.equal(saved.blockHashes.length * 4 * MiB, saved.bytesCommitted);
  assert.equal(h.dropbox.listFiles().length, 0, "a killed upload never becomes a file");

  const unmsBefore = h.unms.downloadBytesSent;
  const resumed = await h.run(["sync", "--json"]);
  assert.equal(resumed.code, 0, explain(resumed));
  const secondSent = h.dropbox.uploadBytesReceived - firstSent;
  assert.match(resumed.stderr, new RegExp(`Continuing the unfinished upload of file "/${FOLDER}/.*${backup.id}\\.unms" from byte ${saved.bytesCommitted}`));
  assert.match(resumed.stderr, /Uploaded .*\.unms \(16\.0 MiB; continued from 8\.0 MiB, the rest in /);
  assert.ok(secondSent < 0.6 * size, `the second run sent ${secondSent} bytes, ${((100 * secondSent) / size).toFixed(1)}% of ${size}`);
  assert.equal(h.dropbox.fileMetadata(storedPath(h))?.content_hash, h.unms.expectedContentHash(backup.id));
  assert.equal(h.dropbox.fileMetadata(storedPath(h))?.size, size);
  assert.deepEqual(savedSessions(h), [], "a finished upload forgets its session");
  assert.equal(lastJsonLine(resumed).bytesUploaded, size);
  assert.equal(h.unms.downloadRanges.at(-1), `bytes=${saved.bytesCommitted}-`, "the rest was asked of UNMS with Range");
  // Only the rest was asked for; a piece the killed run's stream pulled late may still land here.
  assert.ok(Math.abs(h.unms.downloadBytesSent - unmsBefore - (size - saved.bytesCommitted)) <= MiB, `UNMS sent ${h.unms.downloadBytesSent - unmsBefore} bytes to run 2`);
  t.diagnostic(
    `16 MiB (${size} bytes): killed with ${killed.committedAtSignal} bytes committed (state file at kill: ${saved.bytesCommitted}); ` +
      `run 1 sent ${firstSent} bytes to Dropbox, run 2 sent ${secondSent} (${((100 * secondSent) / size).toFixed(1)}%), ` +
      `UNMS sent ${h.unms.downloadBytesSent - unmsBefore} bytes to run 2 (Range ${h.unms.downloadRanges.at(-1)})`,
  );
});

for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  test(`${signal} stops the run with exit ${code}, the saved state intact; the next run continues (UNMS ignoring Range)`, async (t) => {
    const h = await syncHarness(t);
    h.baseEnv.DROPBOX_CONNECTIONS = "1"; // sequential, as in the SIGKILL test above
    h.unms.honourRange = false;
    const size = 12 * MiB;
    const backup = h.unms.addBackup({ size });

    const stopped = await runUntilCommitted(h, 4 * MiB, signal);
    assert.equal(stopped.code, code, explain(stopped));
    assert.match(stopped.stderr, new RegExp(`Received ${signal}: stopping; the upload state is kept`));
    const saved = savedSessions(h)[0];
    assert.ok(saved && saved.bytesCommitted >= 4 * MiB, `state after ${signal}: ${JSON.stringify(saved?.bytesCommitted)}`);
    assert.equal(saved.blockHashes.length * 4 * MiB, saved.bytesCommitted);
    assert.equal(h.dropbox.listFiles().length, 0);
    await settle();
    const firstSent = h.dropbox.uploadBytesReceived;

    const resumed = await h.run(["sync"]);
    assert.equal(resumed.code, 0, explain(resumed));
    const secondSent = h.dropbox.uploadBytesReceived - firstSent;
    assert.ok(secondSent <= size - saved.bytesCommitted, `the second run sent ${secondSent} bytes, ${saved.bytesCommitted} were saved`);
    assert.equal(h.dropbox.fileMetadata(storedPath(h))?.content_hash, h.unms.expectedContentHash(backup.id));
    t.diagnostic(`${signal}: exit ${stopped.code}, ${saved.bytesCommitted} bytes saved; run 2 sent ${secondSent} of ${size} bytes to Dropbox; UNMS answered Range with 200 (requests: ${h.unms.downloadRanges.map(String).join(", ")})`);
    assert.equal(h.unms.downloadRanges.at(-1), `bytes=${saved.bytesCommitted}-`);
  });
}

test("MAX_RUN_MINUTES spent: the run pauses between chunks, exits 0 with a WARNING and \"resumable\"; the next run finishes", async (t) => {
  const h = await syncHarness(t);
  const size = 12 * MiB;
  const backup = h.unms.addBackup({ size });

  // A budget of a few milliseconds: spent before the second chunk (the first always goes).
  const paused = await h.run(["sync", "--json"], { MAX_RUN_MINUTES: "0.00005" });
  assert.equal(paused.code, 0, explain(paused));
  assert.match(paused.stderr, /WARNING: The run's time budget \(MAX_RUN_MINUTES \/ maxRunMinutes: 0\.003 s\) is spent: .* continues on the next run/);
  const summary = lastJsonLine(paused);
  assert.equal((summary.resumable as string[]).length, 1);
  assert.match((summary.resumable as string[])[0]!, new RegExp(`${backup.id}\\.unms$`));
  assert.deepEqual(summary.failed, []);
  assert.deepEqual(summary.uploaded, []);
  const saved = savedSessions(h)[0];
  assert.ok(saved && saved.bytesCommitted > 0 && saved.bytesCommitted < size);
  const firstSent = h.dropbox.uploadBytesReceived;

  const finished = await h.run(["sync", "--json"]);
  assert.equal(finished.code, 0, explain(finished));
  assert.deepEqual(lastJsonLine(finished).resumable, []);
  const secondSent = h.dropbox.uploadBytesReceived - firstSent;
  assert.equal(firstSent + secondSent, size, "every byte went to Dropbox exactly once over the two runs");
  assert.equal(h.dropbox.fileMetadata(storedPath(h))?.content_hash, h.unms.expectedContentHash(backup.id));
  t.diagnostic(`MAX_RUN_MINUTES=0.00005: run 1 sent ${firstSent} bytes and paused (${saved.bytesCommitted} saved), run 2 sent ${secondSent}; total ${size}`);
});

test("a saved upload session older than Dropbox's 7 days starts over, with a line saying so", async (t) => {
  const h = await syncHarness(t);
  const size = 8 * MiB;
  const backup = h.unms.addBackup({ size });
  const paused = await h.run(["sync"], { MAX_RUN_MINUTES: "0.00005" });
  assert.equal(paused.code, 0, explain(paused));
  // The session the paused run saved, as if it had begun eight days ago.
  const path = join(h.stateDir, UPLOAD_SESSIONS_FILE);
  const state = JSON.parse(readFileSync(path, "utf8")) as { sessions: SavedSession[] };
  assert.equal(state.sessions.length, 1);
  state.sessions[0]!.startedAt = new Date(Date.now() - 8 * 24 * 3600 * 1000).toISOString();
  writeFileSync(path, JSON.stringify(state));
  const firstSent = h.dropbox.uploadBytesReceived;

  const rerun = await h.run(["sync"]);
  assert.equal(rerun.code, 0, explain(rerun));
  assert.match(rerun.stderr, /WARNING: The unfinished upload of file .* cannot be continued: its Dropbox upload session began 8 days ago .* Dropbox keeps sessions for 7 days; it starts over/);
  assert.equal(h.dropbox.uploadBytesReceived - firstSent, size, "the whole backup was sent again");
  assert.equal(h.dropbox.fileMetadata(storedPath(h))?.content_hash, h.unms.expectedContentHash(backup.id));
});

test("local-folder target: a paused copy is continued from its partial file, which is gone after the run", async (t) => {
  const h = await syncHarness(t);
  const target = join(h.root, "nas");
  // The local store saves its partial file every 32 MiB (not a setting): one checkpoint and a rest.
  const size = 40 * MiB;
  const backup = h.unms.addBackup({ size });
  const env = { TARGET_DIR: target };

  const paused = await h.run(["sync", "--json"], { ...env, MAX_RUN_MINUTES: "0.00005" });
  assert.equal(paused.code, 0, explain(paused));
  assert.equal((lastJsonLine(paused).resumable as string[]).length, 1);
  const partials = readdirSync(join(target, FOLDER)).filter((n) => n.startsWith(".backup-sync-partial-"));
  assert.equal(partials.length, 1, "the paused copy keeps its partial file");
  const saved = savedSessions(h)[0]!;
  const unmsBefore = h.unms.downloadBytesSent;

  const finished = await h.run(["sync"], env);
  assert.equal(finished.code, 0, explain(finished));
  assert.match(finished.stderr, new RegExp(`Continuing the unfinished copy of .*${backup.id}\\.unms from byte ${saved.bytesCommitted}`));
  const unmsSent = h.unms.downloadBytesSent - unmsBefore;
  assert.equal(unmsSent, size - saved.bytesCommitted, "only the rest was downloaded (Range)");
  const names = readdirSync(join(target, FOLDER));
  assert.equal(names.length, 1, `no partial file is left: ${names.join(", ")}`);
  assert.equal(await contentHashOfFile(join(target, FOLDER, names[0]!)), h.unms.expectedContentHash(backup.id));
  t.diagnostic(`local store: paused at ${saved.bytesCommitted} of ${size} bytes; run 2 downloaded ${unmsSent} bytes`);
});

test("a UNMS that never answers the download costs the run its budget plus a short grace, not minutes of retries", { timeout: 60_000 }, async (t) => {
  const h = await syncHarness(t);
  h.unms.addBackup({ size: 8 * MiB });
  // The download request is accepted and never answered (UNMS's own 60 s timeout x 4 attempts otherwise).
  let downloadAsked!: () => void;
  const asked = new Promise<void>((resolve) => (downloadAsked = resolve));
  h.unmsOverrides.push(
    http.get("*/api/v2.1/nms/backups/:id", () => {
      downloadAsked();
      return new Promise<Response>(() => undefined);
    }),
  );
  // The hard stop is a timer: mocked, so the test moves time on instead of sleeping through it. A
  // 30 s budget (+ 5 s grace) stays below UNMS's 60 s request timeout, which must not fire first.
  t.mock.timers.enable({ apis: ["setTimeout"] });
  const budgetAndGraceMs = 30_000 + 5_000;
  let ended = false;
  const running = h.run(["sync"], { MAX_RUN_MINUTES: "0.5" }).finally(() => (ended = true));
  await asked;
  t.mock.timers.tick(budgetAndGraceMs - 1);
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
  assert.equal(ended, false, "the run must wait out its budget and the grace");
  t.mock.timers.tick(1);
  const run = await running;
  assert.equal(run.code, 1, explain(run));
  assert.match(run.output, /The run was stopped 5 s after its time budget \(MAX_RUN_MINUTES \/ maxRunMinutes: 0\.5 min\) because a call to UNMS or Dropbox was still not answered/);
  assert.doesNotMatch(run.output, /Retrying/, "no retry may start past the budget");
  t.diagnostic(`UNMS never answering, MAX_RUN_MINUTES=0.5 (30 s): still running at ${budgetAndGraceMs - 1} ms of mocked time, exit ${run.code} at ${budgetAndGraceMs} ms`);
});
