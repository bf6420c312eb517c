/**
 * The file steps that make a new file appear whole or not at all, shared by the local-folder store
 * (its partial files) and restore's output: write every byte, move into place without clobbering,
 * and fsync the folder after the move so the new name survives a power loss.
 */
import { link, open, rename, unlink, type FileHandle } from "node:fs/promises";

/** Writes all of `bytes` at `position` (a short write is continued, never lost). */
export async function writeAll(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Moves the finished file `from` to `to`. Without `replace`, link() refuses an existing `to` (EEXIST),
 * so a file that appeared there meanwhile is never clobbered; the caller decides what EEXIST means.
 */
export async function moveIntoPlace(from: string, to: string, replace: boolean): Promise<void> {
  if (replace) {
    await rename(from, to);
    return;
  }
  await link(from, to);
  await unlink(from);
}

/** fsyncs a folder, so a rename in it survives a power loss; platforms that cannot are left as they are. */
export async function syncFolder(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, "r");
    await handle.sync();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "EISDIR" && code !== "EPERM" && code !== "EINVAL" && code !== "EBADF") throw error;
  } finally {
    await handle?.close().catch(() => undefined);
  }
}
