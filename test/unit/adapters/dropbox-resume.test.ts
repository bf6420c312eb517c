/**
 * DropboxBackupStore continuing an upload session a previous run (or attempt) left: the saved state,
 * the offset check with Dropbox, the restored content hash, and sessions too old or gone.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setupServer } from "msw/node";
import { DropboxBackupStore } from "../../../src/adapters/dropbox/dropbox-backup-store.ts";
import { createNodeHttpFetch } from "../../../src/adapters/http/node-http-fetch.ts";
import { MemoryUploadSessionStore } from "../../../src/adapters/upload-sessions/memory-upload-session-store.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { AccessTokenProvider } from "../../../src/domain/ports.ts";
import { refContentHash } from "../../../src/testing/fakes/content-hash-ref.ts";
import { FakeDropbox } from "../../../src/testing/fakes/dropbox.ts";
import { patternBytes, streamOf } from "../../../src/testing/contract/backup-store.ts";

const MiB = 1024 * 1024;
const DAY = 24 * 3600 * 1000;
const FOLDER = "backups";
const NAME = "unms-backup-20240101-0100_b1.unms";

const msw = setupServer();
before(() => msw.listen({ onUnhandledRequest: "error" }));
after(() => msw.close());

function harness() {
  let now = Date.parse("2024-05-01T00:00:00Z");
  const fake = new FakeDropbox({ now: () => now });
  msw.resetHandlers(...fake.handlers);
  const token = fake.issueLongLivedToken();
  const tokens: AccessTokenProvider = { accessToken: async () => token, refreshAfterRejection: async () => token };
  const sessions = new MemoryUploadSessionStore();
  const store = new DropboxBackupStore({
    // The sequential session path (connections: 1); concurrent resumes are in dropbox-concurrent.test.ts.
    tokens, fetch: createNodeHttpFetch(), chunkBytes: 4 * MiB, connections: 1, sessions, wallClock: () => now, sleep: async () => undefined,
  });
  return { fake, store, sessions, advance: (ms: number) => (now += ms) };
}

/** Stores `bytes` but pauses once `chunksBeforePause` chunks were sent. */
async function putPausing(h: ReturnType<typeof harness>, bytes: Uint8Array, chunksBeforePause: number): Promise<SyncError> {
  let asked = 0;
  const error = await h.store
    .put(FOLDER, NAME, { stream: streamOf(bytes), length: bytes.length }, { backupId: "b1", shouldPause: () => ++asked >= chunksBeforePause })
    .then(() => undefined, (e: unknown) => e);
  assert.ok(SyncError.is(error), `expected the upload to pause, got ${String(error)}`);
  return error;
}

async function resume(h: ReturnType<typeof harness>, bytes: Uint8Array) {
  const point = await h.store.resumePoint(FOLDER, NAME, "b1");
  const rest = bytes.subarray(point.offset);
  const received = h.fake.uploadBytesReceived;
  const stored = await h.store.put(FOLDER, NAME, { stream: streamOf(rest), length: rest.length, offset: point.offset }, { backupId: "b1" });
  return { point, stored, sent: h.fake.uploadBytesReceived - received };
}

