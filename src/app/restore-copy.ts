/**
 * `backup-sync restore`: one stored copy back onto this machine, verified before it is anywhere a
 * person could take it for good.
 *
 * The bytes stream from the store into a temporary file beside the destination (exclusive create,
 * unpredictable name, mode 0600), are checked on the way (byte count always; the Dropbox content hash
 * where the store keeps one), fsynced, and only then renamed into place. A mismatch or a broken
 * transfer removes the temporary file: nothing is left at the destination. Memory is one piece of the
 * stream at a time, whatever the size.
 */
import { randomBytes } from "node:crypto";
import { link, open, rename, rm, stat, unlink, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { backupIdFromFileName, backupKey, isBackupFileName, unusableBackupId } from "../domain/backup.ts";
import { SyncError, describeError } from "../domain/errors.ts";
import type { BackupStore, ByteStream, StoredCopyDownload } from "../domain/ports.ts";
import type { StoredFile } from "../domain/reconcile.ts";
import type { ContentHasher, ContentHasherFactory } from "./ports.ts";

/**
 * The one copy `wanted` names: a copy's file name (exact, case-insensitive like Dropbox) or a
 * backup id (a guid), resolved through the domain's name parser. Throws a `config` SyncError when
 * `wanted` is neither, `not-found` when no copy matches.
 */
export function resolveCopy(wanted: string, files: readonly StoredFile[], where: string): StoredFile {
  const ours = files.filter((f) => isBackupFileName(f.name));
  if (isBackupFileName(wanted)) {
    const file = ours.find((f) => f.name.toLowerCase() === wanted.toLowerCase());
    if (file) return file;
    throw new SyncError(`There is no copy named ${wanted} in ${where}; \`backup-sync list\` shows the copies there.`, { kind: "not-found", code: "restore.not_found" });
  }
  if (unusableBackupId(wanted) !== undefined) {
    throw new SyncError(
      `"${wanted}" is neither a backup id (a guid, 8-4-4-4-12 hex digits) nor a copy's file name (unms-backup-YYYYMMDD-HHmm_<id>.unms); \`backup-sync list\` shows both for every copy.`,
      { kind: "config", code: "restore.bad_argument" },
    );
  }
  const matches = ours.filter((f) => backupKey(backupIdFromFileName(f.name)!) === backupKey(wanted));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) {
    throw new SyncError(`There is no copy of backup ${wanted} in ${where}; \`backup-sync list\` shows the copies there.`, { kind: "not-found", code: "restore.not_found" });
  }
  throw new SyncError(`Backup ${wanted} has ${matches.length} copies in ${where} (${matches.map((f) => f.name).join(", ")}); name the one to restore by its file name.`, {
    kind: "config",
    code: "restore.ambiguous",
  });
}

/**
 * Turns the verified stored bytes into the bytes to write. Identity today; an encrypted copy
 * (`.unms.age`) will plug its decryption in here, after the store's bytes were checked.
 */
export type RestoreTransform = (verifiedStoredBytes: ByteStream) => ByteStream;

export interface RestoreInput {
  store: BackupStore;
  folder: string;
  file: StoredFile;
  /** Where the backup file should end up. */
  to: string;
  /** Replace a file already at `to`. */
  force: boolean;
  transform?: RestoreTransform;
  /** Dropbox content hashers: the stored bytes are hashed on the way and checked against the store's hash. */
  contentHasher: ContentHasherFactory;
  signal?: AbortSignal;
  /** Called with the running byte count (progress). */
  onProgress?: (bytes: number) => void;
}

export interface RestoreResult {
  path: string;
  bytes: number;
  /** The Dropbox content hash of the restored bytes (computed while streaming). */
  contentHash: string;
  /** What the bytes were checked against. */
  verifiedBy: "content hash and size" | "size";
}

