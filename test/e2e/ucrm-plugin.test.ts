/**
 * The UCRM plugin as UCRM runs it: the built zip (dist/backup-sync-dropbox.zip) unpacked into a
 * plugin folder with the ucrm.json and data/config.json UCRM writes, then REAL `php main.php` started
 * from another working directory, against FakeUnms and FakeDropbox on loopback ports.
 *
 * Needs `npm run build` first (npm test does it) and `php` on PATH (CI installs php-cli). Dropbox is
 * reached through DROPBOX_BASE_URL in the environment, which main.php passes through to the bundle.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { unzipSync } from "fflate";
import { FakeDropbox } from "../fakes/dropbox.ts";
import { startLoopbackServer, type LoopbackServer } from "../fakes/loopback.ts";
import { FakeUnms } from "../fakes/unms.ts";
import { makeTestCertificates } from "../fakes/tls-certificates.ts";
import { assertNoSecrets } from "./helpers.ts";
import { PRIVATE_STATE_FILE } from "../../src/adapters/config/private-state-file.ts";
import { runProcess } from "./process.ts";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const pluginZip = join(repoRoot, "dist", "backup-sync-dropbox.zip");
const KiB = 1024;
const RUN_TIMEOUT_MS = 60_000;
const RULE = /^={20,}$/;
/** `message (2024-05-01T02:03:04+00:00)`: the original plugin's line format. */
const TIMED_LINE = /^.+ \(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+00:00\)$/;
const LOCK_FILE = ".backup-sync.lock";

interface PhpRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Plugin {
  readonly dir: string;
  readonly unms: FakeUnms;
  readonly dropbox: FakeDropbox;
  readonly unmsApiToken: string;
  readonly configPath: string;
  readonly logPath: string;
  /** `php main.php` from an unrelated working directory; checks that no secret was printed or logged. */
  run(): Promise<PhpRun>;
  config(): Record<string, unknown>;
  setConfig(patch: Record<string, unknown>): Promise<void>;
  logLines(): string[];
  uploadRequests(): number;
  close(): Promise<void>;
}

/** Unpacks the built zip into `dir`; returns the entry names. */
async function unpackPlugin(dir: string): Promise<string[]> {
  const entries = Object.entries(unzipSync(readFileSync(pluginZip)));
  for (const [name, bytes] of entries) {
    assert.ok(!name.includes("/") && !name.includes("\\"), `zip entry ${name}: the archive must be flat`);
    await writeFile(join(dir, name), bytes);
  }
  return entries.map(([name]) => name);
}

