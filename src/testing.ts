/**
 * The contract test kit (`<package>/testing`): the suites this project runs on its own adapters,
 * callable with an embedder's adapter factory, plus the fake UNMS and Dropbox (msw request handlers)
 * and the loopback server that serves them on a real port, so an adapter or a whole integration can
 * be tested offline.
 *
 * The suites register `node:test` cases: call them at the top level of a test file run by
 * `node --test`. The fakes need `msw` (an optional peer dependency) installed beside this package.
 */

/**
 * What every BackupStore must do, as node:test cases; `setup` gives a fresh store and a folder in it.
 *
 * @example
 * ```ts
 * import { backupStoreContract } from "unms-dropbox-backup-sync/testing";
 * import type { BackupStore } from "unms-dropbox-backup-sync";
 *
 * declare class MyS3Store implements BackupStore {
 *   constructor(bucket: string);
 *   list: BackupStore["list"];
 *   put: BackupStore["put"];
 *   remove: BackupStore["remove"];
 * }
 * declare const bucket: string;
 * declare function emptyBucket(bucket: string): Promise<void>;
 *
 * backupStoreContract("MyS3Store", async () => ({ store: new MyS3Store(bucket), folder: "uisp", teardown: () => emptyBucket(bucket) }));
 * ```
 */
export { backupStoreContract } from "./testing/contract/backup-store.ts";

/**
 * A fresh store for one contract case, and what the store can do (case folding, content hashes).
 *
 * @example
 * ```ts
 * import type { BackupStoreContractOptions } from "unms-dropbox-backup-sync/testing";
 *
 * const options: BackupStoreContractOptions = { caseInsensitive: true, reportsContentHash: true };
 * ```
 */
export type { BackupStoreFixture, BackupStoreContractOptions } from "./testing/contract/backup-store.ts";

/**
 * Byte helpers of the store suite: deterministic content, a chunked stream of it, and a stream that
 * breaks like a dropped download.
 *
 * @example
 * ```ts
 * import { patternBytes, streamOf } from "unms-dropbox-backup-sync/testing";
 * import type { BackupStore } from "unms-dropbox-backup-sync";
 *
 * declare const store: BackupStore;
 *
 * await store.put("", "x.unms", { stream: streamOf(patternBytes(1000)), length: 1000 });
 * ```
 */
export { patternBytes, streamOf, breakingStream } from "./testing/contract/backup-store.ts";

/**
 * What every BackupSource must do, as node:test cases; `setup` gives an empty source and a way to seed it.
 *
 * @example
 * ```ts
 * import { backupSourceContract } from "unms-dropbox-backup-sync/testing";
 * import type { BackupSource } from "unms-dropbox-backup-sync";
 *
 * declare class MyArchiveSource implements BackupSource {
 *   list: BackupSource["list"];
 *   timeZone: BackupSource["timeZone"];
 *   open: BackupSource["open"];
 *   add(id: string, createdAt: string, state: string, content: Uint8Array): void;
 * }
 *
 * backupSourceContract("MyArchiveSource", async () => {
 *   const source = new MyArchiveSource();
 *   return { source, seed: (backups) => backups.forEach((b) => source.add(b.id, b.createdAt, b.state, new Uint8Array(b.size))) };
 * });
 * ```
 */
export { backupSourceContract } from "./testing/contract/backup-source.ts";

/**
 * A fresh source for one contract case, and the backups the suite seeds.
 *
 * @example
 * ```ts
 * import type { SeedBackup } from "unms-dropbox-backup-sync/testing";
 *
 * const seedOne: SeedBackup = { id: "3f1c2a9e-0000-4000-8000-0000000000b1", createdAt: "2024-03-01T02:00:00.000Z", state: "success", size: 10 };
 * ```
 */
export type { BackupSourceFixture, SeedBackup } from "./testing/contract/backup-source.ts";

/**
 * What every ConfigStore must do, as node:test cases; the factory sets up a store holding the given
 * values in the adapter's own form.
 *
 * @example
 * ```ts
 * import { configStoreContract, type ContractValues } from "unms-dropbox-backup-sync/testing";
 * import type { ConfigStore } from "unms-dropbox-backup-sync";
 *
 * interface Vault {
 *   destroy(): Promise<void>;
 * }
 * declare const Vault: { temporary(initial: ContractValues): Promise<Vault> };
 * declare function openVaultConfigStore(vault: Vault): ConfigStore;
 *
 * configStoreContract("MyVaultConfigStore", async (initial) => {
 *   const vault = await Vault.temporary(initial);
 *   return { store: openVaultConfigStore(vault), reopen: () => openVaultConfigStore(vault), cleanup: () => vault.destroy() };
 * });
 * ```
 */
export { configStoreContract } from "./testing/contract/config-store.ts";

/**
 * The ConfigStore suite's factory, its fixture, and the values it seeds.
 *
 * @example
 * ```ts
 * import type { ConfigStoreFactory, ContractFixture, ContractValues } from "unms-dropbox-backup-sync/testing";
 *
 * declare function makeFixture(initial: ContractValues): Promise<ContractFixture>;
 *
 * const factory: ConfigStoreFactory = async (initial: ContractValues) => makeFixture(initial);
 * ```
 */
