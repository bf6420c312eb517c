/**
 * A BackupStore in a local directory: the demo's target, NAS users' target, and the second adapter
 * under the store contract suite.
 *
 * Files appear whole or not at all: bytes go to a hidden partial file named after the backup beside
 * the target; it is fsynced, moved into place only after the stream ended cleanly, and the folder
 * is fsynced after the move, so a power loss never leaves an empty file under a final name.
 *
 * With an UploadSessionStore, the partial file survives a stopped run: every `checkpointBytes` it is
 * fsynced and its length and hash state saved, and the next run continues it from there. Partial
 * files of ours that no saved upload owns are deleted after every stored file.
 */
import { open, readdir, rm, stat, unlink, mkdir } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { SyncError, describeError } from "../../domain/errors.ts";
import { checkFileName, readSource } from "../store-input.ts";
import type { BackupDownload, BackupStore, PutOptions, ResumePoint, StoredCopyDownload } from "../../domain/ports.ts";
import type { UploadSessionRecord, UploadSessionStore } from "../../app/ports.ts";
import type { StoredFile } from "../../domain/reconcile.ts";
import { DropboxContentHasher, DROPBOX_HASH_BLOCK_BYTES } from "../content-hash/content-hash.ts";
import { folderSegments } from "../../domain/folder.ts";
import { checkedFolder } from "../store-input.ts";
import { moveIntoPlace, syncFolder, writeAll } from "./durable-file.ts";

const PARTIAL_PREFIX = ".backup-sync-partial-";
const MiB = 1024 * 1024;
/** Failures after which the partial file is kept for the next attempt or run. */
const KEEP_PARTIAL_KINDS = new Set(["paused", "source-interrupted", "transient"]);

export interface LocalDirBackupStoreOptions {
  /** Where unfinished copies are remembered between runs; without it a stopped copy starts over. */
  sessions?: UploadSessionStore;
  /** Bytes between fsync + saved state of a partial file; a multiple of 4 MiB. Default 32 MiB. */
  checkpointBytes?: number;
}

/**
 * A BackupStore in a local directory (a NAS mount, a second disk).
 *
 * @example
 * ```ts
 * import { createBackupSync, LocalDirBackupStore, type UnmsConnection } from "unms-dropbox-backup-sync";
 *
 * declare const unms: UnmsConnection;
 *
 * createBackupSync({ unms, store: new LocalDirBackupStore("/mnt/nas/uisp-backups") });
 * ```
 */
export class LocalDirBackupStore implements BackupStore {
  readonly root: string;
  readonly #sessions: UploadSessionStore | undefined;
  readonly #checkpointBytes: number;

  constructor(root: string, options: LocalDirBackupStoreOptions = {}) {
    this.root = resolve(root);
    this.#sessions = options.sessions;
    this.#checkpointBytes = Math.max(1, Math.round((options.checkpointBytes ?? 32 * MiB) / DROPBOX_HASH_BLOCK_BYTES)) * DROPBOX_HASH_BLOCK_BYTES;
  }

