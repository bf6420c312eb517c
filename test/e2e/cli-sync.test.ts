/**
 * The built command line (dist/cli.mjs) syncing FakeUnms into FakeDropbox over loopback sockets:
 * names, idempotence, deletions and their guards, dry run, JSON summary, configuration errors,
 * faults on both sides, the local-folder target and the run lock. Every run is also checked for
 * leaked secrets by the harness.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { http, HttpResponse } from "msw";
import { rateLimitedFault, serverErrorFault } from "../../src/testing/fakes/dropbox.ts";
import { guid } from "../../src/testing/fakes/unms.ts";
import { explain, inFolder, lastJsonLine, MiB, startHarness, type Harness, type HarnessOptions } from "./helpers.ts";

const FOLDER = "Backups";

/** A harness already authorized with a refresh token, as after the first-run dance. */
async function syncHarness(t: TestContext, options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness(options);
  t.after(() => h.close());
  h.baseEnv.DROPBOX_REFRESH_TOKEN = h.dropbox.issueRefreshToken();
  return h;
}

function uploadRequests(h: Harness): number {
  return (
    h.dropbox.requestCount("files/upload") +
    h.dropbox.requestCount("files/upload_session/start") +
    h.dropbox.requestCount("files/upload_session/append_v2") +
    h.dropbox.requestCount("files/upload_session/finish")
  );
}

function storedNames(h: Harness, folder = FOLDER): string[] {
  const prefix = `/${folder}/`.toLowerCase();
  return h.dropbox
    .listFiles()
    .filter((f) => f.path.toLowerCase().startsWith(prefix) && !f.path.slice(prefix.length).includes("/"))
    .map((f) => f.path.slice(prefix.length))
    .sort();
}

/** Adds `count` 1 MiB success backups at distinct hours and syncs them; returns their file names. */
async function seedSynced(h: Harness, count: number): Promise<{ ids: string[]; names: string[] }> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push(h.unms.addBackup({ id: guid(`seed-${i}`), createdAt: `2024-03-0${i + 1}T10:00:00Z`, size: MiB }).id);
  }
  const run = await h.run(["sync"]);
  assert.equal(run.code, 0, explain(run));
  // March 2024 before the DST switch: Prague is UTC+1.
  const names = ids.map((id, i) => `unms-backup-2024030${i + 1}-1100_${id}.unms`);
  assert.deepEqual(storedNames(h).filter((n) => /^unms-backup-\d/.test(n)), [...names].sort());
  return { ids, names };
}

// Spawned smoke tests (the built dist/cli.mjs): this one and the usage errors below; the rest run in process.
test("first sync uploads every success backup under its NMS-time-zone name and skips the others", async (t) => {
  const h = await syncHarness(t, { spawn: true });
  // 22:30 UTC in July is 00:30 the next day in Prague (UTC+2): the date rolls over.
  const summer = h.unms.addBackup({ id: guid("0aa11bb2-summer"), createdAt: "2024-07-15T22:30:00Z", size: 5 * MiB });
  const winter = h.unms.addBackup({ id: guid("0aa11bb2-winter"), createdAt: "2024-01-10T08:05:00Z", size: MiB + 12345 });
  const running = h.unms.addBackup({ id: guid("0aa11bb2-running"), createdAt: "2024-07-16T01:00:00Z", state: "in-progress" });
  const broken = h.unms.addBackup({ id: guid("0aa11bb2-broken"), createdAt: "2024-07-16T02:00:00Z", state: "failed" });

  const run = await h.run(["sync"]);
  assert.equal(run.code, 0, explain(run));
  const summerName = `unms-backup-20240716-0030_${summer.id}.unms`;
  const winterName = `unms-backup-20240110-0905_${winter.id}.unms`;
  assert.deepEqual(storedNames(h), [winterName, summerName].sort());
  assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, summerName))?.content_hash, h.unms.expectedContentHash(summer.id));
  assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, winterName))?.content_hash, h.unms.expectedContentHash(winter.id));
  assert.ok(h.dropbox.requestCount("files/upload_session/append_v2") + h.dropbox.requestCount("files/upload_session/finish") > 0, "5 MiB with 4 MiB chunks must use an upload session");
  assert.match(run.stdout, new RegExp(`Not copied: backup ${running.id}\\b.*in-progress`));
  assert.match(run.stdout, new RegExp(`Not copied: backup ${broken.id}\\b.*failed`));
  assert.match(run.stdout, /time zone Europe\/Prague/);
  assert.match(run.stdout, /Sync finished: 2 uploaded/);

  const before = uploadRequests(h);
  const rerun = await h.run(["sync"]);
  assert.equal(rerun.code, 0, explain(rerun));
  assert.equal(uploadRequests(h) - before, 0, "a rerun must not upload anything");
  assert.match(rerun.stdout, new RegExp(`Already stored: ${summerName}`));
  assert.match(rerun.stdout, /0 uploaded, 2 already stored, 0 deleted/);
  assert.deepEqual(storedNames(h), [winterName, summerName].sort());
});

