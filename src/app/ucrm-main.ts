/**
 * The UCRM plugin run (`cli.mjs ucrm --plugin-dir <dir>`, started by main.php): settings from
 * ucrm.json + data/config.json, readable lines in data/plugin.log, which every UCRM admin can read,
 * so every line passes the redactor first.
 */
import { appendFileSync } from "node:fs";
import { UcrmFileConfigStore } from "../adapters/config/ucrm-file-config-store.ts";
import { LineReporter, type LineSink } from "../adapters/report/line-reporter.ts";
import { PluginLog } from "../adapters/report/plugin-log.ts";
import type { Reporter, SyncEvent } from "../domain/ports.ts";
import { describeError } from "../domain/errors.ts";
import { Redactor } from "./redact.ts";
import { ExitCode, runSync, type RunSyncInput } from "./run-sync.ts";

export interface UcrmRunInput extends Pick<RunSyncInput, "unmsFetch" | "dropboxFetch" | "signal" | "dryRun" | "sleep"> {
  pluginDir: string;
  /**
   * The process environment: only the test-only DROPBOX_BASE_URL and BACKUP_SYNC_PLUGIN_LOG_TRIMMED
   * (set by main.php, which trims the log itself) are read from it.
   */
  env?: Record<string, string | undefined>;
  /** Lines are echoed here too (UCRM shows a manual run's output). */
  stdout?: NodeJS.WritableStream;
}

const RULE = "=".repeat(72);

export async function runUcrmPlugin(input: UcrmRunInput): Promise<number> {
  const log = new PluginLog(input.pluginDir);
  const redactor = new Redactor();
  const redact = (text: string) => redactor.redact(text);
  try {
    // main.php trims before it logs which runtime it picked; trimming again would cut those lines.
    if (input.env?.BACKUP_SYNC_PLUGIN_LOG_TRIMMED !== "1") await log.trim();
  } catch (error) {
    input.stdout?.write(`WARNING: could not trim ${log.path}: ${redact(describeError(error))}\n`);
  }

  const sink: LineSink = {
    write: ({ level, text }) => {
      log.append(text, level);
      input.stdout?.write(`${level === "error" ? "ERROR: " : level === "warning" ? "WARNING: " : ""}${text}\n`);
    },
  };
  const lines = new LineReporter(sink, redact);
  const reporter: Reporter = {
    report(event: SyncEvent) {
      if (event.type !== "authorization-required") return lines.report(event);
      // As the original plugin did: the URL alone between rules, easy to find and copy.
      log.append(redact(event.message), "warning");
      appendFileSync(log.path, `${RULE}\n${redact(event.url)}\n${RULE}\n`);
      input.stdout?.write(`${redact(event.message)}\n${redact(event.url)}\n`);
    },
  };

  try {
    const outcome = await runSync({
      configStore: new UcrmFileConfigStore(input.pluginDir, input.env?.DROPBOX_BASE_URL ? { dropboxBaseUrl: input.env.DROPBOX_BASE_URL } : {}),
      reporter,
      registerSecrets: (values) => values.forEach((s) => redactor.addSecret(s)),
      // The checkbox in UCRM is one-shot: cleared after the run that used it.
      allowMassDeleteOneShot: true,
      ...(input.dryRun ? { dryRun: true } : {}),
      ...(input.unmsFetch ? { unmsFetch: input.unmsFetch } : {}),
      ...(input.dropboxFetch ? { dropboxFetch: input.dropboxFetch } : {}),
      ...(input.signal ? { signal: input.signal } : {}),
      ...(input.sleep ? { sleep: input.sleep } : {}),
    });
    return outcome.exitCode;
  } catch (error) {
    // runSync reports its own failures; this is the last line of defence against a silent stop.
    lines.report({ type: "failed", message: `The plugin run failed unexpectedly: ${describeError(error)}` });
    return ExitCode.Failed;
  }
}
