/**
 * The command line: `sync` for people, cron and containers (settings from the environment), and
 * `ucrm` for the UCRM plugin launcher (settings from the plugin folder, lines to data/plugin.log).
 * The same code runs under Node (dist/cli.mjs) and Deno (src/app/cli.ts).
 */
import { describeError } from "../domain/errors.ts";
import { compose } from "./compose.ts";
import { ids } from "./service-ids.ts";
import { ExitCode, runSync, type RunSyncInput } from "./run-sync.ts";
import { jsonSummary } from "./sync-report.ts";
import { runUcrmPlugin } from "./ucrm-main.ts";
import { parseCliArgs } from "./parse-cli-args.ts";

export const VERSION = "2.0.0";

/** Exit codes after a stop by signal: 128 + the signal number, as shells report them. */
export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

export const HELP = `unms-dropbox-backup-sync ${VERSION}: keep off-site copies of UNMS/UISP backups in Dropbox

Usage:
  backup-sync sync [--dry-run] [--json] [--allow-mass-delete]
  backup-sync ucrm --plugin-dir <dir> [--dry-run]     (run by the UCRM plugin's main.php)
  backup-sync --help | --version

sync options:
  --dry-run             list what would be uploaded and deleted, change nothing
  --json                end with one line of JSON: {"uploaded":[...],"skipped":[...],"deleted":[...],
                        "failed":[{"name","error"}],"guarded":[...],"bytesUploaded":n,
                        "resumable":[names left for the next run],...}
  --allow-mass-delete   lift the guard that holds back deletions of more than half of the copies

Settings (environment):
  UNMS_URL              NMS base URL, e.g. https://uisp.example.com/nms (API under /api/v2.1/)
  UNMS_API_TOKEN        UNMS API token (Network -> Settings -> Users)
  DROPBOX_APP_KEY       Dropbox app key; with DROPBOX_APP_SECRET or alone (PKCE)
  DROPBOX_APP_SECRET    Dropbox app secret (optional: without it PKCE is used)
  DROPBOX_ACCESS_CODE   the code Dropbox shows after you open the authorization URL
  DROPBOX_REFRESH_TOKEN a refresh token (else the one obtained and kept in STATE_DIR)
  DROPBOX_ACCESS_TOKEN  legacy long-lived token (deprecated; still works, with a warning)
  DROPBOX_FOLDER        folder inside the app folder (default: the app folder itself)
  STATE_DIR             private state: obtained refresh token, PKCE verifier, run lock
                        (default: $XDG_CONFIG_HOME/unms-dropbox-backup-sync)
  DROPBOX_CHUNK_MIB     upload chunk size in MiB, a multiple of 4 (default 12 with several connections, 8 with one)
  DROPBOX_CONNECTIONS   chunks of one file uploaded at once, 1..16 (default 4; 1: one at a time)
  MAX_DELETES           most deletions per run without --allow-mass-delete (default: half)
  TARGET_DIR            copy into this local folder instead of Dropbox
  UNMS_CA_FILE          PEM file of certificates (UISP's own or its CA) trusted for UNMS only
  UNMS_TLS_INSECURE     true: do not verify UNMS's certificate (UNMS only; warns every run)
  MAX_RUN_MINUTES       stop starting new upload chunks after this many minutes; the unfinished
                        upload is saved and continues on the next run (default: no limit)

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
}

export async function main(argv: string[], env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  let parsed;
  try {
    parsed = parseCliArgs(argv, {
      "dry-run": { type: "boolean" },
      json: { type: "boolean" },
      "allow-mass-delete": { type: "boolean" },
      "plugin-dir": { type: "string" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean" },
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
    return runUcrmPlugin({
      pluginDir,
      env,
      dryRun: values["dry-run"] === true,
      stdout: io.stdout,
      ...passThrough(io),
    });
  }
  if (command !== "sync") {
    io.stderr.write(
      command === undefined
        ? "Usage error: no command given; did you mean `sync`?\nRun with --help to see the commands and options.\n"
        : `Usage error: unknown command "${command}"; the commands are sync and ucrm.\nRun with --help to see the commands and options.\n`,
    );
    return ExitCode.Config;
  }

  const container = compose({ kind: "cli", env, stdout: io.stdout, stderr: io.stderr });
  const redactor = container.get(ids.Redactor);
  const input: RunSyncInput = {
    container,
    dryRun: values["dry-run"] === true,
    allowMassDelete: values["allow-mass-delete"] === true,
    ...passThrough(io),
  };
  const outcome = await runSync(input);
  if (values.json) io.stdout.write(`${redactor.redact(jsonSummary(outcome))}\n`);
  return outcome.exitCode;
}

function passThrough(io: CliIo): Pick<RunSyncInput, "unmsFetch" | "dropboxFetch" | "signal" | "sleep"> {
  return {
    ...(io.sleep ? { sleep: io.sleep } : {}),
    ...(io.unmsFetch ? { unmsFetch: io.unmsFetch } : {}),
    ...(io.dropboxFetch ? { dropboxFetch: io.dropboxFetch } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
  };
}