async function startPlugin(options: { config?: Record<string, unknown>; unmsTls?: { key: string; cert: string } } = {}): Promise<Plugin> {
  assert.ok(existsSync(pluginZip), `${pluginZip} is missing: run \`npm run build\` before the e2e tests (npm test does).`);
  const unmsApiToken = `ucrm-unms-${Math.random().toString(36).slice(2)}${Math.random().toString(36).slice(2)}`;
  const unms = new FakeUnms({ apiToken: unmsApiToken, timezone: "Europe/Prague" });
  const dropbox = new FakeDropbox({ appKey: "ucrmappkey" });
  const unmsServer: LoopbackServer = await startLoopbackServer(unms.handlers, options.unmsTls ? { tls: options.unmsTls } : {});
  const dropboxServer: LoopbackServer = await startLoopbackServer(dropbox.handlers);
  const root = await mkdtemp(join(tmpdir(), "backup-sync-ucrm-e2e-"));
  const dir = join(root, "plugins", "backup-sync-dropbox");
  const elsewhere = join(root, "elsewhere");
  await mkdir(join(dir, "data"), { recursive: true });
  await mkdir(elsewhere);

  const names = await unpackPlugin(dir);
  assert.deepEqual([...names].sort(), ["README.md", "cli.mjs", "main.php", "manifest.json"]);

  // What UCRM writes before each run.
  await writeFile(
    join(dir, "ucrm.json"),
    JSON.stringify({
      ucrmPublicUrl: "https://ucrm.example.com/",
      ucrmLocalUrl: "http://localhost/",
      unmsLocalUrl: `${unmsServer.url}/nms/`,
      pluginPublicUrl: "https://ucrm.example.com/_plugins/backup-sync-dropbox/public.php",
      pluginAppKey: "ucrm-plugin-app-key-not-a-dropbox-key",
      pluginId: 7,
    }),
  );
  const configPath = join(dir, "data", "config.json");
  const logPath = join(dir, "data", "plugin.log");
  // The admin's form as the original PHP plugin saved it, plus a key of someone else's.
  await writeFile(
    configPath,
    JSON.stringify({
      unmsApiToken,
      dropboxAppKey: dropbox.appKey,
      dropboxAppSecret: dropbox.appSecret,
      dropboxAccessCode: "",
      dropboxRefreshToken: "",
      dropboxAccessToken: "",
      unrelatedSetting: { keep: ["me", 1, true] },
      ...options.config,
    }),
  );

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: root,
    DROPBOX_BASE_URL: dropboxServer.url,
  };

  const plugin: Plugin = {
    dir,
    unms,
    dropbox,
    unmsApiToken,
    configPath,
    logPath,
    async run() {
      const result = await runPhp(join(dir, "main.php"), elsewhere, env);
      const secrets = [...dropbox.secretsIssued(), unmsApiToken, ...privateSecrets(dir)];
      const log = existsSync(logPath) ? readFileSync(logPath, "utf8") : "";
      assertNoSecrets(result, secrets, "php main.php");
      assertNoSecrets({ stdout: log, stderr: "" }, secrets, "data/plugin.log");
      return result;
    },
    config: () => JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>,
    async setConfig(patch) {
      await writeFile(configPath, JSON.stringify({ ...plugin.config(), ...patch }));
    },
    logLines: () => (existsSync(logPath) ? readFileSync(logPath, "utf8").split("\n").filter((line) => line !== "") : []),
    uploadRequests: () =>
      dropbox.requestCount("files/upload") +
      dropbox.requestCount("files/upload_session/start") +
      dropbox.requestCount("files/upload_session/append_v2") +
      dropbox.requestCount("files/upload_session/finish"),
    async close() {
      await unmsServer.close();
      await dropboxServer.close();
      await rm(root, { recursive: true, force: true });
    },
  };
  return plugin;
}

/** The PKCE verifier the plugin keeps in data/ is a secret too. */
function privateSecrets(pluginDir: string): string[] {
  const path = join(pluginDir, "data", PRIVATE_STATE_FILE);
  if (!existsSync(path)) return [];
  const state = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  return [state.pkceVerifier].filter((value): value is string => typeof value === "string" && value !== "");
}

function runPhp(mainPhp: string, cwd: string, env: Record<string, string>): Promise<PhpRun> {
  return runProcess("php", [mainPhp], { env, cwd, timeoutMs: RUN_TIMEOUT_MS });
}

function explain(plugin: Plugin, run: PhpRun): string {
  return `exit ${run.code}\n--- php stdout\n${run.stdout}--- php stderr\n${run.stderr}--- data/plugin.log\n${plugin.logLines().join("\n")}`;
}

function phpAvailable(): void {
  const probe = spawnSync("php", ["--version"], { encoding: "utf8" });
  assert.equal(probe.status, 0, "php is not on PATH: install php-cli (Debian: apt-get install -y php-cli); CI does.");
}

function addBackups(unms: FakeUnms): string[] {
  unms.addBackup({ id: "aaaaaaaa-0000-4000-8000-000000000001", createdAt: "2024-03-01T10:00:00Z", size: 96 * KiB });
  unms.addBackup({ id: "aaaaaaaa-0000-4000-8000-000000000002", createdAt: "2024-03-02T10:00:00Z", size: 300 * KiB });
  unms.addBackup({ id: "aaaaaaaa-0000-4000-8000-000000000003", createdAt: "2024-03-03T10:00:00Z", size: 64 * KiB, state: "in-progress" });
  // March 2024 before the DST switch: Prague is UTC+1.
  return [
    "unms-backup-20240301-1100_aaaaaaaa-0000-4000-8000-000000000001.unms",
    "unms-backup-20240302-1100_aaaaaaaa-0000-4000-8000-000000000002.unms",
  ];
}

