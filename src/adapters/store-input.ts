/**
 * What every BackupStore must check about its input, in one place: a folder and a file name that
 * stay inside the target, and a source stream whose own failure is told apart from the store's.
 */
import { SyncError, describeError } from "../domain/errors.ts";
import { parseFolder, type Folder } from "../domain/folder.ts";
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
 * `folder` as the domain's validated Folder: the store port takes plain text from embedders, so a
 * store checks it with the same rule the settings use, and refuses what could climb out.
 */
export function checkedFolder(folder: string): Folder {
  const parsed = parseFolder(folder);
  if ("problem" in parsed) throw new SyncError(`The target folder "${folder}" is not usable: ${parsed.problem}`, { kind: "config", code: "config.folder" });
  return parsed.folder;
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
