/**
 * Ports: what the app layer needs from the outside world, shaped by the domain, not by any vendor.
 * Adapters under src/adapters implement them; test/contract holds one suite per port that every
 * adapter (and any embedder's own) must pass.
 */
import type { UnmsBackup } from "./backup.ts";
import type { DownloadRecord, StoredFile } from "./reconcile.ts";

/** Bytes as both Node and Deno can iterate them: web ReadableStreams and Node streams both are. */
export type ByteStream = AsyncIterable<Uint8Array>;

export interface BackupDownload {
  stream: ByteStream;
  /** Byte length when the source announced one; never required. */
  length?: number;
}

/** Where backups come from (UNMS). */
export interface BackupSource {
  /** Every backup the source lists, whatever its state. */
  list(signal?: AbortSignal): Promise<UnmsBackup[]>;
  /** The NMS time zone (IANA name), or undefined when the source has none to offer. */
  timeZone(signal?: AbortSignal): Promise<string | undefined>;
  /** Streams one backup's bytes. The stream must throw (not end early) when the transfer breaks. */
  open(id: string, signal?: AbortSignal): Promise<BackupDownload>;
}

export interface PutOptions {
  /** Replace an existing file of that name (used when its size proved it incomplete). */
  overwrite?: boolean;
  /** Called with the running total of bytes stored so far. */
  onProgress?: (bytesDone: number) => void;
  signal?: AbortSignal;
}

/**
 * Where copies go (a Dropbox app folder, a local directory). `folder` is relative to the store's
 * root: "" is the root itself; otherwise a "/"-separated path without leading or trailing "/".
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
}

/**
 * What this tool downloaded per backup in earlier runs, so UNMS's listed size never causes a
 * re-upload every night (the size rule in reconcile.ts). Keyed by `backupKey(id)`.
 */
export interface DownloadLedger {
  /** The records kept so far; empty when there are none. */
  read(): Promise<Map<string, DownloadRecord>>;
  /** Replaces the records (atomically, where the adapter writes a file). */
  write(records: ReadonlyMap<string, DownloadRecord>): Promise<void>;
}

/** Something worth telling the person running the sync. */
export type SyncEvent =
  | { type: "run-started"; target: string; dryRun: boolean }
  | { type: "listed"; backups: number; successful: number; stored: number; timeZone: string }
  | { type: "uploading"; name: string; size?: number }
  | { type: "progress"; name: string; bytesDone: number; size?: number; elapsedMs: number }
  | { type: "uploaded"; name: string; bytes: number; durationMs: number; dryRun: boolean }
  | { type: "retrying"; name: string; attempt: number; reason: string }
  | { type: "skipped"; name: string }
  | { type: "ignored"; backupId: string; reason: string }
  | { type: "deleted"; name: string; dryRun: boolean }
  | { type: "guarded"; message: string; advice: string }
  | { type: "info"; message: string }
  | { type: "warning"; message: string }
  | { type: "failed"; name?: string; message: string }
  | { type: "authorization-required"; message: string; url: string }
  | { type: "run-finished"; summary: string };

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
