#!/usr/bin/env node
// Fails (exit 1) when an `@example` of the public API does not type-check: every fenced ts block in a
// doc comment under src/ is checked as its own module by `deno check --doc-only`, with the package
// names mapped to src/index.ts and src/testing.ts by deno.json's "imports".
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const FENCED_EXAMPLE = /@example\s*\n\s*\*\s*```ts\b/;

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const files = sourceFiles(join(root, "src"))
  .filter((path) => FENCED_EXAMPLE.test(readFileSync(path, "utf8")))
  .map((path) => relative(root, path))
  .sort();
if (!files.includes("src/index.ts") || !files.some((path) => path.startsWith("src/testing/"))) {
  console.error(`check-examples: expected examples in src/index.ts and under src/testing/, found them in: ${files.join(", ") || "no file"}.`);
  process.exit(1);
}

const deno = spawnSync("npx", ["--no", "deno", "check", "--doc-only", "--quiet", "--cached-only", ...files], {
  cwd: root,
  stdio: "inherit",
});
if (deno.error) {
  console.error(`check-examples: could not start deno (the devDependency; run npm ci): ${deno.error.message}`);
  process.exit(1);
}
if (deno.status !== 0) {
  console.error(`check-examples: an @example does not type-check (deno names its file and line above; ${files.length} files checked); fix the example or the API it shows.`);
  process.exit(1);
}
console.log(`check-examples: the @example blocks of ${files.length} files type-check.`);
