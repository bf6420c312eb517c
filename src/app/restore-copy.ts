/**
 * `backup-sync restore`: one stored copy back onto this machine, verified before it is anywhere a
 * person could take it for good.
 *
 * The bytes stream from the store to restore's file output (a RestoreFileOutput port: a temporary
 * file beside the destination, moved into place only once whole), and are checked on the way (byte
 * count always; the Dropbox content hash where the store keeps one). A mismatch or a broken transfer
 * fails the write, so nothing is left at the destination. Memory is one piece of the stream at a
 * time, whatever the size.
 */
import { backupIdFromFileName, backupKey, isBackupFileName, unusableBackupId } from "../domain/backup.ts";
import { SyncError } from "../domain/errors.ts";
import type { BackupStore, ByteStream, StoredCopyDownload } from "../domain/ports.ts";
import type { StoredFile } from "../domain/reconcile.ts";
import type { ContentHasher, ContentHasherFactory, RestoreFileOutput } from "./ports.ts";

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
  /** Where the file is written (whole or not at all). */
  output: RestoreFileOutput;
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
  const path = await input.output.destination(input.to, input.force);
  if (!input.store.openCopy) {
    throw new SyncError("This store cannot open its copies for reading, so nothing can be restored from it.", { kind: "config", code: "restore.unsupported" });
  }
  const copy = await input.store.openCopy(input.folder, input.file.name, input.signal);
  const checked = verifying(copy, input.file.name, input.contentHasher());
  const bytes = (input.transform ?? ((s) => s))(checked.stream);
  async function* readToTheEnd(): AsyncGenerator<Uint8Array> {
    yield* bytes;
    // A transform that stopped reading early must not pass for a whole copy.
    checked.assertComplete();
  }
  await input.output.write(path, readToTheEnd(), {
    replace: input.force,
    ...(input.signal ? { signal: input.signal } : {}),
    ...(input.onProgress ? { onProgress: input.onProgress } : {}),
  });
  return { path, bytes: checked.bytes(), contentHash: checked.contentHash(), verifiedBy: copy.contentHash ? "content hash and size" : "size" };
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
