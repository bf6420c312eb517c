#!/usr/bin/env node
// Runs every test/**/*.test.ts under `node --test`, found by glob at run time (a new test file needs
// no edit anywhere). The files are compiled first with esbuild into ESM bundles, packages included
// and shared code split into common chunks, so the test processes start as plain Node: loading tsx
// in each of them cost about a second of CPU per file, and loading msw, inversify, undici and the
// rest from node_modules file by file another 0.4 s per process (issue 10). A file that sets up
// anything global (an msw server, top-level hooks, the environment, globals: see test-files.mjs)
// runs in a process of its own; the others share processes, twenty unit or contract files or five
// end-to-end files to one (a test process costs about 0.3 s of CPU to start). Several run at a time.
//
//   node scripts/node-tests.mjs [path prefix ...]   e.g. `node scripts/node-tests.mjs test/unit`
//
// Environment: BACKUP_SYNC_TEST_CONCURRENCY (default: the CPU count, at least 2);
// BACKUP_SYNC_TEST_ISOLATE=1 gives every file a process of its own (to rule sharing out);
// BACKUP_SYNC_TEST_BUILD_ONLY=1 compiles the bundles and stops (to time or profile them one by one).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { withTestAllocator } from "./test-allocator.mjs";
import { needsOwnProcess, testFiles } from "./test-files.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const outdir = join(root, "node_modules", ".cache", "unms-dropbox-backup-sync", "node-tests");
/** The generated entries that import several test files into one process. */
const groupDir = join(root, "node_modules", ".cache", "unms-dropbox-backup-sync", "node-test-groups");
const GROUP_FILES = 20;
const GROUP_E2E_FILES = 5;
const isEndToEnd = (file) => file.startsWith("test/e2e/");

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
const files = testFiles("test")
  .filter((file) => prefixes.length === 0 || prefixes.some((prefix) => file.startsWith(prefix)))
  .sort();
if (files.length === 0) {
  console.error(`node-tests: no *.test.ts file under test/${prefixes.length ? ` starting with ${prefixes.join(" or ")}` : ""}.`);
  process.exit(1);
}

const isolate = process.env.BACKUP_SYNC_TEST_ISOLATE === "1";
const alone = files.filter((file) => isolate || needsOwnProcess(file));
const shared = files.filter((file) => !alone.includes(file));
const groups = [];
// End-to-end files spend their time waiting on child processes and servers: fewer to a process,
// so that two processes' waits overlap; and grouped apart from the quick unit files.
for (const [part, size] of [[shared.filter(isEndToEnd), GROUP_E2E_FILES], [shared.filter((file) => !isEndToEnd(file)), GROUP_FILES]]) {
  for (let i = 0; i < part.length; i += size) groups.push(part.slice(i, i + size));
}

await rm(outdir, { recursive: true, force: true });
await rm(groupDir, { recursive: true, force: true });
await mkdir(groupDir, { recursive: true });
/** `{ in, out }` per process: a test file of its own, or a generated entry importing a group. */
const entries = alone.map((file) => ({ in: join(root, file), out: file.replace(/\.ts$/, ""), endToEnd: isEndToEnd(file) }));
for (const [index, group] of groups.entries()) {
  const entry = join(groupDir, `shared-${index + 1}.test.ts`);
  await writeFile(entry, group.map((file) => `import ${JSON.stringify(join(root, file))};\n`).join(""));
  entries.push({ in: entry, out: `shared-${index + 1}.test`, endToEnd: group.some(isEndToEnd) });
  console.log(`# shared-${index + 1}.test.mjs runs ${group.join(", ")}`);
}
// The end-to-end processes first: they wait the longest, so starting them early keeps the others
// filling the gaps instead of leaving one slow process to run alone at the end.
entries.sort((a, b) => Number(b.endToEnd) - Number(a.endToEnd));

await build({
  entryPoints: entries.map((entry) => ({ in: entry.in, out: entry.out })),
  outdir,
  outExtension: { ".js": ".mjs" },
  bundle: true,
  splitting: true,
  // CommonJS packages inside an ESM bundle still call require() for node built-ins.
  banner: { js: 'import { createRequire as __testCreateRequire } from "node:module"; const require = __testCreateRequire(import.meta.url);' },
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  logLevel: "warning",
  plugins: [keepImportMetaUrl],
});

const bundles = entries.map((entry) => join(outdir, `${entry.out}.mjs`));
if (process.env.BACKUP_SYNC_TEST_BUILD_ONLY === "1") process.exit(0);
const concurrency = Number(process.env.BACKUP_SYNC_TEST_CONCURRENCY) || Math.max(2, availableParallelism());
const child = spawn(
  process.execPath,
  ["--enable-source-maps", "--test", `--test-concurrency=${concurrency}`, "--test-reporter=tap", ...bundles],
  { cwd: root, env: withTestAllocator(process.env), stdio: "inherit" },
);
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
