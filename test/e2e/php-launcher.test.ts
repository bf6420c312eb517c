/**
 * The UCRM plugin's PHP launcher, run by the real `php` binary (Debian's php-cli) from a plugin
 * folder unpacked from a zip built by scripts/build-plugin.mjs, with a stub bundle in place of the
 * real one. The full run with the real bundle against the fakes lives in another e2e test.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { unzipSync } from "fflate";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const logTime = String.raw`\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\)`;
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const secretInConfig = "unms-api-token-that-must-stay-private";

/** Prints what it was started with, exits with STUB_EXIT. */
const stubBundle = `
const report = {
  argv: process.argv.slice(2),
  cwd: process.cwd(),
  mark: process.env.STUB_MARK ?? null,
  deno: typeof globalThis.Deno !== "undefined",
};
console.log("STUB " + JSON.stringify(report));
console.error("stub stderr line");
if (process.env.STUB_KILL) process.kill(process.pid, "SIGKILL");
process.exit(Number(process.env.STUB_EXIT ?? "0"));
`;

let root: string;
let pluginDir: string;
let otherCwd: string;
let emptyBin: string;
let php: string;

function findPhp(): string {
  const found = spawnSync("sh", ["-c", "command -v php"], { encoding: "utf8" });
  const path = found.stdout.trim();
  assert.ok(
    found.status === 0 && path,
    "The real php binary is required for this test: install it with `apt-get install -y php-cli` (.ci/run does).",
  );
  return path;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  stub: { argv: string[]; cwd: string; mark: string | null; deno: boolean } | undefined;
}