test("a backup removed from UNMS is deleted from Dropbox; files that are not ours are never touched", async (t) => {
  const h = await syncHarness(t);
  const foreign = [
    inFolder(FOLDER, "notes.txt"),
    inFolder(FOLDER, "unms-backup-final.unms"),
    inFolder(FOLDER, `old/unms-backup-20200101-0000_${guid("seed-0")}.unms`),
    `/unms-backup-20200101-0000_${guid("seed-1")}.unms`,
  ];
  for (const path of foreign) h.dropbox.putFile(path, `kept: ${path}\n`);
  const { ids, names } = await seedSynced(h, 3);

  h.unms.removeBackup(ids[1]!);
  const run = await h.run(["sync"]);
  assert.equal(run.code, 0, explain(run));
  assert.match(run.stdout, new RegExp(`Deleted ${names[1]}`));
  assert.deepEqual(storedNames(h), [names[0]!, names[2]!, "notes.txt", "unms-backup-final.unms"].sort());
  for (const path of foreign) assert.ok(h.dropbox.hasFile(path), `${path} must never be touched`);
  assert.equal(h.dropbox.requestCount("files/delete_v2"), 1);
});

test("empty-list guard: UNMS listing nothing deletes nothing, says why and what to do, exits 1 (UNMS makes no backups)", async (t) => {
  const h = await syncHarness(t);
  const { ids, names } = await seedSynced(h, 2);
  for (const id of ids) h.unms.removeBackup(id);

  const run = await h.run(["sync"]);
  // Issue 11: a UNMS without a successful backup is a failure of the chain, not a quiet success.
  assert.equal(run.code, 1, explain(run));
  assert.match(run.stderr, /^ERROR: UNMS lists no successful backup \(0 backup\(s\) listed in total\)/m);
  assert.match(run.stderr, /Check that UNMS is creating backups/);
  assert.deepEqual(storedNames(h), [...names].sort());
  assert.equal(h.dropbox.requestCount("files/delete_v2"), 0);
});

test("mass-delete guard holds back deleting more than half, --allow-mass-delete lifts it", async (t) => {
  const h = await syncHarness(t);
  const { ids, names } = await seedSynced(h, 4);
  for (const id of ids.slice(0, 3)) h.unms.removeBackup(id);

  const guarded = await h.run(["sync", "--json"]);
  assert.equal(guarded.code, 0, explain(guarded));
  assert.match(guarded.stdout, /3 of 4 backup file\(s\) would be deleted, more than the allowed 2/);
  assert.match(guarded.stdout, /--allow-mass-delete/);
  assert.equal(lastJsonLine(guarded).guarded.length, 1);
  assert.deepEqual(lastJsonLine(guarded).deleted, []);
  assert.deepEqual(storedNames(h), [...names].sort());

  const allowed = await h.run(["sync", "--allow-mass-delete"]);
  assert.equal(allowed.code, 0, explain(allowed));
  assert.deepEqual(storedNames(h), [names[3]!]);
  assert.match(allowed.stdout, /3 deleted/);
});

