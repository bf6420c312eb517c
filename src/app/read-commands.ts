/**
 * The command line's read-only commands: `status`, `list` and `restore`. Settings come from the
 * environment as for `sync`; every line passes the run's redactor. `list` and `restore` never call
 * UNMS (they must work when UISP is gone); `status` reads both sides. None takes the run lock.
 */
import { backupIdFromFileName, backupStampFromFileName, isBackupFileName } from "../domain/backup.ts";
import { describeError } from "../domain/errors.ts";
import type { ByteStream, Redactor } from "../domain/ports.ts";
import type { CliIo } from "./cli-main.ts";
import { compose } from "./compose.ts";
import { openTarget, type OpenTargetInput } from "./open-target.ts";
import { resolveCopy, restoreCopy } from "./restore-copy.ts";
import { AGE_IDENTITY_FILE_ENV } from "../domain/age-identity-file.ts";
import { ExitCode, exitCodeFor, wallClockOf } from "./run-sync.ts";
import { ids } from "./service-ids.ts";
import { formatBytes, formatStatus, inspectStatus } from "./status.ts";

type Values = Record<string, string | boolean | undefined>;

function usage(io: CliIo, message: string): number {
  io.stderr.write(`Usage error: ${message}\nRun with --help to see the commands and options.\n`);
  return ExitCode.Config;
}

/** One command's container, its redactor, and how a failure is printed (redacted, never empty). */
function start(env: Record<string, string | undefined>, io: CliIo): { input: OpenTargetInput; redactor: Redactor; fail: (error: unknown) => number } {
  const container = compose({ kind: "cli", env, stdout: io.stdout, stderr: io.stderr });
  const redactor = container.get(ids.Redactor);
  const input: OpenTargetInput = {
    container,
    ...(io.unmsFetch ? { unmsFetch: io.unmsFetch } : {}),
    ...(io.dropboxFetch ? { dropboxFetch: io.dropboxFetch } : {}),
    ...(io.sleep ? { sleep: io.sleep } : {}),
  };
  const fail = (error: unknown) => {
    io.stderr.write(`ERROR: ${redactor.redact(describeError(error))}\n`);
    return exitCodeFor(error);
  };
  return { input, redactor, fail };
}

export async function runStatusCommand(json: boolean, env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  const { input, redactor, fail } = start(env, io);
  try {
    const target = await openTarget(input);
    const lastRun = (await input.container.get(ids.ConfigStore).readPrivateState()).lastRun;
    const nowMs = wallClockOf(io)();
    const status = await inspectStatus({ target, lastRun, nowMs, maxAgeSetting: "MAX_BACKUP_AGE_HOURS", ...(io.signal ? { signal: io.signal } : {}) });
    const text = json ? JSON.stringify(status) : formatStatus(status, lastRun, nowMs).join("\n");
    io.stdout.write(`${redactor.redact(text)}\n`);
    return status.healthy ? ExitCode.InSync : ExitCode.Failed;
  } catch (error) {
    return fail(error);
  }
}

export async function runListCommand(json: boolean, env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  const { input, redactor, fail } = start(env, io);
  try {
    const target = await openTarget(input);
    const files = (await target.store.list(target.settings.dropboxFolder, io.signal)).filter((f) => isBackupFileName(f.name));
    const copies = files
      .map((f) => {
        const stamp = backupStampFromFileName(f.name)!;
        const time = `${stamp.date.slice(0, -4)}-${stamp.date.slice(-4, -2)}-${stamp.date.slice(-2)}T${stamp.time.slice(0, 2)}:${stamp.time.slice(2)}`;
        return { name: f.name, backupId: backupIdFromFileName(f.name)!, time, size: f.size ?? null };
      })
      .sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : a.name.localeCompare(b.name)));
    if (json) {
      io.stdout.write(`${redactor.redact(JSON.stringify({ target: target.targetDescription, copies }))}\n`);
      return ExitCode.InSync;
    }
    const lines = [
      `${copies.length} cop${copies.length === 1 ? "y" : "ies"} in ${target.targetDescription} (newest first; times are the NMS's local time):`,
      ...copies.map((c) => `  ${c.time.replace("T", " ")}  ${c.size === null ? "size unknown" : formatBytes(c.size).padStart(10)}  ${c.backupId}  ${c.name}`),
    ];
    io.stdout.write(`${redactor.redact(lines.join("\n"))}\n`);
    return ExitCode.InSync;
  } catch (error) {
    return fail(error);
  }
}

export async function runRestoreCommand(args: string[], values: Values, env: Record<string, string | undefined>, io: CliIo): Promise<number> {
  if (args.length !== 1) {
    return usage(io, args.length === 0 ? "restore needs the backup id or file name of the copy to restore" : `unexpected argument "${args[1]}"`);
  }
  const to = values.to;
  if (typeof to !== "string" || to === "") return usage(io, "restore needs --to <path>: where the backup file should be written");
  const { input, redactor, fail } = start(env, io);
  try {
    // Read (and its keys registered with the redactor) before any download: a bad identity file stops here.
    const identityFile = typeof values.identity === "string" && values.identity !== "" ? values.identity : env[AGE_IDENTITY_FILE_ENV] || undefined;
    const decryption = await input.container.get(ids.RestoreDecryption)({ identityFile, label: values.identity ? "--identity" : AGE_IDENTITY_FILE_ENV });
    const target = await openTarget(input);
    const folder = target.settings.dropboxFolder;
    const file = resolveCopy(args[0]!, await target.store.list(folder, io.signal), target.targetDescription);
    let note: string | undefined;
    const transform = (verified: ByteStream): ByteStream => {
      const out = decryption({ name: file.name, stream: verified });
      note = out.note;
      return out.stream;
    };
    io.stdout.write(`${redactor.redact(`Restoring ${file.name}${file.size === undefined ? "" : ` (${formatBytes(file.size)})`} from ${target.targetDescription} to ${to} ...`)}\n`);
    const started = Date.now();
    const contentHasher = input.container.get(ids.ContentHasher);
    const output = input.container.get(ids.RestoreFileOutput);
    const result = await restoreCopy({ store: target.store, folder, file, to, force: values.force === true, transform, contentHasher, output, ...(io.signal ? { signal: io.signal } : {}) });
    const seconds = (Date.now() - started) / 1000;
    io.stdout.write(
      `${redactor.redact(`Restored ${file.name} to ${result.path}: ${result.bytes} bytes in ${seconds.toFixed(1)} s, verified by ${result.verifiedBy} (content hash ${result.contentHash}).`)}\n`,
    );
    if (note) io.stderr.write(`${redactor.redact(note)}\n`);
    return ExitCode.InSync;
  } catch (error) {
    return fail(error);
  }
}
