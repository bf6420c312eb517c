/**
 * Ports: what the app layer needs from the outside world, shaped by the domain, not by any vendor.
 * Adapters under src/adapters implement them; test/contract holds one suite per port that every
 * adapter (and any embedder's own) must pass.
 */
import type { UnmsBackup } from "./backup.ts";
import type { DownloadRecord, StoredFile } from "./reconcile.ts";
import type { RetentionReason } from "./retention.ts";

/** Bytes as both Node and Deno can iterate them: web ReadableStreams and Node streams both are. */
export type ByteStream = AsyncIterable<Uint8Array>;

export interface BackupDownload {
  stream: ByteStream;
  /** Byte length of `stream` when the source announced one; never required. */
  length?: number;
  /** The backup offset of the stream's first byte (asked for with OpenOptions.offset); default 0. */
  offset?: number;
}

export interface OpenOptions {
  /** Start the stream at this byte of the backup (a resumed upload); the source skips what it must. */
  offset?: number;
}

/** A backup's bytes encrypted on the way to the store (ENCRYPT_TO). */
export interface EncryptedDownload {
  /** The ciphertext; its `length` is exact whenever the plaintext's was announced. */
  download: BackupDownload;
  /** Plaintext bytes read so far: all of the backup once the ciphertext stream has ended. */
  plaintextBytes(): number;
}

/**
 * Encrypts copies on the fly, in constant memory (the age adapter). A whole backup at a time: an
 * encrypted upload cannot be continued from the middle, since every encryption is different.
 */
export interface BackupEncryptor {
  /** Who can decrypt the copies (public recipients), for the log. */
  readonly description: string;
  encrypt(download: BackupDownload): Promise<EncryptedDownload>;
}

/** Where backups come from (UNMS). */
export interface BackupSource {
  /** Every backup the source lists, whatever its state. */
  list(signal?: AbortSignal): Promise<UnmsBackup[]>;
  /** The NMS time zone (IANA name), or undefined when the source has none to offer. */
  timeZone(signal?: AbortSignal): Promise<string | undefined>;
  /** Streams one backup's bytes. The stream must throw (not end early) when the transfer breaks. */
  open(id: string, signal?: AbortSignal, options?: OpenOptions): Promise<BackupDownload>;
}

export interface PutOptions {
  /** Replace an existing file of that name (used when its size proved it incomplete). */
  overwrite?: boolean;
  /** Called with the running total of bytes stored so far. */
  onProgress?: (bytesDone: number) => void;
  signal?: AbortSignal;
  /** The backup being stored: a store that can resume keeps its unfinished upload under this id. */
  backupId?: string;
  /**
   * Asked before each further chunk; true stops the upload there with a SyncError of kind `paused`,
   * its state saved for the next run (the run's time budget is spent).
   */
  shouldPause?: () => boolean;
}

/** What became of one file of a `removeMany`. */
export interface RemoveOutcome {
  name: string;
  /** Why this file could not be deleted; absent when it is gone. */
  error?: Error;
}

/** Where an earlier, unfinished upload of a backup can be continued. */
export interface ResumePoint {
  /** Bytes of the backup already stored; the download must start here (0: start afresh). */
  offset: number;
  /** A line for the person running the sync: continuing from where, or why it starts over. */
  note?: string;
}

/** A stored copy opened for reading (restore): its bytes and what the store says they must be. */
export interface StoredCopyDownload {
  /** The copy's bytes; throws (never ends early without saying) when the transfer breaks. */
  stream: ByteStream;
  /** Bytes the store holds for the copy (what a restore must receive). */
  size: number;
  /** The Dropbox content hash the store recorded for the copy, when it keeps one. */
  contentHash?: string;
}

/**
 * Where copies go (a Dropbox app folder, a local directory). `folder` is relative to the store's
 * root: "" is the root itself; otherwise a "/"-separated path without leading or trailing "/".
 *
 * @example
 * ```ts
 * import type { BackupDownload, BackupStore, StoredFile } from "unms-dropbox-backup-sync";
 *
 * class S3BackupStore implements BackupStore {
 *   async list(_folder: string): Promise<StoredFile[]> {
 *     return [];
 *   }
 *   async put(_folder: string, name: string, content: BackupDownload): Promise<StoredFile> {
 *     let size = 0;
 *     for await (const piece of content.stream) size += piece.length; // send each piece on here
 *     return { name, size };
 *   }
 *   async remove(_folder: string, _name: string): Promise<void> {}
 * }
 * ```
 */
