/**
 * Reconciliation: what to upload, keep and delete, decided from the two listings alone.
 *
 * Pure: no I/O, no clock. The app layer carries the plan out through the ports.
 *
 * The rules that keep users' data safe:
 * - only files matching our own name pattern are ever candidates for deletion;
 * - a file is ours to delete only when its backup id is no longer among UNMS's `success` backups;
 * - if UNMS lists no successful backup at all while the folder holds files of ours, nothing is
 *   deleted (an empty list is far more often an outage or a reinstalled NMS than a real wish);
 * - likewise when none of the backups UNMS lists matches any of our (two or more) copies: a
 *   reinstalled or different NMS, not a wish to delete them all; no override lifts either guard;
 * - if more deletions than the policy allows are due, nothing is deleted unless the policy says so.
 *
 * The size rule (a listed size must never cause a re-upload every night): UNMS's listed `size` is
 * not documented to equal the bytes its download sends. So a copy is replaced only when it is
 * really shorter: shorter than the bytes this tool downloaded for it before (`downloads`), or
 * shorter than the listed size unless this tool verified a download of exactly the copy's length
 * (its byte count matched the announced Content-Length or the listed size, or two downloads agreed).
 * A copy whose size the store does not tell is kept.
 */
import { backupFileName, backupIdFromFileName, backupKey, unusableBackupId, type UnmsBackup } from "./backup.ts";

export interface StoredFile {
  name: string;
  /** Size in bytes, when the store's listing tells. */
  size?: number;
  /** Dropbox content hash (64 hex characters), when the store's listing tells. */
  contentHash?: string;
}

export interface SyncPolicy {
  /**
   * The most deletions one run may do without `allowMassDelete`. Undefined: half of our files,
   * rounded down, but at least 1.
   */
  maxDeletes?: number;
  /** Lift the mass-delete guard (not the empty-source guard). */
  allowMassDelete?: boolean;
}

export type UploadReason = "missing" | "size-mismatch";

/**
 * What this tool downloaded and stored for one backup in an earlier run.
 *
 * @example
 * ```ts
 * import type { DownloadRecord } from "unms-dropbox-backup-sync";
 *
 * const record: DownloadRecord = { bytes: 1048576, verified: true };
 * ```
 */
export interface DownloadRecord {
  /** Bytes the download sent (and the store verified). */
  bytes: number;
  /**
   * True when that byte count is known to be what UNMS sends: it matched the announced
   * Content-Length or the listed size, or two downloads gave the same count.
   */
  verified: boolean;
}

export interface PlannedUpload {
  backup: UnmsBackup;
  name: string;
  reason: UploadReason;
  /** The existing file this upload replaces (size mismatch), if any. */
  replaces?: StoredFile;
  /** Why the existing copy is replaced, for the log. */
  why?: string;
}

export interface PlannedKeep {
  backup: UnmsBackup;
  file: StoredFile;
}

export interface PlannedDeletion {
  file: StoredFile;
  backupId: string;
}

export interface IgnoredBackup {
  backup: UnmsBackup;
  reason: string;
}

export type GuardCode = "empty-source" | "no-overlap" | "mass-delete";

export interface Guard {
  code: GuardCode;
  /** What was held back and why. */
  message: string;
  /** What the admin can do about it. */
  advice: string;
  /** The deletions this guard held back. */
  heldBack: PlannedDeletion[];
}

/**
 * The plan `reconcile()` returns: what to upload, keep and delete, and the guards that held deletions back.
 *
 * @example
 * ```ts
 * import { reconcile, type StoredFile, type SyncPlan, type UnmsBackup } from "unms-dropbox-backup-sync";
 *
 * declare const backups: UnmsBackup[];
 * declare const stored: StoredFile[];
 *
 * const plan: SyncPlan = reconcile({ backups, stored, timeZone: "Europe/Prague", policy: { maxDeletes: 3 } });
 * ```
 */
export interface SyncPlan {
  uploads: PlannedUpload[];
  keeps: PlannedKeep[];
  deletions: PlannedDeletion[];
  ignored: IgnoredBackup[];
  guards: Guard[];
  /** Files in the folder that are not ours: listed for the record, never touched. */
  foreign: StoredFile[];
}

export interface ReconcileInput {
  backups: readonly UnmsBackup[];
  stored: readonly StoredFile[];
  /** IANA time zone for new file names; unknown zones fall back to UTC. */
  timeZone: string;
  policy?: SyncPolicy;
  /** Earlier downloads by backup key (`backupKey(id)`); see the size rule above. */
  downloads?: ReadonlyMap<string, DownloadRecord>;
}

export function defaultMaxDeletes(ourFileCount: number): number {
  return Math.max(1, Math.floor(ourFileCount / 2));
}

