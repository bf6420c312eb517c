/**
 * BackupStore on a Dropbox app folder, through the official SDK (dropbox@10.34).
 *
 * SDK quirks handled here: it never retries (every call goes through `retry` with the one
 * classifier), it deletes `contents` from the args object it is given (args are built afresh per
 * attempt), and it always builds https URLs (the injected fetch rewrites them for a local fake).
 *
 * Uploads stream: one chunk buffer is filled while the previous one is being sent (two buffers at
 * most; a concurrent session: a slot per connection and one filled ahead, in a spool file unless an
 * embedder's fetch needs bytes, chunk-slots.ts), the content hash is computed on the way, and the
 * file appears only at `finish`, so an interrupted upload never leaves a partial file. Dropbox paths
 * are case-insensitive.
 */
import { tmpdir } from "node:os";
import type { Dropbox, files } from "dropbox";
import { configError, SyncError } from "../../domain/errors.ts";
import type { AccessTokenProvider, BackupDownload, BackupStore, PutOptions, Redactor, RemoveOutcome, ResumePoint, StoredCopyDownload } from "../../domain/ports.ts";
import type { UploadSessionRecord, UploadSessionStore } from "../../app/ports.ts";
import type { StoredFile } from "../../domain/reconcile.ts";
import { SecretRedactor } from "../../domain/redactor.ts";
import { createNodeHttpFetch, onDropboxBase, type SizedBody } from "../http/node-http-fetch.ts";
import { type ChunkSlots, MemoryChunkSlots, type SlotChunk, SpoolFillFailed, SpooledChunkSlots } from "./chunk-slots.ts";
import { abortableSleep, retry, type RetryOptions } from "../retry/retry.ts";
import { ChunkReader, type Chunk } from "./chunk-reader.ts";
import { planConcurrentChunks } from "./concurrent-chunk-plan.ts";
import { RateLimitGate } from "./rate-limit-gate.ts";
import { DropboxContentHasher } from "../content-hash/content-hash.ts";
import { DROPBOX_SESSION_LIFETIME_MS, formatAge, KEEP_SESSION_KINDS, paused, SessionTracker } from "./upload-session-tracker.ts";
import {
  causeChain, classifyDropboxFailure, correctOffsetOf, errorTags, isDropboxFailure, isNetworkFailure, OffsetResync, toSyncError,
} from "./dropbox-errors.ts";
import { checkedFolder } from "../store-input.ts";

