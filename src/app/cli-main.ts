/**
 * The command line: `sync` for people, cron and containers (settings from the environment), and
 * `ucrm` for the UCRM plugin launcher (settings from the plugin folder, lines to data/plugin.log).
 * The same code runs under Node (dist/cli.mjs) and Deno (src/app/cli.ts).
 */
import { describeError } from "../domain/errors.ts";
import { compose, settingsHelp } from "./compose.ts";
import { ids } from "./service-ids.ts";
import { ExitCode, runSync, type RunSyncInput } from "./run-sync.ts";
import { jsonSummaryPieces } from "./sync-report.ts";
import { parseCliArgs } from "./parse-cli-args.ts";

export const VERSION = "2.0.0";

/** Exit codes after a stop by signal: 128 + the signal number, as shells report them. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export const HELP: string = `unms-dropbox-backup-sync ${VERSION}: keep off-site copies of UNMS/UISP backups in Dropbox

Usage:
  backup-sync sync [--dry-run] [--json] [--allow-mass-delete] [--quiet]
  backup-sync status [--json]                         UNMS, the copies, the last run, a verdict
  backup-sync list [--json]                           the stored copies (name, backup id, time, size)
  backup-sync restore <backup id | file name> --to <path> [--force] [--identity <age key file>]
                                                      download and verify a copy, then move it to <path>
  backup-sync ucrm --plugin-dir <dir> [--dry-run]     (run by the UCRM plugin's main.php)
  backup-sync --help | --version

sync options:
  -n, --dry-run         list what would be uploaded and deleted, change nothing
  --json                end with one line of JSON: {"uploaded":[...],"skipped":[...],"deleted":[...],
                        "failed":[{"name","error"}],"guarded":[...],"bytesUploaded":n,
                        "resumable":[names left for the next run],
                        "retained":[{"name","why"}: kept by KEEP_*],...}; a run that stopped before
                        syncing (configuration, run lock): {"error":"...","exitCode":n}
  --allow-mass-delete   lift the guard that holds back deletions of more than half of the copies
  -q, --quiet           print only warnings and errors
  -h, --help            this text
  -V, --version         the version

${settingsHelp()}

status / list / restore: exit 0 healthy / listed / restored and verified; 1 unhealthy, or the copy
failed verification (nothing is left at <path>); 2 configuration or usage error (restore: <path>
exists and --force was not given). restore decrypts a .unms.age copy with --identity <file> or
AGE_IDENTITY_FILE; without one it stores the encrypted file as is and says how to decrypt it.

Exit codes: 0 in sync (or stopped by MAX_RUN_MINUTES, the rest continues next run); 1 the run failed
or a backup could not be stored; 2 configuration or usage error; 3 waiting for you to authorize
Dropbox (the URL is printed); 130 / 143 stopped by SIGINT / SIGTERM (the upload state is kept).
`;

export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Test seams, see RunSyncInput. */
  unmsFetch?: typeof fetch;
  dropboxFetch?: typeof fetch;
  signal?: AbortSignal;
  /** Test seam: how retry back-off waits (see RunSyncInput). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Test seam: the wall clock (ms since the epoch) that staleness and the run record read. */
  now?: () => number;
}

export async function main(argv: string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseCliArgs(argv, {
      "dry-run": { type: "boolean", short: "n" },
      json: { type: "boolean" },
      "allow-mass-delete": { type: "boolean" },
      quiet: { type: "boolean", short: "q" },
      "plugin-dir": { type: "string" },
      to: { type: "string" },
      force: { type: "boolean" },
      identity: { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "V" },
    });
  } catch (error) {
    io.stderr.write(`Usage error: ${describeError(error)}\nRun with --help to see the commands and options.\n`);
    return ExitCode.Config;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals[0] === "help") {
    io.stdout.write(HELP);
    return ExitCode.InSync;
  }
  if (values.version) {
    io.stdout.write(`${VERSION}\n`);
    return ExitCode.InSync;
  }
  const [command, ...rest] = positionals;
  // The other commands load their code when asked for: a nightly `sync` or `ucrm` never evaluates it.
  if (command === "restore") return (await import("./read-commands.ts")).runRestoreCommand(rest, values, env, io);
  if (rest.length > 0) {
    io.stderr.write(`Usage error: unexpected argument "${rest[0]}"\nRun with --help to see the commands and options.\n`);
    return ExitCode.Config;
  }

  if (command === "ucrm") {
    const pluginDir = values["plugin-dir"];
    if (typeof pluginDir !== "string" || pluginDir === "") {
      io.stderr.write("Usage error: ucrm needs --plugin-dir <the plugin's folder>\n");
      return ExitCode.Config;
    }
    const { runUcrmPlugin } = await import("./ucrm-main.ts");
    return runUcrmPlugin({
      pluginDir,
      env,
      dryRun: values["dry-run"] === true,
      stdout: io.stdout,
      ...passThrough(io),
      ...(io.now ? { now: io.now } : {}),
    });
  }
  if (command === "status") return (await import("./read-commands.ts")).runStatusCommand(values.json === true, env, io);
  if (command === "list") return (await import("./read-commands.ts")).runListCommand(values.json === true, env, io);
  if (command !== "sync") {
    io.stderr.write(
      command === undefined
        ? "Usage error: no command given; did you mean `sync`?\nRun with --help to see the commands and options.\n"
        : `Usage error: unknown command "${command}"; the commands are sync, status, list, restore and ucrm.\nRun with --help to see the commands and options.\n`,
    );
    return ExitCode.Config;
  }

  // With --json, stdout carries the JSON object alone: every line of the run goes to stderr.
  const container = compose({ kind: "cli", env, stdout: values.json ? io.stderr : io.stdout, stderr: io.stderr, ...(values.quiet ? { quiet: true } : {}) });
  const redactor = container.get(ids.Redactor);
  const input: RunSyncInput = {
    container,
    dryRun: values["dry-run"] === true,
    allowMassDelete: values["allow-mass-delete"] === true,
    ...passThrough(io),
    ...(io.now ? { now: io.now } : {}),
  };
  const outcome = await runSync(input);
  if (values.json) await writePieces(io.stdout, jsonSummaryPieces(outcome, (text) => redactor.redact(text)), "\n");
  return outcome.exitCode;
}

/** Writes text piece by piece, waiting whenever the stream's buffer is full, so memory stays that of one piece. */
async function writePieces(stream: NodeJS.WritableStream, pieces: Iterable<string>, end: string): Promise<void> {
  for (const piece of pieces) {
    if (stream.write(piece) === false) await drained(stream);
  }
  stream.write(end);
}

/** Resolves at "drain", or when the stream closes or fails (a reader that went away must not hang the run). */
function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.removeListener("drain", done).removeListener("close", done).removeListener("error", done);
      resolve();
    };
    stream.once("drain", done).once("close", done).once("error", done);
  });
}

function passThrough(io: CliIo): Pick<RunSyncInput, "unmsFetch" | "dropboxFetch" | "signal" | "sleep"> {
  return {
    ...(io.sleep ? { sleep: io.sleep } : {}),
    ...(io.unmsFetch ? { unmsFetch: io.unmsFetch } : {}),
    ...(io.dropboxFetch ? { dropboxFetch: io.dropboxFetch } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
  };
}
