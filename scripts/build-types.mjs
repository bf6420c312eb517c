// Emits the declarations of the library entries into dist/types: tsc (tsconfig.build.json) writes
// dist/types/src/... (the test kit's suites and fakes live under src/testing/); two
// small entry files dist/types/index.d.ts and dist/types/testing.d.ts point at them, as package.json
// "exports" expects. Our sources import with ".ts"; declarations must say ".js" so that consumers'
// resolvers (node16, nodenext, bundler) all find the ".d.ts" beside it.
//
// tsc emits incrementally into node_modules/.cache (its build info beside it), so a build where no
// source changed re-checks nothing: a full emit cost about 8 s of CPU per `npm test` (issue 10).
// dist/types is then written fresh from that cache, as before.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = join(root, "dist", "types");
const cacheDir = join(root, "node_modules", ".cache", "unms-dropbox-backup-sync");
const emitDir = join(cacheDir, "types");
const buildInfo = join(cacheDir, "types.tsbuildinfo");

const ENTRIES = [
  { file: "index.d.ts", target: "./src/index.js" },
  { file: "testing.d.ts", target: "./src/testing.js" },
];

/** `from "./x.ts"`, `import("../y.ts")`, `import "./z.ts"`: relative specifiers ending in .ts. */
const RELATIVE_TS_SPECIFIER = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g;

export async function buildTypes() {
  await rm(outDir, { recursive: true, force: true });
  // tsc trusts its build info and would not emit again into an emptied folder: drop both together.
  if (!existsSync(emitDir)) await rm(buildInfo, { force: true });
  const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
  const args = [tsc, "-p", join(root, "tsconfig.build.json"), "--outDir", emitDir, "--incremental", "--tsBuildInfoFile", buildInfo];
  try {
    await promisify(execFile)(process.execPath, args, { cwd: root });
  } catch (error) {
    // A failed emit may leave a half-written cache: the next build starts from scratch.
    await rm(buildInfo, { force: true });
    const output = `${error.stdout ?? ""}${error.stderr ?? ""}`.trim();
    throw new Error(`Declaration emit failed (tsc -p tsconfig.build.json):\n${output || error.message}`);
  }
  await cp(emitDir, outDir, { recursive: true });

  const files = await declarationFiles(outDir);
  for (const path of files) {
    const text = await readFile(path, "utf8");
    const rewritten = text.replace(RELATIVE_TS_SPECIFIER, "$1$2.js$3");
    if (rewritten !== text) await writeFile(path, rewritten);
  }
  for (const { file, target } of ENTRIES) {
    await writeFile(join(outDir, file), `export * from "${target}";\n`);
  }
  return { dir: outDir, files: files.length + ENTRIES.length };
}

async function declarationFiles(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await declarationFiles(path)));
    else if (entry.name.endsWith(".d.ts")) found.push(path);
  }
  return found;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { dir, files } = await buildTypes();
  console.log(`built ${files} declaration files in ${dir}`);
}
