/**
 * Checks, before any download, that a folder the run writes into (TARGET_DIR, STATE_DIR) can be
 * written: it is created when missing, then a probe file is created exclusively and removed. The
 * probe finds what `access()` misses (a read-only mount, or root on a folder root cannot write).
 * The failure is one config error naming the setting and what is wrong, instead of a raw ENOTDIR or
 * EACCES per backup later.
 */
import { randomUUID } from "node:crypto";
import { mkdir, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { SyncError, describeError } from "../../domain/errors.ts";

/** The file operations the check needs; tests replace them to deny what root cannot be denied. */
export interface FolderProbeFs {
  stat(path: string): Promise<{ isDirectory(): boolean }>;
  mkdir(path: string): Promise<unknown>;
  writeFile(path: string): Promise<void>;
  rm(path: string): Promise<void>;
}

export const nodeFolderProbeFs: FolderProbeFs = {
  stat: (path) => stat(path),
  mkdir: (path) => mkdir(path, { recursive: true, mode: 0o700 }),
  writeFile: (path) => writeFile(path, "", { flag: "wx", mode: 0o600 }),
  rm: (path) => rm(path, { force: true }),
};

/**
 * Throws a config SyncError naming `setting` (e.g. "TARGET_DIR") when `path` cannot be made or
 * written. Nothing is left behind on success.
 */
export async function ensureWritableFolder(path: string, setting: string, fs: FolderProbeFs = nodeFolderProbeFs): Promise<void> {
  const fail = (what: string, error?: unknown): never => {
    throw new SyncError(`${setting} ${path} ${what}. Nothing was downloaded.`, {
      kind: "config",
      code: "config.folder_unwritable",
      ...(error === undefined ? {} : { cause: error }),
    });
  };
  const existing = await fs.stat(path).catch((error: NodeJS.ErrnoException) => (error.code === "ENOENT" ? undefined : error));
  if (existing instanceof Error) {
    return fail(reasonFor(existing, "cannot be examined"), existing);
  }
  if (existing && !existing.isDirectory()) return fail("is a file, not a folder: point it at a folder (or remove the file)");
  if (!existing) {
    try {
      await fs.mkdir(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOTDIR" || code === "EEXIST") return fail("cannot be created: a part of its path is a file, not a folder", error);
      return fail(reasonFor(error, `cannot be created in ${dirname(path)}`), error);
    }
  }
  const probe = join(path, `.backup-sync-probe-${randomUUID()}`);
  try {
    await fs.writeFile(probe);
  } catch (error) {
    return fail(reasonFor(error, "cannot be written to"), error);
  }
  await fs.rm(probe).catch(() => undefined);
}

/**
 * The read-only part of the check, for loading settings (which must not create folders): a config
 * error naming `setting` when `path` exists and is not a folder, or lies under a file.
 */
export async function refuseFileAsFolder(path: string, setting: string, fs: Pick<FolderProbeFs, "stat"> = nodeFolderProbeFs): Promise<void> {
  const info = await fs.stat(path).catch((error: NodeJS.ErrnoException) => (error.code === "ENOTDIR" ? "under-a-file" : undefined));
  if (info === undefined || (typeof info !== "string" && info.isDirectory())) return;
  const what = info === "under-a-file" ? "cannot be created: a part of its path is a file, not a folder" : "is a file, not a folder: point it at a folder (or remove the file)";
  throw new SyncError(`${setting} ${path} ${what}. Nothing was downloaded.`, { kind: "config", code: "config.folder_unwritable" });
}

/** `what` with the reason a person can act on, by error code. */
function reasonFor(error: unknown, what: string): string {
  switch ((error as NodeJS.ErrnoException).code) {
    case "EACCES":
    case "EPERM":
      return `${what}: permission denied for the user running the sync; give that user write access (or choose another folder)`;
    case "EROFS":
      return `${what}: it is on a read-only file system; remount it read-write or choose another folder`;
    case "ENOSPC":
      return `${what}: the disk is full; free some space there`;
    case "ENOTDIR":
      return `${what}: a part of its path is a file, not a folder`;
    default:
      return `${what}: ${describeError(error)}`;
  }
}
