// Builds dist/cli.mjs (one self-contained ESM file: no node_modules at run time), the library
// entries dist/index.mjs and dist/testing.mjs, and the UCRM plugin zip. `--cli-only`: dist/cli.mjs alone.
import { build } from "esbuild";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { builtinModules } from "node:module";

const pkg = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));

// The SDK's ESM build still calls require() for node built-ins; give the bundle a real require.
const banner = {
  js: [
    "import { createRequire as __backupSyncCreateRequire } from 'node:module';",
    "const require = __backupSyncCreateRequire(import.meta.url);",
  ].join("\n"),
};

const common = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: false,
  legalComments: "none",
  banner,
  logLevel: "warning",
  define: { "process.env.BACKUP_SYNC_VERSION": JSON.stringify(pkg.version) },
};

await build({
  ...common,
  entryPoints: ["src/app/cli.ts"],
  outfile: "dist/cli.mjs",
  // The plugin runs on whatever Node the UCRM container has: syntax as Node 16.14 reads it.
  target: "node16.14",
  // Minified (names kept, for stack traces and class names): comments gone, the file is ASCII, so V8
  // holds its source as one byte per character (undici's comments made it two: 2.6 MB of heap),
  // and 0.6 MB instead of 1.3 MB to parse at every start. Messages are untouched.
  minify: true,
  keepNames: true,
  alias: { "node-fetch": "./scripts/shims/node-fetch.cjs", "@fastify/busboy": "./scripts/shims/busboy.cjs" },
});
await assertSelfContained("dist/cli.mjs");
await assertAscii("dist/cli.mjs");
console.log("built dist/cli.mjs");
// `npm run demo` needs only the command line: no library entries, types or plugin zip.
if (process.argv.includes("--cli-only")) process.exit(0);

// The rest do not depend on each other: tsc (a child process) emits the declarations while esbuild
// bundles the library entries and fflate packs the zip, so the build takes as long as the slowest.
const steps = [];
if (existsSync("src/index.ts")) {
  steps.push(build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/index.mjs", packages: "external" }).then(() => "built dist/index.mjs"));
}
if (existsSync("src/testing.ts")) {
  steps.push(build({ ...common, entryPoints: ["src/testing.ts"], outfile: "dist/testing.mjs", packages: "external" }).then(() => "built dist/testing.mjs"));
}
if (existsSync("scripts/build-types.mjs") && existsSync("src/index.ts")) {
  const { buildTypes } = await import("./build-types.mjs");
  steps.push(buildTypes().then((types) => `built ${types.files} declaration files in dist/types`));
}
if (existsSync("scripts/build-plugin.mjs")) {
  const { buildPluginZip } = await import("./build-plugin.mjs");
  steps.push(buildPluginZip().then((zip) => `built ${zip.path} (${zip.files.join(", ")})`));
}
for (const line of await Promise.all(steps)) console.log(line);

/**
 * esbuild leaves an import it cannot resolve inside try/catch as it is, silently; in a bundle that
 * must run without node_modules (the UCRM plugin) that only fails on the user's machine.
 */
async function assertSelfContained(file) {
  const code = await readFile(file, "utf8");
  const builtins = new Set(builtinModules);
  const outside = [...code.matchAll(/(?:\bimport\(|\bfrom\s*|\brequire\()\s*["']((?:@[\w.-]+\/)?[\w.-]+[\w./-]*)["']/g)]
    .map((match) => match[1])
    .filter((specifier) => !specifier.startsWith("node:") && !specifier.startsWith(".") && !builtins.has(specifier.split("/")[0]));
  if (outside.length > 0) {
    throw new Error(`${file} is not self-contained: it still imports ${[...new Set(outside)].join(", ")}. Run npm ci, then build again.`);
  }
}

/** One non-ASCII character makes V8 hold the whole source as two bytes per character. */
async function assertAscii(file) {
  const code = await readFile(file, "utf8");
  const at = code.search(/[^\x00-\x7f]/);
  if (at >= 0) throw new Error(`${file} is not ASCII at offset ${at} (${JSON.stringify(code.slice(Math.max(0, at - 40), at + 40))}): its source would take twice the memory`);
}