function storedNames(plugin: Plugin): string[] {
  return plugin.dropbox
    .listFiles()
    .map((f) => f.path)
    .filter((path) => /^\/unms-backup-/.test(path))
    .map((path) => path.slice(1))
    .sort();
}

test("php main.php: first run asks for authorization, the code is exchanged and kept, backups sync, a rerun changes nothing", { timeout: 180_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin();
  t.after(() => plugin.close());
  const names = addBackups(plugin.unms);
  const before = plugin.config();

  // 1. Nothing authorized: exit 3, the URL alone between two rules, as the original plugin logged it.
  const first = await plugin.run();
  assert.equal(first.code, 3, explain(plugin, first));
  const lines = plugin.logLines();
  const urlAt = lines.findIndex((line) => line.startsWith("https://www.dropbox.com/oauth2/authorize?"));
  assert.ok(urlAt > 0, `no authorization URL line in data/plugin.log\n${explain(plugin, first)}`);
  assert.match(lines[urlAt - 1]!, RULE, "the line before the URL must be a rule of =");
  assert.match(lines[urlAt + 1] ?? "", RULE, "the line after the URL must be a rule of =");
  const url = new URL(lines[urlAt]!);
  assert.equal(url.searchParams.get("client_id"), plugin.dropbox.appKey);
  assert.equal(url.searchParams.get("response_type"), "code");
  assert.equal(url.searchParams.get("token_access_type"), "offline");
  assert.deepEqual(plugin.config(), before, "a run that only asks for authorization must not change config.json");
  assert.deepEqual(storedNames(plugin), []);

  // 2. The admin pastes the code Dropbox showed (with the stray whitespace of a paste).
  const code = plugin.dropbox.issueAuthorizationCode({ clientId: plugin.dropbox.appKey });
  await plugin.setConfig({ dropboxAccessCode: `  ${code}\n` });
  const logBefore = plugin.logLines().length;
  const second = await plugin.run();
  assert.equal(second.code, 0, explain(plugin, second));
  const after = plugin.config();
  assert.equal(after.dropboxAccessCode, "", "the used code must be cleared from config.json");
  assert.equal(typeof after.dropboxRefreshToken, "string");
  assert.ok((after.dropboxRefreshToken as string).length > 0, "the refresh token must be written back to config.json");
  assert.ok(plugin.dropbox.secretsIssued().includes(after.dropboxRefreshToken as string), "config.json must hold the refresh token Dropbox issued");
  const { dropboxAccessCode: _c, dropboxRefreshToken: _r, ...otherKeysAfter } = after;
  const { dropboxAccessCode: _c0, dropboxRefreshToken: _r0, ...otherKeysBefore } = before;
  assert.deepEqual(otherKeysAfter, otherKeysBefore, "every other key and value of config.json must be kept");
  assert.deepEqual(Object.keys(after).sort(), Object.keys(before).sort());
  assert.deepEqual(storedNames(plugin), names);
  for (const [i, id] of ["aaaaaaaa-0000-4000-8000-000000000001", "aaaaaaaa-0000-4000-8000-000000000002"].entries()) {
    assert.equal(plugin.dropbox.listFiles().find((f) => f.path === `/${names[i]}`)?.contentHash, plugin.unms.expectedContentHash(id));
  }
  const runLines = plugin.logLines().slice(logBefore);
  assert.ok(runLines.length > 0, "the sync must log its lines");
  for (const line of runLines) assert.match(line, TIMED_LINE, `every log line reads "message (ISO time)": ${line}`);
  for (const name of names) assert.ok(runLines.some((line) => line.startsWith(`Uploaded ${name}`)), `no "Uploaded ${name}" line:\n${runLines.join("\n")}`);
  assert.ok(runLines.some((line) => line.includes("aaaaaaaa-0000-4000-8000-000000000003") && line.includes("in-progress")), "the skipped in-progress backup must be named");

  // 3. Rerun: everything is in place, nothing is uploaded, the refresh token stays.
  const uploadsSoFar = plugin.uploadRequests();
  const logBeforeRerun = plugin.logLines().length;
  const third = await plugin.run();
  assert.equal(third.code, 0, explain(plugin, third));
  assert.equal(plugin.uploadRequests(), uploadsSoFar, "a rerun must not upload anything");
  assert.deepEqual(storedNames(plugin), names);
  assert.deepEqual(plugin.config(), after, "a rerun must leave config.json as it was");
  const rerunLines = plugin.logLines().slice(logBeforeRerun);
  for (const line of rerunLines) assert.match(line, TIMED_LINE);
  assert.ok(!rerunLines.some((line) => line.startsWith("Uploaded ")), rerunLines.join("\n"));
  for (const name of names) assert.ok(rerunLines.some((line) => line.includes(name)), `the rerun must mention ${name} as already stored`);
});

