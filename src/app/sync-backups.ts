/**
 * The sync use case: list both sides, let the domain decide, carry the plan out through the ports.
 *
 * Backups are copied one at a time, so memory stays that of one upload whatever the count. A failed
 * backup never stops the others; the deletions the plan deems safe still happen (they depend only
 * on what UNMS lists, not on this run's uploads), and the failure is reported.
 */
import { backupKey, isKnownTimeZone, type UnmsBackup } from "../domain/backup.ts";
import { SyncError, describeError } from "../domain/errors.ts";
import type { BackupDownload, BackupEncryptor, BackupSource, BackupStore, Clock, DownloadLedger, Reporter } from "../domain/ports.ts";
import { skipBytes } from "../domain/skip-bytes.ts";
import { reconcile, type DownloadRecord, type PlannedUpload, type SyncPolicy } from "../domain/reconcile.ts";
import { fanOut, ReportCollector, type SyncReport, type UploadRecord } from "./sync-report.ts";
import { stalenessProblems } from "../domain/staleness.ts";

export interface SyncOptions {
  /** Folder in the store; "" is its root. */
  folder: string;
  dryRun?: boolean;
  policy?: SyncPolicy;
  signal?: AbortSignal;
  /**
   * Time budget of the run in ms (MAX_RUN_MINUTES): once spent, no new upload chunk is started;
   * the unfinished upload is saved and continues on the next run.
   */
  budgetMs?: number;
  /**
   * Judge staleness at the end of the run (UNMS's newest backup, the newest copy): each problem is
   * reported as a failure, after everything that could be synced was.
   */
  staleness?: StalenessOptions;
}

export interface StalenessOptions {
  maxAgeHours: number;
  /** How the admin knows the limit: MAX_BACKUP_AGE_HOURS or maxBackupAgeHours. */
  setting: string;
  /** Wall-clock ms since the epoch (an injected clock). */
  nowMs: number;
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

/** Source-interrupted failures that mean the resume point itself is wrong: the next attempt starts at 0. */
const RESUME_MISMATCH_CODES = new Set(["unms.resume_short", "unms.bad_content_range", "dropbox.resume_state_mismatch", "local.resume_state_mismatch"]);

/** Failures after which every further call would fail the same way. */
const RUN_ENDING_KINDS = new Set(["unauthorized", "authorization-required"]);
/** More deletions than this go through the store's removeMany (one request per 1000 on Dropbox). */
export const BATCH_DELETE_ABOVE = 3;

export class SyncBackups {
  constructor(
    private readonly source: BackupSource,
    private readonly store: BackupStore,
    private readonly reporter: Reporter,
    private readonly clock: Clock,
    private readonly targetDescription: string,
    /** Bytes downloaded per backup in earlier runs; without one, only listed sizes are known. */
    private readonly ledger?: DownloadLedger | undefined,
    /** ENCRYPT_TO: new copies are encrypted on the way (`.unms.age`); without one they are stored as UNMS sends them. */
    private readonly encryptor?: BackupEncryptor | undefined,
  ) {}