export async function restoreCopy(input: RestoreInput): Promise<RestoreResult> {
  const path = resolve(input.to);
  if (!input.force) await refuseExisting(path);
  if (!input.store.openCopy) {
    throw new SyncError("This store cannot open its copies for reading, so nothing can be restored from it.", { kind: "config", code: "restore.unsupported" });
  }
  const copy = await input.store.openCopy(input.folder, input.file.name, input.signal);
  const temp = join(dirname(path), `.${basename(path)}.restore-${randomBytes(12).toString("hex")}`);
  let handle: FileHandle | undefined;
  try {
    try {
      handle = await open(temp, "wx", 0o600);
    } catch (error) {
      throw new SyncError(`Cannot create a temporary file in ${dirname(path)} to restore into: ${describeError(error)}`, { kind: "permanent", code: "restore.temp_unwritable", cause: error });
    }
    const checked = verifying(copy, input.file.name, input.contentHasher());
    const bytes = (input.transform ?? ((s) => s))(checked.stream);
    let written = 0;
    for await (const piece of bytes) {
      input.signal?.throwIfAborted();
      await writeAll(handle, piece, written);
      written += piece.length;
      input.onProgress?.(written);
    }
    checked.assertComplete();
    await handle.sync();
    await handle.close();
    handle = undefined;
    await moveIntoPlace(temp, path, input.force);
    await syncFolder(dirname(path));
    return { path, bytes: checked.bytes(), contentHash: checked.contentHash(), verifiedBy: copy.contentHash ? "content hash and size" : "size" };
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/**
 * The store's bytes passed through while counted and hashed; at their end they are compared with
 * what the store said (size, content hash) and a mismatch throws, naming expected and got.
 */
function verifying(copy: StoredCopyDownload, name: string, hasher: ContentHasher): { stream: ByteStream; assertComplete(): void; bytes(): number; contentHash(): string } {
  let count = 0;
  let digest: string | undefined;
  let done = false;
  const mismatch = (what: string) =>
    new SyncError(`Verification of the restored copy ${name} failed: ${what}. Nothing was written to the destination; run the restore again (or restore another copy).`, {
      kind: "integrity",
      code: "restore.mismatch",
    });
  async function* stream(): AsyncGenerator<Uint8Array> {
    for await (const piece of copy.stream) {
      count += piece.length;
      if (count > copy.size) throw mismatch(`expected ${copy.size} bytes, got more (${count} so far)`);
      hasher.update(piece);
      yield piece;
    }
    if (count !== copy.size) throw mismatch(`expected ${copy.size} bytes, got ${count} (the transfer was cut short)`);
    digest = hasher.digest();
    if (copy.contentHash && digest !== copy.contentHash) throw mismatch(`expected content hash ${copy.contentHash}, got ${digest}`);
    done = true;
  }
  return {
    stream: stream(),
    assertComplete: () => {
      if (!done) throw mismatch("the stored bytes were not read to their end");
    },
    bytes: () => count,
    contentHash: () => digest ?? "",
  };
}

async function refuseExisting(path: string): Promise<void> {
  const exists = await stat(path).then(() => true, (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? false : Promise.reject(error)));
  if (exists) {
    throw new SyncError(`${path} already exists; it was left as it is. Choose another path, or add --force to replace it.`, { kind: "config", code: "restore.exists" });
  }
}

/** Without force, link() refuses an existing destination, so a file created meanwhile is never clobbered. */
async function moveIntoPlace(temp: string, path: string, force: boolean): Promise<void> {
  try {
    if (force) await rename(temp, path);
    else {
      await link(temp, path);
      await unlink(temp);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new SyncError(`${path} appeared while the copy was being restored; it was left as it is. Add --force to replace it.`, { kind: "config", code: "restore.exists" });
    }
    throw new SyncError(`Cannot move the restored copy into place at ${path}: ${describeError(error)}`, { kind: "permanent", code: "restore.move_failed", cause: error });
  }
}

async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/** fsyncs a folder so the rename survives a power loss; platforms that cannot are left as they are. */
async function syncFolder(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch {
    // EISDIR/EPERM/EINVAL on platforms without directory fsync: the data itself is synced.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