const MiB = 1024 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * Default upload chunk of a sequential session (one connection): 8 MiB; concurrent sessions default to
 * DEFAULT_CONCURRENT_CHUNK_BYTES. The tables below were measured with one connection. The upload alone is fastest at 16 MiB, but the whole sync path is as
 * fast at 8 MiB and 20 MiB lighter, which keeps it under the 160 MiB target (see the end of this note).
 * scripts/measure-chunk-size.ts, 256 MiB through the loopback fakes, node-http-fetch, Node 20.20,
 * 2 vCPU AMD EPYC; peak RSS of the uploading process (a process that only loads the code: 102 MiB):
 *
 *   chunk MiB | MiB/s | peak RSS MiB | requests
 *           4 |   283 |          113 |       64
 *           8 |   372 |          125 |       32
 *          16 |   397 |          137 |       16
 *          32 |   365 |          170 |        8
 *          48 |   370 |          202 |        6
 *          64 |   344 |          234 |        4
 *
 * At 1 GiB: 16 MiB -> 311 MiB/s, 139 MiB RSS (flat with size). Larger chunks only add memory (two
 * buffers in flight); smaller ones add requests, each a round trip and, on Dropbox, rate-limit budget.
 *
 * The whole path (`node dist/cli.mjs sync`, UNMS download included; scripts/bench.ts --chunk-mib N
 * --repeat 3, same machine), 1 GiB backup, best MiB/s, highest peak RSS of the CLI process:
 *
 *   chunk MiB | MiB/s | peak RSS MiB | Dropbox requests
 *           4 |   332 |          136 |              258
 *           8 |   432 |          141 |              130
 *          16 |   472 |          162 |               66
 *          32 |   435 |          194 |               34
 *
 * The CLI holds ~30 MiB more than the upload alone (the download's 64 KiB pieces wait for the GC),
 * so 16 MiB chunks peaked at 147-162 MiB over eight runs (four at or over 160); 8 MiB: 132-144.
 *
 * Concurrent sessions (issue 14, session 9; 256 MiB over the bench's WAN model, 4 connections): a heap
 * snapshot mid-upload held the chunk buffers and the 2.5 MiB bundle source, nothing else over 200 KB;
 * the rest of the peak is code, a ~20 MiB heap and garbage: the download's socket pieces, which V8
 * frees at a young-generation GC it starts only once ~32 MiB of them piled up (`arrayBuffers` peaked
 * 36-40 MiB above the chunk buffers). Peak RSS: 4 x 12 MiB buffers 159-167 MiB; 5 x 8 MiB (the
 * default budget, DEFAULT_CONCURRENT_BUFFER_BYTES) 154-158 MiB; 5 x 8 MiB with a forced minor GC every
 * 100 ms 137-138 MiB (not done: it needs --expose-gc). Figures under load 10-17 on 2 cores; BENCHMARKS.md.
 */
export const DEFAULT_DROPBOX_CHUNK_BYTES: number = 8 * MiB;
/**
 * Chunk of a concurrent session kept in memory (an embedder's fetch) when neither DROPBOX_CHUNK_MIB
 * nor the file's size is known: the largest that gives every lane and one spare a buffer within
 * DEFAULT_CONCURRENT_BUFFER_BYTES (8 MiB at 4 connections). With a known size, planConcurrentChunks
 * picks it per file (concurrent-chunk-plan.ts).
 */
export const DEFAULT_CONCURRENT_CHUNK_BYTES: number = 8 * MiB;
/**
 * Memory for the chunk buffers of one concurrent upload kept in memory (an embedder's fetch,
 * DROPBOX_CHUNK_MIB unset): 40 MiB, five 8 MiB buffers at 4 connections (one per lane, one filled
 * ahead so no lane waits for the download). In memory, 4 x 12 MiB buffers peaked at 159-167 MiB RSS
 * for 256 MiB over the WAN model (issue 14 session 9), which is why chunks now wait on disk instead
 * (chunk-slots.ts) whenever the store sends through its own fetch: the CLI and the plugin always do.
 */
export const DEFAULT_CONCURRENT_BUFFER_BYTES: number = 40 * MiB;
/**
 * Largest chunk a concurrent session picks for itself when its chunks wait on disk (spoolDir), so
 * at most (connections + 1) x 32 MiB of disk (160 MiB at 4). Over the bench's WAN model 4 connections
 * fill 0.8x of the link only with chunks of 12 MiB and more (each request waits ~270 ms besides its
 * bytes); planConcurrentChunks then picks 16-32 MiB for files of 256 MiB and up. Larger chunks would
 * only cost more to send again after a 429, and more disk.
 */
export const MAX_SPOOLED_CHUNK_BYTES: number = 32 * MiB;
/** Dropbox refuses request bodies over 150 MiB; the largest multiple of 4 MiB below that. */
const MAX_DROPBOX_CHUNK_BYTES = 148 * MiB;
const DROPBOX_CHUNK_MULTIPLE = 4 * MiB;
/**
 * Upload connections per file (a Dropbox concurrent upload session); 1 is one sequential session.
 * Over a real uplink each chunk waits a round trip plus Dropbox's work before the next can start, so
 * one connection leaves the link idle most of the time (BENCHMARKS.md, WAN table). Each connection
 * holds one chunk buffer, and one more is filled ahead (DEFAULT_CONCURRENT_BUFFER_BYTES in all).
 *
 * 4, as issue 14 names. The concurrent path relies only on documented behaviour (see #putConcurrent
 * and BENCHMARKS.md "Concurrent sessions: what each fault path relies on"): a chunk whose answer was
 * lost is never sent again into its session; the session is abandoned and the file goes sequentially.
 */
export const DEFAULT_DROPBOX_CONNECTIONS = 4;
export const MAX_DROPBOX_CONNECTIONS = 16;

export interface DropboxRetryInfo {
  operation: string;
  attempt: number;
  reason: string;
  delayMs: number;
  /** The failure that is retried. */
  error?: unknown;
}

/**
 * Options of DropboxBackupStore.
 *
 * @example
 * ```ts
 * import type { AccessTokenProvider, DropboxBackupStoreOptions } from "unms-dropbox-backup-sync";
 *
 * declare const tokens: AccessTokenProvider;
 *
 * const options: DropboxBackupStoreOptions = { tokens, chunkBytes: 32 * 1024 * 1024 };
 * ```
 */
export interface DropboxBackupStoreOptions {
  tokens: AccessTokenProvider;
  /** Defaults to createNodeHttpFetch() (see why there). */
  fetch?: typeof fetch;
  /** Send Dropbox requests here instead (a fake), e.g. http://127.0.0.1:8080. */
  baseUrl?: string;
  /** Multiple of 4 MiB, at most 148 MiB; default DEFAULT_DROPBOX_CHUNK_BYTES, or chosen per file above one connection (planConcurrentChunks). */
  chunkBytes?: number;
  /** Chunks of one file sent at once (1..16): above 1 a concurrent upload session; default DEFAULT_DROPBOX_CONNECTIONS. */
  connections?: number;
  retry?: Partial<RetryOptions>;
  sleep?: (ms: number) => Promise<void>;
  onRetry?: (info: DropboxRetryInfo) => void;
  /** Most list_folder pages one listing may take; default MAX_LIST_PAGES. */
  maxListPages?: number;
  /** Where unfinished upload sessions are kept between runs; without it uploads never resume. */
  sessions?: UploadSessionStore;
  /** Wall-clock milliseconds (session ages); default Date.now. */
  wallClock?: () => number;
  /** The run's redactor, for Dropbox's text in errors (the access token in use is registered with it); default a new one. */
  redactor?: Redactor;
  /**
   * Folder for the spool file in which a concurrent upload's chunks wait while they are sent (created
   * 0600 and unlinked at once, so nothing is left behind); default the system's temporary folder. Up
   * to (connections + 1) x 32 MiB of disk at a time, none of it memory. Not used with `fetch` (an
   * embedder's fetch is handed bytes, so the chunks wait in memory: 40 MiB at most).
   */
  spoolDir?: string;
}

/**
 * A folder of backups lists in one page of up to 2000 entries; 1000 pages (two million entries)
 * means a listing that will never end, not a folder, so it fails instead of looping for ever.
 */
const MAX_LIST_PAGES = 1000;

/** Throws a config SyncError unless `bytes` is a usable chunk size. */
export function validateChunkBytes(bytes: number): number {
  if (!Number.isInteger(bytes) || bytes <= 0 || bytes % DROPBOX_CHUNK_MULTIPLE !== 0 || bytes > MAX_DROPBOX_CHUNK_BYTES) {
    throw configError(
      `Dropbox upload chunk size ${bytes / MiB} MiB is not usable: it must be a multiple of 4 MiB from 4 to 148 MiB ` +
        `(Dropbox hashes in 4 MiB blocks and refuses requests over 150 MiB); set DROPBOX_CHUNK_MIB to e.g. ${DEFAULT_DROPBOX_CHUNK_BYTES / MiB}`,
      "config.dropbox_chunk_size",
    );
  }
  return bytes;
}

/** Throws a config SyncError unless `count` is a usable number of upload connections. */
export function validateConnections(count: number): number {
  if (!Number.isInteger(count) || count < 1 || count > MAX_DROPBOX_CONNECTIONS) {
    throw configError(
      `Dropbox upload connections ${count} is not usable: it must be a whole number from 1 (one chunk at a time) to ${MAX_DROPBOX_CONNECTIONS}; set DROPBOX_CONNECTIONS to e.g. ${DEFAULT_DROPBOX_CONNECTIONS}`,
      "config.dropbox_connections",
    );
  }
  return count;
}

type Call = <T>(
  operation: string, target: string, run: (sdk: Dropbox, accessToken: string) => Promise<T>, signal?: AbortSignal, gate?: RateLimitGate,
) => Promise<T>;

interface FileMetadataLike {
  name: string;
  path_display?: string;
  size: number;
  content_hash?: string;
}

/**
 * The Dropbox BackupStore (chunked upload sessions, content-hash verified, retries with backoff).
 *
 * @example
 * ```ts
 * import { createBackupSync, DropboxBackupStore, type AccessTokenProvider, type UnmsConnection } from "unms-dropbox-backup-sync";
 *
 * declare const tokens: AccessTokenProvider;
 * declare const unms: UnmsConnection;
 *
 * const store = new DropboxBackupStore({ tokens });
 * createBackupSync({ unms, store, folder: "UISP" });
 * ```
 */
export class DropboxBackupStore implements BackupStore {
  readonly #tokens: AccessTokenProvider;
  readonly #fetch: typeof fetch;
  readonly #chunkBytes: number;
  /** DROPBOX_CHUNK_MIB as given: it wins over the per-file plan of a concurrent session. */
  readonly #chosenChunkBytes: number | undefined;
  readonly #connections: number;
  readonly #retry: Partial<RetryOptions>;
  readonly #onRetry: ((info: DropboxRetryInfo) => void) | undefined;
  readonly #maxListPages: number;
  readonly #sessions: UploadSessionStore | undefined;
  readonly #wallClock: () => number;
  readonly #redactor: Redactor;
  /** Where concurrent chunks wait: undefined keeps them in memory (an embedder's fetch). */
  readonly #spoolDir: string | undefined;
  /** Files whose concurrent session was abandoned this run (a chunk of unknown fate): they go sequentially. */
  readonly #sequentialAfterLoss = new Set<string>();

  constructor(options: DropboxBackupStoreOptions) {
    this.#sessions = options.sessions;
    this.#wallClock = options.wallClock ?? Date.now;
    this.#tokens = options.tokens;
    this.#fetch = options.fetch
      ? options.baseUrl ? rewritingFetch(options.fetch, options.baseUrl) : options.fetch
      : createNodeHttpFetch(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl });
    this.#chunkBytes = validateChunkBytes(options.chunkBytes ?? DEFAULT_DROPBOX_CHUNK_BYTES);
    this.#chosenChunkBytes = options.chunkBytes;
    this.#connections = validateConnections(options.connections ?? DEFAULT_DROPBOX_CONNECTIONS);
    this.#retry = { ...options.retry, ...(options.sleep ? { sleep: options.sleep } : {}) };
    this.#onRetry = options.onRetry;
    this.#maxListPages = options.maxListPages ?? MAX_LIST_PAGES;
    this.#redactor = options.redactor ?? new SecretRedactor();
    this.#spoolDir = options.fetch ? undefined : options.spoolDir ?? tmpdir();
  }

  async list(folder: string, signal?: AbortSignal): Promise<StoredFile[]> {
    const path = folderPath(folder);
    const target = `folder "${path || "/"}"`;
    for (let restarts = 0; ; restarts++) {
      const files: StoredFile[] = [];
      try {
        let page = checkedListPage((await this.#attempts("list_folder", target, (token) => this.#rpc<files.ListFolderResult>("files/list_folder", { path, limit: 2000 }, token, signal), signal)).result, "files/list_folder", target);
        for (let pages = 1; ; pages++) {
          for (const entry of page.entries) {
            if (entry[".tag"] !== "file") continue;
            const file = entry as FileMetadataLike;
            files.push({ name: lastComponent(file), size: file.size, ...(file.content_hash ? { contentHash: file.content_hash } : {}) });
          }
          if (!page.has_more) return files;
          if (pages >= this.#maxListPages) {
            throw endlessListing(target, `it still said has_more after ${pages} pages (${files.length} files so far)`);
          }
          const cursor = page.cursor;
          page = checkedListPage(
            (await this.#attempts("list_folder/continue", target, (token) => this.#rpc<files.ListFolderResult>("files/list_folder/continue", { cursor }, token, signal), signal)).result,
            "files/list_folder/continue",
            target,
          );
          if (page.has_more && page.cursor === cursor) {
            throw endlessListing(target, `page ${pages + 1} said has_more but handed back the cursor it was given`);
          }
        }
      } catch (error) {
        if (SyncError.is(error) && error.kind === "not-found") return [];
        if (SyncError.is(error) && error.code === "dropbox.reset" && restarts < 3) continue;
        throw error;
      }
    }
  }

  /**
   * files/download, streamed: not through the SDK, which reads the whole file into one buffer. The
   * metadata comes from the `Dropbox-API-Result` header; errors take the SDK's shape, so the one
   * classifier retries, refreshes the token and words them as for every other call.
   */
  async openCopy(folder: string, name: string, signal?: AbortSignal): Promise<StoredCopyDownload> {
    const path = filePath(folder, name);
    const target = `file "${path}"`;
    const response = await this.#call("download", target, async (_sdk, accessToken) => {
      const answer = await this.#fetch("https://content.dropboxapi.com/2/files/download", {
        method: "POST",
        headers: { authorization: `Bearer ${accessToken}`, "dropbox-api-arg": headerSafeJson({ path }) },
        ...(signal ? { signal } : {}),
      });
      if (!answer.ok) throw rejectedAnswer(answer, await answer.text().catch(() => ""));
      return answer;
    }, signal);
    const metadata = parseApiResult(response.headers.get("dropbox-api-result"));
    if (!metadata || !response.body) {
      await response.body?.cancel().catch(() => undefined);
      throw new SyncError(
        `Dropbox download of ${target} answered without ${response.body ? "a readable Dropbox-API-Result header (the file's size and content hash)" : "a body"}; nothing was written. Try again later.`,
        { kind: "transient", code: "dropbox.download_no_result" },
      );
    }
    return {
      stream: streamBody(response.body, target, this.#redactor),
      size: metadata.size,
      ...(metadata.content_hash ? { contentHash: metadata.content_hash } : {}),
    };
  }

  async remove(folder: string, name: string, signal?: AbortSignal): Promise<void> {
    const path = filePath(folder, name);
    try {
      await this.#call("delete_v2", `file "${path}"`, (sdk) => sdk.filesDeleteV2({ path }), signal);
    } catch (error) {
      if (SyncError.is(error) && error.kind === "not-found") return;
      throw error;
    }
  }

  /**
   * files/delete_batch, up to 1000 paths per job, each job polled with delete_batch/check until it
   * completes: 9,000 deletions cost 9 jobs and their polls instead of 9,000 requests.
   */
  async removeMany(folder: string, names: readonly string[], signal?: AbortSignal): Promise<RemoveOutcome[]> {
    const outcomes: RemoveOutcome[] = [];
    for (let from = 0; from < names.length; from += DELETE_BATCH_MAX) {
      outcomes.push(...(await this.#deleteBatch(folder, names.slice(from, from + DELETE_BATCH_MAX), signal)));
    }
    return outcomes;
  }

  async #deleteBatch(folder: string, names: readonly string[], signal: AbortSignal | undefined): Promise<RemoveOutcome[]> {
    const target = `${names.length} files in folder "${folderPath(folder) || "/"}"`;
    const entries = names.map((name) => ({ path: filePath(folder, name) }));
    let status: files.DeleteBatchJobStatus | files.DeleteBatchLaunch =
      (await this.#call("delete_batch", target, (sdk) => sdk.filesDeleteBatch({ entries }), signal)).result;
    const sleep = this.#retry.sleep ?? abortableSleep;
    const jobId = status[".tag"] === "async_job_id" ? status.async_job_id : "";
    for (let poll = 0; status[".tag"] === "async_job_id" || status[".tag"] === "in_progress"; poll++) {
      if (poll >= DELETE_BATCH_MAX_POLLS) {
        throw new SyncError(
          `Dropbox delete_batch for ${target} did not complete after ${poll} checks; nothing is lost: the copies left are deleted on the next run`,
          { kind: "transient", code: "dropbox.delete_batch_unfinished" },
        );
      }
      await sleep(Math.min(DELETE_BATCH_POLL_MS * 2 ** poll, 2_000), signal);
      const checked = await this.#call("delete_batch/check", target, (sdk) => sdk.filesDeleteBatchCheck({ async_job_id: jobId }), signal);
      status = checked.result;
    }
    if (status[".tag"] === "failed") {
      throw toSyncError(responseError(409, { ".tag": status[".tag"], failed: status.failed }), { operation: "delete_batch/check", target, redactor: this.#redactor });
    }
    if (status[".tag"] !== "complete") {
      throw new SyncError(`Dropbox delete_batch for ${target} answered "${status[".tag"]}", which this tool does not know; nothing was assumed deleted`, {
        kind: "permanent", code: "dropbox.delete_batch_unknown",
      });
    }
    const results = status.entries;
    return names.map((name, index) => {
      const entry = results[index];
      if (entry?.[".tag"] === "success") return { name };
      if (entry?.[".tag"] === "failure") {
        const error = toSyncError(responseError(409, entry.failure), { operation: "delete_batch", target: `file "${filePath(folder, name)}"`, redactor: this.#redactor });
        // Already gone is what deleting wants.
        return error.kind === "not-found" ? { name } : { name, error };
      }
      return { name, error: new SyncError(`Dropbox delete_batch gave no result for file "${filePath(folder, name)}"; it is deleted on the next run`, { kind: "transient", code: "dropbox.delete_batch_missing_entry" }) };
    });
  }

  async put(folder: string, name: string, content: BackupDownload, options: PutOptions = {}): Promise<StoredFile> {
    const path = filePath(folder, name);
    const target = `file "${path}"`;
    const signal = options.signal;
    const mode = options.overwrite ? { ".tag": "overwrite" as const } : { ".tag": "add" as const };
    const commit = (): files.CommitInfo => ({ path, mode, autorename: false, mute: true });
    const saved = await this.#savedSessionFor(folder, name, content, options.backupId, target);
    // A sequential session saved by an earlier run goes on sequentially; anything else may go concurrent,
    // unless a concurrent session of this file was abandoned this run.
    if (saved ? saved.concurrent !== undefined : this.#connections > 1 && !this.#sequentialAfterLoss.has(path)) {
      return this.#putConcurrent(folder, name, content, options, commit, saved);
    }
    const hasher = saved ? DropboxContentHasher.resume(saved.blockHashes) : new DropboxContentHasher();
    const reader = new ChunkReader(content.stream, (bytes) => hasher.update(bytes), `the content for ${target}`);
    const progress = options.onProgress ?? (() => undefined);
    const buffers: Uint8Array[] = [new Uint8Array(this.#chunkBytes)];
    let pendingFill: Promise<unknown> | undefined;
    const startOffset = saved?.bytesCommitted ?? 0;
    // Saved after every committed chunk, so a kill at any moment leaves a state the next run can continue.
    const tracker = this.#tracker(folder, name, options, hasher, saved);

    try {
      let chunk = await reader.fill(buffers[0]!);
      let metadata: FileMetadataLike;
      let expectedHash: string;
      if (chunk.last && !saved) {
        // One files/upload instead of start + finish. Measured on the loopback fake (ms per file,
        // single vs session): 1 KiB 0.7 vs 1.4, 1 MiB 2.5 vs 3.4, 16 MiB 26-28 vs 27-32; on the real
        // service the saved round trip counts for more.
        ({ metadata, expectedHash } = await this.#uploadWhole(chunk.bytes, hasher, commit, target, signal, progress));
      } else {
        let sessionId: string;
        let offset: number;
        // After a resume, Dropbox may hold more than was saved (the answer to the last chunk never
        // arrived): the first request asks first, so no byte is sent twice.
        let askFirst = saved !== undefined;
        let next: Promise<Chunk>;
        let which = 0;
        if (saved) {
          sessionId = saved.sessionId;
          offset = startOffset;
          next = Promise.resolve(chunk);
        } else {
          buffers.push(new Uint8Array(this.#chunkBytes));
          next = reader.fill(buffers[1]!);
          pendingFill = next.catch(() => undefined);
          sessionId = await this.#startSession(chunk.bytes, target, signal);
          offset = chunk.bytes.length;
          which = 1;
          progress(offset);
          await tracker?.committed(sessionId, offset);
        }
        let sentThisRun = !saved;
        for (;;) {
          chunk = await next;
          if (sentThisRun && options.shouldPause?.()) throw paused(target, offset, content, tracker !== undefined);
          if (chunk.last) break;
          if (buffers.length < 2) buffers.push(new Uint8Array(this.#chunkBytes));
          which = 1 - which;
          next = reader.fill(buffers[which]!);
          pendingFill = next.catch(() => undefined);
          await this.#append(sessionId, offset, chunk.bytes, target, signal, askFirst);
          askFirst = false;
          sentThisRun = true;
          offset += chunk.bytes.length;
          progress(offset);
          await tracker?.committed(sessionId, offset);
        }
        pendingFill = undefined;
        expectedHash = hasher.digest();
        metadata = await this.#finish(sessionId, offset, chunk.bytes, commit, expectedHash, target, signal, askFirst);
        offset += chunk.bytes.length;
        progress(offset);
      }
      return await this.#finished(tracker, metadata, startOffset + reader.bytesRead, expectedHash, { folder, name, target }, signal);
    } catch (error) {
      // Stop the download; a fill still waiting on a stalled source is left to finish or fail alone.
      reader.cancel();
      void pendingFill;
      // A session worth continuing is kept (paused, stopped, or a fault a later attempt may outlive).
      if (tracker && !signal?.aborted && !(SyncError.is(error) && KEEP_SESSION_KINDS.has(error.kind))) await tracker.done().catch(() => undefined);
      throw error;
    }
  }

  /**
   * A concurrent upload session: up to #connections chunks in flight at explicit offsets, each in a
   * buffer of its own, acknowledged in any order; the content hash still runs over the stream in
   * order as chunks are read. The closing chunk goes alone once all others are acknowledged (nothing
   * may arrive after close), and finish carries no data. After every acknowledgement the saved state
   * names the chunks Dropbox holds, so a later run sends only the others.
   *
   * Every fault path rests on documented behaviour only (BENCHMARKS.md, "Concurrent sessions: what
   * each fault path relies on"). Dropbox documents that pieces may arrive "in any order", the 4 MiB
   * rules, `closed` for appends after close, and `concurrent_session_missing_data` at finish; it does
   * not document what a piece sent again at the same offset does, nor any way to ask which pieces a
   * concurrent session holds. So a chunk whose answer never came (a reset after sending, a 5xx, a
   * kill) is never sent again into that session: the session is abandoned and the file starts over in
   * a sequential session, whose offsets Dropbox reports (`incorrect_offset`). The saved state names the
   * chunks in flight before they are sent, so even a hard kill leaves no guess for the next run.
   */
  async #putConcurrent(
    folder: string, name: string, content: BackupDownload, options: PutOptions, commit: () => files.CommitInfo,
    saved: UploadSessionRecord | undefined,
  ): Promise<StoredFile> {
    const target = `file "${filePath(folder, name)}"`;
    const signal = options.signal;
    const lanes = this.#connections;
    // A continued session keeps its layout; a chunk size set by hand keeps one buffer per lane.
    const fileBytes = content.length === undefined ? undefined : (content.offset ?? 0) + content.length;
    // Chunks wait in a spool file when this store sends through its own node:http fetch (which
    // streams a file slice); an embedder's fetch is handed bytes, so they wait in memory.
    const spooled = this.#spoolDir !== undefined;
    const plan = saved?.concurrent
      ? { chunkBytes: saved.concurrent.chunkBytes, buffers: spooled || (lanes + 1) * saved.concurrent.chunkBytes <= DEFAULT_CONCURRENT_BUFFER_BYTES ? lanes + 1 : lanes }
      : this.#chosenChunkBytes !== undefined
        ? { chunkBytes: this.#chosenChunkBytes, buffers: spooled ? lanes + 1 : lanes }
        : planConcurrentChunks(fileBytes, lanes, spooled ? (lanes + 1) * MAX_SPOOLED_CHUNK_BYTES : DEFAULT_CONCURRENT_BUFFER_BYTES);
    const chunkBytes = plan.chunkBytes;
    const hasher = saved ? DropboxContentHasher.resume(saved.blockHashes) : new DropboxContentHasher();
    const reader = new ChunkReader(content.stream, (bytes) => hasher.update(bytes), `the content for ${target}`);
    const progress = options.onProgress ?? (() => undefined);
    const gate = new RateLimitGate(this.#retry.sleep ?? abortableSleep);
    const startOffset = saved?.bytesCommitted ?? 0;
    const acknowledged = new Set(saved?.concurrent?.chunksAhead ?? []);
    let prefix = startOffset;
    let bytesDone = startOffset + acknowledged.size * chunkBytes;
    let sessionId = saved?.sessionId ?? "";
    const tracker = this.#tracker(folder, name, options, hasher, saved);
    /** Chunks sent whose answer has not come: Dropbox may or may not hold them. */
    const unsure = new Set<number>();
    const saveState = () => tracker?.committedChunks(sessionId, prefix, [...acknowledged], chunkBytes, [...unsure]);

    const slots: ChunkSlots = spooled
      ? await SpooledChunkSlots.create(this.#spoolDir!, plan.buffers, chunkBytes)
      : new MemoryChunkSlots(plan.buffers, chunkBytes);
    const free: number[] = [];
    for (let slot = plan.buffers - 1; slot >= 0; slot--) free.push(slot);
    const inFlight = new Set<Promise<void>>();
    let failure: { error: unknown } | undefined;
    const takeSlot = async (): Promise<number> => {
      while (free.length === 0) await Promise.race(inFlight);
      return free.pop()!;
    };
    const settle = async () => {
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    };
    /** Never more requests at once than connections: the spare buffer is filled, not sent, meanwhile. */
    const laneFree = async () => {
      while (inFlight.size >= lanes) await Promise.race(inFlight);
    };
    /** `persist: false` for the last chunk's whole blocks: a short chunk must not move the saved chunk layout. */
    const send = (at: number, slot: number, length: number, persist = true) => {
      unsure.add(at);
      // Saved before sending: after a hard kill the next run knows this chunk's fate is unknown.
      const lane: Promise<void> = Promise.resolve(saveState())
        .then(() => this.#appendAt(sessionId, at, () => slots.body(slot, 0, length), length, false, target, signal, gate))
        .then(async () => {
          unsure.delete(at);
          if (!persist) {
            bytesDone += length;
            progress(bytesDone);
            return;
          }
          acknowledged.add(at);
          while (acknowledged.delete(prefix)) prefix += chunkBytes;
          bytesDone += length;
          progress(bytesDone);
          await saveState();
        })
        .catch((error: unknown) => {
          // Only an answer from Dropbox (or a request that never left) settles a chunk's fate.
          if (!(error instanceof ChunkFateUnknown) && !signal?.aborted) unsure.delete(at);
          failure ??= { error };
        })
        .finally(() => {
          inFlight.delete(lane);
          free.push(slot);
        });
      inFlight.add(lane);
    };

    // A file known to take more than one chunk starts its session while the first chunk is read (one
    // round trip less before the first append); a smaller one goes up with files/upload, no session.
    const early = !saved && content.length !== undefined && content.length > chunkBytes
      ? this.#startConcurrentSession(target, signal, gate)
      : undefined;
    early?.catch(() => undefined);
    /**
     * The chunk at `offset`, read into a free slot. A first-round chunk whose length is known before it
     * is read (the file's size is known and it is not the last) goes out as it is read when a lane is free:
     * a spooled body follows the download, so no lane waits for a whole chunk to arrive first (at
     * 32 MiB the first round's lanes otherwise started ~0.3 s apart, issue 14 session 10).
     */
    const nextChunk = async (offset: number): Promise<SlotChunk & { sent: boolean }> => {
      const slot = await takeSlot();
      // The first round only: later chunks are read ahead into the spare slot while the lanes send,
      // and there following the fill piece by piece cost loopback throughput (best of 3 at 1 GiB:
      // 0.76x of raw every chunk, 0.87x never, 0.88x first round only; WAN 256 MiB 0.81x either way).
      const streamed = slots.streamsWhileFilling && fileBytes !== undefined && offset + chunkBytes < fileBytes &&
        offset < startOffset + lanes * chunkBytes && !acknowledged.has(offset) && !failure && inFlight.size < lanes;
      if (!streamed) return { ...(await slots.fill(reader, slot)), sent: false };
      const filling = slots.fill(reader, slot);
      filling.catch(() => undefined);
      if (!sessionId) sessionId = await (early ?? this.#startConcurrentSession(target, signal, gate));
      send(offset, slot, chunkBytes);
      const chunk = await filling;
      if (chunk.length !== chunkBytes || chunk.last) {
        throw new SyncError(
          `The content for ${target} ended at byte ${offset + chunk.length}, before the ${fileBytes} bytes it announced; the upload is kept to continue`,
          { kind: "source-interrupted", code: "source.short" },
        );
      }
      return { ...chunk, sent: true };
    };
    try {
      let chunk = await nextChunk(startOffset);
      let metadata: FileMetadataLike;
      let expectedHash: string;
      if (chunk.last && !saved && !early) {
        ({ metadata, expectedHash } = await this.#uploadWhole(await slots.bytes(chunk.slot, 0, chunk.length), hasher, commit, target, signal, progress));
      } else {
        if (!saved) sessionId = await (early ?? this.#startConcurrentSession(target, signal, gate));
        let offset = startOffset;
        let sentThisRun = false;
        for (;;) {
          if (failure) break;
          if (sentThisRun && options.shouldPause?.()) {
            await settle();
            if (failure) break;
            throw paused(target, prefix, content, tracker !== undefined);
          }
          if (chunk.last) break;
          if (chunk.sent) {
            sentThisRun = true;
          } else if (acknowledged.has(offset)) {
            free.push(chunk.slot);
          } else {
            await laneFree();
            if (failure) break;
            send(offset, chunk.slot, chunk.length);
            sentThisRun = true;
          }
          offset += chunk.length;
          chunk = await nextChunk(offset);
        }
        // The last chunk's whole 4 MiB blocks go alongside the others; only the rest (under 4 MiB,
        // perhaps nothing) closes the session, alone, since nothing may arrive after close.
        const blocks = chunk.length - (chunk.length % DROPBOX_CHUNK_MULTIPLE);
        if (blocks > 0 && !failure) await laneFree();
        if (blocks > 0 && !failure) send(offset, chunk.slot, blocks, false);
        offset += blocks;
        await settle();
        if (failure) throw failure.error;
        expectedHash = hasher.digest();
        const rest = await slots.bytes(chunk.slot, blocks, chunk.length - blocks);
        await this.#appendAt(sessionId, offset, () => rest, rest.length, true, target, signal, gate);
        offset += rest.length;
        progress(offset);
        metadata = await this.#finishConcurrent(sessionId, offset, commit, expectedHash, target, signal, gate);
      }
      return await this.#finished(tracker, metadata, startOffset + reader.bytesRead, expectedHash, { folder, name, target }, signal);
    } catch (error) {
      reader.cancel();
      // Lanes still sending finish first, so every chunk Dropbox acknowledged is in the saved state.
      await settle();
      if (signal?.aborted) {
        // Stopped (SIGTERM): the state is kept as it stands, chunks in flight named, so the next run
        // says why it cannot continue when one was unanswered (resumePoint), and continues otherwise.
        await saveState()?.catch(() => undefined);
        throw error;
      }
      if (unsure.size > 0 || error instanceof ChunkFateUnknown) {
        // Never guessed at: the session is dropped (Dropbox expires it) and the file starts over.
        await tracker?.done().catch(() => undefined);
        this.#sequentialAfterLoss.add(filePath(folder, name));
        const lost = error instanceof ChunkFateUnknown ? error : undefined;
        throw new SyncError(
          `${lost ? lost.message : `Dropbox upload_session/append_v2 for ${target} left chunks of unknown fate`}. Dropbox documents no way to ask a ` +
            `concurrent upload session which chunks it holds, nor what sending one again does, so that session is abandoned and the upload ` +
            `starts over in a sequential session`,
          { kind: "source-interrupted", code: "dropbox.concurrent_chunk_unknown", cause: lost?.cause ?? error },
        );
      }
      if (saved && SyncError.is(error) && error.code === "dropbox.not_found") {
        await tracker?.done().catch(() => undefined);
        throw new SyncError(
          `Dropbox no longer has the upload session of ${target} begun ${saved.startedAt} (lookup_failed/not_found: expired or already used); the upload starts over`,
          { kind: "source-interrupted", code: "dropbox.session_gone", cause: error },
        );
      }
      if (tracker && !signal?.aborted && !(SyncError.is(error) && KEEP_SESSION_KINDS.has(error.kind))) await tracker.done().catch(() => undefined);
      else await saveState()?.catch(() => undefined);
      throw error;
    } finally {
      // Every lane has settled by now (both ways out wait for them).
      await slots.close();
    }
  }

  async #startConcurrentSession(target: string, signal: AbortSignal | undefined, gate: RateLimitGate): Promise<string> {
    // Concurrent sessions take no data on start; a lost answer just leaves an unused session to expire.
    const answer = await this.#call(
      "upload_session/start", target,
      (sdk) => sdk.filesUploadSessionStart({ close: false, session_type: { ".tag": "concurrent" }, contents: EMPTY }),
      signal, gate,
    );
    return answer.result.session_id;
  }

  /**
   * One chunk of a concurrent session at its own offset. It is sent again only after an answer that
   * says Dropbox did not take it (429, 401, a 409) or a connection that never opened. A chunk that
   * may have arrived (reset, 5xx) fails as ChunkFateUnknown. The closing chunk is the exception:
   * sent again, it meets `closed` if the first one arrived (documented; only this upload closes it).
   */
  async #appendAt(
    sessionId: string, offset: number, body: () => Uint8Array | SizedBody, length: number, close: boolean, target: string,
    signal: AbortSignal | undefined, gate: RateLimitGate,
  ): Promise<void> {
    let mayHaveClosed = false;
    await this.#call("upload_session/append_v2", target, async (sdk) => {
      try {
        // A body per attempt: a spooled one is read from its file again.
        await sdk.filesUploadSessionAppendV2({ cursor: { session_id: sessionId, offset }, close, contents: body() });
      } catch (error) {
        if (causedBy(error, SpoolFillFailed)) {
          // Cut off before its Content-Length was sent: Dropbox cannot have taken this chunk.
          throw new SyncError(`The chunk at bytes ${offset}..${offset + length} of ${target} was not sent whole: ${error instanceof Error ? error.message : String(error)}`, {
            kind: "source-interrupted", code: "source.interrupted", cause: error,
          });
        }
        if (!close && mayHaveBeenApplied(error) && !neverSent(error)) {
          const reason = toSyncError(error, { operation: "upload_session/append_v2", target, redactor: this.#redactor }).message;
          throw new ChunkFateUnknown(`${reason} (the chunk at bytes ${offset}..${offset + length} may have reached Dropbox)`, error);
        }
        // Only this upload closes its session: "closed" after a lost closing answer means it took effect.
        if (mayHaveClosed && isDropboxFailure(error) && error.status === 409 && errorTags(error.error).includes("closed")) return;
        mayHaveClosed = close && (mayHaveClosed || mayHaveBeenApplied(error));
        throw error;
      }
    }, signal, gate);
  }

  async #finishConcurrent(
    sessionId: string, total: number, commit: () => files.CommitInfo, expectedHash: string, target: string,
    signal: AbortSignal | undefined, gate: RateLimitGate,
  ): Promise<FileMetadataLike> {
    let answerLost = false;
    return this.#call("upload_session/finish", target, async (sdk) => {
      try {
        return (await sdk.filesUploadSessionFinish({ cursor: { session_id: sessionId, offset: total }, commit: commit(), contents: EMPTY })).result;
      } catch (error) {
        // The lost answer may have been the commit itself: the session is gone, the file there.
        if (answerLost) {
          const stored = await this.#storedIfItMatches(sdk, commit, expectedHash, total, error);
          if (stored) return stored;
        }
        answerLost = answerLost || mayHaveBeenApplied(error);
        throw error;
      }
    }, signal, gate);
  }

  /**
   * Where an unfinished upload of `backupId` can go on: the offset its saved session holds, once
   * Dropbox confirmed the session still lives. A session too old or gone is forgotten, and `note`
   * says why the upload starts over.
   */
  async resumePoint(folder: string, name: string, backupId: string, signal?: AbortSignal): Promise<ResumePoint> {
    const saved = this.#sessions ? await this.#sessions.get(backupId) : undefined;
    if (!saved || !this.#sessions) return { offset: 0 };
    const target = `file "${filePath(folder, name)}"`;
    const forget = async (why: string) => {
      await this.#sessions!.remove(backupId);
      return { offset: 0, note: `The unfinished upload of ${target} cannot be continued: ${why}; it starts over` };
    };
    if (saved.sessionId === "") return forget("it was a copy into a local folder, not a Dropbox upload session");
    if (saved.folder !== folder || saved.name !== name) return forget(`it was meant for "${filePath(saved.folder, saved.name)}"`);
    const ageMs = this.#wallClock() - Date.parse(saved.startedAt);
    if (ageMs >= DROPBOX_SESSION_LIFETIME_MS) {
      return forget(`its Dropbox upload session began ${formatAge(ageMs)} ago (${saved.startedAt}), and Dropbox keeps sessions for 7 days`);
    }
    if (saved.bytesCommitted === 0) return forget("no byte of it was committed");
    if (saved.concurrent) {
      // No probe: Dropbox documents none for a concurrent session. A session gone meanwhile answers the
      // first chunk with lookup_failed/not_found (documented), and the upload then starts over.
      const inFlight = saved.concurrent.chunksInFlight ?? [];
      if (inFlight.length > 0) {
        return forget(
          `the chunks at bytes ${inFlight.join(", ")} were being sent when it stopped, and Dropbox documents no way to learn ` +
            "whether a concurrent upload session took them",
        );
      }
      return {
        offset: saved.bytesCommitted,
        note: `Continuing the unfinished upload of ${target} from byte ${saved.bytesCommitted} (Dropbox session begun ${saved.startedAt}; ` +
          `${saved.concurrent.chunksAhead.length} later chunks held)`,
      };
    }
    const held = await this.#call("upload_session/append_v2", target, async (sdk) => {
      try {
        await sdk.filesUploadSessionAppendV2({ cursor: { session_id: saved.sessionId, offset: saved.bytesCommitted }, close: false, contents: EMPTY });
        return { offset: saved.bytesCommitted };
      } catch (error) {
        const correct = correctOffsetOf(error);
        if (correct !== undefined) return { offset: correct };
        const tags = isDropboxFailure(error) && error.status === 409 ? errorTags(error.error) : [];
        const gone = tags.find((tag) => tag === "not_found" || tag === "closed");
        if (gone) return { gone: tags.join("/") };
        throw error;
      }
    }, signal);
    if ("gone" in held) return forget(`Dropbox no longer has its upload session (${held.gone}: expired or already used)`);
    if (held.offset < saved.bytesCommitted || held.offset > saved.bytesCommitted + MAX_DROPBOX_CHUNK_BYTES) {
      return forget(`Dropbox holds ${held.offset} bytes of it, the saved state ${saved.bytesCommitted}`);
    }
    return {
      offset: saved.bytesCommitted,
      note: `Continuing the unfinished upload of ${target} from byte ${saved.bytesCommitted} (Dropbox session begun ${saved.startedAt})`,
    };
  }

  /** Forgets the saved sessions of backups in `folder` no longer to be uploaded (stored meanwhile, or gone from UNMS). */
  async pruneUnfinished(folder: string, wanted: ReadonlySet<string>): Promise<void> {
    if (!this.#sessions) return;
    for (const record of await this.#sessions.all()) {
      // Their sessions expire on Dropbox's side on their own.
      if (record.sessionId !== "" && record.folder === folder && !wanted.has(record.backupId)) await this.#sessions.remove(record.backupId);
    }
  }

  /** The saved session a download starting past 0 continues; a fresh download abandons any saved one. */
  async #savedSessionFor(
    folder: string, name: string, content: BackupDownload, backupId: string | undefined, target: string,
  ): Promise<UploadSessionRecord | undefined> {
    const offset = content.offset ?? 0;
    if (offset === 0) {
      if (backupId && this.#sessions) await this.#sessions.remove(backupId);
      return undefined;
    }
    const saved = backupId && this.#sessions ? await this.#sessions.get(backupId) : undefined;
    if (!saved || saved.bytesCommitted !== offset || saved.folder !== folder || saved.name !== name) {
      throw new SyncError(
        `Cannot continue the upload of ${target} from byte ${offset}: ${saved ? `the saved upload state is at byte ${saved.bytesCommitted} of "${filePath(saved.folder, saved.name)}"` : "no upload state is saved for it"}. It starts over on the next attempt`,
        { kind: "source-interrupted", code: "dropbox.resume_state_mismatch" },
      );
    }
    return saved;
  }

  /** Where a put with a backup id keeps its progress for a later run (none without a session store). */
  #tracker(folder: string, name: string, options: PutOptions, hasher: DropboxContentHasher, saved: UploadSessionRecord | undefined): SessionTracker | undefined {
    if (!options.backupId || !this.#sessions) return undefined;
    return new SessionTracker(this.#sessions, hasher, saved ?? {
      backupId: options.backupId, sessionId: "", folder, name, bytesCommitted: 0, blockHashes: [], startedAt: new Date(this.#wallClock()).toISOString(),
    });
  }

  /** The end of every put: the saved session is forgotten, then what Dropbox stored is checked against what was sent. */
  async #finished(
    tracker: SessionTracker | undefined, metadata: FileMetadataLike, bytesSent: number, expectedHash: string,
    file: { folder: string; name: string; target: string }, signal: AbortSignal | undefined,
  ): Promise<StoredFile> {
    await tracker?.done();
    await this.#verify(metadata, bytesSent, expectedHash, file.folder, file.name, file.target, signal);
    return { name: lastComponent(metadata), size: metadata.size, contentHash: expectedHash };
  }

  /** Content that fits one chunk (and no saved session): one files/upload, no session. */
  async #uploadWhole(
    bytes: Uint8Array, hasher: DropboxContentHasher, commit: () => files.CommitInfo, target: string, signal: AbortSignal | undefined,
    progress: (bytesDone: number) => void,
  ): Promise<{ metadata: FileMetadataLike; expectedHash: string }> {
    const expectedHash = hasher.digest();
    const metadata = await this.#uploadOnce(bytes, commit, expectedHash, target, signal);
    progress(bytes.length);
    return { metadata, expectedHash };
  }

  async #uploadOnce(
    bytes: Uint8Array, commit: () => files.CommitInfo, expectedHash: string, target: string, signal: AbortSignal | undefined,
  ): Promise<FileMetadataLike> {
    let answerLost = false;
    return this.#call("upload", target, async (sdk) => {
      try {
        return (await sdk.filesUpload({ ...commit(), contents: bytes })).result;
      } catch (error) {
        if (answerLost) {
          const stored = await this.#storedIfItMatches(sdk, commit, expectedHash, bytes.length, error);
          if (stored) return stored;
        }
        answerLost = isNetworkFailure(error);
        throw error;
      }
    }, signal);
  }

  async #startSession(bytes: Uint8Array, target: string, signal: AbortSignal | undefined): Promise<string> {
    // A lost answer just means a fresh session on retry: the abandoned one expires unused.
    const answer = await this.#call("upload_session/start", target, (sdk) => sdk.filesUploadSessionStart({ close: false, contents: bytes }), signal);
    return answer.result.session_id;
  }

  /** Appends `bytes` at `offset` (sent once: see #sendInSession). */
  async #append(
    sessionId: string, offset: number, bytes: Uint8Array, target: string, signal: AbortSignal | undefined, askFirst = false,
  ): Promise<void> {
    await this.#sendInSession("upload_session/append_v2", { sessionId, offset, bytes, askFirst }, target, signal, {
      send: async (sdk, at, rest) => {
        await sdk.filesUploadSessionAppendV2({ cursor: { session_id: sessionId, offset: at }, close: false, contents: rest });
      },
      alreadyThere: () => undefined,
    });
  }

  /** Sends the last bytes and commits (sent once: see #sendInSession). */
  async #finish(
    sessionId: string, offset: number, bytes: Uint8Array, commit: () => files.CommitInfo, expectedHash: string, target: string,
    signal: AbortSignal | undefined, askFirst = false,
  ): Promise<FileMetadataLike> {
    return this.#sendInSession("upload_session/finish", { sessionId, offset, bytes, askFirst }, target, signal, {
      send: async (sdk, at, rest) => (await sdk.filesUploadSessionFinish({ cursor: { session_id: sessionId, offset: at }, commit: commit(), contents: rest })).result,
      // The lost answer may have been the commit itself: the session is gone, the file there.
      afterFailedQuestion: (sdk, error) => this.#storedIfItMatches(sdk, commit, expectedHash, offset + bytes.length, error),
    });
  }

  /**
   * One request of a sequential session that carries `bytes` at `offset`, so that no byte is sent
   * twice. When an earlier attempt's answer may have been lost (network error, 5xx), an empty append
   * first asks Dropbox where the session stands (`incorrect_offset` tells) and only what it lacks is
   * sent; an `incorrect_offset` answer to the request itself does the same on the next attempt.
   */
  async #sendInSession<T>(
    operation: "upload_session/append_v2" | "upload_session/finish",
    chunk: { sessionId: string; offset: number; bytes: Uint8Array; askFirst: boolean },
    target: string,
    signal: AbortSignal | undefined,
    request: {
      /** Sends `rest`, the part of the bytes Dropbox lacks, at `at`. */
      send(sdk: Dropbox, at: number, rest: Uint8Array): Promise<T>;
      /** The outcome when Dropbox holds all of the bytes already; absent: the request is sent anyway (a finish must still commit). */
      alreadyThere?: () => T;
      /** After the question failed otherwise: the request's outcome if the lost answer was its own success. */
      afterFailedQuestion?: (sdk: Dropbox, error: unknown) => Promise<T | undefined>;
    },
  ): Promise<T> {
    const { sessionId, offset, bytes } = chunk;
    let have = 0;
    let answerMayBeLost = chunk.askFirst;
    return this.#call(operation, target, async (sdk) => {
      try {
        if (answerMayBeLost) {
          try {
            await askWhereSessionStands(sdk, sessionId, offset + have);
          } catch (questionError) {
            if (correctOffsetOf(questionError) === undefined) {
              const outcome = await request.afterFailedQuestion?.(sdk, questionError);
              if (outcome !== undefined) return outcome;
              throw questionError;
            }
            have = resyncedLength(questionError, offset, bytes.length, target);
          }
          answerMayBeLost = false;
          if (have === bytes.length && request.alreadyThere) return request.alreadyThere();
        }
        return await request.send(sdk, offset + have, bytes.subarray(have));
      } catch (error) {
        if (correctOffsetOf(error) !== undefined) {
          have = resyncedLength(error, offset, bytes.length, target);
          if (have === bytes.length && request.alreadyThere) return request.alreadyThere();
          throw new OffsetResync(offset + have);
        }
        answerMayBeLost = answerMayBeLost || mayHaveBeenApplied(error);
        throw error;
      }
    }, signal);
  }

  /** After a lost answer: the file at the commit path when it already holds exactly our bytes. */
  async #storedIfItMatches(
    sdk: Dropbox, commit: () => files.CommitInfo, expectedHash: string, size: number, error: unknown,
  ): Promise<FileMetadataLike | undefined> {
    if (!isDropboxFailure(error) || error.status !== 409) return undefined;
    const tags = errorTags(error.error);
    if (!tags.some((tag) => ["conflict", "not_found", "closed"].includes(tag))) return undefined;
    const { path } = commit();
    try {
      const found = (await sdk.filesGetMetadata({ path })).result as FileMetadataLike & { ".tag"?: string };
      return found[".tag"] === "file" && found.size === size && found.content_hash === expectedHash ? found : undefined;
    } catch {
      return undefined;
    }
  }

  async #verify(
    metadata: FileMetadataLike, bytesRead: number, expectedHash: string, folder: string, name: string, target: string,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let storedHash = metadata.content_hash;
    if (!storedHash) {
      const path = filePath(folder, name);
      const found = await this.#call("get_metadata", target, (sdk) => sdk.filesGetMetadata({ path }), signal);
      storedHash = (found.result as FileMetadataLike).content_hash;
    }
    if (storedHash === expectedHash && metadata.size === bytesRead) return;
    const what = storedHash === undefined
      ? "Dropbox reported no content hash"
      : storedHash !== expectedHash
        ? `Dropbox reports content hash ${storedHash}, the bytes sent hash to ${expectedHash}`
        : `Dropbox stored ${metadata.size} bytes, ${bytesRead} were sent`;
    let cleanup = "the damaged copy was deleted";
    try {
      await this.remove(folder, name, signal);
    } catch (error) {
      cleanup = `deleting the damaged copy failed too (${error instanceof Error ? error.message : String(error)}): delete it by hand`;
    }
    throw new SyncError(`Verification of ${target} failed: ${what}; ${cleanup}. The backup will be sent again on the next run`, {
      kind: "integrity",
      code: "dropbox.content_hash_mismatch",
    });
  }

  /** A Dropbox request through the SDK (loaded by the first one): see `#attempts`. */
  readonly #call: Call = (operation, target, run, signal, gate) =>
    this.#attempts(operation, target, async (token) => run(await this.#sdk(token, signal), token), signal, gate);

  /** Every Dropbox request goes through here: fresh args per attempt, one classifier, mapped errors. */
  async #attempts<T>(operation: string, target: string, attempt: (accessToken: string) => Promise<T>, signal?: AbortSignal, gate?: RateLimitGate): Promise<T> {
    let refreshed: string | undefined;
    let token = "";
    try {
      return await retry(async () => {
        await gate?.passed();
        token = refreshed ?? (await this.#tokens.accessToken(signal));
        refreshed = undefined;
        return attempt(token);
      }, {
        ...this.#retry,
        classify: gate
          ? (error) => {
            const decision = classifyDropboxFailure(error);
            // A 429 holds every lane of the file, not only the one that met it.
            if (decision.action === "retry-after" && decision.delayMs > 0) gate.hold(decision.delayMs, signal);
            return decision;
          }
          : classifyDropboxFailure,
        ...(signal ? { signal } : {}),
        refresh: async (error) => {
          const reason = isDropboxFailure(error) ? errorTags(error.error).join("/") || `HTTP ${error.status}` : "rejected";
          refreshed = await this.#tokens.refreshAfterRejection(token, reason, signal);
        },
        onRetry: ({ attempt, reason, delayMs, error }) => this.#onRetry?.({ operation, attempt, reason, delayMs, error }),
      });
    } catch (error) {
      this.#redactor.register([token]);
      throw toSyncError(error, { operation, target, redactor: this.#redactor });
    }
  }

  /**
   * An RPC endpoint (JSON in, JSON out) with plain fetch, answered and failing as the SDK's rpcRequest
   * would: a run that only lists (the nightly no-op) never loads the SDK.
   */
  async #rpc<T>(route: string, arg: unknown, accessToken: string, signal: AbortSignal | undefined): Promise<{ result: T }> {
    const answer = await this.#fetch(`https://api.dropboxapi.com/2/${route}`, {
      method: "POST",
      headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
      body: JSON.stringify(arg),
      ...(signal ? { signal } : {}),
    });
    const text = await answer.text();
    if (!answer.ok) throw rejectedAnswer(answer, text);
    return { result: parsedOrText(text) as T };
  }

  async #sdk(accessToken: string, signal: AbortSignal | undefined): Promise<Dropbox> {
    const { Dropbox } = await loadSdk();
    const baseFetch = this.#fetch;
    const fetchWithSignal = signal
      ? ((input: RequestInfo | URL, init?: RequestInit) => baseFetch(input, { ...init, signal })) as typeof fetch
      : baseFetch;
    return new Dropbox({ accessToken, fetch: fetchWithSignal });
  }
}

