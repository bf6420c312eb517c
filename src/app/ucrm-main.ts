/**
 * The UCRM plugin run (`cli.mjs ucrm --plugin-dir <dir>`, started by main.php): settings from
 * ucrm.json + data/config.json, readable lines in data/plugin.log, which every UCRM admin can read,
 * so every line passes the redactor first (see compose.ts, UCRM profile).
 */
import { describeError } from "../domain/errors.ts";
import { compose } from "./compose.ts";
import { ids } from "./service-ids.ts";
import { ExitCode, runSync, type RunSyncInput } from "./run-sync.ts";

export interface UcrmRunInput extends Pick<RunSyncInput, "unmsFetch" | "dropboxFetch" | "signal" | "dryRun" | "sleep" | "now"> {
  pluginDir: string;
  /**
   * The process environment: only the test-only DROPBOX_BASE_URL and BACKUP_SYNC_PLUGIN_LOG_TRIMMED
   * (set by main.php, which trims the log itself) are read from it.
   */
  env?: Record<string, string | undefined>;
  /** Lines are echoed here too (UCRM shows a manual run's output). */
  stdout?: NodeJS.WritableStream;
}

export async function runUcrmPlugin(input: UcrmRunInput): Promise<number> {
  const container = compose({ kind: "ucrm", pluginDir: input.pluginDir, ...(input.env ? { env: input.env } : {}), ...(input.stdout ? { stdout: input.stdout } : {}) });
  const log = container.get(ids.PluginLog);
  const redactor = container.get(ids.Redactor);
  const trim = async () => {
    try {
      await log.trim();
    } catch (error) {
      input.stdout?.write(`WARNING: could not trim ${log.path}: ${redactor.redact(describeError(error))}\n`);
    }
  };
  // main.php trims before it logs which runtime it picked; trimming again would cut those lines.
  if (input.env?.BACKUP_SYNC_PLUGIN_LOG_TRIMMED !== "1") await trim();

  try {
    const outcome = await runSync({
      container,
      // The checkbox in UCRM is one-shot: cleared after the run that used it.
      allowMassDeleteOneShot: true,
      writeVerdict: true,
      // The UCRM form label, as the plugin log names every setting (settings-catalogue.ts).
      maxAgeSetting: `"Maximum backup age (hours)" (maxBackupAgeHours)`,
      ...(input.now ? { now: input.now } : {}),
      ...(input.dryRun ? { dryRun: true } : {}),
      ...(input.unmsFetch ? { unmsFetch: input.unmsFetch } : {}),
      ...(input.dropboxFetch ? { dropboxFetch: input.dropboxFetch } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
      ...(input.sleep ? { sleep: input.sleep } : {}),
    });
    return outcome.exitCode;
  } catch (error) {
    // runSync reports its own failures; this is the last line of defence against a silent stop.
    container.get(ids.EntryReporter).report({ type: "failed", message: `The plugin run failed unexpectedly: ${describeError(error)}` });
    return ExitCode.Failed;
  } finally {
    // Bounded between runs too, not only at the next start.
    await trim();
  }
}