test("MAX_DELETES sets how many deletions one run may do", async (t) => {
  const h = await syncHarness(t);
  const { ids, names } = await seedSynced(h, 4);
  h.unms.removeBackup(ids[0]!);
  h.unms.removeBackup(ids[1]!);

  const held = await h.run(["sync"], { MAX_DELETES: "1" });
  assert.equal(held.code, 0, explain(held));
  assert.match(held.stderr, /2 of 4 backup file\(s\) would be deleted, more than the allowed 1/);
  assert.deepEqual(storedNames(h), [...names].sort());

  const done = await h.run(["sync"], { MAX_DELETES: "2" });
  assert.equal(done.code, 0, explain(done));
  assert.deepEqual(storedNames(h), [names[2]!, names[3]!].sort());

  const bad = await h.run(["sync"], { MAX_DELETES: "lots" });
  assert.equal(bad.code, 2, explain(bad));
  assert.match(bad.output, /MAX_DELETES/);
});

test("--dry-run changes nothing and says what it would upload and delete", async (t) => {
  const h = await syncHarness(t);
  const fresh = h.unms.addBackup({ id: guid("dry-new"), createdAt: "2024-05-01T12:00:00Z", size: 2 * MiB });
  const staleName = `unms-backup-20230101-0100_${guid("dry-gone")}.unms`;
  h.dropbox.putFile(inFolder(FOLDER, staleName), "an old copy whose backup UNMS no longer lists");
  const before = h.dropbox.listFiles();
  const requestsBefore = uploadRequests(h);

  const run = await h.run(["sync", "--dry-run", "--json"]);
  assert.equal(run.code, 0, explain(run));
  const freshName = `unms-backup-20240501-1400_${fresh.id}.unms`;
  assert.match(run.stderr, /Dry run: nothing will be changed/);
  assert.match(run.stderr, new RegExp(`Would upload ${freshName}`));
  assert.match(run.stderr, new RegExp(`Would delete ${staleName}`));
  const summary = lastJsonLine(run);
  assert.equal(summary.dryRun, true);
  assert.deepEqual(summary.uploaded, [freshName]);
  assert.deepEqual(summary.deleted, [staleName]);
  assert.deepEqual(h.dropbox.listFiles(), before);
  assert.equal(uploadRequests(h), requestsBefore);
  assert.equal(h.dropbox.requestCount("files/delete_v2"), 0);
  assert.equal(h.unms.requestCounts.download, 0, "a dry run downloads nothing");
});

test("a dry run over 1,200 backups prints 1,000 \"Would upload\" lines and a count; --json still names all 1,200", async (t) => {
  const h = await syncHarness(t);
  for (let i = 0; i < 1200; i++) h.unms.addBackup({ id: guid(`many-${i}`), createdAt: new Date(Date.UTC(2024, 0, 1) + i * 3_600_000).toISOString(), size: 16 });

  const run = await h.run(["sync", "--dry-run", "--json"], { MAX_BACKUP_AGE_HOURS: "87600" });
  assert.equal(run.code, 0, explain(run));
  assert.equal(run.stderr.split("\n").filter((line) => line.startsWith("Would upload ")).length, 1000);
  assert.match(run.stderr, /\.\.\. and 200 more backup\(s\) would be uploaded \(not listed one by one\)\n/);
  assert.match(run.stderr, /Dry run finished: 1200 would be uploaded/);
  const summary = lastJsonLine(run);
  assert.equal(summary.uploaded.length, 1200);
  assert.equal(new Set(summary.uploaded).size, 1200);
});

