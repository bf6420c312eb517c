// Which test files there are, and which of them must not share a process (Node) or a module graph
// (Deno) with others: both test runners group the rest to save a start per file (issue 10).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/**
 * What makes a file run alone: a top-level beforeEach/afterEach (it would wrap every other file's
 * tests), an msw server (it intercepts every fetch in the process), or a change to the environment
 * or to globals (reading either is fine), timers or process handlers. A top-level before/after runs once
 * before the process's first test and after its last, which only widens the life of the file's own
 * servers and folders; hooks inside a describe() stay within it.
 */
const ISOLATING = /^(?:beforeEach|afterEach)\(|setupServer|process\.env(?:\.\w+|\[[^\]]*\])\s*=(?!=)|delete process\.env|Object\.assign\(process\.env|globalThis(?:\.\w+|\[[^\]]*\])\s*=(?!=)|defineProperty\(globalThis|delete globalThis|\bmock\.|process\.chdir|process\.on\(|process\.exit|process\.umask/m;

/** True when `file` (repository-relative) or a test/ helper it imports sets up something global. */
export function needsOwnProcess(file) {
  return ownSources(file).some((source) => ISOLATING.test(source));
}

/**
 * A test file's text and that of the test/ helpers it imports, transitively: a helper that starts an
 * msw server for the file (test/msw-server.ts) isolates the file as if the file did it itself.
 * src/ is not followed: its fakes set nothing up when imported (their docs merely name setupServer).
 */
function ownSources(file, seen = new Set()) {
  const path = join(root, file);
  if (seen.has(path)) return [];
  seen.add(path);
  const text = readFileSync(path, "utf8");
  const helpers = [...text.matchAll(/\bfrom\s+"(\.{1,2}\/[^"]+\.ts)"/g)]
    .map((m) => relative(root, join(dirname(path), m[1])).split(sep).join("/"))
    // Only files that exist: a test's own text may quote an import (e.g. the lazy-loading checks).
    .filter((helper) => helper.startsWith("test/") && existsSync(join(root, helper)));
  return [text, ...helpers.flatMap((helper) => ownSources(helper, seen))];
}

/** Every *.test.ts below `dir` (repository-relative), as repository-relative paths with "/". */
export function testFiles(dir) {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith(".test.ts") ? [path.split(sep).join("/")] : [];
  });
}
