/**
 * The sync use case: list both sides, let the domain decide, carry the plan out through the ports.
 *
 * Backups are copied one at a time, so memory stays that of one upload whatever the count. A failed
 * backup never stops the others; the deletions the plan deems safe still happen (they depend only
 * on what UNMS lists, not on this run's uploads), and the failure is reported.
 */
import { backupKey, isKnownTimeZone, type UnmsBackup } from "../domain/backup.ts";
import { SyncError, describeError } from "../domain/errors.ts";
import type { BackupSource, BackupStore, Clock, DownloadLedger, Reporter } from "../domain/ports.ts";
import { reconcile, type DownloadRecord, type PlannedUpload, type SyncPolicy } from "../domain/reconcile.ts";

export interface SyncOptions {
  /** Folder in the store; "" is its root. */
  folder: string;
  dryRun?: boolean;
  policy?: SyncPolicy;
  signal?: AbortSignal;
}

export interface UploadRecord {
  name: string;
  bytes: number;
  durationMs: number;
}

export interface SyncReport {
  dryRun: boolean;
  /** Names stored this run (with dryRun: names that would be). */
  uploaded: string[];
  /** Names already present and kept. */
  skipped: string[];
  /** Names deleted this run (with dryRun: names that would be). */
  deleted: string[];
  failed: { name: string; error: string }[];
  /** Why deletions were held back, with what to do. */
  guarded: string[];
  bytesUploaded: number;
  uploads: UploadRecord[];
  ignored: { backupId: string; reason: string }[];
  warnings: string[];
  durationMs: number;
}

/** The download ledger within one run: what was last written, what is known now. */
interface LedgerRun {
  written: ReadonlyMap<string, DownloadRecord>;
  current: Map<string, DownloadRecord>;
  /** Set after a failed write: one warning per run is enough. */
  failed: boolean;
}

/** Restarts of one backup whose download broke off before we give up on it for this run. */
export const SOURCE_ATTEMPTS = 3;

/** Failures after which every further call would fail the same way. */
const RUN_ENDING_KINDS = new Set(["unauthorized", "authorization-required"]);

export class SyncBackups {
  constructor(
    private readonly source: BackupSource,
    private readonly store: BackupStore,
    private readonly reporter: Reporter,
    private readonly clock: Clock,
    private readonly targetDescription: string,
    /** Bytes downloaded per backup in earlier runs; without one, only listed sizes are known. */
    private readonly ledger?: DownloadLedger,
  ) {}

  /** Runs one sync. Throws only when a listing fails; per-backup failures land in the report. */
  async run(options: SyncOptions): Promise<SyncReport> {
    const { folder, dryRun = false, signal } = options;
    const started = this.clock.now();
    const report: SyncReport = {
      dryRun,
      uploaded: [],
      skipped: [],
      deleted: [],
      failed: [],
      guarded: [],
      bytesUploaded: 0,
      uploads: [],
      ignored: [],
      warnings: [],
      durationMs: 0,
    };
    const warn = (message: string) => {
      report.warnings.push(message);
      this.reporter.report({ type: "warning", message });
    };

    this.reporter.report({ type: "run-started", target: this.targetDescription, dryRun });
    const backups = await this.source.list(signal);
    const timeZone = await this.#timeZone(warn, signal);
    const stored = await this.store.list(folder, signal);
    const downloads = await this.#readLedger(warn);
    const plan = reconcile({ backups, stored, timeZone, policy: options.policy, downloads });
    this.reporter.report({
      type: "listed",
      backups: backups.length,
      successful: plan.uploads.length + plan.keeps.length,
      stored: stored.length,
      timeZone,
    });

    for (const { backup, reason } of plan.ignored) {
      report.ignored.push({ backupId: backup.id, reason });
      this.reporter.report({ type: "ignored", backupId: backup.id, reason });
    }
    for (const backup of backups) if (backup.warning && !backup.unusable) warn(backup.warning);
    for (const { name, why } of plan.uploads) if (why) this.reporter.report({ type: "info", message: `${dryRun ? "Would replace" : "Replacing"} ${name}: ${why}` });
    const records: LedgerRun = { written: downloads, current: new Map(downloads), failed: false };
    for (const { file } of plan.keeps) {
      report.skipped.push(file.name);
      this.reporter.report({ type: "skipped", name: file.name });
    }

    let runEnding: SyncError | undefined;
    for (const upload of plan.uploads) {
      signal?.throwIfAborted();
      if (runEnding) {
        report.failed.push({ name: upload.name, error: `Not attempted: ${runEnding.message}` });
        continue;
      }
      if (dryRun) {
        report.uploaded.push(upload.name);
        this.reporter.report({ type: "uploaded", name: upload.name, bytes: 0, durationMs: 0, dryRun });
        continue;
      }
      try {
        const { announced, ...record } = await this.#upload(folder, upload, signal);
        records.current.set(backupKey(upload.backup.id), this.#downloadRecord(upload.backup, record.bytes, announced, downloads, warn));
        // Kept at once, so a run killed later still remembers what this one downloaded.
        await this.#writeLedger(backups, records, warn);
        report.uploaded.push(record.name);
        report.uploads.push(record);
        report.bytesUploaded += record.bytes;
        this.reporter.report({ type: "uploaded", ...record, dryRun });
      } catch (error) {
        if (signal?.aborted) throw error;
        const message = describeError(error);
        report.failed.push({ name: upload.name, error: message });
        this.reporter.report({ type: "failed", name: upload.name, message });
        if (SyncError.is(error) && RUN_ENDING_KINDS.has(error.kind)) runEnding = error;
      }
    }

    for (const guard of plan.guards) {
      const text = `${guard.message}. ${guard.advice}`;
      report.guarded.push(text);
      this.reporter.report({ type: "guarded", message: guard.message, advice: guard.advice });
    }
    for (const { file } of plan.deletions) {
      signal?.throwIfAborted();
      if (runEnding) {
        report.failed.push({ name: file.name, error: `Not deleted: ${runEnding.message}` });
        continue;
      }
      try {
        if (!dryRun) await this.store.remove(folder, file.name, signal);
        report.deleted.push(file.name);
        this.reporter.report({ type: "deleted", name: file.name, dryRun });
      } catch (error) {
        if (signal?.aborted) throw error;
        const message = `Could not delete ${file.name}: ${describeError(error)}`;
        report.failed.push({ name: file.name, error: message });
        this.reporter.report({ type: "failed", name: file.name, message });
        if (SyncError.is(error) && RUN_ENDING_KINDS.has(error.kind)) runEnding = error;
      }
    }

    if (!dryRun) await this.#writeLedger(backups, records, warn);
    report.durationMs = Math.round(this.clock.now() - started);
    return report;
  }

  /**
   * What this download tells about the backup (the size rule in reconcile.ts), with a WARNING when
   * the listed size disagrees: once per backup, since a copy that matches its record is kept.
   */
  #downloadRecord(
    backup: UnmsBackup,
    bytes: number,
    announced: number | undefined,
    before: ReadonlyMap<string, DownloadRecord>,
    warn: (message: string) => void,
  ): DownloadRecord {
    const previous = before.get(backupKey(backup.id));
    const verified = bytes === announced || bytes === backup.size || previous?.bytes === bytes;
    if (backup.size !== undefined && backup.size !== bytes && previous?.bytes !== bytes) {
      const confirm = verified ? "" : " It came without a length, so the next run downloads it once more to confirm the count.";
      warn(
        `UNMS lists backup ${backup.id} as ${backup.size} bytes, but its download sent ${bytes} bytes; the copy holds what was sent, and re-uploads are decided by the bytes downloaded, not the listed size.${confirm}`,
      );
    }
    return { bytes, verified };
  }