test("--json ends stdout with the summary: uploaded, skipped, deleted, failed, guarded, bytesUploaded, uploads", async (t) => {
  const h = await syncHarness(t);
  const a = h.unms.addBackup({ id: guid("json-a"), createdAt: "2024-02-01T00:00:00Z", size: 3 * MiB });
  const b = h.unms.addBackup({ id: guid("json-b"), createdAt: "2024-02-02T00:00:00Z", size: 1 * MiB + 7 });

  const run = await h.run(["sync", "--json"]);
  assert.equal(run.code, 0, explain(run));
  const summary = lastJsonLine(run);
  for (const key of ["uploaded", "skipped", "deleted", "failed", "guarded", "bytesUploaded", "uploads"]) {
    assert.ok(key in summary, `the JSON summary lacks "${key}"`);
  }
  const nameA = `unms-backup-20240201-0100_${a.id}.unms`;
  const nameB = `unms-backup-20240202-0100_${b.id}.unms`;
  assert.deepEqual([...summary.uploaded].sort(), [nameA, nameB]);
  assert.deepEqual(summary.skipped, []);
  assert.deepEqual(summary.deleted, []);
  assert.deepEqual(summary.failed, []);
  assert.deepEqual(summary.guarded, []);
  assert.equal(summary.bytesUploaded, 4 * MiB + 7);
  assert.deepEqual(summary.uploads.map((u) => [u.name, u.bytes]).sort(), [
    [nameA, 3 * MiB],
    [nameB, MiB + 7],
  ]);
  for (const upload of summary.uploads) assert.ok(Number.isFinite(upload.durationMs) && upload.durationMs >= 0);

  const rerun = lastJsonLine(await h.run(["sync", "--json"]));
  assert.deepEqual(rerun.uploaded, []);
  assert.deepEqual([...rerun.skipped].sort(), [nameA, nameB]);
  assert.equal(rerun.bytesUploaded, 0);
});

test("a wrong UNMS token exits 1 naming UNMS, 401 and UNMS_API_TOKEN, and prints no token", async (t) => {
  const h = await syncHarness(t);
  h.unms.addBackup({ size: MiB });
  const wrong = `wrong-unms-token-${Date.now()}`;

  const run = await h.run(["sync"], { UNMS_API_TOKEN: wrong });
  assert.equal(run.code, 1, explain(run));
  assert.match(run.output, /UNMS/);
  assert.match(run.output, /401/);
  assert.match(run.output, /UNMS_API_TOKEN/);
  assert.deepEqual(h.dropbox.listFiles(), []);
});

test("a missing UNMS_URL exits 2 naming the variable; an unknown flag exits 2", async (t) => {
  const h = await syncHarness(t, { spawn: true });
  const missing = await h.run(["sync"], { UNMS_URL: undefined });
  assert.equal(missing.code, 2, explain(missing));
  assert.match(missing.output, /UNMS_URL/);

  const flag = await h.run(["sync", "--no-such-flag"]);
  assert.equal(flag.code, 2, explain(flag));
  assert.match(flag.output, /no-such-flag/);
  assert.match(flag.output, /--help/);
  assert.equal(h.unms.requestCount, 0);
  assert.equal(h.dropbox.requestCount(), 0);
});

test("when the NMS settings endpoint fails, names use UTC and a warning says so", async (t) => {
  const h = await syncHarness(t, { timezone: null });
  const backup = h.unms.addBackup({ id: guid("utc-one"), createdAt: "2024-07-15T22:30:00Z", size: MiB });

  const run = await h.run(["sync"]);
  assert.equal(run.code, 0, explain(run));
  assert.match(run.stderr, /WARNING: .*time zone.*UTC/);
  assert.deepEqual(storedNames(h), [`unms-backup-20240715-2230_${backup.id}.unms`]);
});

test("a non-ASCII DROPBOX_FOLDER works, and a rerun finds its files", async (t) => {
  const h = await syncHarness(t);
  const folder = "Zálohy/UISP 💾";
  const backup = h.unms.addBackup({ id: guid("unicode-1"), createdAt: "2024-02-01T00:00:00Z", size: 2 * MiB });

  const run = await h.run(["sync"], { DROPBOX_FOLDER: folder });
  assert.equal(run.code, 0, explain(run));
  const name = `unms-backup-20240201-0100_${backup.id}.unms`;
  assert.ok(h.dropbox.hasFile(`/${folder}/${name}`), `expected /${folder}/${name}; Dropbox holds ${JSON.stringify(h.dropbox.listFiles())}`);
  assert.equal(h.dropbox.fileMetadata(`/${folder}/${name}`)?.content_hash, h.unms.expectedContentHash(backup.id));

  const before = uploadRequests(h);
  const rerun = await h.run(["sync"], { DROPBOX_FOLDER: folder });
  assert.equal(rerun.code, 0, explain(rerun));
  assert.equal(uploadRequests(h), before);
  assert.match(rerun.stdout, /1 already stored/);
});

