/**
 * The BackupStore contract against LocalDirBackupStore, in a sub-folder and at the root of a temporary
 * directory. Its listing carries no content hash (hashing every file on each run would cost a full read).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirBackupStore } from "../../src/adapters/local-dir/local-dir-backup-store.ts";
import { backupStoreContract } from "../../src/testing/contract/backup-store.ts";
import { resumableStoreContract } from "./resumable-store.ts";
import { MemoryUploadSessionStore } from "../../src/adapters/upload-sessions/memory-upload-session-store.ts";
import { contentHashOf } from "../../src/adapters/content-hash/content-hash.ts";

for (const folder of ["UNMS backups/nightly", ""]) {
  backupStoreContract(`LocalDirBackupStore (folder "${folder}")`, async () => {
    const root = await mkdtemp(join(tmpdir(), "contract-local-store-"));
    return {
      store: new LocalDirBackupStore(root),
      folder,
      teardown: () => rm(root, { recursive: true, force: true }),
    };
  }, { opensCopies: true });
}

resumableStoreContract("LocalDirBackupStore", async () => {
  const root = await mkdtemp(join(tmpdir(), "contract-local-resume-"));
  const sessions = new MemoryUploadSessionStore();
  const folder = "UNMS backups";
  return {
    store: new LocalDirBackupStore(root, { sessions, checkpointBytes: 4 * 1024 * 1024 }),
    sessions,
    folder,
    storedHash: async (name) => contentHashOf(await readFile(join(root, folder, name))),
    teardown: () => rm(root, { recursive: true, force: true }),
  };
});