/** The SDK, evaluated by the first request that needs it (uploads, deletions), not with this module. */
let sdkModule: Promise<typeof import("dropbox")> | undefined;
function loadSdk(): Promise<typeof import("dropbox")> {
  // The SDK is CommonJS: a bundler that splits it into a chunk of its own (esbuild's `splitting`,
  // as an embedder's build may do) hands the dynamic import back as `{ default: exports }`.
  return (sdkModule ??= import("dropbox").then((sdk) => ("Dropbox" in sdk ? sdk : (sdk as { default: typeof import("dropbox") }).default)));
}

/** A failed answer in the shape of the SDK's DropboxResponseError, for the one classifier. */
function rejectedAnswer(answer: Response, text: string): unknown {
  return { name: "DropboxResponseError", status: answer.status, headers: answer.headers, error: parsedOrText(text) };
}

/** JSON when it parses; otherwise the text itself (Dropbox answers 400 with plain text), as the SDK does. */
function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** delete_batch takes at most 1000 entries per job. */
export const DELETE_BATCH_MAX = 1000;
/** First wait before delete_batch/check; doubles per check up to 2 s. */
const DELETE_BATCH_POLL_MS = 100;
/** About 5 minutes of checks at 2 s. */
const DELETE_BATCH_MAX_POLLS = 160;