  async #readLedger(warn: (message: string) => void): Promise<Map<string, DownloadRecord>> {
    try {
      return (await this.ledger?.read()) ?? new Map();
    } catch (error) {
      warn(`${describeError(error)} It is rebuilt from this run; until then listed sizes decide which copies are short.`);
      return new Map();
    }
  }

  /**
   * Keeps records of backups UNMS still lists (all of them when it lists none) plus this run's;
   * writes only what changed since the last write, and warns once if the ledger cannot be written.
   */
  async #writeLedger(backups: readonly UnmsBackup[], records: LedgerRun, warn: (message: string) => void): Promise<void> {
    if (!this.ledger || records.failed) return;
    const listed = new Set(backups.map((b) => backupKey(b.id)));
    if (listed.size > 0) for (const key of records.current.keys()) if (!listed.has(key)) records.current.delete(key);
    const { written, current } = records;
    const same = current.size === written.size && [...current].every(([k, r]) => written.get(k)?.bytes === r.bytes && written.get(k)?.verified === r.verified);
    if (same) return;
    try {
      await this.ledger.write(current);
      records.written = new Map(current);
    } catch (error) {
      records.failed = true;
      warn(`${describeError(error)} The next run may upload a backup again whose listed size differs from its download.`);
    }
  }


  /** One backup, restarted from scratch when the download from the source broke off. */
  async #upload(folder: string, upload: PlannedUpload, signal: AbortSignal | undefined): Promise<UploadRecord & { announced?: number }> {
    const { backup, name } = upload;
    for (let attempt = 1; ; attempt++) {
      const started = this.clock.now();
      const download = await this.source.open(backup.id, signal);
      this.reporter.report({ type: "uploading", name, ...(download.length === undefined ? {} : { size: download.length }) });
      try {
        const stored = await this.store.put(folder, name, download, {
          overwrite: upload.reason === "size-mismatch",
          signal,
          onProgress: (bytesDone) =>
            this.reporter.report({
              type: "progress",
              name,
              bytesDone,
              ...(download.length === undefined ? {} : { size: download.length }),
              elapsedMs: this.clock.now() - started,
            }),
        });
        return { name, bytes: stored.size ?? 0, durationMs: Math.round(this.clock.now() - started), announced: download.length };
      } catch (error) {
        if (!SyncError.is(error) || error.kind !== "source-interrupted" || attempt >= SOURCE_ATTEMPTS || signal?.aborted) {
          throw error;
        }
        this.reporter.report({
          type: "retrying",
          name,
          attempt: attempt + 1,
          reason: `the download from UNMS broke off (${error.message}); starting this backup over`,
        });
      }
    }
  }

  async #timeZone(warn: (message: string) => void, signal: AbortSignal | undefined): Promise<string> {
    let zone: string | undefined;
    try {
      zone = await this.source.timeZone(signal);
    } catch (error) {
      warn(`Could not read the NMS time zone (${describeError(error)}); new file names use UTC`);
      return "UTC";
    }
    if (!zone) {
      warn("The NMS settings name no time zone; new file names use UTC");
      return "UTC";
    }
    if (!isKnownTimeZone(zone)) {
      warn(`The NMS time zone "${zone}" is unknown to this runtime; new file names use UTC`);
      return "UTC";
    }
    return zone;
  }
}
