#!/usr/bin/env node
/**
 * Command-line entry for Node (`node dist/cli.mjs`) and Deno (`deno run -A src/app/cli.ts`).
 * Ctrl-C or SIGTERM aborts the run: an unfinished upload session never becomes a file.
 */
import process from "node:process";
import { installMissingGlobals } from "./missing-globals.ts";

// Before the rest loads: on Node 16 the fetch API classes exist only once this has run.
await installMissingGlobals();
const { main } = await import("./cli-main.ts");

const controller = new AbortController();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stderr.write(`\nReceived ${signal}: stopping; no partial file is left behind.\n`);
    controller.abort(new Error(`stopped by ${signal}`));
  });
}

const code = await main(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
process.exitCode = code;
// Keep-alive sockets must not hold the process open after the run.
setTimeout(() => process.exit(code), 50).unref();
