/**
 * Keeps plugin.log readable and bounded during a run: a run over 20,000 stored backups must not
 * append 20,000 "Already stored" lines to a log the UCRM page shows and trims to 256 lines.
 *
 * Backups already stored become one count once UNMS lists more than `cap` (a short list keeps its
 * names); per-backup lines for what changed or failed (uploads,
 * deletions, failures, backups not copied, retries) stay, each kind up to `cap` lines, then one
 * "and N more" line at the end. Everything else passes as it is.
 */
import type { SyncEvent } from "../../domain/ports.ts";

/** Per-backup lines kept per kind in one run, before "and N more". */
const LOG_LIST_CAP = 50;

type ListKind = "uploading" | "uploaded" | "deleted" | "failed" | "ignored" | "retrying";

const MORE: Record<ListKind, (n: string, dryRun: boolean) => string> = {
  uploading: (n) => `... and ${n} more upload(s) started (not listed one by one)`,
  uploaded: (n, dryRun) => `... and ${n} more backup(s) ${dryRun ? "would be uploaded" : "uploaded"} (not listed one by one)`,
  deleted: (n, dryRun) => `... and ${n} more copie(s) ${dryRun ? "would be deleted" : "deleted"} (not listed one by one)`,
  failed: (n) => `... and ${n} more backup(s) failed (not listed one by one; the next run tries them again)`,
  ignored: (n) => `... and ${n} more backup(s) not copied (not listed one by one)`,
  retrying: (n) => `... and ${n} more retries (not listed one by one)`,
};

export class LogDigest {
  readonly #shown = new Map<ListKind, number>();
  readonly #hidden = new Map<ListKind, number>();
  #alreadyStored = 0;
  #dryRun = false;
  #listSkipped = true;

  constructor(private readonly cap: number = LOG_LIST_CAP) {}

  /**
   * The events to log for `event`, in order: none while a list is summarised, the summary lines
   * before the run's last word.
   */
  admit(event: SyncEvent): SyncEvent[] {
    if (event.type === "run-started") this.#dryRun = event.dryRun;
    if (event.type === "listed") this.#listSkipped = event.successful <= this.cap;
    if (event.type === "skipped" && !this.#listSkipped) {
      this.#alreadyStored++;
      return [];
    }
    const kind = listKind(event);
    if (kind) {
      const shown = this.#shown.get(kind) ?? 0;
      if (shown >= this.cap) {
        this.#hidden.set(kind, (this.#hidden.get(kind) ?? 0) + 1);
        return [];
      }
      this.#shown.set(kind, shown + 1);
      return [event];
    }
    const endsRun = event.type === "run-finished" || (event.type === "failed" && event.name === undefined);
    return endsRun ? [...this.#summary(), event] : [event];
  }

  /** The summary lines so far, once: counts of what was not listed one by one. */
  #summary(): SyncEvent[] {
    const lines: SyncEvent[] = [];
    if (this.#alreadyStored > 0) {
      lines.push({ type: "info", message: `${count(this.#alreadyStored)} backup(s) already stored (not listed one by one)` });
    }
    for (const [kind, hidden] of this.#hidden) lines.push({ type: kind === "failed" ? "warning" : "info", message: MORE[kind](count(hidden), this.#dryRun) });
    this.#alreadyStored = 0;
    this.#hidden.clear();
    return lines;
  }
}

function listKind(event: SyncEvent): ListKind | undefined {
  switch (event.type) {
    case "uploading":
    case "uploaded":
    case "deleted":
    case "ignored":
    case "retrying":
      return event.type;
    case "failed":
      return event.name === undefined ? undefined : "failed";
    default:
      return undefined;
  }
}

function count(n: number): string {
  return n.toLocaleString("en-US");
}
