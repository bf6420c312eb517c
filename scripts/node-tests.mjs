#!/usr/bin/env node
// Runs every test/**/*.test.ts under `node --test`, found by glob at run time (a new test file needs
// no edit anywhere). The files are compiled first, each into one ESM bundle with esbuild (our code
// bundled, packages left to node_modules), so the test processes start as plain Node: loading tsx
// in each of them cost about a second of CPU per file. Each file still runs in a process of its own
// (its msw server, top-level hooks and environment stay its own), several at a time.
//
//   node scripts/node-tests.mjs [path prefix ...]   e.g. `node scripts/node-tests.mjs test/unit`
//
// Environment: BACKUP_SYNC_TEST_CONCURRENCY (default: the CPU count, at least 2).
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, relative, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = join(root, "node_modules", ".cache", "unms-dropbox-backup-sync", "node-tests");

/** Every *.test.ts below test/, as repository-relative paths with "/". */
function testFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith(".test.ts") ? [relative(root, path).split(sep).join("/")] : [];
  });
}

/**
 * The end-to-end files first: they wait on child processes the longest, so starting them early
 * keeps the others filling the gaps instead of leaving one slow file to run alone at the end.
 */
function runOrder(a, b) {
  const rank = (file) => (file.startsWith("test/e2e/") ? 0 : 1);
  return rank(a) - rank(b) || a.localeCompare(b);
}

/**
 * A bundle lives elsewhere than its sources, but tests find fixtures, scripts and the repository
 * through `import.meta.url`: each module keeps its own source file's URL.
 */
const keepImportMetaUrl = {
  name: "keep-import-meta-url",
  setup(esbuild) {
    esbuild.onLoad({ filter: /\.(?:ts|mts|mjs|js)$/ }, (args) => {
      if (args.path.includes(`${sep}node_modules${sep}`)) return undefined;
      const source = readFileSync(args.path, "utf8");
      if (!source.includes("import.meta.url")) return undefined;
      const contents = source.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href));
      return { contents, loader: args.path.endsWith("ts") ? "ts" : "js" };
    });
  },
};

const prefixes = process.argv.slice(2).map((prefix) => prefix.replace(/\\/g, "/").replace(/^\.\//, ""));
const files = testFiles(join(root, "test"))
  .filter((file) => prefixes.length === 0 || prefixes.some((prefix) => file.startsWith(prefix)))
  .sort(runOrder);
if (files.length === 0) {
  console.error(`node-tests: no *.test.ts file under test/${prefixes.length ? ` starting with ${prefixes.join(" or ")}` : ""}.`);
  process.exit(1);
}

await rm(outdir, { recursive: true, force: true });
await build({
  entryPoints: files.map((file) => join(root, file)),
  outdir,
  outbase: root,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  packages: "external",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  plugins: [keepImportMetaUrl],
});

const bundles = files.map((file) => join(outdir, file.replace(/\.ts$/, ".mjs")));
const concurrency = Number(process.env.BACKUP_SYNC_TEST_CONCURRENCY) || Math.max(2, availableParallelism());
const child = spawn(
  process.execPath,
  ["--enable-source-maps", "--test", `--test-concurrency=${concurrency}`, "--test-reporter=tap", ...bundles],
  { cwd: root, stdio: "inherit" },
);
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