/** A per-entry or job error body shaped as the SDK's DropboxResponseError, for the one classifier. */
function responseError(status: number, error: unknown): unknown {
  return { name: "DropboxResponseError", status, error: { error_summary: "", error } };
}

/** How much of a chunk Dropbox has, from an incorrect_offset answer; anything else is rethrown. */
function resyncedLength(error: unknown, offset: number, length: number, target: string): number {
  const correct = correctOffsetOf(error);
  if (correct === undefined) throw error;
  const have = correct - offset;
  if (have < 0 || have > length) {
    throw new SyncError(
      `Dropbox upload for ${target} got out of step: Dropbox expects offset ${correct}, but the chunk being sent covers ${offset}..${offset + length}. The backup will be sent again on the next run`,
      { kind: "permanent", code: "dropbox.incorrect_offset" },
    );
  }
  return have;
}

/**
 * A chunk of a concurrent session that may or may not have reached Dropbox. Not retried (a SyncError
 * of a kind the classifier does not retry); the upload abandons its session.
 */
class ChunkFateUnknown extends SyncError {
  constructor(message: string, cause: unknown) {
    super(message, { kind: "source-interrupted", code: "dropbox.concurrent_chunk_unknown", cause });
  }
}

/** Connection failures before any byte left: the request cannot have reached Dropbox. */
const NEVER_SENT_CODES = new Set(["ECONNREFUSED", "EAI_AGAIN", "ENOTFOUND", "ENETUNREACH", "EHOSTUNREACH", "ENETDOWN", "UND_ERR_CONNECT_TIMEOUT"]);

