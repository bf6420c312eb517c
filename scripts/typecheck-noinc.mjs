#!/usr/bin/env node
// `npm run typecheck`: tsc over tsconfig.json (src, test, scripts) and, in the same program, every
// fenced ```ts block of an `@example` in a doc comment under src/, each as a module of its own whose
// "unms-dropbox-backup-sync" and "unms-dropbox-backup-sync/testing" imports resolve to src/index.ts
// and src/testing.ts, as an embedder's would to the package. One program: `deno check --doc-only`
// over the examples loaded the libraries and the API a second time, 4-8 s of CPU (issue 10).
//
// An example may declare what it does not use (`const dropbox: DropboxCredentials = ...` shows a
// type): tsconfig's unused-name errors are not reported for examples, every other error is, at the
// line of the source file the example sits in. Incremental: the build info lives in node_modules/.cache.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = fileURLToPath(new URL("..", import.meta.url));
const buildInfo = join(root, "node_modules", ".cache", "unms-dropbox-backup-sync", "typecheck.tsbuildinfo");
/** Where the examples appear to live: beside their source, under a folder no file is in. */
const exampleDir = join(root, ".examples");
/** "declared but never read", "all imports unused" and the like: an example may show a declaration alone. */
const UNUSED_NAME_CODES = new Set([6133, 6138, 6192, 6196, 6198, 6199, 6205]);

/** Every ```ts block of a doc comment under src/, with the source line its first code line is on. */
function examples() {
  const found = [];
  for (const path of sourceFiles(join(root, "src"))) {
    const lines = readFileSync(path, "utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (!/^\s*\*\s*```ts\b/.test(lines[i])) continue;
      const start = i + 1;
      let end = start;
      while (end < lines.length && !/^\s*\*\s*```\s*$/.test(lines[end])) end++;
      if (end === lines.length) throw new Error(`${relative(root, path)}:${i + 1}: a \`\`\`ts block in a doc comment is never closed.`);
      const code = lines.slice(start, end).map((line) => line.replace(/^\s*\* ?/, "")).join("\n");
      const source = relative(root, path).split(sep).join("/");
      found.push({ source, line: start + 1, file: join(exampleDir, `${source}.line-${start + 1}.ts`), text: `${code}\n` });
      i = end;
    }
  }
  return found;
}

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const blocks = examples();
const sources = [...new Set(blocks.map((block) => block.source))];
if (!sources.includes("src/index.ts") || !sources.some((source) => source.startsWith("src/testing/"))) {
  console.error(`typecheck: expected @example blocks in src/index.ts and under src/testing/, found them in: ${sources.join(", ") || "no file"}.`);
  process.exit(1);
}
const byFile = new Map(blocks.map((block) => [block.file, block]));

const config = ts.getParsedCommandLineOfConfigFile(join(root, "tsconfig.json"), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) });
if (config.errors.length > 0) fail(config.errors);
const options = {
  ...config.options,
  incremental: false,
  
  // Every example is a module of its own, imports or not, so their names never meet.
  moduleDetection: ts.ModuleDetectionKind.Force,
  baseUrl: root,
  paths: { "unms-dropbox-backup-sync": ["./src/index.ts"], "unms-dropbox-backup-sync/testing": ["./src/testing.ts"] },
};
const host = ts.createCompilerHost(options);
const { fileExists, readFile } = host;
host.fileExists = (path) => byFile.has(path) || fileExists.call(host, path);
host.readFile = (path) => byFile.get(path)?.text ?? readFile.call(host, path);
const program = ts.createProgram({ rootNames: [...config.fileNames, ...byFile.keys()], options, host });
// The builder's own calls: they reuse what the build info says is unchanged.
const diagnostics = [
  ...program.getOptionsDiagnostics(),
  ...program.getGlobalDiagnostics(),
  ...program.getSyntacticDiagnostics(),
  ...program.getSemanticDiagnostics(),
].filter((d) => !(d.file && byFile.has(d.file.fileName) && UNUSED_NAME_CODES.has(d.code)));

if (diagnostics.length > 0) fail(diagnostics);
console.log(`typecheck: ${config.fileNames.length} files and the ${blocks.length} @example blocks of ${sources.length} files type-check.`);

function fail(list) {
  for (const d of list) console.error(describe(d));
  console.error(`typecheck: ${list.length} error${list.length === 1 ? "" : "s"}.`);
  process.exit(1);
}

/** tsc's "file:line:col - error TSn: message", an example's error at its line in the source file. */
function describe(d) {
  const message = ts.flattenDiagnosticMessageText(d.messageText, "\n");
  if (!d.file || d.start === undefined) return `error TS${d.code}: ${message}`;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  const block = byFile.get(d.file.fileName);
  const where = block ? `${block.source}:${block.line + line}:${character + 4} (@example)` : `${relative(root, d.file.fileName)}:${line + 1}:${character + 1}`;
  return `${where} - error TS${d.code}: ${message}`;
}
