/**
 * The BackupStore contract against LocalDirBackupStore, in a sub-folder and at the root of a temporary
 * directory. Its listing carries no content hash (hashing every file on each run would cost a full read).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalDirBackupStore } from "../../src/adapters/local-dir/local-dir-backup-store.ts";
import { backupStoreContract } from "./backup-store.ts";

for (const folder of ["UNMS backups/nightly", ""]) {
  backupStoreContract(`LocalDirBackupStore (folder "${folder}")`, async () => {
    const root = await mkdtemp(join(tmpdir(), "contract-local-store-"));
    return {
      store: new LocalDirBackupStore(root),
      folder,
      teardown: () => rm(root, { recursive: true, force: true }),
    };
  });
}
