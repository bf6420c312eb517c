/** The BackupStore contract against MemoryBackupStore, as Dropbox folds case and as a plain store does not. */
import { MemoryBackupStore } from "../../src/adapters/memory/memory-backup-store.ts";
import { backupStoreContract } from "../../src/testing/contract/backup-store.ts";

backupStoreContract("MemoryBackupStore", async () => ({ store: new MemoryBackupStore(), folder: "UNMS backups" }), {
  reportsContentHash: true,
  opensCopies: true,
});

backupStoreContract(
  "MemoryBackupStore (case-insensitive, root folder)",
  async () => ({ store: new MemoryBackupStore({ caseInsensitive: true }), folder: "" }),
  { caseInsensitive: true, reportsContentHash: true, opensCopies: true },
);