function neverSent(error: unknown): boolean {
  for (const current of causeChain(error)) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === "string" && NEVER_SENT_CODES.has(code)) return true;
  }
  return false;
}

/** Whether a failed request may still have been carried out (its answer lost on the way back). */
function mayHaveBeenApplied(error: unknown): boolean {
  return isNetworkFailure(error) || (isDropboxFailure(error) && error.status >= 500);
}

function folderPath(folder: string): string {
  const checked = checkedFolder(folder);
  return checked === "" ? "" : `/${checked}`;
}

function filePath(folder: string, name: string): string {
  return `${folderPath(folder)}/${name}`;
}

/** The name as Dropbox displays it (rclone: only the last component of path_display keeps its case). */
function lastComponent(file: { name: string; path_display?: string }): string {
  return file.path_display?.split("/").pop() || file.name;
}

/** An embedder's fetch with Dropbox's hosts moved onto `baseUrl` (as our node:http fetch does). */
function rewritingFetch(inner: typeof fetch, baseUrl: string): typeof fetch {
  const base = new URL(baseUrl);
  return ((input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const moved = onDropboxBase(url, base);
    return moved === url ? inner(input, init) : inner(moved.href, init);
  }) as typeof fetch;
}

/** A listing that would loop for ever: nothing is decided from half a listing. */
/**
 * A list_folder answer as documented (entries: an array of metadata with a ".tag"; files with a name
 * and a size; has_more; a cursor to continue), or a specific error naming the endpoint: a proxy's or
 * a broken answer must not turn into "page.entries is not iterable", nor into deletions.
 */
