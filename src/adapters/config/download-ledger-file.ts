/**
 * The download ledger as a private file in the state folder (`downloads.json`, mode 0600, written
 * atomically): per backup id, the bytes its download sent and whether that count is verified.
 * It is a cache of facts, not configuration: a malformed file is reported by name and then
 * treated as empty (the worst outcome is one repair upload per backup), never silently.
 */
import { join } from "node:path";
import { SyncError, describeError } from "../../domain/errors.ts";
import type { DownloadLedger } from "../../domain/ports.ts";
import type { DownloadRecord } from "../../domain/reconcile.ts";
import { ensurePrivateDir, parseJsonObject, readTextOrFail, writeFileAtomic } from "./atomic-file.ts";

export const DOWNLOAD_LEDGER_FILE = "downloads.json";

/**
 * Remembers per backup the bytes its download sent (the size rule); see `BackupSyncOptions.downloadLedger`.
 *
 * @example
 * ```ts
 * import { createBackupSync, DownloadLedgerFile, type DropboxCredentials, type UnmsConnection } from "unms-dropbox-backup-sync";
 *
 * declare const unms: UnmsConnection;
 * declare const dropbox: DropboxCredentials;
 *
 * createBackupSync({ unms, dropbox, downloadLedger: new DownloadLedgerFile("/var/lib/uisp-sync") });
 * ```
 */
export class DownloadLedgerFile implements DownloadLedger {
  readonly path: string;

  constructor(readonly dir: string) {
    this.path = join(dir, DOWNLOAD_LEDGER_FILE);
  }

  /** @throws SyncError `config.ledger_unreadable` / `config.ledger_malformed` naming the file. */
  async read(): Promise<Map<string, DownloadRecord>> {
    const content = await readTextOrFail(this.path, { what: "the download ledger", kind: "config", code: "config.ledger_unreadable" });
    const records = new Map<string, DownloadRecord>();
    if (content === undefined || content.trim() === "") return records;
    const parsed = parseJsonObject(content);
    const backups = "problem" in parsed ? undefined : parsed.value.backups;
    if (typeof backups !== "object" || backups === null || Array.isArray(backups)) {
      const why = "problem" in parsed ? parsed.problem : 'it has no "backups" object';
      throw new SyncError(`The download ledger ${this.path} is malformed: ${why}.`, { kind: "config", code: "config.ledger_malformed" });
    }
    for (const [key, value] of Object.entries(backups as Record<string, unknown>)) {
      const { bytes, verified } = (value ?? {}) as Record<string, unknown>;
      if (typeof bytes === "number" && Number.isSafeInteger(bytes) && bytes >= 0 && typeof verified === "boolean") {
        records.set(key.toLowerCase(), { bytes, verified });
      }
    }
    return records;
  }

  /** @throws SyncError `config.ledger_unwritable` naming the file. */
  async write(records: ReadonlyMap<string, DownloadRecord>): Promise<void> {
    const backups = Object.fromEntries([...records].sort(([a], [b]) => a.localeCompare(b)).map(([key, { bytes, verified }]) => [key, { bytes, verified }]));
    try {
      await ensurePrivateDir(this.dir);
      await writeFileAtomic(this.path, `${JSON.stringify({ backups }, null, 2)}\n`, 0o600);
    } catch (error) {
      throw new SyncError(`Cannot write the download ledger ${this.path}: ${describeError(error)}. Check that the folder is writable.`, {
        kind: "config",
        code: "config.ledger_unwritable",
        cause: error,
      });
    }
  }
}