  async list(folder: string): Promise<StoredFile[]> {
    const dir = this.#folderPath(folder);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw this.#fsError(`list the folder ${dir}`, error);
    }
    const files: StoredFile[] = [];
    for (const entry of entries) {
      if (!entry.isFile() || entry.name.startsWith(PARTIAL_PREFIX)) continue;
      const info = await stat(join(dir, entry.name));
      files.push({ name: entry.name, size: info.size });
    }
    return files;
  }

  /**
   * Streams a copy from disk with its size at opening (no hash is kept locally: a restore checks
   * the size). The file is read through the handle opened here, so a rename meanwhile does not
   * mix two files.
   */
  async openCopy(folder: string, name: string, signal?: AbortSignal): Promise<StoredCopyDownload> {
    const path = join(this.#folderPath(folder), checkFileName(name));
    let handle: FileHandle;
    try {
      handle = await open(path, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") {
        throw new SyncError(`Cannot read ${path}: there is no such file`, { kind: "not-found", code: "local.not_found" });
      }
      throw this.#fsError(`open ${path}`, error);
    }
    const size = (await handle.stat()).size;
    const fsError = (error: unknown) => this.#fsError(`read ${path}`, error);
    async function* pieces(): AsyncGenerator<Uint8Array> {
      try {
        const buffer = new Uint8Array(256 * 1024);
        for (;;) {
          signal?.throwIfAborted();
          let bytesRead: number;
          try {
            ({ bytesRead } = await handle.read(buffer, 0, buffer.length, null));
          } catch (error) {
            throw fsError(error);
          }
          if (bytesRead === 0) return;
          // A fresh copy each time: the consumer may hold the piece while the buffer is refilled.
          yield buffer.slice(0, bytesRead);
        }
      } finally {
        await handle.close().catch(() => undefined);
      }
    }
    return { stream: pieces(), size };
  }

  /** A saved partial copy of `backupId` that is still on disk, whole up to its saved length. */
  async resumePoint(folder: string, name: string, backupId: string): Promise<ResumePoint> {
    const saved = this.#sessions ? await this.#sessions.get(backupId) : undefined;
    if (!saved || !this.#sessions) return { offset: 0 };
    const partial = join(this.#folderPath(folder), `${PARTIAL_PREFIX}${checkFileName(name)}`);
    const size = await stat(partial).then((info) => info.size, () => -1);
    const why = saved.sessionId !== "" ? "it was a Dropbox upload session, not a local copy"
      : saved.folder !== folder || saved.name !== name ? `it was meant for ${saved.name} in "${saved.folder}"`
      : size < 0 ? `its partial file ${partial} is gone`
      : size < saved.bytesCommitted ? `its partial file ${partial} holds ${size} bytes, fewer than the ${saved.bytesCommitted} saved`
      : saved.bytesCommitted === 0 ? "no byte of it was saved"
      : undefined;
    if (why) {
      await this.#sessions.remove(backupId);
      return { offset: 0, note: `The unfinished copy of ${name} cannot be continued: ${why}; it starts over` };
    }
    return { offset: saved.bytesCommitted, note: `Continuing the unfinished copy of ${name} from byte ${saved.bytesCommitted} (${partial})` };
  }

  async put(folder: string, name: string, content: BackupDownload, options: PutOptions = {}): Promise<StoredFile> {
    const dir = this.#folderPath(folder);
    const target = join(dir, checkFileName(name));
    await mkdir(dir, { recursive: true }).catch((error) => {
      throw this.#fsError(`create the folder ${dir}`, error);
    });
    const partial = join(dir, `${PARTIAL_PREFIX}${name}`);
    const offset = content.offset ?? 0;
    const backupId = options.backupId;
    const sessions = backupId ? this.#sessions : undefined;
    const saved = await this.#savedCopyFor(folder, name, offset, backupId);
    const hasher = saved ? DropboxContentHasher.resume(saved.blockHashes) : new DropboxContentHasher();
    let size = offset;
    let handle: FileHandle | undefined;
    try {
      handle = saved ? await open(partial, "r+") : await createFresh(partial);
      if (saved) await handle.truncate(offset);
      let nextCheckpoint = offset + this.#checkpointBytes;
      let wroteThisRun = false;
      for await (const chunk of readSource(content, name)) {
        options.signal?.throwIfAborted();
        hasher.update(chunk);
        await writeAll(handle, chunk, size);
        size += chunk.length;
        wroteThisRun = true;
        options.onProgress?.(size);
        if (sessions && size >= nextCheckpoint) {
          await this.#checkpoint(handle, sessions, { backupId: backupId!, folder, name, hasher, size, startedAt: saved?.startedAt });
          nextCheckpoint = size + this.#checkpointBytes;
          if (wroteThisRun && options.shouldPause?.()) {
            throw new SyncError(
              `Paused the copy of ${name} after ${Math.floor(size / DROPBOX_HASH_BLOCK_BYTES) * DROPBOX_HASH_BLOCK_BYTES} bytes: the run's time budget is spent; the next run continues it`,
              { kind: "paused", code: "run.budget_spent" },
            );
          }
        }
      }
      if (size === 0) options.onProgress?.(0);
      if (content.length !== undefined && size !== offset + content.length) {
        throw new SyncError(`The backup stream for ${name} ended after ${size} of ${offset + content.length} bytes`, {
          kind: "source-interrupted",
          code: "source.short_stream",
        });
      }
      // Data on disk before the name points at it.
      await handle.sync();
      const ours = (await handle.stat()).ino;
      await handle.close();
      handle = undefined;
      await this.#commit(partial, ours, target, name, options.overwrite === true);
      await syncFolder(dir);
    } catch (caught) {
      const code = (caught as NodeJS.ErrnoException).code;
      const error = code === "ENOSPC" || code === "EDQUOT" ? this.#fsError(`write ${name} into ${dir}`, caught, content.length === undefined ? undefined : offset + content.length) : caught;
      await handle?.close().catch(() => undefined);
      // The partial file under our name now belongs to another writer: never remove it.
      if (SyncError.is(error) && error.code === "store.concurrent_writer") throw error;
      const keep = sessions !== undefined && (options.signal?.aborted || (SyncError.is(error) && KEEP_PARTIAL_KINDS.has(error.kind)));
      if (!keep) {
        await rm(partial, { force: true });
        if (sessions) await sessions.remove(backupId!).catch(() => undefined);
      }
      throw error;
    }
    if (sessions) await sessions.remove(backupId!);
    await this.#removeStalePartials(dir, folder);
    return { name, size, contentHash: hasher.digest() };
  }

  /** The saved copy a download starting past 0 continues; a fresh download drops any saved one. */
  async #savedCopyFor(folder: string, name: string, offset: number, backupId: string | undefined): Promise<UploadSessionRecord | undefined> {
    const sessions = backupId ? this.#sessions : undefined;
    if (offset === 0) {
      if (sessions) await sessions.remove(backupId!);
      return undefined;
    }
    const saved = sessions ? await sessions.get(backupId!) : undefined;
    if (!saved || saved.bytesCommitted !== offset || saved.folder !== folder || saved.name !== name) {
      throw new SyncError(
        `Cannot continue the copy of ${name} from byte ${offset}: ${saved ? `the saved state is at byte ${saved.bytesCommitted}` : "no state is saved for it"}. It starts over on the next attempt`,
        { kind: "source-interrupted", code: "local.resume_state_mismatch" },
      );
    }
    return saved;
  }

  /** fsyncs the partial file and saves how much of it (whole 4 MiB blocks) is safely there. */
  async #checkpoint(
    handle: FileHandle, sessions: UploadSessionStore,
    at: { backupId: string; folder: string; name: string; hasher: DropboxContentHasher; size: number; startedAt: string | undefined },
  ): Promise<void> {
    await handle.datasync();
    const blocks = Math.floor(at.size / DROPBOX_HASH_BLOCK_BYTES);
    await sessions.save({
      backupId: at.backupId,
      sessionId: "",
      folder: at.folder,
      name: at.name,
      bytesCommitted: blocks * DROPBOX_HASH_BLOCK_BYTES,
      blockHashes: at.hasher.completedBlocks().slice(0, blocks),
      startedAt: at.startedAt ?? new Date().toISOString(),
    });
  }

  /**
   * Forgets unfinished copies in `folder` of backups no longer to be copied (stored meanwhile, or
   * gone from UNMS) and deletes every partial file of ours there that no saved copy owns.
   */
  async pruneUnfinished(folder: string, wanted: ReadonlySet<string>): Promise<void> {
    if (this.#sessions) {
      for (const record of await this.#sessions.all()) {
        if (record.sessionId === "" && record.folder === folder && !wanted.has(record.backupId)) await this.#sessions.remove(record.backupId);
      }
    }
    await this.#removeStalePartials(this.#folderPath(folder), folder);
  }

  /** Partial files of ours in `dir` that no saved upload owns: left by killed runs, never continued. */
  async #removeStalePartials(dir: string, folder: string): Promise<void> {
    const owned = new Set((await this.#sessions?.all().catch(() => []) ?? []).filter((r) => r.folder === folder).map((r) => `${PARTIAL_PREFIX}${r.name}`));
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const entry of names) {
      if (entry.startsWith(PARTIAL_PREFIX) && !owned.has(entry)) await rm(join(dir, entry), { force: true }).catch(() => undefined);
    }
  }

  async remove(folder: string, name: string): Promise<void> {
    const target = join(this.#folderPath(folder), checkFileName(name));
    await rm(target, { force: true }).catch((error) => {
      throw this.#fsError(`delete ${target}`, error);
    });
  }

  /**
   * Moves the finished partial file (inode `ours`) into place; without overwrite an existing file
   * wins, and one with the same bytes is this backup stored by another writer: success.
   */
  async #commit(partial: string, ours: number, target: string, name: string, overwrite: boolean): Promise<void> {
    // A second state folder on the same TARGET_DIR may have restarted this backup's partial file.
    const current = await stat(partial).catch(() => undefined);
    if (current?.ino !== ours) {
      throw new SyncError(
        `Another run is writing ${name} into ${this.root} at the same time (a second STATE_DIR on the same TARGET_DIR?); this run left the copy to it, and the next run checks it`,
        { kind: "transient", code: "store.concurrent_writer" },
      );
    }
    try {
      // Without overwrite, an existing target fails the move, so two writers can never clobber each other.
      await moveIntoPlace(partial, target, overwrite);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") {
        // Another writer (a second state folder on the same TARGET_DIR) stored the same backup: fine.
        if (await sameContent(partial, target)) {
          await unlink(partial);
          return;
        }
        throw new SyncError(`Cannot store ${name}: a different file of that name already exists in ${this.root}; it was left as it is`, {
          kind: "permanent",
          code: "store.conflict",
        });
      }
      throw this.#fsError(`move ${name} into place`, error);
    }
  }

  #folderPath(folder: string): string {
    const path = resolve(this.root, ...folderSegments(checkedFolder(folder)));
    if (path !== this.root && !path.startsWith(this.root + sep)) {
      throw new SyncError(`The target folder "${folder}" lies outside ${this.root}`, { kind: "config", code: "config.folder" });
    }
    return path;
  }

  /** `backupBytes`: the size of the backup being written, when known, to say how much to free. */
  #fsError(action: string, error: unknown, backupBytes?: number): SyncError {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT") {
      const need = backupBytes === undefined ? "the size of the backup" : `${backupBytes} bytes (${(backupBytes / MiB).toFixed(1)} MiB, the backup's size)`;
      return new SyncError(
        `Could not ${action}: the disk holding ${this.root} is full${code === "EDQUOT" ? " (the user's quota is used up)" : ""}. ` +
          `Free at least ${need} there (old copies, other files), then run again; the unfinished copy was removed, nothing else changed.`,
        { kind: "permanent", code: `local.${code}`, cause: error },
      );
    }
    const kind = code === "ENOSPC" || code === "EACCES" || code === "EPERM" || code === "EROFS" ? "permanent" : "transient";
    return new SyncError(`Could not ${action}: ${describeError(error)}`, { kind, code: `local.${code ?? "io"}`, cause: error });
  }
}

