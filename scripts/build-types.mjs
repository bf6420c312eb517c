// Emits the declarations of the library entries into dist/types: dist/types/src/... for every source
// file the entries reach (the test kit's suites and fakes live under src/testing/), and two small
// entry files dist/types/index.d.ts and dist/types/testing.d.ts that point at them, as package.json
// "exports" expects. Our sources import with ".ts"; declarations must say ".js" so that consumers'
// resolvers (node16, nodenext, bundler) all find the ".d.ts" beside it.
//
// The sources follow `isolatedDeclarations` (tsconfig.build.json): every exported value has its type
// written out, so each file's declarations come from its own text (ts.transpileDeclaration) with no
// type checking; `npm run typecheck` does the checking. A full `tsc` emit checked the whole program a
// second time, about 6 s of CPU per `npm test` on a fresh clone (issue 10). A file that breaks the
// rule fails the build here, naming the file, line and what to write out.
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = join(root, "dist", "types");
const CONFIG = join(root, "tsconfig.build.json");

const ENTRIES = [
  { file: "index.d.ts", source: "src/index.ts", target: "./src/index.js" },
  { file: "testing.d.ts", source: "src/testing.ts", target: "./src/testing.js" },
];

/** `from "./x.ts"`, `import("../y.ts")`, `import "./z.ts"`: relative specifiers ending in .ts. */
const RELATIVE_TS_SPECIFIER = /((?:from|import)\s*\(?\s*["'])(\.{1,2}\/[^"']*?)\.ts(["'])/g;

export async function buildTypes() {
  const options = compilerOptions();
  const files = reachableSources(ENTRIES.map((entry) => join(root, entry.source)));
  const problems = [];
  const outputs = [];
  for (const path of files) {
    const text = readFileSync(path, "utf8");
    const result = ts.transpileDeclaration(text, { fileName: path, compilerOptions: options, reportDiagnostics: true });
    problems.push(...result.diagnostics.map(describe));
    outputs.push({ path: join(outDir, relative(root, path).replace(/\.ts$/, ".d.ts")), text: result.outputText.replace(RELATIVE_TS_SPECIFIER, "$1$2.js$3") });
  }
  if (problems.length > 0) {
    throw new Error(`Declaration emit failed (isolatedDeclarations, tsconfig.build.json): write out the types these exports need:\n${problems.join("\n")}`);
  }

  await rm(outDir, { recursive: true, force: true });
  for (const { path, text } of outputs) {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text);
  }
  for (const { file, target } of ENTRIES) {
    await writeFile(join(outDir, file), `export * from "${target}";\n`);
  }
  return { dir: outDir, files: outputs.length + ENTRIES.length };
}

/** tsconfig.build.json's options (strictness, isolatedDeclarations), as tsc would read them. */
function compilerOptions() {
  const parsed = ts.getParsedCommandLineOfConfigFile(CONFIG, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => { throw new Error(describe(d)); } });
  if (!parsed) throw new Error(`Could not read ${CONFIG}.`);
  if (parsed.errors.length > 0) throw new Error(parsed.errors.map(describe).join("\n"));
  if (!parsed.options.isolatedDeclarations) throw new Error(`${CONFIG} must set "isolatedDeclarations": true: the declarations are emitted file by file.`);
  return parsed.options;
}

/** The entries and every source they import, transitively (type-only imports included, as tsc does). */
function reachableSources(entries) {
  const seen = new Set();
  const pending = [...entries];
  while (pending.length > 0) {
    const path = pending.pop();
    if (seen.has(path)) continue;
    if (!existsSync(path)) throw new Error(`Declaration emit: the entry ${relative(root, path)} is missing.`);
    seen.add(path);
    for (const match of readFileSync(path, "utf8").matchAll(RELATIVE_TS_SPECIFIER)) {
      const imported = join(dirname(path), `${match[2]}.ts`);
      // A doc comment may quote a path that is not a module of ours (e.g. an embedder's file).
      if (imported.startsWith(join(root, "src") + sep) && existsSync(imported)) pending.push(imported);
    }
  }
  return [...seen].sort();
}

function describe(diagnostic) {
  const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
  if (!diagnostic.file || diagnostic.start === undefined) return `TS${diagnostic.code}: ${message}`;
  const { line, character } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
  return `${relative(root, diagnostic.file.fileName)}:${line + 1}:${character + 1}: TS${diagnostic.code}: ${message}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { dir, files } = await buildTypes();
  console.log(`built ${files} declaration files in ${dir}`);
}
