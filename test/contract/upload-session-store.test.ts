import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileUploadSessionStore, UPLOAD_SESSIONS_FILE } from "../../src/adapters/upload-sessions/file-upload-session-store.ts";
import { MemoryUploadSessionStore } from "../../src/adapters/upload-sessions/memory-upload-session-store.ts";
import { record, uploadSessionStoreContract } from "./upload-session-store.ts";
import { withTempDir } from "../temp-dir.ts";

uploadSessionStoreContract("MemoryUploadSessionStore", async () => {
  const store = new MemoryUploadSessionStore();
  return { store, reopen: () => store, cleanup: async () => undefined };
});

uploadSessionStoreContract("FileUploadSessionStore", async () => {
  const dir = await mkdtemp(join(tmpdir(), "contract-sessions-"));
  const stateDir = join(dir, "state");
  return {
    store: new FileUploadSessionStore(stateDir),
    reopen: () => new FileUploadSessionStore(stateDir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

const inTempDir = (run: (dir: string) => Promise<void>) => withTempDir("sessions-", run);

describe("FileUploadSessionStore on disk", () => {
  test("the file is private (0600) and concurrent saves all land", () => inTempDir(async (dir) => {
    const store = new FileUploadSessionStore(dir);
    await Promise.all(["a", "b", "c", "d"].map((id) => store.save(record(id))));
    assert.equal((await stat(join(dir, UPLOAD_SESSIONS_FILE))).mode & 0o777, 0o600);
    assert.deepEqual((await store.all()).map((r) => r.backupId).sort(), ["a", "b", "c", "d"]);
  }));

  test("an unusable record is dropped with a note naming it and why; the others are kept", () => inTempDir(async (dir) => {
    const bad = { ...record("bad"), bytesCommitted: 5 };
    await writeFile(join(dir, UPLOAD_SESSIONS_FILE), JSON.stringify({ version: 1, sessions: [record("good"), bad] }));
    const store = new FileUploadSessionStore(dir);
    assert.deepEqual((await store.all()).map((r) => r.backupId), ["good"]);
    assert.match(store.dropped.join("\n"), /saved upload #2 in .*upload-sessions\.json is unusable \(5 bytes committed do not match 2 saved 4 MiB block hashes\)/);
  }));

  test("a file that is not JSON means no saved uploads, with a note; the next save replaces it", () => inTempDir(async (dir) => {
    await writeFile(join(dir, UPLOAD_SESSIONS_FILE), "{ half");
    const store = new FileUploadSessionStore(dir);
    assert.deepEqual(await store.all(), []);
    assert.match(store.dropped[0] ?? "", /upload-sessions\.json is unusable \(it is not valid JSON/);
    await store.save(record("a"));
    assert.match(await readFile(join(dir, UPLOAD_SESSIONS_FILE), "utf8"), /"backupId": "a"/);
  }));
});