test("TARGET_DIR writes whole files (no temporary files left) and mirrors deletions, without Dropbox", async (t) => {
  const h = await syncHarness(t);
  const target = join(h.root, "local copies");
  const a = h.unms.addBackup({ id: guid("local-a"), createdAt: "2024-02-01T00:00:00Z", size: 3 * MiB });
  const b = h.unms.addBackup({ id: guid("local-b"), createdAt: "2024-02-02T00:00:00Z", size: MiB });
  const env = { TARGET_DIR: target, DROPBOX_FOLDER: undefined, DROPBOX_APP_KEY: undefined, DROPBOX_APP_SECRET: undefined, DROPBOX_REFRESH_TOKEN: undefined };

  const run = await h.run(["sync"], env);
  assert.equal(run.code, 0, explain(run));
  const nameA = `unms-backup-20240201-0100_${a.id}.unms`;
  const nameB = `unms-backup-20240202-0100_${b.id}.unms`;
  assert.deepEqual(readdirSync(target).sort(), [nameA, nameB], "only the backups, no temporary files");
  assert.deepEqual(new Uint8Array(readFileSync(join(target, nameA))), h.unms.expectedBytes(a.id));
  assert.deepEqual(new Uint8Array(readFileSync(join(target, nameB))), h.unms.expectedBytes(b.id));

  h.unms.removeBackup(a.id);
  const again = await h.run(["sync"], env);
  assert.equal(again.code, 0, explain(again));
  assert.deepEqual(readdirSync(target), [nameB]);
  assert.equal(h.dropbox.requestCount(), 0, "TARGET_DIR must not talk to Dropbox");
});

test("a download that resets mid-way is started over and succeeds", async (t) => {
  const h = await syncHarness(t);
  const backup = h.unms.addBackup({ id: guid("flaky-1"), createdAt: "2024-02-01T00:00:00Z", size: 6 * MiB });
  h.unms.injectFault("download", { type: "reset-after", bytes: 5 * MiB }, 1);

  const run = await h.run(["sync", "--json"]);
  assert.equal(run.code, 0, explain(run));
  const name = `unms-backup-20240201-0100_${backup.id}.unms`;
  assert.match(run.stderr, new RegExp(`Retrying ${name}`));
  assert.deepEqual(lastJsonLine(run).uploaded, [name]);
  assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, name))?.content_hash, h.unms.expectedContentHash(backup.id));
  assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, name))?.size, 6 * MiB);
});

test("a backup whose download always breaks fails alone: the others are uploaded, exit 1, failed[] names it", async (t) => {
  const h = await syncHarness(t);
  const good1 = h.unms.addBackup({ id: guid("good-1"), createdAt: "2024-02-01T00:00:00Z", size: MiB });
  const bad = h.unms.addBackup({ id: guid("always-breaks"), createdAt: "2024-02-02T00:00:00Z", size: 2 * MiB });
  const good2 = h.unms.addBackup({ id: guid("good-2"), createdAt: "2024-02-03T00:00:00Z", size: MiB });
  let badDownloads = 0;
  h.unmsOverrides.push(
    http.get(`*/nms/api/v2.1/nms/backups/${bad.id}`, () => {
      badDownloads += 1;
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (!sent) {
            sent = true;
            controller.enqueue(new Uint8Array(256 * 1024));
          } else controller.error(new Error("the e2e test breaks this download"));
        },
      });
      return new HttpResponse(body, { headers: { "content-type": "application/octet-stream", "content-length": String(2 * MiB) } });
    }),
  );

  const run = await h.run(["sync", "--json"]);
  assert.equal(run.code, 1, explain(run));
  const badName = `unms-backup-20240202-0100_${bad.id}.unms`;
  const summary = lastJsonLine(run);
  assert.deepEqual(summary.failed.map((f) => f.name), [badName]);
  assert.ok(summary.failed[0]!.error.length > 20, `the error must say what happened: ${summary.failed[0]!.error}`);
  assert.deepEqual(storedNames(h), [`unms-backup-20240201-0100_${good1.id}.unms`, `unms-backup-20240203-0100_${good2.id}.unms`]);
  assert.ok(badDownloads >= 2, `the broken download must be retried (it was tried ${badDownloads} time(s))`);
  assert.match(run.stderr, new RegExp(`ERROR: ${badName}`));
});

