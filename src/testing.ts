/**
 * The contract test kit (`<package>/testing`): the suites this project runs on its own adapters,
 * callable with an embedder's adapter factory, plus the fake UNMS and Dropbox (msw request handlers)
 * and the loopback server that serves them on a real port, so an adapter or a whole integration can
 * be tested offline.
 *
 * The suites register `node:test` cases: call them at the top level of a test file run by
 * `node --test`. The fakes need `msw` (an optional peer dependency) installed beside this package.
 */

export { backupStoreContract } from "./testing/contract/backup-store.ts";
export type { BackupStoreFixture, BackupStoreContractOptions } from "./testing/contract/backup-store.ts";
export { patternBytes, streamOf, breakingStream } from "./testing/contract/backup-store.ts";
export { backupSourceContract } from "./testing/contract/backup-source.ts";
export type { BackupSourceFixture, SeedBackup } from "./testing/contract/backup-source.ts";
export { configStoreContract } from "./testing/contract/config-store.ts";
export type { ConfigStoreFactory, ContractFixture, ContractValues } from "./testing/contract/config-store.ts";
export { FakeUnms, backupChunks } from "./testing/fakes/unms.ts";
export type { FakeUnmsOptions, AddBackupOptions, UnmsFault, UnmsRoute } from "./testing/fakes/unms.ts";
export { discardMockedResponseCopies } from "./testing/fakes/unms.ts";
export { FakeDropbox } from "./testing/fakes/dropbox.ts";
export type { FakeDropboxOptions, Fault as DropboxFault } from "./testing/fakes/dropbox.ts";
export { startLoopbackServer } from "./testing/fakes/loopback.ts";
export type { LoopbackServer, LoopbackOptions } from "./testing/fakes/loopback.ts";