export type { ConfigStoreFactory, ContractFixture, ContractValues } from "./testing/contract/config-store.ts";

/**
 * An in-memory UNMS (NMS API v2.1) as msw handlers: backups generated on the fly, faults on demand.
 *
 * @example
 * ```ts
 * import { setupServer } from "msw/node";
 * import { createBackupSync, MemoryBackupStore } from "unms-dropbox-backup-sync";
 * import { FakeUnms } from "unms-dropbox-backup-sync/testing";
 *
 * const unms = new FakeUnms({ apiToken: "test-token" });
 * unms.addBackup({ size: 1024 });
 * const server = setupServer(...unms.handlers);
 * server.listen();
 * const store = new MemoryBackupStore();
 * await createBackupSync({ unms: { url: "https://uisp.test/nms", apiToken: "test-token" }, store }).sync();
 * server.close();
 * ```
 */
export { FakeUnms, FAKE_CHUNK_BYTES, backupChunks } from "./testing/fakes/unms.ts";

/**
 * FakeUnms options and faults.
 *
 * @example
 * ```ts
 * import { FakeUnms, type UnmsFault } from "unms-dropbox-backup-sync/testing";
 *
 * const unms = new FakeUnms({ apiToken: "test-token" });
 * const fault: UnmsFault = { type: "reset-after", bytes: 65536 };
 * unms.injectFault("download", fault);
 * ```
 */
export type { FakeUnmsOptions, AddBackupOptions, UnmsFault, UnmsRoute } from "./testing/fakes/unms.ts";

/**
 * Keeps msw from buffering a copy of every mocked response: call once after `setupServer()` when
 * large bodies stream through msw (the loopback server does not need it).
 *
 * @example
 * ```ts
 * import { setupServer } from "msw/node";
 * import { discardMockedResponseCopies, FakeUnms } from "unms-dropbox-backup-sync/testing";
 *
 * const unms = new FakeUnms({ apiToken: "test-token" });
 * const server = setupServer(...unms.handlers);
 * discardMockedResponseCopies(server);
 * ```
 */
export { discardMockedResponseCopies } from "./testing/fakes/unms.ts";

/**
 * An in-memory Dropbox API v2 (files, upload sessions, content hash, OAuth) as msw handlers.
 *
 * @example
 * ```ts
 * import { createBackupSync, type UnmsConnection } from "unms-dropbox-backup-sync";
 * import { FakeDropbox } from "unms-dropbox-backup-sync/testing";
 *
 * declare const unms: UnmsConnection;
 *
 * const dropbox = new FakeDropbox();
 * const refreshToken = dropbox.issueRefreshToken();
 * createBackupSync({ unms, dropbox: { appKey: dropbox.appKey, appSecret: dropbox.appSecret, refreshToken } });
 * ```
 */
export { FakeDropbox } from "./testing/fakes/dropbox.ts";

/**
 * FakeDropbox options and faults.
 *
 * @example
 * ```ts
 * import { FakeDropbox, type FakeDropboxOptions } from "unms-dropbox-backup-sync/testing";
 *
 * const fake = new FakeDropbox({ listLimitMax: 2 } satisfies FakeDropboxOptions);
 * ```
 */
export type { FakeDropboxOptions, Fault as DropboxFault } from "./testing/fakes/dropbox.ts";

/**
 * Serves msw handlers on a real port of 127.0.0.1 (real sockets, streaming, connection resets).
 * Do not use it in a process where msw's `setupServer` is listening: msw would intercept its requests.
 *
 * @example
 * ```ts
 * import { createBackupSync } from "unms-dropbox-backup-sync";
 * import { FakeDropbox, FakeUnms, startLoopbackServer } from "unms-dropbox-backup-sync/testing";
 *
 * const apiToken = "test-token";
 * const unms = new FakeUnms({ apiToken });
 * const dropbox = new FakeDropbox();
 * const server = await startLoopbackServer([...unms.handlers, ...dropbox.handlers]);
 * const credentials = { appKey: dropbox.appKey, appSecret: dropbox.appSecret, refreshToken: dropbox.issueRefreshToken() };
 * await createBackupSync({ unms: { url: `${server.url}/nms`, apiToken }, dropbox: { ...credentials, baseUrl: server.url } }).sync();
 * await server.close();
 * ```
 */
export { startLoopbackServer } from "./testing/fakes/loopback.ts";

/**
 * A running loopback server and its options.
 *
 * @example
 * ```ts
 * import { startLoopbackServer, type LoopbackOptions, type LoopbackServer } from "unms-dropbox-backup-sync/testing";
 * import type { RequestHandler } from "msw";
 *
 * declare const handlers: RequestHandler[];
 *
 * const server: LoopbackServer = await startLoopbackServer(handlers, { port: 0 } satisfies LoopbackOptions);
 * ```
 */
export type { LoopbackServer, LoopbackOptions } from "./testing/fakes/loopback.ts";