test("Dropbox 429 and 503 answered once are retried and the sync still succeeds", async (t) => {
  const h = await syncHarness(t);
  const backup = h.unms.addBackup({ id: guid("busy-1"), createdAt: "2024-02-01T00:00:00Z", size: 9 * MiB });
  h.dropbox.injectFault("files/list_folder", serverErrorFault(503));
  h.dropbox.injectFault("files/upload_session/start", rateLimitedFault("too_many_write_operations", 0));
  h.dropbox.injectFault("files/upload_session/append_v2", serverErrorFault(503));
  h.dropbox.injectFault("files/upload_session/finish", rateLimitedFault("too_many_requests", 0));

  const run = await h.run(["sync"]);
  assert.equal(run.code, 0, explain(run));
  const name = `unms-backup-20240201-0100_${backup.id}.unms`;
  assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, name))?.content_hash, h.unms.expectedContentHash(backup.id));
  const statuses = h.dropbox.requests.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 429).length, 2);
  assert.equal(statuses.filter((s) => s === 503).length, 2);
});

test("a second run while the lock is held exits 1 and does nothing", async (t) => {
  const h = await syncHarness(t);
  h.unms.addBackup({ size: MiB });
  const lock = await h.holdLock(process.pid);

  const run = await h.run(["sync"]);
  assert.equal(run.code, 1, explain(run));
  assert.match(run.output, /Another sync run is in progress/);
  assert.match(run.output, new RegExp(`pid ${process.pid}`));
  assert.ok(existsSync(lock), "the other run's lock must stay");
  assert.equal(h.dropbox.requestCount(), 0);
  assert.equal(h.unms.requestCount, 0);
});

test("issue 9: a failed item with createdAt: null and a success item with a bad date never block the others", async (t) => {
  const h = await syncHarness(t);
  const good = h.unms.addBackup({ id: guid("fine"), createdAt: "2024-02-01T00:00:00Z", size: MiB });
  h.unms.addListItem({ id: guid("failed-null"), state: "failed", createdAt: null, size: null, origin: "auto", compatible: false, unmsVersion: null });
  h.unms.addListItem({ id: guid("bad-date"), state: "success", createdAt: "not a date", size: 10, origin: "manual", compatible: true, unmsVersion: { major: 2, minor: 4, patch: 211 } });

  const run = await h.run(["sync", "--json"]);
  assert.equal(run.code, 0, explain(run));
  assert.deepEqual(storedNames(h), [`unms-backup-20240201-0100_${good.id}.unms`]);
  const summary = lastJsonLine(run);
  assert.deepEqual(summary.ignored, [
    { backupId: guid("failed-null"), reason: 'its state is "failed", not "success"' },
    { backupId: guid("bad-date"), reason: 'its createdAt "not a date" is not an ISO-8601 date' },
  ]);
});

test("issue 9: three runs against a UNMS whose listed size is wrong upload each backup once and warn once", async (t) => {
  const h = await syncHarness(t);
  const kib = h.unms.addBackup({ id: guid("kib-rounded"), createdAt: "2024-02-01T00:00:00Z", size: MiB + 1000, listedSize: MiB + 1024 });
  const off = h.unms.addBackup({ id: guid("off-by-one"), createdAt: "2024-02-02T00:00:00Z", size: 2 * MiB, listedSize: 2 * MiB - 1 });
  const runs = [];
  for (let i = 0; i < 3; i++) {
    const run = await h.run(["sync", "--json"]);
    assert.equal(run.code, 0, explain(run));
    runs.push(lastJsonLine(run));
  }
  assert.deepEqual(runs.map((r) => r.uploaded.length), [2, 0, 0]);
  assert.deepEqual(runs.map((r) => r.bytesUploaded), [3 * MiB + 1000, 0, 0]);
  assert.equal(h.unms.requestCounts.download, 2, "each backup downloaded once in three runs");
  const warnings = runs.flatMap((r) => r.warnings as string[]);
  assert.equal(warnings.length, 2, warnings.join("\n"));
  assert.match(warnings[0]!, new RegExp(`UNMS lists backup ${kib.id} as ${MiB + 1024} bytes, but its download sent ${MiB + 1000} bytes`));
  assert.match(warnings[1]!, new RegExp(`UNMS lists backup ${off.id} as ${2 * MiB - 1} bytes, but its download sent ${2 * MiB} bytes`));
  const ledger = JSON.parse(readFileSync(join(h.stateDir, "downloads.json"), "utf8"));
  assert.deepEqual(ledger.backups[kib.id], { bytes: MiB + 1000, verified: true });
});

