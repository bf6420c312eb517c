/**
 * The package as npm users get it: `npm pack`, its tarball unpacked into an empty project's
 * node_modules as an install lays it out, then used the three ways an embedder would: the
 * `backup-sync` bin, a script importing the library, and a node:test file running the contract kit
 * (`<package>/testing`) against the embedder's own store. Needs a fresh `npm run build`.
 *
 * Installing is not re-done by npm (7 s of CPU, npm's work rather than ours): the tarball is unpacked
 * as is, and beside it the project gets exactly the packages the PACKED package.json declares as
 * dependencies (plus msw, the optional peer the kit needs), linked from this repository's
 * node_modules, and the bin link its `bin` field names. A dependency the bundles import but the
 * manifest forgets is therefore still missing, as it would be after `npm install`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(await readFile(join(repo, "package.json"), "utf8")) as { name: string; version: string };
const npmCli = process.platform === "win32" ? "npm.cmd" : "npm";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The parent `npm test` exports npm_config_* (local prefix, cache, ...); a child npm seeing them
 * could install into the repository instead of the temp project. NODE_TEST_CONTEXT would make a
 * child `node --test` report to this runner instead of its stdout.
 */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== "NODE_TEST_CONTEXT"));
}

function run(command: string, args: string[], cwd: string, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv(), timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

function explain(what: string, result: Run): string {
  return `${what} exited ${result.code}\n--- stdout\n${result.stdout.slice(-4000)}\n--- stderr\n${result.stderr.slice(-4000)}`;
}

let work: string;
let project: string;
let packedFiles: string[];

interface PackedManifest {
  name: string;
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
}

/**
 * Lays the tarball out as `npm install <tarball>` does: the package under node_modules/<name>, each
 * declared dependency beside it (linked from this repository, where `npm ci` installed the pinned
 * versions), and node_modules/.bin/<command> for each entry of `bin`.
 */
async function installPacked(tarball: string, into: string): Promise<void> {
  const modules = join(into, "node_modules");
  const home = join(modules, pkg.name);
  await mkdir(home, { recursive: true });
  const unpacked = await run("tar", ["-xzf", tarball, "-C", home, "--strip-components=1"], into);
  assert.equal(unpacked.code, 0, explain("tar -xzf of the packed tarball", unpacked));
  const manifest = JSON.parse(await readFile(join(home, "package.json"), "utf8")) as PackedManifest;
  for (const dependency of [...Object.keys(manifest.dependencies ?? {}), "msw"]) {
    const link = join(modules, dependency);
    await mkdir(dirname(link), { recursive: true });
    await symlink(join(repo, "node_modules", dependency), link, "dir");
  }
  await mkdir(join(modules, ".bin"));
  for (const [command, target] of Object.entries(manifest.bin ?? {})) {
    const link = join(modules, ".bin", command);
    await symlink(relative(dirname(link), join(home, target)), link);
    await chmod(join(home, target), 0o755);
  }
}

before(async () => {
  for (const built of ["dist/cli.mjs", "dist/index.mjs", "dist/testing.mjs", "dist/types/index.d.ts", "dist/types/testing.d.ts"]) {
    assert.ok(existsSync(join(repo, built)), `${built} is missing: run \`npm run build\` before this test (npm test does).`);
  }
  work = await mkdtemp(join(tmpdir(), "npm-pack-e2e-"));
  const packed = await run(npmCli, ["pack", "--ignore-scripts", "--json", "--pack-destination", work], repo);
  assert.equal(packed.code, 0, explain("npm pack", packed));
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  packedFiles = info!.files.map((f) => f.path);

  project = join(work, "embedder");
  await mkdir(project);
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "embedder", private: true, type: "module" }, null, 2));
  await installPacked(join(work, info!.filename), project);
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe(`npm pack of ${pkg.name}`, () => {
  test("the tarball holds the bundles, the declarations and the README, not the sources", () => {
    for (const file of ["dist/cli.mjs", "dist/index.mjs", "dist/testing.mjs", "dist/types/index.d.ts", "dist/types/testing.d.ts", "README.md", "package.json"]) {
      assert.ok(packedFiles.includes(file), `${file} is not in the tarball: ${packedFiles.join(", ")}`);
    }
    assert.deepEqual(packedFiles.filter((f) => f.startsWith("src/") || f.startsWith("test/") || f.endsWith(".zip")), []);
  });

  test("the backup-sync bin answers --help", async () => {
    // Run through the link as a shell would (its #! line picks node), not as `node <file>`.
    const help = await run(join(project, "node_modules", ".bin", "backup-sync"), ["--help"], project);
    assert.equal(help.code, 0, explain("backup-sync --help", help));
    assert.match(help.stdout, /backup-sync sync \[--dry-run\]/);
    assert.match(help.stdout, new RegExp(pkg.version.replace(/\./g, "\\.")));
  });

  test("a script importing the package runs createBackupSync against its own source and store", async () => {
    await writeFile(
      join(project, "smoke.mjs"),
      `
import { createBackupSync, MemoryBackupStore, SyncError } from "${pkg.name}";

const bytes = new TextEncoder().encode("backup from an in-process source");
const source = {
  list: async () => [
    { id: "b1b1b1b1-0000-4000-8000-000000000001", createdAt: "2024-02-03T04:05:00Z", state: "success", size: bytes.length },
    { id: "b1b1b1b1-0000-4000-8000-000000000002", createdAt: "2024-02-04T04:05:00Z", state: "failed" },
  ],
  timeZone: async () => "UTC",
  open: async () => ({ stream: (async function* () { yield bytes; })(), length: bytes.length }),
};
const store = new MemoryBackupStore();
const events = [];
const backupSync = createBackupSync({ source, store, folder: "uisp", reporter: { report: (e) => events.push(e.type) } });
const dry = await backupSync.sync({ dryRun: true });
const report = await backupSync.sync();

let configError;
try {
  createBackupSync({ store });
} catch (error) {
  configError = { isSyncError: SyncError.is(error), kind: error.kind, code: error.code };
}
console.log(JSON.stringify({ dry: dry.uploaded, uploaded: report.uploaded, paths: store.paths(), events, configError,
  same: new TextDecoder().decode(store.read("uisp", report.uploaded[0])) }));
`,
    );
    const smoke = await run(process.execPath, ["smoke.mjs"], project);
    assert.equal(smoke.code, 0, explain("node smoke.mjs", smoke));
    const result = JSON.parse(smoke.stdout.trim().split("\n").at(-1)!);
    const name = "unms-backup-20240203-0405_b1b1b1b1-0000-4000-8000-000000000001.unms";
    assert.deepEqual(result.dry, [name]);
    assert.deepEqual(result.uploaded, [name]);
    assert.deepEqual(result.paths, [`uisp/${name}`]);
    assert.equal(result.same, "backup from an in-process source");
    assert.ok(result.events.includes("uploaded") && result.events.includes("run-finished"), result.events.join(","));
    assert.deepEqual(result.configError, { isSyncError: true, kind: "config", code: "config.library.source_missing" });
  });

  test("an embedder's node:test file runs the store contract kit against its own adapter", async () => {
    const mapStore = (brokenRemove: boolean) => `
import { backupStoreContract } from "${pkg.name}/testing";
import { SyncError, contentHashOf } from "${pkg.name}";

/** An embedder's store over a Map, as small as the contract allows. */
class MapStore {
  files = new Map();
  async list(folder) {
    return [...this.files].filter(([key]) => key.startsWith(folder + "/")).map(([, f]) => ({ name: f.name, size: f.bytes.length }));
  }
  async put(folder, name, content, options = {}) {
    const key = folder + "/" + name;
    const pieces = [];
    let size = 0;
    try {
      for await (const piece of content.stream) {
        pieces.push(piece.slice());
        size += piece.length;
        options.onProgress?.(size);
      }
    } catch (error) {
      if (SyncError.is(error)) throw error;
      throw new SyncError("reading " + name + " broke off: " + error.message, { kind: "source-interrupted", code: "map.read" });
    }
    if (size === 0) options.onProgress?.(0);
    if (this.files.has(key) && !options.overwrite) {
      throw new SyncError(name + " already exists", { kind: "permanent", code: "map.conflict" });
    }
    const bytes = new Uint8Array(size);
    let offset = 0;
    for (const piece of pieces) { bytes.set(piece, offset); offset += piece.length; }
    this.files.set(key, { name, bytes });
    return { name, size, contentHash: contentHashOf(bytes) };
  }
  async remove(folder, name) {
    ${brokenRemove ? "// forgets to delete" : 'this.files.delete(folder + "/" + name);'}
  }
}

backupStoreContract("MapStore", async () => ({ store: new MapStore(), folder: "backups" }), { multiChunkBytes: 1024 * 1024 + 3 });
`;
    await writeFile(join(project, "map-store.test.mjs"), mapStore(false));
    await writeFile(join(project, "broken-map-store.test.mjs"), mapStore(true));

    // Each file runs as `node <file>`: node:test runs it in that one process (`--test` would start a
    // second one for it), reporting TAP.
    const passing = await run(process.execPath, ["--test-reporter=tap", "map-store.test.mjs"], project);
    assert.equal(passing.code, 0, explain("node --test-reporter=tap map-store.test.mjs", passing));
    assert.match(passing.stdout, /BackupStore contract: MapStore/);
    const passed = Number(/^# pass (\d+)/m.exec(passing.stdout)?.[1]);
    assert.ok(passed >= 10, `expected the whole suite to run, got ${passed} passing tests`);
    assert.match(passing.stdout, /^# fail 0/m);

    // The kit must be able to fail: a store that never deletes is caught.
    const failing = await run(process.execPath, ["--test-reporter=tap", "broken-map-store.test.mjs"], project);
    assert.notEqual(failing.code, 0, explain("node --test-reporter=tap broken-map-store.test.mjs", failing));
    assert.match(failing.stdout, /not ok \d+ - remove\(\) deletes the file/);
  });

  test("the declarations type-check an embedder's TypeScript (nodenext resolution)", async () => {
    await writeFile(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(repo, "node_modules", "@types")],
        },
        files: ["embed.ts"],
      }),
    );
    await writeFile(
      join(project, "embed.ts"),
      `
import { createBackupSync, MemoryBackupStore, type BackupStore, type SyncReport } from "${pkg.name}";
import { backupStoreContract, FakeUnms } from "${pkg.name}/testing";

const store: BackupStore = new MemoryBackupStore();
const report: SyncReport = await createBackupSync({ unms: { url: "https://uisp.test/nms", apiToken: "t" }, store }).sync({ dryRun: true });
export const names: string[] = report.uploaded.map((name) => name.toUpperCase());
export const fake = new FakeUnms({ apiToken: "t" }).addBackup({ size: 1 }).id;
backupStoreContract("typed", async () => ({ store, folder: "" }), { caseInsensitive: false });
// @ts-expect-error an unknown option must not type-check (the types are not \`any\`)
createBackupSync({ unms: { url: "x", apiToken: "t" }, store, nonsense: true });
`,
    );
    const tsc = await run(process.execPath, [join(repo, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], project);
    assert.equal(tsc.code, 0, explain("tsc in the embedder project", tsc));
  });
});