function runLauncher(env: Record<string, string>): Run {
  const result = spawnSync(php, [join(pluginDir, "main.php")], {
    cwd: otherCwd,
    // A mirror nobody listens on: no test here may download a runtime from the real registry.
    env: { HOME: process.env.HOME ?? otherCwd, DENO_DIR: join(root, "deno-cache"), PATH: emptyBin, BACKUP_SYNC_RUNTIME_MIRROR: "http://127.0.0.1:9", ...env },
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(result.error, undefined, `php could not be run: ${result.error?.message}`);
  const stubLine = result.stdout.split("\n").find((line) => line.startsWith("STUB "));
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    stub: stubLine ? JSON.parse(stubLine.slice(5)) : undefined,
  };
}

function logLines(): string[] {
  const path = join(pluginDir, "data", "plugin.log");
  return existsSync(path) ? readFileSync(path, "utf8").split("\n").filter(Boolean) : [];
}

function setConfig(config: Record<string, unknown>): void {
  writeFileSync(join(pluginDir, "data", "config.json"), JSON.stringify(config));
}

describe("UCRM plugin zip and PHP launcher (real php)", () => {
  before(() => {
    php = findPhp();
    root = realpathSync(mkdtempSync(join(tmpdir(), "php-launcher-")));
    pluginDir = join(root, "plugins", "backup-sync-dropbox");
    otherCwd = join(root, "elsewhere");
    emptyBin = join(root, "empty-bin");
    for (const dir of [pluginDir, otherCwd, emptyBin]) mkdirSync(dir, { recursive: true });

    const bundle = join(root, "stub-cli.mjs");
    writeFileSync(bundle, stubBundle);
    const zipPath = join(root, "backup-sync-dropbox.zip");
    const build = spawnSync(process.execPath, [join(repoRoot, "scripts", "build-plugin.mjs"), "--bundle", bundle, "--out", zipPath], {
      encoding: "utf8",
    });
    assert.equal(build.status, 0, `build-plugin.mjs failed: ${build.stderr}`);
    for (const [name, bytes] of Object.entries(unzipSync(readFileSync(zipPath)))) {
      writeFileSync(join(pluginDir, name), bytes);
    }
    mkdirSync(join(pluginDir, "data"));
  });

  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  test("the zip holds exactly manifest.json, main.php, cli.mjs, README.md and runtime.json at its root", () => {
    const zip = unzipSync(readFileSync(join(root, "backup-sync-dropbox.zip")));
    assert.deepEqual(Object.keys(zip).sort(), ["README.md", "cli.mjs", "main.php", "manifest.json", "runtime.json"]);
    assert.equal(readFileSync(join(pluginDir, "cli.mjs"), "utf8"), stubBundle);
  });

  test("the manifest keeps the original plugin's identity and keys, with the package version", () => {
    const manifest = JSON.parse(readFileSync(join(pluginDir, "manifest.json"), "utf8"));
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8"));
    assert.equal(manifest.version, "1");
    assert.equal(manifest.information.name, "backup-sync-dropbox");
    assert.equal(manifest.information.displayName, "Backup synchronization - Dropbox");
    assert.equal(manifest.information.version, pkg.version);
    assert.deepEqual(manifest.information.unmsVersionCompliancy, { min: "2.1.0", max: null });
    const required = Object.fromEntries(
      manifest.configuration.map((item: { key: string; required: number }) => [item.key, item.required]),
    );
    assert.deepEqual(required, {
      unmsApiToken: 1,
      dropboxAppKey: 0,
      dropboxAppSecret: 0,
      dropboxAccessCode: 0,
      dropboxRefreshToken: 0,
      dropboxAccessToken: 0,
      dropboxFolder: 0,
      maxDeletes: 0,
      allowMassDelete: 0,
      chunkMiB: 0,
      dropboxConnections: 0,
      maxRunMinutes: 0,
      runtimePath: 0,
      unmsCaFile: 0,
      unmsTlsInsecure: 0,
      encryptTo: 0,
      keepDaily: 0,
      keepWeekly: 0,
      keepMonthly: 0,
      maxBackupAgeHours: 0,
      healthcheckUrl: 0,
      runtimeProvisioning: 0,
      runtimeMirrorUrl: 0,
    });
    for (const item of manifest.configuration) assert.ok(item.label && item.description, `${item.key} needs a label and a description`);
  });

  test("runs the bundle with node from PATH, from another working directory, passing env, output and exit code", () => {
    setConfig({ unmsApiToken: secretInConfig });
    for (const exitCode of ["0", "3", "7"]) {
      const run = runLauncher({ PATH: `${emptyBin}:${dirname(process.execPath)}`, STUB_MARK: "passed-through", STUB_EXIT: exitCode });
      assert.deepEqual(run.stub, {
        argv: ["ucrm", "--plugin-dir", pluginDir],
        cwd: otherCwd,
        mark: "passed-through",
        deno: false,
      });
      assert.match(run.stderr, /stub stderr line/);
      assert.equal(run.status, Number(exitCode));
    }
  });

  test("one log line says which runtime was picked and where it was found", () => {
    setConfig({ unmsApiToken: secretInConfig });
    const before = logLines().length;
    const run = runLauncher({ PATH: `${emptyBin}:${dirname(process.execPath)}` });
    assert.equal(run.status, 0, run.stderr);
    const added = logLines().slice(before);
    assert.equal(added.length, 1, added.join("\n"));
    assert.match(added[0]!, new RegExp(`^Running the sync with Node\\.js ${escape(process.version)} \\(${escape(dirname(process.execPath))}/node, found on PATH\\)\\. ${logTime}$`));
  });

  test("runtimes passed over on the way are named in the same line", () => {
    const oldBin = join(root, "old-bin-2");
    mkdirSync(oldBin, { recursive: true });
    writeFileSync(join(oldBin, "node"), "#!/bin/sh\necho v14.21.3\n");
    chmodSync(join(oldBin, "node"), 0o755);
    setConfig({ unmsApiToken: secretInConfig });
    const run = runLauncher({ PATH: `${oldBin}:${dirname(process.execPath)}` });
    assert.equal(run.status, 0, run.stderr);
    assert.match(
      logLines().at(-1)!,
      new RegExp(`^Running the sync with Node\\.js ${escape(process.version)} \\(${escape(dirname(process.execPath))}/node, found on PATH; passed over: ${escape(oldBin)}/node is Node\\.js v14\\.21\\.3, which is too old: 16\\.14 or newer is needed\\)\\. ${logTime}$`),
    );
  });

  test("a runtimeProvisioning value that is not true or false is named, and nothing is downloaded", () => {
    setConfig({ unmsApiToken: secretInConfig, runtimeProvisioning: "sometimes" });
    const run = runLauncher({ PATH: emptyBin });
    assert.equal(run.status, 1);
    assert.equal(run.stub, undefined);
    assert.match(logLines().at(-1)!, new RegExp(String.raw`^ERROR: The "Download a runtime when none is found" setting \(runtimeProvisioning\) in data/config\.json is "sometimes": use true or false\. .* ${logTime}$`));
  });

  test("a bundle killed by a signal is reported in the log with the signal, and the run fails", () => {
    setConfig({ unmsApiToken: secretInConfig });
    const run = runLauncher({ PATH: dirname(process.execPath), STUB_KILL: "1" });
    assert.equal(run.status, 1);
    assert.match(
      logLines().at(-1)!,
      new RegExp(String.raw`^ERROR: The sync \(Node\.js v\d+\.\d+\.\d+\) was killed by signal 9 before it finished, .*out of memory.* ${logTime}$`),
    );
  });

  test("with no runtime at all and provisioning off it logs a specific ERROR line and exits 1", () => {
    setConfig({ unmsApiToken: secretInConfig, runtimeProvisioning: false });
    const before = logLines().length;
    const run = runLauncher({ PATH: emptyBin });
    assert.equal(run.status, 1);
    assert.equal(run.stub, undefined, "the bundle must not have run");
    const added = logLines().slice(before);
    assert.equal(added.length, 1);
    assert.match(
      added[0]!,
      new RegExp(
        String.raw`^ERROR: Cannot run the backup sync: it needs Node\.js 16\.14 or newer \(or Deno 2 or newer, or Bun 1\.1 or newer\), and none was found\. ` +
          String.raw`Neither node, deno nor bun is on PATH \(searched PATH "${escape(emptyBin)}"\)\. .*runtimeProvisioning.*runtimePath.* ${logTime}$`,
      ),
    );
    assert.ok(!added[0]!.includes(secretInConfig));
  });

  test("an old node on PATH is named with its version", () => {
    const oldBin = join(root, "old-bin");
    mkdirSync(oldBin, { recursive: true });
    writeFileSync(join(oldBin, "node"), "#!/bin/sh\necho v16.13.2\n");
    chmodSync(join(oldBin, "node"), 0o755);
    setConfig({ unmsApiToken: secretInConfig, runtimeProvisioning: false });
    const run = runLauncher({ PATH: oldBin });
    assert.equal(run.status, 1);
    assert.match(logLines().at(-1)!, new RegExp(`${escape(oldBin)}/node is Node\\.js v16\\.13\\.2, which is too old: 16\\.14 or newer is needed`));
  });

  test("the runtimePath setting in data/config.json is used when PATH has no runtime", () => {
    setConfig({ unmsApiToken: secretInConfig, runtimePath: process.execPath });
    const run = runLauncher({ STUB_EXIT: "0" });
    assert.equal(run.status, 0);
    assert.deepEqual(run.stub?.argv, ["ucrm", "--plugin-dir", pluginDir]);
  });

  test("a runtimePath that is not an executable is reported, not silently replaced", () => {
    setConfig({ runtimePath: join(root, "no-such-node") });
    const run = runLauncher({ PATH: dirname(process.execPath) });
    assert.equal(run.status, 1);
    assert.equal(run.stub, undefined);
    assert.match(
      logLines().at(-1)!,
      new RegExp(`^ERROR: The "JavaScript runtime path" setting \\(runtimePath\\) names ${escape(root)}/no-such-node, which is not an executable file\\. .* ${logTime}$`),
    );
  });

  test("BACKUP_SYNC_RUNTIME pointing at deno runs the bundle with `deno run -A`", () => {
    setConfig({ unmsApiToken: secretInConfig });
    const deno = realpathSync(join(repoRoot, "node_modules", ".bin", "deno"));
    const run = runLauncher({ BACKUP_SYNC_RUNTIME: deno, STUB_MARK: "deno-env", STUB_EXIT: "3" });
    assert.equal(run.status, 3, run.stderr);
    assert.deepEqual(run.stub, { argv: ["ucrm", "--plugin-dir", pluginDir], cwd: otherCwd, mark: "deno-env", deno: true });
  });
});