  /** Runs one sync. Throws only when a listing fails; per-backup failures land in the report. */
  async run(options: SyncOptions): Promise<SyncReport> {
    const { folder, dryRun = false, signal } = options;
    const started = this.clock.now();
    // The report is the fold of this run's events: each goes to the collector and to the output.
    const collector = new ReportCollector();
    const report = collector.sofar;
    const emit = fanOut(collector, this.reporter).report;
    const warn = (message: string) => emit({ type: "warning", message });

    emit({ type: "run-started", target: this.targetDescription, dryRun });
    const backups = await this.source.list(signal);
    const timeZone = await this.#timeZone(warn, signal);
    const stored = await this.store.list(folder, signal);
    const downloads = await this.#readLedger(warn);
    const plan = reconcile({ backups, stored, timeZone, downloads, encrypt: this.encryptor !== undefined, ...(options.policy ? { policy: options.policy } : {}) });
    emit({
      type: "listed",
      backups: backups.length,
      successful: plan.uploads.length + plan.keeps.length,
      stored: stored.length,
      timeZone,
    });

    for (const { backup, reason } of plan.ignored) {
      emit({ type: "ignored", backupId: backup.id, reason });
    }
    for (const backup of backups) if (backup.warning && !backup.unusable) warn(backup.warning);
    for (const { name, why } of plan.uploads) if (why) emit({ type: "info", message: `${dryRun ? "Would replace" : "Replacing"} ${name}: ${why}` });
    const records: LedgerRun = { written: downloads, current: new Map(downloads), failed: false };
    for (const { file } of plan.keeps) {
      emit({ type: "skipped", name: file.name });
    }
    for (const { file, backupId, reasons } of plan.retained) emit({ type: "retained", name: file.name, backupId, reasons });
    if (this.encryptor && plan.uploads.length > 0) emit({ type: "info", message: `New copies are encrypted (${this.encryptor.description})` });

    const deadline = options.budgetMs === undefined ? undefined : started + options.budgetMs;
    const budgetSpent = () => deadline !== undefined && this.clock.now() >= deadline;
    let uploadsStarted = 0;
    let runEnding: SyncError | undefined;
    for (const upload of plan.uploads) {
      signal?.throwIfAborted();
      if (runEnding) {
        emit({ type: "not-attempted", name: upload.name, message: `Not attempted: ${runEnding.message}` });
        continue;
      }
      // The first upload always gets going (at least one chunk), so every run makes progress.
      if (!dryRun && uploadsStarted > 0 && budgetSpent()) {
        emit({ type: "held-over", name: upload.name });
        continue;
      }
      if (dryRun) {
        emit({ type: "uploaded", name: upload.name, bytes: 0, durationMs: 0, dryRun });
        continue;
      }
      uploadsStarted += 1;
      try {
        const { announced, plaintextBytes, ...record } = await this.#upload(folder, upload, signal, budgetSpent, warn);
        // The ledger keeps what UNMS sent (the plaintext), whatever the copy holds.
        records.current.set(backupKey(upload.backup.id), this.#downloadRecord(upload.backup, plaintextBytes ?? record.bytes, announced, downloads, warn));
        // Kept at once, so a run killed later still remembers what this one downloaded.
        await this.#writeLedger(backups, records, warn);
        emit({ type: "uploaded", ...record, dryRun });
      } catch (error) {
        if (signal?.aborted) throw error;
        const message = describeError(error);
        if (SyncError.is(error) && error.kind === "paused") {
          emit({ type: "info", message });
          emit({ type: "held-over", name: upload.name });
          continue;
        }
        emit({ type: "failed", name: upload.name, message });
        if (SyncError.is(error) && RUN_ENDING_KINDS.has(error.kind)) runEnding = error;
      }
    }

    if (!dryRun && this.store.pruneUnfinished) {
      // Unfinished uploads of backups that no longer need one (stored, or gone from UNMS) are dropped.
      const uploaded = new Set(report.uploaded);
      const wanted = new Set(plan.uploads.filter((u) => !uploaded.has(u.name)).map((u) => u.backup.id));
      try {
        await this.store.pruneUnfinished(folder, wanted, signal);
      } catch (error) {
        warn(`Could not clean up unfinished uploads: ${describeError(error)}`);
      }
    }

    if (report.resumable.length > 0) {
      const budgetMs = options.budgetMs ?? 0;
      const budget = budgetMs >= 60_000 ? `${Math.round(budgetMs / 6_000) / 10} min` : `${Math.round(budgetMs) / 1000} s`;
      warn(
        `The run's time budget (MAX_RUN_MINUTES / maxRunMinutes: ${budget}) is spent: ${report.resumable.join(", ")} ` +
          `${report.resumable.length === 1 ? "continues" : "continue"} on the next run`,
      );
    }

    for (const guard of plan.guards) {
      emit({ type: "guarded", message: guard.message, advice: guard.advice });
    }
    // Many deletions go in batches (Dropbox: delete_batch) when the store can; outcomes per file as below.
    const batched = !dryRun && !runEnding && this.store.removeMany && plan.deletions.length > BATCH_DELETE_ABOVE
      ? await this.#removeInBatches(folder, plan.deletions.map((d) => d.file.name), signal)
      : undefined;
    for (const { file } of plan.deletions) {
      signal?.throwIfAborted();
      const outcome = batched?.get(file.name);
      if (outcome) {
        if (outcome.error) {
          const message = `Could not delete ${file.name}: ${describeError(outcome.error)}`;
          emit({ type: "failed", name: file.name, message });
          if (SyncError.is(outcome.error) && RUN_ENDING_KINDS.has(outcome.error.kind)) runEnding = outcome.error;
        } else {
          emit({ type: "deleted", name: file.name, dryRun });
        }
        continue;
      }
      if (runEnding) {
        emit({ type: "not-attempted", name: file.name, message: `Not deleted: ${runEnding.message}` });
        continue;
      }
      try {
        if (!dryRun) await this.store.remove(folder, file.name, signal);
        emit({ type: "deleted", name: file.name, dryRun });
      } catch (error) {
        if (signal?.aborted) throw error;
        const message = `Could not delete ${file.name}: ${describeError(error)}`;
        emit({ type: "failed", name: file.name, message });
        if (SyncError.is(error) && RUN_ENDING_KINDS.has(error.kind)) runEnding = error;
      }
    }

    if (options.staleness) {
      const deleted = new Set(report.deleted);
      // A dry run is judged by what the real run would leave (its would-be uploads and deletions).
      const copies: string[] = [];
      for (const { name } of stored) if (!deleted.has(name)) copies.push(name);
      for (const name of report.uploaded) copies.push(name);
      const failures = new Map(report.failed.map((f) => [f.name, f.error]));
      // Asked for the few backups a problem names, so a search each, not an index of every upload.
      const nameOf = (backup: UnmsBackup) => plan.uploads.find((u) => backupKey(u.backup.id) === backupKey(backup.id))?.name;
      for (const problem of stalenessProblems({
        backups,
        copies,
        timeZone,
        nowMs: options.staleness.nowMs,
        maxAgeHours: options.staleness.maxAgeHours,
        setting: options.staleness.setting,
        whyNoCopy: (backup) => {
          const name = nameOf(backup) ?? "";
          if (report.resumable.includes(name)) return "left for the next run: the time budget was spent";
          const failure = failures.get(name);
          return failure ? `its upload failed: ${failure}` : "it was not uploaded";
        },
      })) {
        emit({ type: "failed", message: problem.message });
      }
    }

    if (!dryRun) await this.#writeLedger(backups, records, warn);
    return collector.finish(Math.round(this.clock.now() - started));
  }

  /** removeMany's outcomes by name; a batch that failed as a whole counts as that failure for each file. */
  async #removeInBatches(folder: string, names: string[], signal: AbortSignal | undefined): Promise<Map<string, { error?: Error }>> {
    try {
      const outcomes = await this.store.removeMany!(folder, names, signal);
      return new Map(outcomes.map((o) => [o.name, o.error ? { error: o.error } : {}]));
    } catch (error) {
      if (signal?.aborted) throw error;
      const failure = error instanceof Error ? error : new Error(String(error));
      return new Map(names.map((name) => [name, { error: failure }]));
    }
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

  /**
   * One backup. An upload an earlier run (or attempt) left unfinished is continued where the store
   * says it can be; a download that broke off is tried again from there, at most SOURCE_ATTEMPTS times.
   */
  async #upload(
    folder: string, upload: PlannedUpload, signal: AbortSignal | undefined, budgetSpent: () => boolean, warn: (message: string) => void,
  ): Promise<UploadRecord & { announced?: number; plaintextBytes?: number }> {
    const { backup, name } = upload;
    const encryptor = this.encryptor;
    // Every encryption differs, so an encrypted upload is never continued: it always starts afresh.
    let fromScratch = encryptor !== undefined;
    for (let attempt = 1; ; attempt++) {
      const started = this.clock.now();
      const offset = fromScratch ? 0 : await this.#resumeOffset(folder, name, backup.id, signal, warn);
      let download: BackupDownload;
      try {
        download = await this.#open(backup.id, offset, signal);
      } catch (error) {
        if (offset === 0 || signal?.aborted) throw error;
        // A download from the middle refused (416: the backup is shorter now, say): once more from byte 0.
        warn(`Could not download backup "${backup.id}" from byte ${offset} to continue ${name} (${describeError(error)}); starting it over`);
        fromScratch = true;
        download = await this.#open(backup.id, 0, signal);
      }
      const announced = download.length === undefined ? undefined : offset + download.length;
      const encrypted = encryptor ? await encryptor.encrypt(download) : undefined;
      if (encrypted) download = encrypted.download;
      const size = download.length === undefined ? undefined : offset + download.length;
      this.reporter.report({ type: "uploading", name, ...(size === undefined ? {} : { size }) });
      try {
        const stored = await this.store.put(folder, name, download, {
          overwrite: upload.reason === "size-mismatch",
          ...(signal ? { signal } : {}),
          // An encrypted upload keeps no state to continue from and is not paused part-way.
          ...(encrypted ? {} : { backupId: backup.id, shouldPause: budgetSpent }),
          onProgress: (bytesDone) =>
            this.reporter.report({
              type: "progress",
              name,
              bytesDone,
              ...(size === undefined ? {} : { size }),
              elapsedMs: this.clock.now() - started,
              ...(offset > 0 ? { resumedFrom: offset } : {}),
            }),
        });
        return {
          name,
          bytes: stored.size ?? 0,
          durationMs: Math.round(this.clock.now() - started),
          ...(offset > 0 ? { resumedFrom: offset } : {}),
          ...(announced === undefined ? {} : { announced }),
          ...(encrypted ? { plaintextBytes: encrypted.plaintextBytes() } : {}),
        };
      } catch (error) {
        if (!SyncError.is(error) || error.kind !== "source-interrupted" || attempt >= SOURCE_ATTEMPTS || signal?.aborted) {
          throw error;
        }
        // A resume that cannot line up (the backup changed, a wrong Content-Range) goes back to byte 0.
        fromScratch = encryptor !== undefined || RESUME_MISMATCH_CODES.has(error.code);
        this.reporter.report({
          type: "retrying",
          name,
          attempt: attempt + 1,
          reason: `${error.code.startsWith("dropbox.") ? "the upload was interrupted" : "the download from UNMS broke off"} (${error.message}); ${fromScratch ? "starting this backup over" : "continuing from what is stored"}`,
        });
      }
    }
  }

