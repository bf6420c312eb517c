/**
 * ensureWritableFolder: one config error naming the setting and what is wrong. Tests run as root,
 * who can write anywhere on a writable file system, so permission and read-only cases inject the
 * error codes the kernel returns (EACCES, EROFS) through the fs seam; file-as-folder cases are real.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SyncError } from "../../../src/domain/errors.ts";
import { ensureWritableFolder, nodeFolderProbeFs, type FolderProbeFs } from "../../../src/adapters/local-dir/writable-folder.ts";
import { tempDirFor } from "../../temp-dir.ts";

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

async function configError(promise: Promise<void>): Promise<SyncError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SyncError);
    assert.equal(error.kind, "config");
    assert.equal(error.code, "config.folder_unwritable");
    return error;
  }
  assert.fail("expected a configuration error");
}

test("a writable folder passes and keeps no probe file; a missing one is created", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-folder-");
  await ensureWritableFolder(dir, "TARGET_DIR");
  assert.deepEqual(readdirSync(dir), []);
  await ensureWritableFolder(join(dir, "a", "b"), "TARGET_DIR");
  assert.ok(existsSync(join(dir, "a", "b")));
  assert.deepEqual(readdirSync(join(dir, "a", "b")), []);
});

test("a file where the folder should be: one line naming the setting, the path and what is wrong", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-folder-");
  const file = join(dir, "target");
  await writeFile(file, "not a folder");
  const error = await configError(ensureWritableFolder(file, "TARGET_DIR"));
  assert.equal(error.message, `TARGET_DIR ${file} is a file, not a folder: point it at a folder (or remove the file). Nothing was downloaded.`);
  const under = await configError(ensureWritableFolder(join(file, "sub"), "STATE_DIR"));
  assert.match(under.message, new RegExp(`^STATE_DIR ${file}/sub .*a part of its path is a file, not a folder`));
  assert.ok(!under.message.includes("\n"));
});

test("no permission to create it, or to write in it, or a read-only mount: named with what to do", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-folder-");
  const denyMkdir: FolderProbeFs = { ...nodeFolderProbeFs, mkdir: () => Promise.reject(errno("EACCES")) };
  const missing = join(dir, "missing");
  const error = await configError(ensureWritableFolder(missing, "TARGET_DIR", denyMkdir));
  assert.equal(
    error.message,
    `TARGET_DIR ${missing} cannot be created in ${dir}: permission denied for the user running the sync; give that user write access (or choose another folder). Nothing was downloaded.`,
  );
  const denyWrite: FolderProbeFs = { ...nodeFolderProbeFs, writeFile: () => Promise.reject(errno("EACCES")) };
  assert.match((await configError(ensureWritableFolder(dir, "STATE_DIR", denyWrite))).message, /^STATE_DIR .* cannot be written to: permission denied/);
  const readOnly: FolderProbeFs = { ...nodeFolderProbeFs, writeFile: () => Promise.reject(errno("EROFS")) };
  assert.match((await configError(ensureWritableFolder(dir, "TARGET_DIR", readOnly))).message, /^TARGET_DIR .* cannot be written to: it is on a read-only file system; remount it read-write or choose another folder/);
  const full: FolderProbeFs = { ...nodeFolderProbeFs, writeFile: () => Promise.reject(errno("ENOSPC")) };
  assert.match((await configError(ensureWritableFolder(dir, "TARGET_DIR", full))).message, /the disk is full; free some space there/);
});
