/**
 * The UCRM plugin log, `<pluginDir>/data/plugin.log`, in the original plugin's format:
 * `message (2024-05-01T02:03:04+00:00)`, errors prefixed `ERROR: `, warnings `WARNING: `.
 *
 * It only writes what it is given: redacting secrets is the caller's job.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

export type PluginLogLevel = "info" | "warning" | "error";

/** The original plugin kept the last 256 lines; so do we. */
export const PLUGIN_LOG_MAX_LINES = 256;

const prefixes: Record<PluginLogLevel, string> = { info: "", warning: "WARNING: ", error: "ERROR: " };

/**
 * The time as PHP's `DateTimeInterface::ATOM` in UTC (`2024-05-01T02:03:04+00:00`), the format of
 * the original plugin and of the PHP launcher's own lines.
 */
export function formatLogTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}+00:00`;
}

/** One formatted line per non-blank line of `message`; never an empty `ERROR: `. */
export function formatLogLines(message: string, level: PluginLogLevel, date: Date): string[] {
  const time = formatLogTime(date);
  const lines = message.split(/\r?\n/).map((line) => line.trimEnd()).filter((line) => line.trim() !== "");
  if (lines.length === 0) lines.push("(empty log message: please report this as a bug)");
  return lines.map((line) => `${prefixes[level]}${line} (${time})`);
}

export interface PluginLogOptions {
  now?: () => Date;
}

export class PluginLog {
  readonly path: string;
  readonly #dataDir: string;
  readonly #now: () => Date;
  #dataDirReady = false;

  constructor(pluginDir: string, options: PluginLogOptions = {}) {
    this.#dataDir = join(pluginDir, "data");
    this.path = join(this.#dataDir, "plugin.log");
    this.#now = options.now ?? (() => new Date());
  }

  /** Keeps the last `maxLines` lines. Replaces the file atomically; a missing log is fine. */
  async trim(maxLines: number = PLUGIN_LOG_MAX_LINES): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (lines.length <= maxLines) return;
    const kept = maxLines > 0 ? lines.slice(-maxLines) : [];
    const temp = `${this.path}.${process.pid}.tmp`;
    try {
      await writeFile(temp, kept.length ? `${kept.join("\n")}\n` : "");
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
  }

  /** Appends synchronously, so a line survives even if the process dies right after. */
  append(message: string, level: PluginLogLevel = "info"): void {
    if (!this.#dataDirReady) {
      mkdirSync(this.#dataDir, { recursive: true });
      this.#dataDirReady = true;
    }
    const lines = formatLogLines(message, level, this.#now());
    appendFileSync(this.path, `${lines.join("\n")}\n`);
  }
}