  /** Where the store can continue this backup (0 when it cannot, with a line saying why). */
  async #resumeOffset(
    folder: string, name: string, backupId: string, signal: AbortSignal | undefined, warn: (message: string) => void,
  ): Promise<number> {
    if (!this.store.resumePoint) return 0;
    let point;
    try {
      point = await this.store.resumePoint(folder, name, backupId, signal);
    } catch (error) {
      if (signal?.aborted) throw error;
      // Never stuck on a saved state that cannot be checked: a fresh upload replaces it.
      warn(`Could not check the unfinished upload of ${name} (${describeError(error)}); starting it over`);
      return 0;
    }
    if (point.note && point.offset > 0) this.reporter.report({ type: "info", message: point.note });
    else if (point.note) warn(point.note);
    return point.offset;
  }

  /** The download from `offset`; a source that ignores offsets has its first bytes dropped here. */
  async #open(backupId: string, offset: number, signal: AbortSignal | undefined): Promise<BackupDownload> {
    const download = await this.source.open(backupId, signal, offset > 0 ? { offset } : undefined);
    const at = download.offset ?? 0;
    if (at === offset) return download;
    if (at > offset) {
      throw new SyncError(`The source started backup "${backupId}" at byte ${at}, after the ${offset} asked for`, {
        kind: "source-interrupted",
        code: "unms.bad_content_range",
      });
    }
    const stream = skipBytes(download.stream, offset - at, `The download of backup "${backupId}"`);
    return { stream, offset, ...(download.length === undefined ? {} : { length: Math.max(0, download.length - (offset - at)) }) };
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
