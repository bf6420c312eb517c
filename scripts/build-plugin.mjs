/**
 * Packs the UCRM plugin: dist/backup-sync-dropbox.zip with manifest.json (version from
 * package.json), main.php (the PHP launcher), cli.mjs (the bundle from dist/cli.mjs), README.md and
 * runtime.json (the runtimes main.php may provision: plugin/runtime-pins.json plus the registry npm
 * is configured with now, `npm config get registry`) at its root. Called by scripts/build.mjs after bundling, or on its own:
 *
 *   node scripts/build-plugin.mjs [--bundle dist/cli.mjs] [--out dist/backup-sync-dropbox.zip]
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { strToU8, unzipSync, zipSync } from "fflate";

export const PLUGIN_NAME = "backup-sync-dropbox";
export const PLUGIN_ZIP_NAME = `${PLUGIN_NAME}.zip`;

/** Files UCRM writes into a plugin's folder itself; an archive that ships them breaks installs. */
const RESERVED_FILES = new Set(["ucrm.json", ".ucrm-plugin-running", ".ucrm-plugin-execution-requested"]);

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * @param {{ root?: string, bundlePath?: string, outFile?: string, registry?: string }} [options]
 * @returns {Promise<{ path: string, files: string[], version: string }>}
 */
export async function buildPluginZip(options = {}) {
  const root = options.root ?? repoRoot;
  const bundlePath = options.bundlePath ?? join(root, "dist", "cli.mjs");
  const outFile = options.outFile ?? join(root, "dist", PLUGIN_ZIP_NAME);

  if (!existsSync(bundlePath)) {
    throw new Error(`Cannot pack the UCRM plugin: the bundle ${bundlePath} does not exist. Run the bundle step first (npm run build).`);
  }
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8"));
  const manifest = JSON.parse(await readFile(join(root, "plugin", "manifest.json"), "utf8"));
  if (manifest?.information?.name !== PLUGIN_NAME) {
    throw new Error(`plugin/manifest.json: information.name must be "${PLUGIN_NAME}" (UCRM names the plugin folder after it and existing installs rely on it).`);
  }
  if (typeof pkg.version !== "string" || !pkg.version) {
    throw new Error("package.json has no version to give the plugin manifest.");
  }
  manifest.information.version = pkg.version;

  const entries = {
    "manifest.json": strToU8(`${JSON.stringify(manifest, null, 4)}\n`),
    "main.php": await readFile(join(root, "plugin", "main.php")),
    "cli.mjs": await readFile(bundlePath),
    "README.md": await readFile(join(root, "plugin", "README.md")),
    "runtime.json": strToU8(`${JSON.stringify(await runtimeJson(root, options.registry), null, 4)}\n`),
  };
  assertNoReservedFiles(Object.keys(entries));

  // A fixed time (or SOURCE_DATE_EPOCH) makes the same sources give the same zip.
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  const mtime = Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date("2024-01-01T00:00:00Z");
  const zip = zipSync(entries, { level: 9, mtime });

  const packed = Object.keys(unzipSync(zip)).sort();
  assertNoReservedFiles(packed);
  await mkdir(dirname(outFile), { recursive: true });
  await writeFile(outFile, zip);
  return { path: outFile, files: packed, version: pkg.version };
}

/**
 * `{"registry", "runtimes": {"<libc>-<arch>": {name, version, integrity, binary}}}`: the pins are
 * committed (refreshed by scripts/refresh-runtime-pins.mjs), the registry is whatever npm uses here.
 *
 * @param {string} root
 * @param {string} [registry]
 */
export async function runtimeJson(root, registry = configuredRegistry()) {
  const pinsPath = join(root, "plugin", "runtime-pins.json");
  const pins = JSON.parse(await readFile(pinsPath, "utf8"));
  for (const platform of ["glibc-x64", "glibc-arm64", "musl-x64", "musl-arm64"]) {
    const pin = pins?.runtimes?.[platform];
    for (const key of ["name", "version", "integrity", "binary"]) {
      if (typeof pin?.[key] !== "string" || !pin[key]) throw new Error(`${pinsPath}: runtimes.${platform}.${key} is missing; run node scripts/refresh-runtime-pins.mjs.`);
    }
    if (!pin.integrity.startsWith("sha512-")) throw new Error(`${pinsPath}: runtimes.${platform}.integrity must be a sha512- value.`);
  }
  if (!/^https?:\/\//.test(registry)) {
    throw new Error(`The npm registry "${registry}" (npm config get registry) is not an http(s) URL; runtime.json needs one.`);
  }
  return { registry, runtimes: pins.runtimes };
}

/** The registry npm is configured with: npm sets it for scripts it runs, else ask npm. */
function configuredRegistry() {
  const fromNpm = process.env.npm_config_registry?.trim();
  if (fromNpm) return fromNpm;
  try {
    return execFileSync("npm", ["config", "get", "registry"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
  } catch (error) {
    throw new Error(`Cannot write runtime.json: \`npm config get registry\` failed (${error instanceof Error ? error.message : error}). Is npm on PATH?`);
  }
}

/** @param {string[]} names paths inside the archive */
export function assertNoReservedFiles(names) {
  const reserved = names.filter((name) => {
    const path = name.replace(/^\.?\//, "");
    return RESERVED_FILES.has(path) || path === "data" || path.startsWith("data/");
  });
  if (reserved.length) {
    throw new Error(`The plugin archive must not contain files UCRM reserves for itself: ${reserved.join(", ")}.`);
  }
}

function argValue(args, flag) {
  const index = args.indexOf(flag);
  if (index === -1) return undefined;
  const value = args[index + 1];
  if (!value || value.startsWith("--")) throw new Error(`${flag} needs a path after it.`);
  return resolve(value);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  try {
    const args = process.argv.slice(2);
    const result = await buildPluginZip({ bundlePath: argValue(args, "--bundle"), outFile: argValue(args, "--out") });
    console.log(`Wrote ${result.path} (version ${result.version}): ${result.files.join(", ")}`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