test("php main.php: without an app secret the URL carries a PKCE challenge and the code is exchanged with its verifier", { timeout: 120_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin({ config: { dropboxAppSecret: "" } });
  t.after(() => plugin.close());
  const names = addBackups(plugin.unms);

  const first = await plugin.run();
  assert.equal(first.code, 3, explain(plugin, first));
  const urlLine = plugin.logLines().find((line) => line.startsWith("https://www.dropbox.com/oauth2/authorize?"));
  assert.ok(urlLine, explain(plugin, first));
  const url = new URL(urlLine);
  assert.equal(url.searchParams.get("code_challenge_method"), "S256");
  const codeChallenge = url.searchParams.get("code_challenge");
  assert.ok(codeChallenge, "a PKCE run must put code_challenge into the URL");

  const code = plugin.dropbox.issueAuthorizationCode({ clientId: plugin.dropbox.appKey, codeChallenge });
  await plugin.setConfig({ dropboxAccessCode: `${code} ` });
  const second = await plugin.run();
  assert.equal(second.code, 0, explain(plugin, second));
  const config = plugin.config();
  assert.equal(config.dropboxAccessCode, "");
  assert.equal(config.dropboxAppSecret, "");
  assert.ok(plugin.dropbox.secretsIssued().includes(config.dropboxRefreshToken as string), "the PKCE refresh token must be written back");
  assert.deepEqual(storedNames(plugin), names);
});

test("php main.php: the log is trimmed to its last 256 lines before the run adds its own", { timeout: 120_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin();
  t.after(() => plugin.close());
  await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
  const names = addBackups(plugin.unms);
  const old = Array.from({ length: 300 }, (_, i) => `old line ${i + 1} (2024-01-01T00:00:00+00:00)`);
  await writeFile(plugin.logPath, `${old.join("\n")}\n`);

  const run = await plugin.run();
  assert.equal(run.code, 0, explain(plugin, run));
  const lines = plugin.logLines();
  assert.deepEqual(lines.slice(0, 256), old.slice(-256), "the last 256 old lines must be kept, in order, at the top");
  assert.ok(!lines.includes("old line 44 (2024-01-01T00:00:00+00:00)"), "older lines must be gone");
  const added = lines.slice(256);
  assert.ok(added.length > 0, "the run must add its own lines after the kept ones");
  for (const line of added) assert.match(line, TIMED_LINE);
  assert.deepEqual(storedNames(plugin), names);
});

