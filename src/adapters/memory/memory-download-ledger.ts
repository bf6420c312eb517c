/**
 * DownloadLedger in memory: for tests and for library users who keep no state folder (each new
 * instance starts empty, so only the listed size can then tell a short copy).
 */
import type { DownloadLedger } from "../../domain/ports.ts";
import type { DownloadRecord } from "../../domain/reconcile.ts";

/**
 * A DownloadLedger in memory (the library's default, per createBackupSync instance).
 *
 * @example
 * ```ts
 * import { MemoryDownloadLedger } from "unms-dropbox-backup-sync";
 *
 * const ledger = new MemoryDownloadLedger();
 * ```
 */
export class MemoryDownloadLedger implements DownloadLedger {
  #records = new Map<string, DownloadRecord>();
  /** How many times `write` was called, for tests. */
  writes = 0;

  async read(): Promise<Map<string, DownloadRecord>> {
    return new Map([...this.#records].map(([key, record]) => [key, { ...record }]));
  }

  async write(records: ReadonlyMap<string, DownloadRecord>): Promise<void> {
    this.writes += 1;
    this.#records = new Map([...records].map(([key, record]) => [key, { ...record }]));
  }
}