test("issue 9: an HTML 200 or an empty 200 is refused and nothing stored; a copy cut short is repaired by the next honest run", async (t) => {
  const h = await syncHarness(t);
  const backup = h.unms.addBackup({ id: guid("proxied"), createdAt: "2024-02-01T00:00:00Z", size: 3 * MiB });
  const name = `unms-backup-20240201-0100_${backup.id}.unms`;

  h.unms.injectFault("download", { type: "login-page" });
  const page = await h.run(["sync"]);
  assert.equal(page.code, 1, explain(page));
  assert.match(page.output, new RegExp(`Refused the download of UNMS backup "${backup.id}" .*content-type text/html; charset=utf-8, starting "<!DOCTYPE html><html><head><title>Sign in`));
  assert.deepEqual(storedNames(h), []);

  h.unms.injectFault("download", { type: "empty-body" });
  const empty = await h.run(["sync"]);
  assert.equal(empty.code, 1, explain(empty));
  assert.match(empty.output, new RegExp(`Refused the download of UNMS backup "${backup.id}" .*an empty body \\((0 bytes|content-length 0)\\)`));
  assert.deepEqual(storedNames(h), []);

  // A body cut short with no length declared looks complete: it is stored, and said to be short.
  h.unms.injectFault("download", { type: "cut-short-unannounced", bytes: MiB });
  const cut = await h.run(["sync", "--json"]);
  assert.equal(cut.code, 0, explain(cut));
  assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, name))?.size, MiB);
  assert.match((lastJsonLine(cut).warnings as string[]).join("\n"), new RegExp(`as ${3 * MiB} bytes, but its download sent ${MiB} bytes.*downloads it once more`));

  const honest = await h.run(["sync", "--json"]);
  assert.equal(honest.code, 0, explain(honest));
  assert.match(honest.stderr, new RegExp(`Replacing ${name}: the copy holds ${MiB} bytes, fewer than the ${3 * MiB} bytes UNMS lists`));
  assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, name))?.size, 3 * MiB);
  assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, name))?.content_hash, h.unms.expectedContentHash(backup.id));

  const after = lastJsonLine(await h.run(["sync", "--json"]));
  assert.deepEqual(after.uploaded, []);
  assert.deepEqual(after.skipped, [name]);
});

