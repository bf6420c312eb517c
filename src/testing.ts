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
 * backupStoreContract("MyS3Store", async () => ({ store: new MyS3Store(bucket), folder: "uisp", teardown: () => bucket.empty() }));
 * ```
 */
export { backupStoreContract } from "./testing/contract/backup-store.ts";

/**
 * A fresh store for one contract case, and what the store can do (case folding, content hashes).
 *
 * @example
 * ```ts
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
 * await store.put("", "x.unms", { stream: streamOf(patternBytes(1000)), length: 1000 });
 * ```
 */
export { patternBytes, streamOf, breakingStream } from "./testing/contract/backup-store.ts";

/**
 * What every BackupSource must do, as node:test cases; `setup` gives an empty source and a way to seed it.
 *
 * @example
 * ```ts
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
 * configStoreContract("MyVaultConfigStore", async (initial) => {
 *   const vault = await Vault.temporary(initial);
 *   return { store: new MyVaultConfigStore(vault), reopen: () => new MyVaultConfigStore(vault), cleanup: () => vault.destroy() };
 * });
 * ```
 */
export { configStoreContract } from "./testing/contract/config-store.ts";

/**
 * The ConfigStore suite's factory, its fixture, and the values it seeds.
 *
 * @example
 * ```ts
 * const factory: ConfigStoreFactory = async (initial: ContractValues) => makeFixture(initial);
 * ```
 */
export type { ConfigStoreFactory, ContractFixture, ContractValues } from "./testing/contract/config-store.ts";

/**
 * An in-memory UNMS (NMS API v2.1) as msw handlers: backups generated on the fly, faults on demand.
 *
 * @example
 * ```ts
 * const unms = new FakeUnms({ apiToken: "test-token" });
 * unms.addBackup({ size: 1024 });
 * const server = setupServer(...unms.handlers); // msw/node
 * server.listen();
 * createBackupSync({ unms: { url: "https://uisp.test/nms", apiToken: "test-token" }, store });
 * ```
 */
export { FakeUnms, FAKE_CHUNK_BYTES, backupChunks } from "./testing/fakes/unms.ts";

/**
 * FakeUnms options and faults.
 *
 * @example
 * ```ts
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
 * const server = await startLoopbackServer([...unms.handlers, ...dropbox.handlers]);
 * createBackupSync({ unms: { url: `${server.url}/nms`, apiToken }, dropbox: { ...credentials, baseUrl: server.url } });
 * await server.close();
 * ```
 */
export { startLoopbackServer } from "./testing/fakes/loopback.ts";

/**
 * A running loopback server and its options.
 *
 * @example
 * ```ts
 * const server: LoopbackServer = await startLoopbackServer(handlers, { port: 0 } satisfies LoopbackOptions);
 * ```
 */
export type { LoopbackServer, LoopbackOptions } from "./testing/fakes/loopback.ts";
