/**
 * `npm run demo`: the real command line (dist/cli.mjs) against the built-in simulators of UNMS and
 * Dropbox on loopback ports, from a first run that asks for authorization to a mirrored deletion
 * (a --dry-run first, then the mass-deletion guard and --allow-mass-delete), the empty-list guard,
 * then the same backups into ./demo-backups through the local-folder store.
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { FakeDropbox } from "../src/testing/fakes/dropbox.ts";
import { startLoopbackServer } from "../src/testing/fakes/loopback.ts";
import { FakeUnms } from "../src/testing/fakes/unms.ts";
import { formatBytes } from "../src/adapters/report/format.ts";

const MiB = 1024 * 1024;
const cli = resolve("dist/cli.mjs");
const localTarget = resolve("demo-backups");

const unmsApiToken = `demo-unms-${Math.random().toString(36).slice(2)}`;
const unms = new FakeUnms({ apiToken: unmsApiToken, timezone: "Europe/Prague" });
const dropbox = new FakeDropbox({ appKey: "demoappkey", appSecret: `demo-secret-${Math.random().toString(36).slice(2)}` });
const day = 24 * 3600 * 1000;
const now = Date.now();
unms.addBackup({ createdAt: new Date(now - 3 * day).toISOString(), size: 3 * MiB });
unms.addBackup({ createdAt: new Date(now - 2 * day).toISOString(), size: 9 * MiB });
unms.addBackup({ createdAt: new Date(now - day).toISOString(), size: 21 * MiB });
unms.addBackup({ createdAt: new Date(now).toISOString(), state: "in-progress", size: MiB });
dropbox.putFile("/UNMS backups/Notes from the admin.txt", "A person's own file: the sync must never touch it.\n");

const unmsServer = await startLoopbackServer(unms.handlers);
const dropboxServer = await startLoopbackServer(dropbox.handlers);
const stateDir = await mkdtemp(join(tmpdir(), "backup-sync-demo-"));

const baseEnv = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  UNMS_URL: `${unmsServer.url}/nms`,
  UNMS_API_TOKEN: unmsApiToken,
  DROPBOX_APP_KEY: "demoappkey",
  DROPBOX_APP_SECRET: dropbox.appSecret,
  DROPBOX_FOLDER: "UNMS backups",
  DROPBOX_BASE_URL: dropboxServer.url,
  STATE_DIR: stateDir,
};

function run(title: string, env: Record<string, string | undefined>, args: string[] = ["sync"]): Promise<number> {
  console.log(`\n=== ${title}\n$ node dist/cli.mjs ${args.join(" ")}`);
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { ...baseEnv, ...env }, stdio: "inherit" });
    child.on("error", fail);
    child.on("exit", (code) => {
      console.log(`(exit code ${code})`);
      done(code ?? 1);
    });
  });
}

function showDropbox(): void {
  console.log("\nFake Dropbox now holds:");
  for (const file of dropbox.listFiles()) console.log(`  ${file.path}  ${formatBytes(file.size)}  content_hash ${file.contentHash.slice(0, 12)}...`);
}

try {
  await run("1. First run: only the app key and secret are set, so it asks for authorization", {});
  // In real life the admin opens the URL, approves, and pastes the code Dropbox shows.
  const code = dropbox.issueAuthorizationCode({ clientId: "demoappkey" });
  console.log("\n(The demo now plays the admin: opens the URL, approves, pastes the code into DROPBOX_ACCESS_CODE.)");
  await run("2. The code is exchanged for a refresh token (kept in STATE_DIR), then the backups are copied", { DROPBOX_ACCESS_CODE: code });
  showDropbox();
  await run("3. A rerun finds everything in place and changes nothing", {});
  const [oldest, second] = unms.backups().filter((backup) => backup.state === "success");
  unms.removeBackup(oldest!.id);
  await run(`3b. UNMS deleted backup ${oldest!.id}: --dry-run says what a run would do and changes nothing`, {}, ["sync", "--dry-run"]);
  unms.removeBackup(second!.id);
  await run("4. UNMS also deleted the next one: 2 of the 3 copies would go, more than half, so the mass-deletion guard holds them back", {});
  showDropbox();
  await run("4b. The admin confirms with --allow-mass-delete: both copies are deleted; the admin's own file stays", {}, ["sync", "--allow-mass-delete"]);
  showDropbox();
  const remaining = unms.backups();
  for (const backup of remaining) unms.removeBackup(backup.id);
  await run("5. UNMS suddenly lists no backup at all (a reinstall, an outage): the guard deletes nothing", {});
  showDropbox();
  const reinstalled = unms.addBackup({ createdAt: new Date(now).toISOString(), size: MiB });
  await run("5b. UISP reinstalled, one new backup, --allow-mass-delete given: no old copy matches, so nothing is deleted", {}, ["sync", "--allow-mass-delete"]);
  showDropbox();
  unms.removeBackup(reinstalled.id);
  for (const backup of remaining) unms.addBackup(backup);
  await rm(localTarget, { recursive: true, force: true });
  await run(`6. The same backups into a local folder (${localTarget})`, { TARGET_DIR: localTarget, DROPBOX_FOLDER: "" }, ["sync", "--json"]);
  console.log(`\nThe demo made ${dropboxServer.requestCount} requests to the Dropbox simulator and ${unmsServer.requestCount} to the UNMS simulator.`);
} finally {
  await unmsServer.close();
  await dropboxServer.close();
  await rm(stateDir, { recursive: true, force: true });
}