/**
 * The pure planning step: what to upload, keep and delete, from the two listings alone.
 *
 * @example
 * ```ts
 * import { reconcile, type BackupSource, type BackupStore } from "unms-dropbox-backup-sync";
 *
 * declare const source: BackupSource;
 * declare const store: BackupStore;
 *
 * const plan = reconcile({ backups: await source.list(), stored: await store.list(""), timeZone: "UTC" });
 * ```
 */
export function reconcile({ backups, stored, timeZone, policy = {}, downloads = new Map() }: ReconcileInput): SyncPlan {
  const ignored: IgnoredBackup[] = [];
  const wanted = new Map<string, UnmsBackup>();
  // A success item skipped for a bad field still exists in UNMS: its copy is not deleted.
  const listedUnusable = new Set<string>();
  for (const backup of backups) {
    const why = backup.unusable ?? (backup.state !== "success" ? `its state is "${backup.state}", not "success"` : unusableBackupId(backup.id));
    if (why && backup.state === "success") listedUnusable.add(backupKey(backup.id));
    if (why) ignored.push({ backup, reason: why });
    else if (wanted.has(backupKey(backup.id))) ignored.push({ backup, reason: "UNMS listed the same id twice" });
    else wanted.set(backupKey(backup.id), backup);
  }

  const ours = new Map<string, StoredFile[]>();
  const foreign: StoredFile[] = [];
  for (const file of stored) {
    const id = backupIdFromFileName(file.name);
    if (id === undefined) {
      foreign.push(file);
      continue;
    }
    const key = backupKey(id);
    ours.set(key, [...(ours.get(key) ?? []), file]);
  }

  const uploads: PlannedUpload[] = [];
  const keeps: PlannedKeep[] = [];
  for (const [key, backup] of wanted) {
    const files = ours.get(key);
    if (!files) {
      uploads.push({ backup, name: backupFileName(backup, timeZone), reason: "missing" });
      continue;
    }
    const intact = files.find((f) => shortCopy(backup, f, downloads.get(key)) === undefined);
    if (intact) keeps.push({ backup, file: intact });
    else {
      const why = shortCopy(backup, files[0]!, downloads.get(key));
      uploads.push({ backup, name: files[0]!.name, reason: "size-mismatch", replaces: files[0]!, ...(why ? { why } : {}) });
    }
  }

  const due: PlannedDeletion[] = [];
  for (const [key, files] of ours) {
    if (wanted.has(key) || listedUnusable.has(key)) continue;
    for (const file of files) due.push({ file, backupId: backupIdFromFileName(file.name)! });
  }

  const ourFileCount = [...ours.values()].reduce((n, files) => n + files.length, 0);
  const guards: Guard[] = [];
  let deletions = due;
  if (due.length > 0 && wanted.size === 0) {
    guards.push({
      code: "empty-source",
      message: `UNMS lists no successful backup, so none of the ${due.length} backup file(s) in the folder were deleted`,
      advice:
        "Check that UNMS is creating backups (Network -> Settings -> Backups). If you really want these copies gone, delete them by hand.",
      heldBack: due,
    });
    deletions = [];
  } else if (due.length > 0 && ourFileCount >= 2 && ![...wanted.keys(), ...listedUnusable].some((key) => ours.has(key))) {
    guards.push({
      code: "no-overlap",
      message: `None of the ${wanted.size} successful backup(s) UNMS lists matches any of the ${ourFileCount} backup file(s) in the folder, so none were deleted (was UNMS reinstalled, or does this folder hold another NMS's backups?)`,
      advice:
        "Check the UNMS URL and that this folder belongs to this NMS. If the old copies really should go, delete them by hand; no setting lifts this guard.",
      heldBack: due,
    });
    deletions = [];
  } else {
    const max = policy.maxDeletes ?? defaultMaxDeletes(ourFileCount);
    if (due.length > max && !policy.allowMassDelete) {
      guards.push({
        code: "mass-delete",
        message: `${due.length} of ${ourFileCount} backup file(s) would be deleted, more than the allowed ${max}, so none were deleted`,
        advice: "If UNMS really deleted these backups, run once with --allow-mass-delete (or raise the maximum deletions setting).",
        heldBack: due,
      });
      deletions = [];
    }
  }

  return { uploads, keeps, deletions, ignored, guards, foreign };
}

/**
 * Why `file` is too short to be a copy of `backup`, or undefined when it is to be kept. See the
 * size rule at the top of this module.
 */
export function shortCopy(backup: UnmsBackup, file: StoredFile, download: DownloadRecord | undefined): string | undefined {
  if (file.size === undefined) return undefined;
  if (download && file.size < download.bytes) {
    return `the copy holds ${file.size} bytes, fewer than the ${download.bytes} bytes UNMS sent for it`;
  }
  if (backup.size === undefined || file.size >= backup.size) return undefined;
  if (download?.verified && file.size === download.bytes) return undefined;
  return `the copy holds ${file.size} bytes, fewer than the ${backup.size} bytes UNMS lists`;
}
