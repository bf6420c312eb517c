/**
 * Turns sync events into the lines a person reads, in the console and in plugin.log alike.
 */
import type { SyncEvent } from "../../domain/ports.ts";
import { describeRetention } from "../../domain/retention.ts";

export type Level = "info" | "warning" | "error";

/**
 * One line a LineReporter writes: its level and its (already redacted) text.
 *
 * @example
 * ```ts
 * import type { Line } from "unms-dropbox-backup-sync";
 *
 * const line: Line = { level: "warning", text: "The NMS settings name no time zone; new file names use UTC" };
 * ```
 */
export interface Line {
  level: Level;
  text: string;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function formatRate(bytes: number, ms: number): string {
  return ms > 0 ? `${formatBytes((bytes * 1000) / ms)}/s` : "-";
}

/** The line for an event, or undefined for events that are not lines (progress). */
export function formatEvent(event: SyncEvent): Line | undefined {
  switch (event.type) {
    case "run-started":
      return info(`${event.dryRun ? "Dry run: nothing will be changed. " : ""}Syncing UNMS backups to ${event.target}`);
    case "listed":
      return info(
        `UNMS lists ${event.backups} backup(s), ${event.successful} successful; the target folder holds ${event.stored} file(s); file names use time zone ${event.timeZone}`,
      );
    case "uploading":
      return info(`Uploading ${event.name}${event.size === undefined ? "" : ` (${formatBytes(event.size)})`}`);
    case "progress":
    case "not-attempted":
    case "held-over":
      return undefined;
    case "uploaded":
      return event.dryRun
        ? info(`Would upload ${event.name}`)
        : event.resumedFrom
          ? info(
            `Uploaded ${event.name} (${formatBytes(event.bytes)}; continued from ${formatBytes(event.resumedFrom)}, the rest in ${formatDuration(event.durationMs)}, ${formatRate(event.bytes - event.resumedFrom, event.durationMs)})`,
          )
          : info(`Uploaded ${event.name} (${formatBytes(event.bytes)} in ${formatDuration(event.durationMs)}, ${formatRate(event.bytes, event.durationMs)})`);
    case "retrying":
      return { level: "warning", text: `Retrying ${event.name} (attempt ${event.attempt}): ${event.reason}` };
    case "skipped":
      return info(`Already stored: ${event.name}`);
    case "ignored":
      return info(`Not copied: backup ${event.backupId}, because ${event.reason}`);
    case "deleted":
      return info(`${event.dryRun ? "Would delete" : "Deleted"} ${event.name} (UNMS no longer lists its backup)`);
    case "retained":
      return info(`Kept by the retention policy: ${event.name} (UNMS no longer lists its backup; ${describeRetention(event.reasons)})`);
    case "guarded":
      return { level: "warning", text: `Deletions held back: ${event.message}. ${event.advice}` };
    case "info":
      return info(event.message);
    case "warning":
      return { level: "warning", text: event.message };
    case "failed":
      return { level: "error", text: event.name ? `${event.name}: ${event.message}` : event.message };
    case "authorization-required":
      return { level: "warning", text: `${event.message}\n${event.url}` };
    case "run-finished":
      return info(event.summary);
  }
}

function info(text: string): Line {
  return { level: "info", text };
}
