#!/usr/bin/env node
// `npm run test:deno` (and `deno task test`): the domain tests, the contract suites and the run lock
// under Deno. Files that set up nothing global share one module graph, imported by a generated entry,
// as under Node (scripts/test-files.mjs says which): Deno starts a worker per test module, each
// loading its own copy of the graph, which cost about 6 s of CPU for 18 files (issue 10). Files with
// an msw server get workers of their own, side by side (`--parallel`).
//
//   node scripts/deno-tests.mjs [deno test flag ...]
import { spawn } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { withTestAllocator } from "./test-allocator.mjs";
import { needsOwnProcess, testFiles } from "./test-files.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
/** What runs under Deno: folders (every *.test.ts below them) and single files. */
const DENO_TESTS = ["test/unit/domain", "test/contract", "test/unit/adapters/run-lock.test.ts"];
const deno = join(root, "node_modules", ".bin", process.platform === "win32" ? "deno.cmd" : "deno");

if (!existsSync(deno)) {
  console.error(`deno-tests: ${deno} is missing: run npm ci (deno is a devDependency).`);
  process.exit(1);
}
const files = DENO_TESTS.flatMap((path) => (statSync(join(root, path)).isDirectory() ? testFiles(path) : [path])).sort();
const alone = files.filter(needsOwnProcess);
const shared = files.filter((file) => !alone.includes(file));

// Outside node_modules: Deno strips types only from files outside it, and resolves the entry's
// imports against the repository's files (and their bare specifiers against deno.json) all the same.
const groupDir = await mkdtemp(join(tmpdir(), "backup-sync-deno-tests-"));
const entry = join(groupDir, "shared.test.ts");
await writeFile(entry, shared.map((file) => `import ${JSON.stringify(pathToFileURL(join(root, file)).href)};\n`).join(""));
console.log(`# ${entry} runs ${shared.join(", ")}`);

const args = ["test", "-A", "--cached-only", "--no-check", "--parallel", ...process.argv.slice(2), entry, ...alone];
const child = spawn(deno, args, { cwd: root, env: withTestAllocator(process.env), stdio: "inherit" });
const code = await new Promise((resolve) => {
  child.on("error", (error) => {
    console.error(`deno-tests: could not start ${deno}: ${error.message}`);
    resolve(1);
  });
  child.on("exit", (exitCode, signal) => resolve(exitCode ?? (signal ? 1 : 0)));
});
await rm(groupDir, { recursive: true, force: true });
process.exit(code);