function checkedListPage<T>(page: T, endpoint: string, target: string): T {
  const value = page as unknown as Record<string, unknown> | null;
  const problem = ((): string | undefined => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) return "the answer is not a JSON object";
    if (!Array.isArray(value.entries)) return `"entries" is ${value.entries === undefined ? "missing" : `not a list (${typeof value.entries})`}`;
    if (typeof value.has_more !== "boolean") return `"has_more" is ${value.has_more === undefined ? "missing" : "not true or false"}`;
    if (value.has_more && (typeof value.cursor !== "string" || value.cursor === "")) return `"has_more" is true but there is no "cursor"`;
    const index = value.entries.findIndex((entry: unknown) => {
      const e = entry as Record<string, unknown> | null;
      if (typeof e !== "object" || e === null || typeof e[".tag"] !== "string") return true;
      return e[".tag"] === "file" && (typeof e.name !== "string" || e.name === "" || typeof e.size !== "number" || !(e.size >= 0));
    });
    return index >= 0 ? `entry ${index + 1} of ${value.entries.length} is not file or folder metadata (a ".tag", and for a file a "name" and a "size")` : undefined;
  })();
  if (problem === undefined) return page;
  throw new SyncError(
    `Dropbox's ${endpoint} answered for ${target} with something that is not a folder listing: ${problem}. Nothing was uploaded or deleted; if a proxy sits between this host and Dropbox, check it, otherwise try again later.`,
    { kind: "transient", code: "dropbox.bad_listing" },
  );
}