const COMPARE_BYTES = 1024 * 1024;

/** Whether two files have the same size and bytes, read a MiB at a time (memory stays flat). */
async function sameContent(a: string, b: string): Promise<boolean> {
  const [left, right] = await Promise.all([open(a, "r"), open(b, "r")]);
  try {
    const [leftInfo, rightInfo] = await Promise.all([left.stat(), right.stat()]);
    if (leftInfo.size !== rightInfo.size) return false;
    const leftBuffer = new Uint8Array(COMPARE_BYTES);
    const rightBuffer = new Uint8Array(COMPARE_BYTES);
    for (let position = 0; position < leftInfo.size; position += COMPARE_BYTES) {
      const [l, r] = await Promise.all([left.read(leftBuffer, 0, COMPARE_BYTES, position), right.read(rightBuffer, 0, COMPARE_BYTES, position)]);
      if (l.bytesRead !== r.bytesRead || !Buffer.from(leftBuffer.buffer, 0, l.bytesRead).equals(Buffer.from(rightBuffer.buffer, 0, r.bytesRead))) return false;
      if (l.bytesRead === 0) break;
    }
    return true;
  } finally {
    await Promise.all([left.close(), right.close()]);
  }
}

/**
 * A new, empty partial file. One left by a killed run is unlinked first, never truncated: a writer
 * that might still hold it open then fails at its commit instead of storing a file with a hole.
 */
async function createFresh(partial: string): Promise<FileHandle> {
  await rm(partial, { force: true });
  return open(partial, "wx");
}