describe("DropboxBackupStore: uploads continued across runs", () => {
  test("a paused upload saves its session after every chunk; the next run sends only the rest and the hash is right", async () => {
    const h = harness();
    const bytes = patternBytes(18 * MiB + 1234);
    const paused = await putPausing(h, bytes, 3);
    assert.equal(paused.kind, "paused");
    assert.match(paused.message, /Paused the upload of file "\/backups\/unms-backup-20240101-0100_b1\.unms" after 12582912 of 18875602 bytes/);
    const saved = await h.sessions.get("b1");
    assert.equal(saved?.bytesCommitted, 12 * MiB);
    assert.equal(saved?.blockHashes.length, 3);
    assert.equal(saved?.startedAt, "2024-05-01T00:00:00.000Z");

    const { point, stored, sent } = await resume(h, bytes);
    assert.equal(point.offset, 12 * MiB);
    assert.match(point.note ?? "", /Continuing the unfinished upload .* from byte 12582912/);
    assert.equal(sent, bytes.length - 12 * MiB);
    assert.equal(stored.contentHash, refContentHash(bytes));
    assert.equal(h.fake.listFiles()[0]?.contentHash, refContentHash(bytes));
    assert.equal(await h.sessions.get("b1"), undefined, "a finished upload forgets its session");
  });

  test("when the answer to the last chunk was lost, Dropbox's offset wins and no byte is sent twice", async () => {
    const h = harness();
    const bytes = patternBytes(16 * MiB);
    await putPausing(h, bytes, 3);
    // The state as a kill between Dropbox committing chunk 3 and our save would leave it.
    const saved = (await h.sessions.get("b1"))!;
    await h.sessions.save({ ...saved, bytesCommitted: 8 * MiB, blockHashes: saved.blockHashes.slice(0, 2) });
    const { point, stored, sent } = await resume(h, bytes);
    assert.equal(point.offset, 8 * MiB);
    assert.equal(sent, 4 * MiB, "only the last chunk travels; Dropbox already had the third");
    assert.equal(stored.contentHash, refContentHash(bytes));
  });

  test("a session older than Dropbox's 7 days starts over, with a line saying so", async () => {
    const h = harness();
    const bytes = patternBytes(12 * MiB);
    await putPausing(h, bytes, 2);
    h.advance(7 * DAY + 1000);
    const point = await h.store.resumePoint(FOLDER, NAME, "b1");
    assert.equal(point.offset, 0);
    assert.match(point.note ?? "", /cannot be continued: its Dropbox upload session began 7 days ago \(2024-05-01T00:00:00\.000Z\), and Dropbox keeps sessions for 7 days; it starts over/);
    assert.equal(await h.sessions.get("b1"), undefined);
    const received = h.fake.uploadBytesReceived;
    const stored = await h.store.put(FOLDER, NAME, { stream: streamOf(bytes) }, { backupId: "b1" });
    assert.equal(h.fake.uploadBytesReceived - received, bytes.length);
    assert.equal(stored.contentHash, refContentHash(bytes));
  });

  test("a session Dropbox no longer knows (lookup_failed/not_found) starts over, with a line saying so", async () => {
    const h = harness();
    await putPausing(h, patternBytes(12 * MiB), 2);
    // Dropbox expired it by its own clock; ours (wall clock of this host) says 2 days.
    const saved = (await h.sessions.get("b1"))!;
    h.advance(8 * DAY);
    await h.sessions.save({ ...saved, startedAt: new Date(Date.parse(saved.startedAt) + 6 * DAY).toISOString() });
    const point = await h.store.resumePoint(FOLDER, NAME, "b1");
    assert.equal(point.offset, 0);
    assert.match(point.note ?? "", /Dropbox no longer has its upload session \(not_found: expired or already used\); it starts over/);
    assert.equal(await h.sessions.get("b1"), undefined);
  });

  test("a download from an offset that the saved state does not hold is refused, naming the file and both offsets", async () => {
    const h = harness();
    await putPausing(h, patternBytes(12 * MiB), 2);
    const error = await h.store
      .put(FOLDER, NAME, { stream: streamOf(patternBytes(MiB)), offset: 4 * MiB }, { backupId: "b1" })
      .catch((e: unknown) => e);
    assert.ok(SyncError.is(error));
    assert.equal(error.code, "dropbox.resume_state_mismatch");
    assert.match(error.message, /from byte 4194304: the saved upload state is at byte 8388608 of "\/backups\/unms-backup-20240101-0100_b1\.unms"/);
  });

  test("a fresh download (offset 0) abandons the saved session and stores the whole file", async () => {
    const h = harness();
    const bytes = patternBytes(12 * MiB);
    await putPausing(h, bytes, 2);
    const stored = await h.store.put(FOLDER, NAME, { stream: streamOf(bytes) }, { backupId: "b1" });
    assert.equal(stored.contentHash, refContentHash(bytes));
    assert.equal(await h.sessions.get("b1"), undefined);
  });

  test("pruneUnfinished forgets sessions of backups no longer wanted, keeps the wanted ones and other folders'", async () => {
    const h = harness();
    await putPausing(h, patternBytes(12 * MiB), 2);
    const saved = (await h.sessions.get("b1"))!;
    await h.sessions.save({ ...saved, backupId: "elsewhere", folder: "other" });
    await h.store.pruneUnfinished(FOLDER, new Set(["b1"]));
    assert.ok(await h.sessions.get("b1"));
    await h.store.pruneUnfinished(FOLDER, new Set());
    assert.equal(await h.sessions.get("b1"), undefined);
    assert.ok(await h.sessions.get("elsewhere"));
  });
});
