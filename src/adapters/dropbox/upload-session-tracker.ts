/**
 * Keeps the saved state of one Dropbox upload session in step with what Dropbox committed: after
 * every chunk, the offset and the content-hash blocks up to it (the hasher runs ahead while the
 * next chunk is read, so only the blocks below the committed offset are saved).
 */
import { SyncError, type FailureKind } from "../../domain/errors.ts";
import type { BackupDownload } from "../../domain/ports.ts";
import type { UploadSessionRecord, UploadSessionStore } from "../../app/ports.ts";
import { DROPBOX_HASH_BLOCK_BYTES, type DropboxContentHasher } from "../content-hash/content-hash.ts";

/** Dropbox upload sessions expire 7 days after they began (then: lookup_failed/not_found). */
export const DROPBOX_SESSION_LIFETIME_MS: number = 7 * 24 * 60 * 60 * 1000;

/** Failures after which the saved session is kept for the next attempt or run. */
export const KEEP_SESSION_KINDS: ReadonlySet<FailureKind> = new Set<FailureKind>(["paused", "source-interrupted", "transient", "rate-limited"]);

export class SessionTracker {
  #record: UploadSessionRecord;
  /** Saves run one after another, so an older record never lands after a newer one. */
  #saving: Promise<void> = Promise.resolve();
  /** A save waiting for the one in progress: it writes whatever record is newest when it starts. */
  #queued: Promise<void> | undefined;

  constructor(
    private readonly store: UploadSessionStore,
    private readonly hasher: DropboxContentHasher,
    initial: UploadSessionRecord,
  ) {
    this.#record = initial;
  }

  /** Dropbox holds the first `offset` bytes of session `sessionId` (a multiple of 4 MiB, or the end). */
  async committed(sessionId: string, offset: number): Promise<void> {
    const blocks = Math.floor(offset / DROPBOX_HASH_BLOCK_BYTES);
    this.#record = {
      ...this.#record,
      sessionId,
      bytesCommitted: blocks * DROPBOX_HASH_BLOCK_BYTES,
      blockHashes: this.hasher.completedBlocks().slice(0, blocks),
    };
    await this.store.save(this.#record);
  }

  /**
   * Concurrent session `sessionId`: Dropbox holds the first `prefix` bytes (whole chunks of
   * `chunkBytes`) and the chunks at `ahead`, acknowledged out of order; a later run sends only the rest.
   * `inFlight`: chunks sent whose answer has not come (their fate unknown: the session cannot be continued).
   */
  async committedChunks(sessionId: string, prefix: number, ahead: readonly number[], chunkBytes: number, inFlight: readonly number[] = []): Promise<void> {
    const blocks = prefix / DROPBOX_HASH_BLOCK_BYTES;
    this.#record = {
      ...this.#record,
      sessionId,
      bytesCommitted: prefix,
      blockHashes: this.hasher.completedBlocks().slice(0, blocks),
      concurrent: {
        chunkBytes, chunksAhead: [...ahead].sort((a, b) => a - b),
        ...(inFlight.length > 0 ? { chunksInFlight: [...inFlight].sort((a, b) => a - b) } : {}),
      },
    };
    await this.#saveNewest();
  }

  /**
   * Resolves once a save that began after this call has landed. Lanes acknowledging at once share
   * one queued save (the newest record holds everything the older ones said): four lanes used to
   * queue up to eight fsynced writes, each holding a lane back 20-100 ms (issue 14, session 10).
   */
  #saveNewest(): Promise<void> {
    if (this.#queued) return this.#queued;
    const queued = this.#saving.catch(() => undefined).then(() => {
      this.#queued = undefined;
      return this.store.save(this.#record);
    });
    this.#queued = queued;
    this.#saving = queued;
    return queued;
  }

  /** The upload ended (stored, or beyond continuing): forget its session. */
  async done(): Promise<void> {
    await this.#saving.catch(() => undefined);
    await this.store.remove(this.#record.backupId);
  }
}

/** The SyncError that stops an upload between chunks when the run's time budget is spent. */
export function paused(target: string, offset: number, content: BackupDownload, saved: boolean): SyncError {
  const total = content.length === undefined ? "" : ` of ${(content.offset ?? 0) + content.length}`;
  return new SyncError(
    saved
      ? `Paused the upload of ${target} after ${offset}${total} bytes: the run's time budget is spent; the next run continues it`
      : `Stopped the upload of ${target} after ${offset}${total} bytes: the run's time budget is spent and no upload state is kept, so the next run starts it over`,
    { kind: "paused", code: "run.budget_spent" },
  );
}

/** "8 days", "3 hours": how long ago, for people. */
export function formatAge(ms: number): string {
  const hours = ms / 3_600_000;
  return hours >= 48 ? `${Math.floor(hours / 24)} days` : `${Math.floor(hours)} hours`;
}
