/**
 * The UCRM plugin log, `<pluginDir>/data/plugin.log`, in the original plugin's format:
 * `message (2024-05-01T02:03:04+00:00)`, errors prefixed `ERROR: `, warnings `WARNING: `.
 *
 * It only writes what it is given: redacting secrets is the caller's job.
 */
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { isKnownTimeZone } from "../../domain/backup.ts";

export type PluginLogLevel = "info" | "warning" | "error";

/** The original plugin kept the last 256 lines; so do we. */
export const PLUGIN_LOG_MAX_LINES = 256;

const prefixes: Record<PluginLogLevel, string> = { info: "", warning: "WARNING: ", error: "ERROR: " };

/**
 * The time as PHP's `DateTimeInterface::ATOM` (`2024-05-01T04:03:04+02:00`), the format of the
 * original plugin, in the NMS time zone `timeZone` (an IANA name) with its offset; UTC without one.
 */
export function formatLogTime(date: Date, timeZone?: string): string {
  const offsetMinutes = timeZone ? zoneOffsetMinutes(date, timeZone) : 0;
  const local = new Date(Math.floor(date.getTime() / 1000) * 1000 + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${local.toISOString().slice(0, 19)}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** Minutes `timeZone` is ahead of UTC at `date` (0 for a zone this runtime does not know). */
export function zoneOffsetMinutes(date: Date, timeZone: string): number {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-US", {
      timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(date);
  } catch {
    return 0;
  }
  const part = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(part("year"), part("month") - 1, part("day"), part("hour"), part("minute"), part("second"));
  return Math.round((wall - Math.floor(date.getTime() / 1000) * 1000) / 60_000);
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

/** One formatted line per non-blank line of `message`; never an empty `ERROR: `. */
export function formatLogLines(message: string, level: PluginLogLevel, date: Date, timeZone?: string): string[] {
  const time = formatLogTime(date, timeZone);
  const lines = message.split(/\r?\n/).map((line) => line.trimEnd()).filter((line) => line.trim() !== "");
  if (lines.length === 0) lines.push("(empty log message: please report this as a bug)");
  return lines.map((line) => `${prefixes[level]}${line} (${time})`);
}

export interface PluginLogOptions {
  now?: () => Date;
}

/** Where the NMS time zone last seen is kept, so a run's first lines carry it too. */
export const LOG_TIME_ZONE_FILE = "log-time-zone";

/**
 * Opens without following a symbolic link (O_NOFOLLOW where the platform has it, else a check of
 * the path first): a link planted at data/plugin.log must never get its target written or read.
 */
function openNoFollow(path: string, flags: number, mode = 0o644): number {
  const noFollow = constants.O_NOFOLLOW ?? 0;
  if (!noFollow) refuseSymlink(path);
  try {
    return openSync(path, flags | noFollow, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOOP") throw symlinkError(path);
    throw error;
  }
}

function refuseSymlink(path: string): void {
  try {
    if (lstatSync(path).isSymbolicLink()) throw symlinkError(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

function symlinkError(path: string): Error {
  return new Error(`${path} is a symbolic link; the plugin log is never written through one. Remove the link (the plugin creates a plain file).`);
}

export class PluginLog {
  readonly path: string;
  readonly #dataDir: string;
  readonly #now: () => Date;
  #dataDirReady = false;
  #timeZone: string | undefined;

  constructor(pluginDir: string, options: PluginLogOptions = {}) {
    this.#dataDir = join(pluginDir, "data");
    this.path = join(this.#dataDir, "plugin.log");
    this.#now = options.now ?? (() => new Date());
    this.#timeZone = this.#readTimeZone();
  }

  /** The NMS time zone (IANA name) lines are stamped in from now on; remembered for the next run. */
  setTimeZone(timeZone: string): void {
    if (timeZone === this.#timeZone || !isKnownTimeZone(timeZone)) return;
    this.#timeZone = timeZone;
    try {
      this.#ensureDataDir();
      const fd = openNoFollow(join(this.#dataDir, LOG_TIME_ZONE_FILE), constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC);
      try {
        writeSync(fd, `${timeZone}\n`);
      } finally {
        closeSync(fd);
      }
    } catch {
      // Only the next run's first lines would be stamped in UTC: not worth failing a run for.
    }
  }

  #readTimeZone(): string | undefined {
    try {
      const zone = readFileSync(join(this.#dataDir, LOG_TIME_ZONE_FILE), "utf8").trim();
      return isKnownTimeZone(zone) ? zone : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Keeps the last `maxLines` lines. Never follows a symbolic link: the log is opened with
   * O_NOFOLLOW, and the new text goes to a temporary file created exclusively under an
   * unpredictable name, then renamed over the log (a link planted at either path is never written
   * through). A missing log is fine.
   */
  async trim(maxLines: number = PLUGIN_LOG_MAX_LINES): Promise<void> {
    let text: string;
    let fd: number;
    try {
      fd = openNoFollow(this.path, constants.O_RDONLY);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      throw error;
    }
    try {
      if (!fstatSync(fd).isFile()) throw new Error(`${this.path} is not a regular file; the plugin log is left as it is.`);
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    if (lines.length <= maxLines) return;
    const kept = maxLines > 0 ? lines.slice(-maxLines) : [];
    const temp = `${this.path}.${randomBytes(8).toString("hex")}.tmp`;
    let created = false;
    try {
      // O_EXCL: fails on anything already there, a symbolic link included.
      const out = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o644);
      created = true;
      try {
        writeSync(out, kept.length ? `${kept.join("\n")}\n` : "");
      } finally {
        closeSync(out);
      }
      renameSync(temp, this.path);
    } catch (error) {
      if (created) rmSync(temp, { force: true });
      throw error;
    }
  }

  /** Appends synchronously, so a line survives even if the process dies right after. */
  append(message: string, level: PluginLogLevel = "info"): void {
    this.appendRaw(formatLogLines(message, level, this.#now(), this.#timeZone));
  }

  /** Appends lines as they are (the rules around an authorization URL), never through a link. */
  appendRaw(lines: string[]): void {
    this.#ensureDataDir();
    const fd = openNoFollow(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT);
    try {
      writeSync(fd, `${lines.join("\n")}\n`);
    } finally {
      closeSync(fd);
    }
  }

  #ensureDataDir(): void {
    if (!this.#dataDirReady) {
      mkdirSync(this.#dataDir, { recursive: true });
      this.#dataDirReady = true;
    }
  }
}