test("php main.php: a second run while another holds the lock exits 1 and says so in the log", { timeout: 120_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin();
  t.after(() => plugin.close());
  await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
  addBackups(plugin.unms);
  // This test process is alive and on this host: the lock is not stale.
  const lockPath = join(plugin.dir, "data", LOCK_FILE);
  const lock = `${JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString(), hostname: hostname(), token: "held-by-the-ucrm-e2e-test" })}\n`;
  await writeFile(lockPath, lock);

  const run = await plugin.run();
  assert.equal(run.code, 1, explain(plugin, run));
  const errors = plugin.logLines().filter((line) => line.startsWith("ERROR: "));
  assert.ok(
    errors.some((line) => line.includes(`Another sync run is in progress (pid ${process.pid}`) && TIMED_LINE.test(line)),
    `no lock message in data/plugin.log\n${explain(plugin, run)}`,
  );
  assert.equal(plugin.uploadRequests(), 0, "a locked-out run must not upload");
  assert.deepEqual(storedNames(plugin), []);
  assert.equal(await readFile(lockPath, "utf8"), lock, "the other run's lock must be left alone");
});

test("php main.php: an HTTPS UNMS with a self-signed certificate stops at once, then syncs with unmsCaFile or the unmsTlsInsecure checkbox", { timeout: 180_000 }, async (t) => {
  phpAvailable();
  const certs = makeTestCertificates();
  t.after(() => certs.remove());
  const plugin = await startPlugin({ unmsTls: certs.selfSigned });
  t.after(() => plugin.close());
  await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
  const names = addBackups(plugin.unms);

  const refused = await plugin.run();
  assert.equal(refused.code, 2, explain(plugin, refused));
  const error = plugin.logLines().find((line) => line.startsWith("ERROR: UNMS's HTTPS certificate was refused"));
  assert.ok(error, explain(plugin, refused));
  assert.match(error, /self-signed/);
  assert.match(error, /UCRM plugin: unmsCaFile/);
  assert.match(error, /UCRM plugin: unmsTlsInsecure/);
  assert.deepEqual(storedNames(plugin), []);

  // The admin drops the certificate into data/ and names it in the form (a relative path).
  await writeFile(join(plugin.dir, "data", "uisp.pem"), certs.selfSigned.cert);
  await plugin.setConfig({ unmsCaFile: "uisp.pem" });
  const trusted = await plugin.run();
  assert.equal(trusted.code, 0, explain(plugin, trusted));
  assert.deepEqual(storedNames(plugin), names);

  await plugin.setConfig({ unmsCaFile: "", unmsTlsInsecure: true });
  const insecure = await plugin.run();
  assert.equal(insecure.code, 0, explain(plugin, insecure));
  const warnings = plugin.logLines().filter((line) => line.startsWith("WARNING: UNMS_TLS_INSECURE / unmsTlsInsecure is on"));
  assert.equal(warnings.length, 1, explain(plugin, insecure));
});

test("php main.php: a reset NMS deletes none of the old copies though 'Allow mass deletion' is ticked, and the tick is cleared", { timeout: 120_000 }, async (t) => {
  phpAvailable();
  const plugin = await startPlugin({ config: { allowMassDelete: true } });
  t.after(() => plugin.close());
  await plugin.setConfig({ dropboxRefreshToken: plugin.dropbox.issueRefreshToken() });
  const old = [1, 2, 3].map((n) => `unms-backup-20230101-0100_0a0a0a0a-0000-4000-8000-00000000000${n}.unms`);
  for (const name of old) plugin.dropbox.putFile(`/${name}`, "a copy from before UISP was reinstalled");
  const names = addBackups(plugin.unms);

  const run = await plugin.run();
  assert.equal(run.code, 0, explain(plugin, run));
  assert.deepEqual(storedNames(plugin), [...old, ...names].sort());
  assert.equal(plugin.dropbox.requestCount("files/delete_v2"), 0);
  const lines = plugin.logLines();
  assert.ok(lines.some((line) => /None of the 2 successful backup\(s\) UNMS lists matches any of the 3 backup file\(s\).*reinstalled/.test(line)), explain(plugin, run));
  assert.ok(lines.some((line) => /"Allow mass deletion" \(allowMassDelete\) was used by this run and has been cleared \(set to false\)/.test(line)), explain(plugin, run));
  assert.equal(plugin.config().allowMassDelete, false);
  assert.deepEqual(plugin.config().unrelatedSetting, { keep: ["me", 1, true] });
});