test("issue 9: a reset NMS with one new backup deletes none of the old copies, even with --allow-mass-delete", async (t) => {
  const h = await syncHarness(t);
  const { ids, names } = await seedSynced(h, 4);
  for (const id of ids) h.unms.removeBackup(id);
  const fresh = h.unms.addBackup({ id: guid("after-reinstall"), createdAt: "2024-06-01T10:00:00Z", size: MiB });

  const run = await h.run(["sync", "--allow-mass-delete", "--json"]);
  assert.equal(run.code, 0, explain(run));
  assert.match(run.stdout, /None of the 1 successful backup\(s\) UNMS lists matches any of the 4 backup file\(s\) in the folder, so none were deleted \(was UNMS reinstalled, or does this folder hold another NMS's backups\?\)/);
  assert.match(run.stdout, /no setting lifts this guard/);
  assert.deepEqual(storedNames(h), [...names, `unms-backup-20240601-1200_${fresh.id}.unms`].sort());
  assert.equal(h.dropbox.requestCount("files/delete_v2"), 0);
  assert.deepEqual(lastJsonLine(run).deleted, []);
});

test("issue 9: a UNMS_URL without /nms fails as it would in the field, naming the setting", async (t) => {
  const h = await syncHarness(t);
  h.unms.addBackup({ size: MiB });
  const run = await h.run(["sync"], { UNMS_URL: h.unmsServer.url });
  assert.equal(run.code, 1, explain(run));
  assert.match(run.output, /UNMS has no GET nms\/backups at 127\.0\.0\.1:\d+\/api\/v2\.1\/nms\/backups \(HTTP 404/);
  assert.match(run.output, /UNMS_URL/);
});

test("TARGET_DIR or STATE_DIR that is a file: exit 2 with one line naming the setting, before any download", async (t) => {
  const h = await syncHarness(t);
  h.unms.addBackup({ id: guid("folder-check"), createdAt: "2024-03-01T10:00:00Z", size: MiB });
  const { writeFileSync } = await import("node:fs");
  const file = join(h.root, "a-file");
  writeFileSync(file, "not a folder");
  const target = await h.run(["sync"], { TARGET_DIR: file });
  assert.equal(target.code, 2, explain(target));
  assert.equal(target.output.match(/^ERROR: /gm)?.length, 1, explain(target));
  assert.match(target.output, new RegExp(`ERROR: TARGET_DIR ${file} is a file, not a folder: point it at a folder \\(or remove the file\\)\\. Nothing was downloaded\\.`));
  assert.doesNotMatch(target.output, /ENOTDIR|EEXIST/);
  const state = await h.run(["sync"], { STATE_DIR: file });
  assert.equal(state.code, 2, explain(state));
  assert.match(state.output, /ERROR: STATE_DIR .* is a file, not a folder/);
  assert.equal(h.unms.requestCounts.download, 0, "nothing was downloaded");
  assert.equal(h.unms.requestCounts.list, 0, "UNMS was not even asked");
});

/**
 * A small tmpfs mounted for one test (tests run as root; the mount is removed after the test), so a
 * full disk and a read-only file system are the kernel's own ENOSPC and EROFS.
 */
const mounted: string[] = [];

async function unmountAll(): Promise<void> {
  const { execFileSync } = await import("node:child_process");
  for (const dir of mounted.splice(0)) execFileSync("umount", ["-l", dir], { stdio: "pipe" });
}

async function smallFileSystem(h: Harness, options: string): Promise<string> {
  const { execFileSync } = await import("node:child_process");
  const { mkdirSync } = await import("node:fs");
  const dir = join(h.root, `fs-${options.replace(/\W/g, "")}`);
  mkdirSync(dir);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", options, "tmpfs", dir], { stdio: "pipe" });
  } catch (error) {
    assert.fail(`this test mounts a tmpfs and must run as root with mount rights: ${String(error)}`);
  }
  mounted.push(dir);
  return dir;
}

test("TARGET_DIR on a full disk: names the folder and how much to free, leaves no partial file; a read-only one is exit 2 before any download", async (t) => {
  const h = await syncHarness(t);
  h.unms.addBackup({ id: guid("full-disk"), createdAt: "2024-03-01T10:00:00Z", size: 2 * MiB });
  const env = { DROPBOX_FOLDER: undefined, DROPBOX_APP_KEY: undefined, DROPBOX_APP_SECRET: undefined, DROPBOX_REFRESH_TOKEN: undefined };

  try {
    const full = await smallFileSystem(h, "size=1m");
    const run = await h.run(["sync"], { ...env, TARGET_DIR: full });
    assert.equal(run.code, 1, explain(run));
    assert.match(run.output, new RegExp(`the disk holding ${full} is full\\. Free at least 2097152 bytes \\(2\\.0 MiB, the backup's size\\) there`));
    assert.doesNotMatch(run.output, /ENOSPC: no space left/);
    assert.deepEqual(readdirSync(full), [], "the unfinished copy was removed");

    const readOnly = await smallFileSystem(h, "ro,size=1m");
    const before = h.unms.requestCounts.download;
    const ro = await h.run(["sync"], { ...env, TARGET_DIR: readOnly });
    assert.equal(ro.code, 2, explain(ro));
    assert.match(ro.output, new RegExp(`ERROR: TARGET_DIR ${readOnly} cannot be written to: it is on a read-only file system; remount it read-write or choose another folder\\. Nothing was downloaded\\.`));
    assert.equal(h.unms.requestCounts.download, before, "nothing was downloaded");
  } finally {
    await unmountAll();
  }
});
