/**
 * The BackupStore contract against DropboxBackupStore, twice: with msw intercepting the requests
 * in-process, and over a real socket to the loopback server (real streaming and keep-alive).
 */
import { after, before } from "node:test";
import { setupServer } from "msw/node";
import { DropboxBackupStore } from "../../src/adapters/dropbox/dropbox-backup-store.ts";
import type { AccessTokenProvider } from "../../src/domain/ports.ts";
import { FakeDropbox } from "../../src/testing/fakes/dropbox.ts";
import { startLoopbackServer, type LoopbackServer } from "../../src/testing/fakes/loopback.ts";
import { backupStoreContract } from "../../src/testing/contract/backup-store.ts";
import { resumableStoreContract } from "./resumable-store.ts";
import { MemoryUploadSessionStore } from "../../src/adapters/upload-sessions/memory-upload-session-store.ts";

const MiB = 1024 * 1024;

function staticTokens(token: string): AccessTokenProvider {
  return {
    accessToken: async () => token,
    refreshAfterRejection: async () => {
      throw new Error("the contract tests never expire tokens");
    },
  };
}

const contractOptions = { caseInsensitive: true, reportsContentHash: true, multiChunkBytes: 9 * MiB + 5, opensCopies: true };

// msw interception: one server, handlers swapped per test.
const msw = setupServer();
let mswListening = false;
before(() => {
  msw.listen({ onUnhandledRequest: "error" });
  mswListening = true;
});
/** msw would intercept the loopback requests too (its handlers match any host), so it stops first. */
function stopMsw(): void {
  if (mswListening) msw.close();
  mswListening = false;
}
after(stopMsw);

backupStoreContract(
  "DropboxBackupStore over msw",
  async () => {
    const fake = new FakeDropbox();
    msw.resetHandlers(...fake.handlers);
    const store = new DropboxBackupStore({ tokens: staticTokens(fake.issueAccessToken()), chunkBytes: 4 * MiB });
    return { store, folder: "UNMS backups" };
  },
  contractOptions,
);

backupStoreContract(
  "DropboxBackupStore over msw, one connection (a sequential upload session)",
  async () => {
    const fake = new FakeDropbox();
    msw.resetHandlers(...fake.handlers);
    const store = new DropboxBackupStore({ tokens: staticTokens(fake.issueAccessToken()), chunkBytes: 4 * MiB, connections: 1 });
    return { store, folder: "UNMS backups" };
  },
  contractOptions,
);

// Loopback: the fake behind a real HTTP port, reached through the URL-rewriting node:http fetch.
let currentFake = new FakeDropbox();
let loopback: LoopbackServer;
before(async () => {
  loopback = await startLoopbackServer(() => currentFake.handlers);
});
after(() => loopback.close());

backupStoreContract(
  "DropboxBackupStore over the loopback server",
  async () => {
    stopMsw();
    currentFake = new FakeDropbox();
    const store = new DropboxBackupStore({
      tokens: staticTokens(currentFake.issueAccessToken()),
      baseUrl: loopback.url,
      chunkBytes: 4 * MiB,
    });
    return { store, folder: "" };
  },
  contractOptions,
);

resumableStoreContract("DropboxBackupStore over the loopback server", async () => {
  stopMsw();
  currentFake = new FakeDropbox();
  const sessions = new MemoryUploadSessionStore();
  const fake = currentFake;
  const store = new DropboxBackupStore({ tokens: staticTokens(fake.issueAccessToken()), baseUrl: loopback.url, chunkBytes: 4 * MiB, sessions });
  return {
    store,
    sessions,
    folder: "UNMS backups",
    storedHash: async (name) => fake.listFiles().find((f) => f.path.toLowerCase() === `/unms backups/${name}`.toLowerCase())?.contentHash,
  };
});

resumableStoreContract("DropboxBackupStore over the loopback server, one connection (a sequential upload session)", async () => {
  stopMsw();
  currentFake = new FakeDropbox();
  const sessions = new MemoryUploadSessionStore();
  const fake = currentFake;
  const store = new DropboxBackupStore({
    tokens: staticTokens(fake.issueAccessToken()), baseUrl: loopback.url, chunkBytes: 4 * MiB, connections: 1, sessions,
  });
  return {
    store,
    sessions,
    folder: "UNMS backups",
    storedHash: async (name) => fake.listFiles().find((f) => f.path.toLowerCase() === `/unms backups/${name}`.toLowerCase())?.contentHash,
  };
});
