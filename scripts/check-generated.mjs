#!/usr/bin/env node
// Fails (exit 1) when src/adapters/unms/schema.gen.ts is not what openapi/unms.yaml generates, so a
// spec edit without `npm run generate:unms` cannot slip through CI.
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const spec = "openapi/unms.yaml";
const committed = "src/adapters/unms/schema.gen.ts";
const cli = join(root, "node_modules", "openapi-typescript", "bin", "cli.js");

const dir = await mkdtemp(join(tmpdir(), "check-generated-"));
try {
  const fresh = join(dir, "schema.gen.ts");
  try {
    await promisify(execFile)(process.execPath, [cli, spec, "-o", fresh], { cwd: root });
  } catch (error) {
    console.error(`check-generated: openapi-typescript failed on ${spec}: ${error.stderr || error.message}`);
    process.exit(1);
  }
  const [expected, actual] = await Promise.all([
    readFile(fresh, "utf8"),
    readFile(join(root, committed), "utf8").catch(() => undefined),
  ]);
  if (actual === undefined) {
    console.error(`check-generated: ${committed} is missing. Run \`npm run generate:unms\` and commit the result.`);
    process.exit(1);
  }
  if (normalize(actual) !== normalize(expected)) {
    const line = firstDifferentLine(normalize(actual), normalize(expected));
    console.error(
      `check-generated: ${committed} is out of date with ${spec} (first difference at line ${line}). ` +
        "Run `npm run generate:unms` and commit the result; do not edit the generated file by hand.",
    );
    process.exit(1);
  }
  console.log(`check-generated: ${committed} matches ${spec}.`);
} finally {
  await rm(dir, { recursive: true, force: true });
}

/** Line endings may differ after a Windows checkout; nothing else may. */
function normalize(text) {
  return text.replace(/\r\n/g, "\n");
}

function firstDifferentLine(a, b) {
  const left = a.split("\n");
  const right = b.split("\n");
  const n = Math.max(left.length, right.length);
  for (let i = 0; i < n; i++) if (left[i] !== right[i]) return i + 1;
  return n;
}
