/**
 * restore's output on the local file system: bytes go into a temporary file beside the destination
 * (exclusive create, unpredictable name, mode 0600), are fsynced, and only then moved into place;
 * any failure removes the temporary file, so nothing is ever left at the destination half-written.
 */
import { randomBytes } from "node:crypto";
import { open, rm, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { SyncError, describeError } from "../../domain/errors.ts";
import type { RestoreFileOutput, RestoreWriteOptions } from "../../app/ports.ts";
import { moveIntoPlace, syncFolder, writeAll } from "./durable-file.ts";

/** The RestoreFileOutput of the command line: files on this machine. */
export const localRestoreFileOutput: RestoreFileOutput = {
  async destination(to: string, replace: boolean): Promise<string> {
    const path = resolve(to);
    if (!replace) await refuseExisting(path);
    return path;
  },

  async write(path: string, bytes: AsyncIterable<Uint8Array>, options: RestoreWriteOptions): Promise<void> {
    const temp = join(dirname(path), `.${basename(path)}.restore-${randomBytes(12).toString("hex")}`);
    let handle: FileHandle | undefined;
    try {
      try {
        handle = await open(temp, "wx", 0o600);
      } catch (error) {
        throw new SyncError(`Cannot create a temporary file in ${dirname(path)} to restore into: ${describeError(error)}`, { kind: "permanent", code: "restore.temp_unwritable", cause: error });
      }
      let written = 0;
      for await (const piece of bytes) {
        options.signal?.throwIfAborted();
        await writeAll(handle, piece, written);
        written += piece.length;
        options.onProgress?.(written);
      }
      await handle.sync();
      await handle.close();
      handle = undefined;
      await place(temp, path, options.replace);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await rm(temp, { force: true }).catch(() => undefined);
      throw error;
    }
    await syncFolder(dirname(path)).catch((error: unknown) => {
      throw new SyncError(`The restored copy is at ${path}, but its folder could not be synced to disk: ${describeError(error)}; a power loss now could lose it.`, { kind: "permanent", code: "restore.sync_failed", cause: error });
    });
  },
};

async function refuseExisting(path: string): Promise<void> {
  const exists = await stat(path).then(() => true, (error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? false : Promise.reject(error)));
  if (exists) {
    throw new SyncError(`${path} already exists; it was left as it is. Choose another path, or add --force to replace it.`, { kind: "config", code: "restore.exists" });
  }
}

/** The verified temporary file onto `path`; without `replace` a file that appeared meanwhile wins. */
async function place(temp: string, path: string, replace: boolean): Promise<void> {
  try {
    await moveIntoPlace(temp, path, replace);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new SyncError(`${path} appeared while the copy was being restored; it was left as it is. Add --force to replace it.`, { kind: "config", code: "restore.exists" });
    }
    throw new SyncError(`Cannot move the restored copy into place at ${path}: ${describeError(error)}`, { kind: "permanent", code: "restore.move_failed", cause: error });
  }
}
