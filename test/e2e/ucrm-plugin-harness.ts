/**
 * The UCRM plugin as UCRM runs it, shared by the plugin e2e tests: the built zip
 * (dist/backup-sync-dropbox.zip) unpacked into a plugin folder with the ucrm.json and
 * data/config.json UCRM writes, REAL `php main.php` started from another working directory, against
 * FakeUnms and FakeDropbox on loopback ports. Dropbox is reached through DROPBOX_BASE_URL in the
 * environment, which main.php passes through to the bundle.
 *
 * `inProcess: true` skips php and the runtime start: each run is `main(["ucrm", "--plugin-dir", dir])`
 * in this process, the code main.php starts, on the same plugin folder and fakes (the bundle then
 * trims data/plugin.log itself, as it does when main.php has not). For scenarios about the sync's
 * behaviour in the plugin; what php itself does is run for real by the others.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, symlinkSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { unzipSync } from "fflate";
import { FakeDropbox } from "../../src/testing/fakes/dropbox.ts";
import { startLoopbackServer, type LoopbackServer } from "../../src/testing/fakes/loopback.ts";
import { FakeUnms } from "../../src/testing/fakes/unms.ts";
import { assertNoSecrets, runInProcess } from "./helpers.ts";
import { PRIVATE_STATE_FILE } from "../../src/adapters/config/private-state-file.ts";
import { runProcess } from "./process.ts";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
export const pluginZip = join(repoRoot, "dist", "backup-sync-dropbox.zip");
export const KiB = 1024;
export const RUN_TIMEOUT_MS = 120_000;
export const RULE = /^={20,}$/;
/** `message (2024-05-01T04:03:04+02:00)`: the original plugin's line format, in the NMS time zone. */
export const TIMED_LINE = /^.+ \(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}\)$/;
export const LOCK_FILE = ".backup-sync.lock";

export interface PhpRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface Plugin {
  readonly dir: string;
  readonly root: string;
  readonly unms: FakeUnms;
  readonly dropbox: FakeDropbox;
  readonly unmsApiToken: string;
  readonly configPath: string;
  readonly logPath: string;
  /** `php main.php` from an unrelated working directory (or main() in process); checks that no secret was printed or logged. */
  run(extraEnv?: Record<string, string>): Promise<PhpRun>;
  config(): Record<string, unknown>;
  setConfig(patch: Record<string, unknown>): Promise<void>;
  logLines(): string[];
  uploadRequests(): number;
  close(): Promise<void>;
}

/** Unpacks the built zip into `dir`; returns the entry names. */
export async function unpackPlugin(dir: string): Promise<string[]> {
  const entries = Object.entries(unzipSync(readFileSync(pluginZip)));
  for (const [name, bytes] of entries) {
    assert.ok(!name.includes("/") && !name.includes("\\"), `zip entry ${name}: the archive must be flat`);
    await writeFile(join(dir, name), bytes);
  }
  return entries.map(([name]) => name);
}

export interface PluginOptions {
  config?: Record<string, unknown>;
  /** Replaces or adds environment variables of every run (e.g. a PATH with one runtime only). */
  env?: Record<string, string>;
  /** Serve UNMS over HTTPS with this key and certificate. */
  unmsTls?: { key: string; cert: string };
  /** Run main(["ucrm", ...]) in this process instead of `php main.php` (see the top of this file). */
  inProcess?: boolean;
}

export async function startPlugin(options: PluginOptions = {}): Promise<Plugin> {
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
  assert.deepEqual([...names].sort(), ["README.md", "cli.mjs", "main.php", "manifest.json", "runtime.json"]);

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
      // The fixtures' backups date from 2024: a ten-year limit keeps staleness out of these tests.
      maxBackupAgeHours: "87600",
      ...options.config,
    }),
  );

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: root,
    DROPBOX_BASE_URL: dropboxServer.url,
    // A mirror nobody listens on, unless a test serves one: no test may download from the real registry.
    BACKUP_SYNC_RUNTIME_MIRROR: "http://127.0.0.1:9",
    ...options.env,
  };

  const plugin: Plugin = {
    dir,
    root,
    unms,
    dropbox,
    unmsApiToken,
    configPath,
    logPath,
    async run(extraEnv = {}) {
      const result = options.inProcess
        ? await runInProcess(["ucrm", "--plugin-dir", dir], { ...env, ...extraEnv })
        : await runPhp(join(dir, "main.php"), elsewhere, { ...env, ...extraEnv });
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
export function privateSecrets(pluginDir: string): string[] {
  const path = join(pluginDir, "data", PRIVATE_STATE_FILE);
  if (!existsSync(path)) return [];
  const state = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  return [state.pkceVerifier].filter((value): value is string => typeof value === "string" && value !== "");
}

export function runPhp(mainPhp: string, cwd: string, env: Record<string, string>): Promise<PhpRun> {
  return runProcess("php", [mainPhp], { env, cwd, timeoutMs: RUN_TIMEOUT_MS });
}

export function explain(plugin: Plugin, run: PhpRun): string {
  return `exit ${run.code}\n--- php stdout\n${run.stdout}--- php stderr\n${run.stderr}--- data/plugin.log\n${plugin.logLines().join("\n")}`;
}

/** Asked once per process: files that share a process (scripts/node-tests.mjs) ask it in every describe(). */
let phpProbe: number | null | undefined;
export function phpAvailable(): void {
  phpProbe ??= spawnSync("php", ["--version"], { encoding: "utf8" }).status;
  assert.equal(phpProbe, 0, "php is not on PATH: install php-cli (Debian: apt-get install -y php-cli); CI does.");
}

export function addBackups(unms: FakeUnms): string[] {
  unms.addBackup({ id: "aaaaaaaa-0000-4000-8000-000000000001", createdAt: "2024-03-01T10:00:00Z", size: 96 * KiB });
  unms.addBackup({ id: "aaaaaaaa-0000-4000-8000-000000000002", createdAt: "2024-03-02T10:00:00Z", size: 300 * KiB });
  unms.addBackup({ id: "aaaaaaaa-0000-4000-8000-000000000003", createdAt: "2024-03-03T10:00:00Z", size: 64 * KiB, state: "in-progress" });
  // March 2024 before the DST switch: Prague is UTC+1.
  return [
    "unms-backup-20240301-1100_aaaaaaaa-0000-4000-8000-000000000001.unms",
    "unms-backup-20240302-1100_aaaaaaaa-0000-4000-8000-000000000002.unms",
  ];
}

export function storedNames(plugin: Plugin): string[] {
  return plugin.dropbox
    .listFiles()
    .map((f) => f.path)
    .filter((path) => /^\/unms-backup-/.test(path))
    .map((path) => path.slice(1))
    .sort();
}

/** A folder holding only `php` and the runtime under `name`: the PATH of the run. */
export function binDirWith(parent: string, links: Record<string, string>): string {
  const dir = join(parent, "only-bin");
  mkdirSync(dir, { recursive: true });
  const php = spawnSync("sh", ["-c", "command -v php"], { encoding: "utf8" }).stdout.trim();
  symlinkSync(realpathSync(php), join(dir, "php"));
  for (const [name, target] of Object.entries(links)) symlinkSync(target, join(dir, name));
  return dir;
}
