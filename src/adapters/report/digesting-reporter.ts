/**
 * The command line's per-backup lists, bounded: a dry run over a million backups printed a million
 * "Would upload" lines, which nobody reads, and which a pipe slower than the run (a bench, a log
 * shipper) kept in memory: Node queues writes to a pipe (80 MB for a million lines, measured).
 * Each kind of per-backup line stops at `cap` and ends as one "and N more" line (LogDigest, as in
 * plugin.log); `--json` still names every backup.
 */
import type { Reporter, SyncEvent } from "../../domain/ports.ts";
import { LogDigest } from "./log-digest.ts";

/** Per-backup lines the console shows per kind in one run, before "and N more". */
export const CONSOLE_LIST_CAP = 1000;

export class DigestingReporter implements Reporter {
  readonly #digest: LogDigest;

  constructor(private readonly lines: Reporter, cap: number = CONSOLE_LIST_CAP) {
    this.#digest = new LogDigest(cap);
  }

  report(event: SyncEvent): void {
    for (const admitted of this.#digest.admit(event)) this.lines.report(admitted);
  }
}