function endlessListing(target: string, why: string): SyncError {
  return new SyncError(
    `Dropbox's listing of ${target} never ends: ${why}. Nothing was uploaded or deleted; this is a Dropbox-side fault, so try again later and report it if it persists.`,
    { kind: "permanent", code: "dropbox.listing_endless" },
  );
}

/** JSON safe for an HTTP header: non-ASCII characters escaped, as the SDK's httpHeaderSafeJson does. */
function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** The FileMetadata of a `Dropbox-API-Result` header, when it has a byte size. */
function parseApiResult(header: string | null): FileMetadataLike | undefined {
  if (!header) return undefined;
  try {
    const parsed = JSON.parse(header) as Partial<FileMetadataLike>;
    return typeof parsed.size === "number" && Number.isSafeInteger(parsed.size) && parsed.size >= 0 ? (parsed as FileMetadataLike) : undefined;
  } catch {
    return undefined;
  }
}

/** A download body as pieces; a connection lost mid-way becomes a transient SyncError naming the file. */
async function* streamBody(body: ReadableStream<Uint8Array>, target: string, redactor: Redactor): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (error) {
        throw new SyncError(`Dropbox download of ${target} broke off: ${redactor.redact(error instanceof Error ? error.message : String(error))}`, {
          kind: "transient",
          code: "dropbox.download_interrupted",
          cause: error,
        });
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/** An empty append at `offset`: Dropbox answers `incorrect_offset` with where the session really stands. */
function askWhereSessionStands(sdk: Dropbox, sessionId: string, offset: number): Promise<unknown> {
  return sdk.filesUploadSessionAppendV2({ cursor: { session_id: sessionId, offset }, close: false, contents: EMPTY });
}

/** Whether `error` or one of its causes is an instance of `kind`. */
function causedBy(error: unknown, kind: new (...args: never[]) => Error): boolean {
  for (const current of causeChain(error)) if (current instanceof kind) return true;
  return false;
}
