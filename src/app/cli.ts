#!/usr/bin/env node
/**
 * Command-line entry for Node (`node dist/cli.mjs`) and Deno (`deno run -A src/app/cli.ts`), for
 * `sync` and for the UCRM plugin's `ucrm` alike.
 *
 * SIGTERM or Ctrl-C aborts the run: the chunk in flight is abandoned, the upload state saved after
 * the last committed chunk stays as it is (a write under way is finished first), and the process
 * exits 143 (SIGTERM) or 130 (SIGINT), as shells report a process ended by those signals. An
 * unfinished upload session never becomes a file; the next run continues it.
 */
import process from "node:process";
import { installMissingGlobals } from "./missing-globals.ts";

// Before the rest loads: on Node 16 the fetch API classes exist only once this has run.
await installMissingGlobals();
const { main, SIGNAL_EXIT_CODES } = await import("./cli-main.ts");

/** Longest wait for the run to wind down after a signal; a second signal ends it at once. */
const WIND_DOWN_MS = 20_000;

const controller = new AbortController();
let stoppedBy: keyof typeof SIGNAL_EXIT_CODES | undefined;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stoppedBy) process.exit(SIGNAL_EXIT_CODES[stoppedBy]);
    stoppedBy = signal;
    process.stderr.write(`\nReceived ${signal}: stopping; the upload state is kept and the next run continues from it.\n`);
    controller.abort(new Error(`stopped by ${signal}`));
    setTimeout(() => process.exit(SIGNAL_EXIT_CODES[signal]), WIND_DOWN_MS).unref();
  });
}

const returned = await main(process.argv.slice(2), process.env, {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
const code = stoppedBy ? SIGNAL_EXIT_CODES[stoppedBy] : returned;
process.exitCode = code;
// Keep-alive sockets must not hold the process open after the run.
setTimeout(() => process.exit(code), 50).unref();
