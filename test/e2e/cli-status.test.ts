/**
 * Issue 11 against the loopback fakes, in process through main(): staleness fails the run and the
 * status, health-check pings (/start, then /<exit code>) that never leak their URL, the run record,
 * `list`, and `restore` (verified, atomic, refusing to overwrite, leaving nothing when corrupted).
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { guid } from "../../src/testing/fakes/unms.ts";
import { explain, MiB, startHarness, type Harness, type HarnessOptions } from "./helpers.ts";
import { startHealthcheckReceiver, type HealthcheckReceiver } from "./healthcheck-receiver.ts";

const HOUR = 3_600_000;
const NOW = Date.parse("2026-12-02T12:00:00Z");

async function harness(t: TestContext, options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness(options);
  t.after(() => h.close());
  h.baseEnv.DROPBOX_REFRESH_TOKEN = h.dropbox.issueRefreshToken();
  // The real default (48 h) and a fixed clock: the fixtures' ages are exact.
  delete h.baseEnv.MAX_BACKUP_AGE_HOURS;
  h.now = () => NOW;
  return h;
}

async function receiver(t: TestContext, h: Harness): Promise<{ hc: HealthcheckReceiver; url: string }> {
  const hc = await startHealthcheckReceiver();
  t.after(() => hc.close());
  const token = `${randomBytes(8).toString("hex")}-${randomBytes(12).toString("hex")}`;
  const url = `${hc.url}/ping/${token}`;
  // The harness fails any run whose output holds one of these (or its first 12 characters).
  h.extraSecrets.push(token, `/ping/${token}`);
  return { hc, url };
}

function assertNotIn(text: string, secret: string, what: string): void {
  assert.ok(!text.includes(secret), `${what} must not contain the health-check URL`);
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

test("a UNMS whose newest backup is 3 days old: sync copies it, says so and exits 1; status --json is unhealthy with that problem", async (t) => {
  const h = await harness(t);
  const old = h.unms.addBackup({ id: guid("stale-1"), createdAt: new Date(NOW - 72 * HOUR).toISOString(), size: MiB });

  const run = await h.run(["sync"]);
  assert.equal(run.code, 1, explain(run));
  const line = `ERROR: UNMS's newest successful backup is 3 days old (backup ${old.id}, made ${new Date(NOW - 72 * HOUR).toISOString()}), older than MAX_BACKUP_AGE_HOURS (48 h)`;
  assert.ok(run.stderr.includes(line), `expected the staleness line\n${explain(run)}`);
  assert.match(run.stderr, /Network -> Settings -> Backups/);
  assert.match(run.stdout, /1 uploaded/, "what exists is still synced");

  const status = await h.run(["status", "--json"]);
  assert.equal(status.code, 1, explain(status));
  const report = JSON.parse(status.stdout) as Record<string, any>;
  assert.equal(report.healthy, false);
  assert.ok(report.problems.some((p: string) => p.startsWith(line.slice("ERROR: ".length))), JSON.stringify(report.problems));
  assert.deepEqual(report.unms, { newestBackupAt: new Date(NOW - 72 * HOUR).toISOString(), successCount: 1, backupCount: 1 });
  assert.equal(report.target.copies, 1);
  assert.equal(report.target.bytes, MiB);
  assert.equal(report.target.newestCopyAt, new Date(NOW - 72 * HOUR).toISOString());
  assert.equal(report.lastRun.exitCode, 1);
  assert.equal(report.lastRun.finishedAt, new Date(NOW).toISOString());
  assert.deepEqual(report.pending, { upload: [], delete: [] });

  const text = await h.run(["status"]);
  assert.equal(text.code, 1);
  assert.match(text.stdout, /^UNMS: newest successful backup 2026-11-29T12:00:00.000Z \(3 days ago\); 1 successful of 1 listed$/m);
  assert.match(text.stdout, /^Verdict: NOT HEALTHY \(2 problems\)$/m, "stale UNMS, and the last run failed");
});

test("a fresh chain is healthy; the next run and status refer to the last successful run", async (t) => {
  const h = await harness(t);
  h.unms.addBackup({ id: guid("fresh-1"), createdAt: new Date(NOW - 30 * HOUR).toISOString(), size: MiB });
  const fresh = h.unms.addBackup({ id: guid("fresh-2"), createdAt: new Date(NOW - 6 * HOUR).toISOString(), size: 2 * MiB });

  const before = await h.run(["status", "--json"]);
  assert.equal(before.code, 1, "no copy and no run recorded yet");
  const pending = JSON.parse(before.stdout) as Record<string, any>;
  assert.equal(pending.pending.upload.length, 2);
  assert.equal(pending.lastRun, null);

  const dry = await h.run(["sync", "--dry-run", "--json"]);
  const dryUploads = (JSON.parse(dry.stdout.trim().split("\n").at(-1)!) as { uploaded: string[] }).uploaded;
  assert.deepEqual([...pending.pending.upload].sort(), [...dryUploads].sort(), "status's plan is sync --dry-run's plan");

  const run = await h.run(["sync"]);
  assert.equal(run.code, 0, explain(run));
  h.now = () => NOW + 3 * 24 * HOUR - 60_000;
  h.dropbox.injectFault("files/list_folder", { type: "network-error" }, 10);
  const failing = await h.run(["sync"]);
  assert.equal(failing.code, 1, explain(failing));
  assert.match(failing.stderr, /Last run: finished 2026-12-02T12:00:00.000Z \(2 days ago\), exit code 0\./);
  h.dropbox.clearFaults();
  h.now = () => NOW + 3 * 24 * HOUR;
  const status = await h.run(["status"]);
  assert.match(status.stdout, /last successful run: 3 days ago \(2026-12-02T12:00:00.000Z\)/, explain(status));

  h.now = () => NOW + HOUR;
  const healthy = await h.run(["sync"]);
  assert.equal(healthy.code, 0, explain(healthy));
  const json = await h.run(["status", "--json"]);
  const report = JSON.parse(json.stdout) as Record<string, any>;
  assert.equal(json.code, 0, explain(json));
  assert.equal(report.healthy, true, JSON.stringify(report.problems));
  assert.deepEqual(report.problems, []);
  assert.equal(report.unms.newestBackupAt, fresh.createdAt);
  assert.equal(report.target.copies, 2);
  assert.equal(report.target.bytes, 3 * MiB);
  assert.equal(report.lastRun.exitCode, 0);
});

test("health-check pings: /start then /0 for a good run, /start then /1 for a failing one; the URL is never printed", async (t) => {
  const h = await harness(t);
  const { hc, url } = await receiver(t, h);
  h.unms.addBackup({ id: guid("hc-1"), createdAt: new Date(NOW - HOUR).toISOString(), size: MiB });

  const good = await h.run(["sync", "--json"], { HEALTHCHECK_URL: url });
  assert.equal(good.code, 0, explain(good));
  const path = new URL(url).pathname;
  assert.deepEqual(hc.pings.map((p) => `${p.method} ${p.path}`), [`POST ${path}/start`, `POST ${path}/0`]);
  assert.match(hc.pings[1]!.body, /^Sync finished: 1 uploaded, 0 already stored, 0 deleted\./);
  assertNotIn(good.output, url, "the output of a good run");

  // A failing run: UNMS's newest backup is now stale.
  h.now = () => NOW + 72 * HOUR;
  const bad = await h.run(["sync"], { HEALTHCHECK_URL: url });
  assert.equal(bad.code, 1, explain(bad));
  assert.deepEqual(hc.pings.slice(2).map((p) => p.path), [`${path}/start`, `${path}/1`]);
  assert.match(hc.pings[3]!.body, /Sync finished with failures/);
  assert.match(hc.pings[3]!.body, /ERROR: UNMS's newest successful backup is 3 days old/);
  assertNotIn(bad.output, url, "the output of a failing run");

  // A monitor that fails, quoting the URL in its answer: a WARNING, the outcome unchanged, no URL.
  h.now = () => NOW + HOUR;
  hc.answerWith(500, (p) => `internal error handling ${url} (${p})`);
  const pingFails = await h.run(["sync", "--json"], { HEALTHCHECK_URL: url });
  assert.equal(pingFails.code, 0, explain(pingFails));
  assert.match(pingFails.stderr, /WARNING: The health-check ping "\/start" to HEALTHCHECK_URL \/ healthcheckUrl \(not shown: it is secret\) failed: HTTP 500 "internal error handling \[redacted\]/);
  assert.equal(hc.pings.filter((p) => p.path === `${path}/start`).length, 4, "one retry after a 5xx");
  assertNotIn(pingFails.output, url, "a run whose ping failed");
  const state = readFileSync(join(h.stateDir, "dropbox-authorization.json"), "utf8");
  assertNotIn(state, url, "the private state");
  assert.ok(!state.includes(new URL(url).pathname.split("/").at(-1)!), "the run record must not hold the URL's token");

  // An unreachable monitor: same.
  const closed = `http://127.0.0.1:9/ping/${new URL(url).pathname.split("/").at(-1)}`;
  const unreachable = await h.run(["sync"], { HEALTHCHECK_URL: closed });
  assert.equal(unreachable.code, 0, explain(unreachable));
  assert.match(unreachable.stderr, /WARNING: The health-check ping "\/0" to HEALTHCHECK_URL/);
  assertNotIn(unreachable.output, closed, "a run whose monitor is unreachable");

  const badSetting = await h.run(["sync"], { HEALTHCHECK_URL: `ftp://x/${new URL(url).pathname}` });
  assert.equal(badSetting.code, 2);
  assert.match(badSetting.output, /HEALTHCHECK_URL \(value not shown\) must start with http:\/\/ or https:\/\//);
});

test("list and restore: by backup id and by file name, byte-identical, refusing to overwrite without --force", async (t) => {
  const h = await harness(t);
  const a = h.unms.addBackup({ id: guid("restore-a"), createdAt: new Date(NOW - 2 * HOUR).toISOString(), size: 5 * MiB + 123 });
  const b = h.unms.addBackup({ id: guid("restore-b"), createdAt: new Date(NOW - HOUR).toISOString(), size: 1000 });
  assert.equal((await h.run(["sync"])).code, 0);

  const list = await h.run(["list", "--json"]);
  assert.equal(list.code, 0, explain(list));
  const listed = JSON.parse(list.stdout) as { copies: { name: string; backupId: string; time: string; size: number }[] };
  assert.deepEqual(listed.copies.map((c) => [c.backupId, c.size]), [[b.id, 1000], [a.id, 5 * MiB + 123]]);
  assert.equal(listed.copies[0]!.time, "2026-12-02T12:00", "the NMS's local time (Prague, UTC+1) in the name");
  const text = await h.run(["list"]);
  assert.match(text.stdout, new RegExp(`^  2026-12-02 11:00 +5\\.0 MiB  ${a.id}  unms-backup-20261202-1100_${a.id}\\.unms$`, "m"));

  const to = join(h.root, "restored.unms");
  const restore = await h.run(["restore", a.id, "--to", to]);
  assert.equal(restore.code, 0, explain(restore));
  assert.equal(sha256(readFileSync(to)), sha256(h.unms.expectedBytes(a.id)));
  assert.match(restore.stdout, /verified by content hash and size/);

  const again = await h.run(["restore", listed.copies[0]!.name, "--to", to]);
  assert.equal(again.code, 2, explain(again));
  assert.ok(again.stderr.includes(`${to} already exists; it was left as it is`), explain(again));
  assert.equal(sha256(readFileSync(to)), sha256(h.unms.expectedBytes(a.id)), "the existing file is untouched");

  const forced = await h.run(["restore", listed.copies[0]!.name, "--to", to, "--force"]);
  assert.equal(forced.code, 0, explain(forced));
  assert.equal(sha256(readFileSync(to)), sha256(h.unms.expectedBytes(b.id)));

  const unknown = await h.run(["restore", guid("nope"), "--to", join(h.root, "x.unms")]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /There is no copy of backup .* in Dropbox app folder \/Backups/);
  const garbage = await h.run(["restore", "yesterday", "--to", join(h.root, "x.unms")]);
  assert.equal(garbage.code, 2);
  assert.match(garbage.stderr, /"yesterday" is neither a backup id/);
  assert.equal((await h.run(["restore", a.id])).code, 2, "--to is required");
});

for (const [fault, mismatch] of [
  ["corrupt-download", /expected content hash [0-9a-f]{64}, got [0-9a-f]{64}/],
  ["truncate-download", /expected 3145728 bytes, got 1572864 \(the transfer was cut short\)/],
] as const) {
  test(`restore of a copy whose download is damaged (${fault}) exits 1 naming the mismatch and leaves no file`, async (t) => {
    const h = await harness(t);
    const a = h.unms.addBackup({ id: guid(`damaged-${fault}`), createdAt: new Date(NOW - HOUR).toISOString(), size: 3 * MiB });
    assert.equal((await h.run(["sync"])).code, 0);
    const dir = join(h.root, "restore-here");
    (await import("node:fs")).mkdirSync(dir);
    const to = join(dir, "uisp.unms");

    h.dropbox.injectFault("files/download", { type: fault });
    const run = await h.run(["restore", a.id, "--to", to]);
    assert.equal(run.code, 1, explain(run));
    assert.match(run.stderr, mismatch);
    assert.match(run.stderr, /Nothing was written to the destination/);
    assert.deepEqual(readdirSync(dir), [], "neither the destination nor a temporary file is left");

    // A rerun converges.
    const rerun = await h.run(["restore", a.id, "--to", to]);
    assert.equal(rerun.code, 0, explain(rerun));
    assert.equal(sha256(readFileSync(to)), sha256(h.unms.expectedBytes(a.id)));
    assert.deepEqual(readdirSync(dir), ["uisp.unms"]);
  });
}

test("restore from TARGET_DIR verifies the size; list works there too", async (t) => {
  const h = await harness(t);
  const target = join(h.root, "nas");
  const a = h.unms.addBackup({ id: guid("local-a"), createdAt: new Date(NOW - HOUR).toISOString(), size: 2 * MiB + 7 });
  assert.equal((await h.run(["sync"], { TARGET_DIR: target })).code, 0);
  const list = await h.run(["list", "--json"], { TARGET_DIR: target });
  assert.equal((JSON.parse(list.stdout) as { copies: unknown[] }).copies.length, 1);
  const to = join(h.root, "back.unms");
  const run = await h.run(["restore", a.id, "--to", to], { TARGET_DIR: target });
  assert.equal(run.code, 0, explain(run));
  assert.match(run.stdout, /verified by size/);
  assert.equal(sha256(readFileSync(to)), sha256(h.unms.expectedBytes(a.id)));
  writeFileSync(join(h.root, "unrelated"), "x");
  assert.ok(existsSync(to));
});

test("HELP, the README table and the UCRM form name the new settings and commands", async () => {
  const { HELP } = await import("../../src/app/cli-main.ts");
  const { ENV_NAMES } = await import("../../src/adapters/config/env-config-store.ts");
  const { UCRM_CONFIG_KEYS } = await import("../../src/adapters/config/ucrm-file-config-store.ts");
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const manifest = JSON.parse(readFileSync(new URL("../../plugin/manifest.json", import.meta.url), "utf8")) as { configuration: { key: string; required: number }[] };
  for (const field of ["maxBackupAgeHours", "healthcheckUrl"] as const) {
    assert.match(HELP, new RegExp(`^ {2}${ENV_NAMES[field]} +\\S`, "m"));
    assert.match(readme, new RegExp(`^\\| \`${ENV_NAMES[field]}\` \\| .*UCRM key \`${UCRM_CONFIG_KEYS[field]}\``, "m"));
    assert.equal(manifest.configuration.find((c) => c.key === UCRM_CONFIG_KEYS[field])?.required, 0);
  }
  for (const usage of ["backup-sync status [--json]", "backup-sync list [--json]", "backup-sync restore <backup id | file name> --to <path> [--force]"]) {
    assert.ok(HELP.includes(usage), usage);
    assert.ok(readme.includes(usage), usage);
  }
});

test("restore of an encrypted copy: --identity or AGE_IDENTITY_FILE decrypts it to the backup's bytes; without one the ciphertext is stored and the way to decrypt it named", async (t) => {
  const h = await harness(t);
  const keyFile = join(h.root, "key.txt");
  execFileSync("age-keygen", ["-o", keyFile], { stdio: "pipe" });
  const recipient = execFileSync("age-keygen", ["-y", keyFile], { encoding: "utf8" }).trim();
  const secretKey = readFileSync(keyFile, "utf8").match(/AGE-SECRET-KEY-1\S+/)![0];
  const a = h.unms.addBackup({ id: guid("sealed-a"), createdAt: new Date(NOW - HOUR).toISOString(), size: 3 * MiB + 5 });
  assert.equal((await h.run(["sync"], { ENCRYPT_TO: recipient })).code, 0);

  const byFlag = join(h.root, "by-flag.unms");
  const flagRun = await h.run(["restore", a.id, "--to", byFlag, "--identity", keyFile]);
  assert.equal(flagRun.code, 0, explain(flagRun));
  assert.equal(sha256(readFileSync(byFlag)), sha256(h.unms.expectedBytes(a.id)));
  assertNotIn(flagRun.output, secretKey, "restore output");

  const byEnv = join(h.root, "by-env.unms");
  const envRun = await h.run(["restore", a.id, "--to", byEnv], { AGE_IDENTITY_FILE: keyFile });
  assert.equal(envRun.code, 0, explain(envRun));
  assert.equal(sha256(readFileSync(byEnv)), sha256(h.unms.expectedBytes(a.id)));

  const sealed = join(h.root, "sealed.unms.age");
  const plainRun = await h.run(["restore", a.id, "--to", sealed]);
  assert.equal(plainRun.code, 0, explain(plainRun));
  assert.match(plainRun.stderr, /No identity \(AGE_IDENTITY_FILE or --identity\): stored the encrypted file as is; decrypt with `age -d -i key.txt /);
  const byHand = join(h.root, "by-hand.unms");
  execFileSync("age", ["-d", "-i", keyFile, "-o", byHand, sealed]);
  assert.equal(sha256(readFileSync(byHand)), sha256(h.unms.expectedBytes(a.id)));

  const otherKey = join(h.root, "other.txt");
  execFileSync("age-keygen", ["-o", otherKey], { stdio: "pipe" });
  const wrong = join(h.root, "wrong.unms");
  const wrongRun = await h.run(["restore", a.id, "--to", wrong, "--identity", otherKey]);
  assert.notEqual(wrongRun.code, 0, explain(wrongRun));
  assert.equal(existsSync(wrong), false, "a copy that does not decrypt leaves nothing at the destination");
  assertNotIn(wrongRun.output, readFileSync(otherKey, "utf8").match(/AGE-SECRET-KEY-1\S+/)![0], "restore output");
});