export interface BackupStore {
  /** Files directly in `folder` (no sub-folders). A missing folder lists as empty. */
  list(folder: string, signal?: AbortSignal): Promise<StoredFile[]>;
  /**
   * Stores a stream under `folder/name`, creating the folder as needed. The file appears whole or
   * not at all, and only after its content was verified; the result carries its size and hash.
   * Fails with a SyncError of kind `source-interrupted` when the stream itself broke.
   */
  put(folder: string, name: string, content: BackupDownload, options?: PutOptions): Promise<StoredFile>;
  /** Deletes one file; a file that is already gone is not an error. */
  remove(folder: string, name: string, signal?: AbortSignal): Promise<void>;
  /**
   * Optional: deletes many files of `folder` in few requests (Dropbox's delete_batch). One outcome per
   * name, in order: no `error` when the file is gone (or already was), else why it could not be
   * deleted. Throws only when nothing can be said per file. Stores without it get `remove` per file.
   */
  removeMany?(folder: string, names: readonly string[], signal?: AbortSignal): Promise<RemoveOutcome[]>;
  /**
   * Optional: where an unfinished upload of `backupId` to `folder/name` can be continued; `put`
   * with the same backupId and a download starting at that offset continues it. Stores without
   * it always start afresh.
   */
  resumePoint?(folder: string, name: string, backupId: string, signal?: AbortSignal): Promise<ResumePoint>;
  /**
   * Optional: opens `folder/name` for reading as a stream, with the size (and content hash, where
   * the store keeps one) it must have; the caller verifies. A missing file fails with a SyncError of
   * kind `not-found`. Stores without it cannot be restored from with `backup-sync restore`.
   */
  openCopy?(folder: string, name: string, signal?: AbortSignal): Promise<StoredCopyDownload>;
  /**
   * Optional, called at the end of a run: forgets unfinished uploads into `folder` of backups not in
   * `wanted` (stored meanwhile, or gone from the source) and removes their leftovers.
   */
  pruneUnfinished?(folder: string, wanted: ReadonlySet<string>, signal?: AbortSignal): Promise<void>;
}

/**
 * What this tool downloaded per backup in earlier runs, so UNMS's listed size never causes a
 * re-upload every night (the size rule in reconcile.ts). Keyed by `backupKey(id)`.
 *
 * @example
 * ```ts
 * import type { DownloadLedger } from "unms-dropbox-backup-sync";
 *
 * const ledger: DownloadLedger = { read: async () => new Map(), write: async () => {} };
 * ```
 */
export interface DownloadLedger {
  /** The records kept so far; empty when there are none. */
  read(): Promise<Map<string, DownloadRecord>>;
  /** Replaces the records (atomically, where the adapter writes a file). */
  write(records: ReadonlyMap<string, DownloadRecord>): Promise<void>;
}

/**
 * Takes secrets out of text: lines before they are written, and text from outside (answers, socket
 * errors) before an adapter puts it into an error. One per run, shared (domain/redactor.ts).
 */
export interface Redactor {
  redact(text: string): string;
  /** Secrets to redact from now on (empty and too-short values are ignored). */
  register(secrets: Iterable<string | undefined>): void;
}

/** Something worth telling the person running the sync. */
export type SyncEvent =
  | { type: "run-started"; target: string; dryRun: boolean }
  | { type: "listed"; backups: number; successful: number; stored: number; timeZone: string }
  | { type: "uploading"; name: string; size?: number }
  | { type: "progress"; name: string; bytesDone: number; size?: number; elapsedMs: number; resumedFrom?: number }
  | { type: "uploaded"; name: string; bytes: number; durationMs: number; dryRun: boolean; resumedFrom?: number }
  | { type: "retrying"; name: string; attempt: number; reason: string }
  | { type: "skipped"; name: string }
  | { type: "ignored"; backupId: string; reason: string }
  | { type: "deleted"; name: string; dryRun: boolean }
  /** A copy of a backup UNMS no longer lists, kept by the retention policy (KEEP_DAILY/WEEKLY/MONTHLY). */
  | { type: "retained"; name: string; backupId: string; reasons: RetentionReason[] }
  | { type: "guarded"; message: string; advice: string }
  | { type: "info"; message: string }
  | { type: "warning"; message: string }
  | { type: "failed"; name?: string; message: string }
  /** Failed without a try: the run-ending failure already reported says why (no line of its own). */
  | { type: "not-attempted"; name: string; message: string }
  /** Left for the next run, the time budget being spent (no line: the budget warning names them all). */
  | { type: "held-over"; name: string }
  | { type: "authorization-required"; message: string; url: string }
  | { type: "run-finished"; summary: string };

/**
 * Hears about the run as it goes: every SyncEvent (uploads, deletions, guards, warnings, the end).
 *
 * @example
 * ```ts
 * import type { Reporter, SyncEvent } from "unms-dropbox-backup-sync";
 *
 * declare const metrics: { inc(bytes: number): void };
 *
 * const reporter: Reporter = {
 *   report: (event: SyncEvent) => {
 *     if (event.type === "uploaded") metrics.inc(event.bytes);
 *   },
 * };
 * ```
 */
export interface Reporter {
  report(event: SyncEvent): void;
}

/** Monotonic milliseconds, injected so the app layer reads no clock of its own. */
export interface Clock {
  now(): number;
}

/**
 * Supplies Dropbox access tokens. The Dropbox store asks before each request and reports a 401,
 * so token lifecycle logic stays out of the storage adapter.
 *
 * @example
 * ```ts
 * import type { AccessTokenProvider } from "unms-dropbox-backup-sync";
 *
 * declare const token: string;
 *
 * const tokens: AccessTokenProvider = {
 *   accessToken: async () => token,
 *   refreshAfterRejection: async () => {
 *     throw new Error("this token cannot be renewed");
 *   },
 * };
 * ```
 */
export interface AccessTokenProvider {
  /** A token valid for at least the next few minutes (refreshed first when close to expiry). */
  accessToken(signal?: AbortSignal): Promise<string>;
  /**
   * Dropbox rejected `rejected` with 401 `reason`. Returns a fresh token to retry with (one
   * refresh in flight at a time, shared by concurrent callers), or throws a SyncError of kind
   * `authorization-required` / `unauthorized` with a specific message when none can be had.
   */
  refreshAfterRejection(rejected: string, reason: string, signal?: AbortSignal): Promise<string>;
}
