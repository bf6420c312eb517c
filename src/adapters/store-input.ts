/**
 * What every BackupStore must check about its input, in one place: a file name that stays inside
 * the folder, and a source stream whose own failure is told apart from the store's.
 */
import { SyncError, describeError } from "../domain/errors.ts";
import type { BackupDownload } from "../domain/ports.ts";

/** `name` itself, or a SyncError when it could escape the folder or is no name at all. */
export function checkFileName(name: string): string {
  if (name === "" || name === "." || name === ".." || /[/\\\u0000]/.test(name)) {
    throw new SyncError(`"${name}" is not a valid file name: it must be non-empty and hold no path separator`, {
      kind: "permanent",
      code: "store.bad_name",
    });
  }
  return name;
}

/**
 * The source's bytes. A failure of the source itself becomes `source-interrupted`, so the app layer
 * starts that backup over instead of blaming the store.
 */
export async function* readSource(content: BackupDownload, name: string): AsyncGenerator<Uint8Array> {
  const iterator = content.stream[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await iterator.next();
    } catch (error) {
      if (SyncError.is(error)) throw error;
      throw new SyncError(`Reading the backup for ${name} broke off: ${describeError(error)}; nothing was stored`, {
        kind: "source-interrupted",
        code: "source.read_failed",
        cause: error,
      });
    }
    if (next.done) return;
    yield next.value;
  }
}
