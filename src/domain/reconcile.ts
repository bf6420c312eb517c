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
 *
 * Encrypted copies (`.unms.age`, ENCRYPT_TO) are the same backups as plain ones: switching
 * encryption on or off re-uploads nothing. Their size is the ciphertext's, so the size rule judges
 * them by the most plaintext their size can hold (see `plaintextCapacity`).
 *
 * Retention (KEEP_DAILY/WEEKLY/MONTHLY, domain/retention.ts) keeps copies of backups UNMS no longer
 * lists when they are the newest of a kept period; only the rest are due for deletion, and the
 * guards below judge those as before.
 */
import {
  backupFileName, backupIdFromFileName, backupKey, isEncryptedFileName, localTimeIn, localTimeOfFileName, unusableBackupId, type UnmsBackup,
} from "./backup.ts";
import { KeyedList } from "./key-index.ts";
import { applyRetention, retentionActive, type RetentionCandidate, type RetentionPolicy, type RetentionReason } from "./retention.ts";

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
  /** Keep copies of backups UNMS no longer lists per this policy; default: mirror UNMS. */
  retention?: RetentionPolicy;
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

/** A copy of a backup UNMS no longer lists that the retention policy keeps, and why. */
export interface PlannedRetention {
  file: StoredFile;
  backupId: string;
  /** Every rule that keeps it (`describeRetention` makes the line). */
  reasons: RetentionReason[];
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
  /** Copies of backups UNMS no longer lists that the retention policy keeps (empty without one). */
  retained: PlannedRetention[];
}

export interface ReconcileInput {
  backups: readonly UnmsBackup[];
  stored: readonly StoredFile[];
  /** IANA time zone for new file names; unknown zones fall back to UTC. */
  timeZone: string;
  policy?: SyncPolicy;
  /** Earlier downloads by backup key (`backupKey(id)`); see the size rule above. */
  downloads?: ReadonlyMap<string, DownloadRecord>;
  /** New copies are encrypted (ENCRYPT_TO): they are named `.unms.age`. */
  encrypt?: boolean;
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
export function reconcile({ backups, stored, timeZone, policy = {}, downloads = new Map(), encrypt = false }: ReconcileInput): SyncPlan {
  const ignored: IgnoredBackup[] = [];
  // Indexed by position, not a Map: one entry per listed backup, a million in a big list.
  const wanted = new KeyedList<UnmsBackup>(backups.length, (backup) => backupKey(backup.id));
  // A success item skipped for a bad field still exists in UNMS: its copy is not deleted.
  const listedUnusable = new Set<string>();
  for (const backup of backups) {
    const why = backup.unusable ?? (backup.state !== "success" ? `its state is "${backup.state}", not "success"` : unusableBackupId(backup.id));
    if (why && backup.state === "success") listedUnusable.add(backupKey(backup.id));
    if (why) ignored.push({ backup, reason: why });
    else if (!wanted.add(backup)) ignored.push({ backup, reason: "UNMS listed the same id twice" });
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
      uploads.push({ backup, name: backupFileName(backup, timeZone, encrypt), reason: "missing" });
      continue;
    }
    const intact = files.find((f) => shortCopy(backup, f, downloads.get(key)) === undefined);
    if (intact) keeps.push({ backup, file: intact });
    else {
      const why = shortCopy(backup, files[0]!, downloads.get(key));
      // The replacement is what this run writes: encrypted or not, whatever the short copy was.
      const name = isEncryptedFileName(files[0]!.name) === encrypt ? files[0]!.name : backupFileName(backup, timeZone, encrypt);
      uploads.push({ backup, name, reason: "size-mismatch", replaces: files[0]!, ...(why ? { why } : {}) });
    }
  }

  const { retention } = policy;
  const kept = retention && retentionActive(retention) ? applyRetention(retentionCandidates(wanted, ours, timeZone), retention) : new Map<string, RetentionReason[]>();
  const due: PlannedDeletion[] = [];
  const retained: PlannedRetention[] = [];
  for (const [key, files] of ours) {
    if (wanted.has(key) || listedUnusable.has(key)) continue;
    const reasons = kept.get(key);
    for (const file of files) {
      const backupId = backupIdFromFileName(file.name)!;
      if (reasons) retained.push({ file, backupId, reasons });
      else due.push({ file, backupId });
    }
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
  } else if (due.length > 0 && ourFileCount >= 2 && !overlaps(ours, wanted.keys(), listedUnusable)) {
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

  return { uploads, keeps, deletions, ignored, guards, foreign, retained };
}

/** True when one of the listed keys has a copy (looked up key by key, not spread into one array). */
function overlaps(ours: ReadonlyMap<string, StoredFile[]>, ...listed: Iterable<string>[]): boolean {
  for (const keys of listed) for (const key of keys) if (ours.has(key)) return true;
  return false;
}

/**
 * One candidate per backup for the retention policy: a listed backup at its createdAt in the NMS
 * time zone (its copy may only be written this run), any other at the time its copy's name shows.
 */
function retentionCandidates(wanted: KeyedList<UnmsBackup>, ours: ReadonlyMap<string, StoredFile[]>, timeZone: string): RetentionCandidate[] {
  const candidates: RetentionCandidate[] = [];
  for (const [key, backup] of wanted) candidates.push({ key, time: localTimeIn(new Date(backup.createdAt), timeZone) });
  for (const [key, files] of ours) {
    if (wanted.has(key)) continue;
    const time = localTimeOfFileName(files[0]!.name);
    if (time) candidates.push({ key, time });
  }
  return candidates;
}

/** Smallest age header there is (the version line and the MAC line, no recipient stanza). */
const AGE_MIN_HEADER_BYTES = "age-encryption.org/v1\n".length + "--- ".length + 43 + 1;
const AGE_NONCE_BYTES = 16;
const AGE_CHUNK_BYTES = 64 * 1024;
const AGE_TAG_BYTES = 16;

/**
 * The most plaintext an age file of `size` bytes can hold: size less the smallest header, the
 * nonce, and a 16-byte tag per 64 KiB chunk (at least one). An upper bound whatever the recipients.
 */
export function plaintextCapacity(size: number): number {
  const payload = size - AGE_MIN_HEADER_BYTES - AGE_NONCE_BYTES;
  if (payload <= AGE_TAG_BYTES) return 0;
  return payload - AGE_TAG_BYTES * Math.ceil(payload / (AGE_CHUNK_BYTES + AGE_TAG_BYTES));
}

/**
 * Why `file` is too short to be a copy of `backup`, or undefined when it is to be kept. See the
 * size rule at the top of this module.
 */
export function shortCopy(backup: UnmsBackup, file: StoredFile, download: DownloadRecord | undefined): string | undefined {
  if (file.size === undefined) return undefined;
  const encrypted = isEncryptedFileName(file.name);
  // An encrypted copy holds at most this much of the backup; a plain one exactly its size.
  const holds = encrypted ? plaintextCapacity(file.size) : file.size;
  const what = encrypted ? `the encrypted copy (${file.size} bytes) holds at most ${holds} bytes of the backup` : `the copy holds ${file.size} bytes`;
  if (download && holds < download.bytes) {
    return `${what}, fewer than the ${download.bytes} bytes UNMS sent for it`;
  }
  if (backup.size === undefined || holds >= backup.size) return undefined;
  if (download?.verified && (encrypted ? holds >= download.bytes : file.size === download.bytes)) return undefined;
  return `${what}, fewer than the ${backup.size} bytes UNMS lists`;
}
