/**
 * DropboxBackupStore's concurrent upload sessions (issue 14): chunks in flight at once at explicit
 * offsets, acknowledged out of order, a 429 holding every lane of the file, a chunk failing while the
 * others succeed, and a killed upload resumed with some chunks already held by Dropbox.
 * Requests go through a fetch that can hold back or fail a chosen chunk; sleeps are injected.
 */
import { createHash } from "node:crypto";
import { readdir } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setupServer } from "msw/node";
import { DropboxBackupStore, validateConnections } from "../../../src/adapters/dropbox/dropbox-backup-store.ts";
import { createNodeHttpFetch } from "../../../src/adapters/http/node-http-fetch.ts";
import { MemoryUploadSessionStore } from "../../../src/adapters/upload-sessions/memory-upload-session-store.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { AccessTokenProvider } from "../../../src/domain/ports.ts";
import type { UploadSessionRecord } from "../../../src/app/ports.ts";
import { refContentHash } from "../../../src/testing/fakes/content-hash-ref.ts";
import { FakeDropbox, rateLimitedFault } from "../../../src/testing/fakes/dropbox.ts";
import { patternBytes, streamOf } from "../../../src/testing/contract/backup-store.ts";
import { withTempDir } from "../../temp-dir.ts";

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;
const FOLDER = "backups";
const NAME = "unms-backup-20240101-0100_b1.unms";
const APPEND = "files/upload_session/append_v2";

const msw = setupServer();
before(() => msw.listen({ onUnhandledRequest: "error" }));
after(() => msw.close());

interface SentRequest { route: string; offset?: number; close?: boolean; bytes: number }

/** Lets a test hold back or fail the requests for one chunk offset. */
type Interceptor = (request: SentRequest, signal: AbortSignal | undefined) => Promise<Response | undefined> | undefined;

function harness(options: { connections?: number; attempts?: number; chunkBytes?: number | "planned" } = {}) {
  const fake = new FakeDropbox();
  msw.resetHandlers(...fake.handlers);
  let token = fake.issueAccessToken();
  const refreshes: string[] = [];
  const tokens: AccessTokenProvider = {
    accessToken: async () => token,
    refreshAfterRejection: async (_rejected, reason) => {
      refreshes.push(reason);
      token = fake.issueAccessToken();
      return token;
    },
  };
  const started: SentRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let intercept: Interceptor | undefined;
  const inner = createNodeHttpFetch();
  const watchingFetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const route = new URL(String(input)).pathname.replace(/^\/2\//, "");
    const arg = new Headers(init?.headers).get("dropbox-api-arg");
    const cursor = arg ? (JSON.parse(arg) as { cursor?: { offset: number }; close?: boolean }) : {};
    const body = init?.body;
    const sent: SentRequest = {
      route, bytes: body instanceof Uint8Array ? body.byteLength : 0,
      ...(cursor.cursor ? { offset: cursor.cursor.offset } : {}), ...(cursor.close ? { close: true } : {}),
    };
    started.push(sent);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      const replaced = intercept?.(sent, init?.signal ?? undefined);
      const answer = replaced ? await replaced : undefined;
      return answer ?? (await inner(input, init));
    } finally {
      inFlight -= 1;
    }
  }) as typeof fetch;
  const sleeps: number[] = [];
  let holdSleeps = false;
  const pendingSleeps: Array<() => void> = [];
  const sessions = new MemoryUploadSessionStore();
  const saves: UploadSessionRecord[] = [];
  const spyingSessions = {
    get: (id: string) => sessions.get(id),
    all: () => sessions.all(),
    remove: (id: string) => sessions.remove(id),
    save: async (record: UploadSessionRecord) => {
      saves.push(structuredClone(record));
      await sessions.save(record);
    },
  };
  const store = new DropboxBackupStore({
    tokens,
    fetch: watchingFetch,
    ...(options.chunkBytes === "planned" ? {} : { chunkBytes: options.chunkBytes ?? CHUNK }),
    connections: options.connections ?? 3,
    sessions: spyingSessions,
    sleep: (ms) => {
      sleeps.push(ms);
      if (!holdSleeps) return Promise.resolve();
      return new Promise<void>((resolve) => pendingSleeps.push(resolve));
    },
    retry: { attempts: options.attempts ?? 6, random: () => 0.5 },
  });
  return {
    fake, store, sessions, saves, started, sleeps, refreshes,
    get inFlight() { return inFlight; },
    get maxInFlight() { return maxInFlight; },
    intercept: (fn: Interceptor) => (intercept = fn),
    holdSleeps: () => (holdSleeps = true),
    releaseSleeps: () => {
      holdSleeps = false;
      for (const resolve of pendingSleeps.splice(0)) resolve();
    },
    /** Bytes the upload has taken from its source so far. */
    pulled: 0,
    put(bytes: Uint8Array, extra: { offset?: number; signal?: AbortSignal; onProgress?: (n: number) => void } = {}) {
      const counting = async function* (this: { pulled: number }, pieces: AsyncIterable<Uint8Array>) {
        for await (const piece of pieces) {
          this.pulled += piece.length;
          yield piece;
        }
      }.call(this, streamOf(bytes));
      return store.put(
        FOLDER, NAME,
        { stream: counting, length: bytes.length, ...(extra.offset ? { offset: extra.offset } : {}) },
        { backupId: "b1", ...(extra.signal ? { signal: extra.signal } : {}), ...(extra.onProgress ? { onProgress: extra.onProgress } : {}) },
      );
    },
  };
}

type Harness = ReturnType<typeof harness>;

const appends = (h: Harness) => h.started.filter((r) => r.route === APPEND);

function assertStored(h: Harness, bytes: Uint8Array): void {
  const files = h.fake.listFiles();
  assert.equal(files.length, 1);
  assert.equal(files[0]!.size, bytes.length);
  assert.equal(files[0]!.contentHash, refContentHash(bytes));
}

/** Lets queued I/O callbacks run: enough turns for any lane that is free to start its next request. */
async function turns(n = 200): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 20_000 && !condition(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(condition(), `timed out waiting for ${what}`);
}

describe("DropboxBackupStore: concurrent upload sessions", () => {
  test("sends up to `connections` chunks at once, each a multiple of 4 MiB, then the closing chunk alone and finish without data", async () => {
    const h = harness({ connections: 3 });
    const bytes = patternBytes(6 * CHUNK + 777);
    const stored = await h.put(bytes);
    assert.equal(stored.contentHash, refContentHash(bytes));
    assertStored(h, bytes);
    assert.equal(h.maxInFlight, 3);
    const start = h.started.find((r) => r.route === "files/upload_session/start");
    assert.equal(start?.bytes, 0, "a concurrent session starts without data");
    const sent = appends(h);
    assert.deepEqual(sent.map((r) => r.offset).sort((a, b) => a! - b!), [0, 1, 2, 3, 4, 5, 6].map((i) => i * CHUNK));
    assert.ok(sent.filter((r) => !r.close).every((r) => r.bytes === CHUNK));
    const closing = sent.filter((r) => r.close);
    assert.deepEqual(closing.map((r) => [r.offset, r.bytes]), [[6 * CHUNK, 777]]);
    assert.equal(sent.at(-1), closing[0], "the closing chunk is sent after every other chunk");
    assert.equal(h.started.find((r) => r.route === "files/upload_session/finish")?.bytes, 0);
    assert.equal(await h.sessions.get("b1"), undefined, "a finished upload forgets its session");
  });

  test("the last chunk's whole 4 MiB blocks go alongside the others; only the rest closes the session", async () => {
    const h = harness({ connections: 3 });
    const bytes = patternBytes(5 * CHUNK + CHUNK / 2);
    const sizeExact = patternBytes(4 * CHUNK, 2);
    await h.put(bytes);
    assertStored(h, bytes);
    const closing = appends(h).filter((r) => r.close);
    assert.deepEqual(closing.map((r) => [r.offset, r.bytes]), [[5 * CHUNK, CHUNK / 2]]);

    const exact = harness({ connections: 3 });
    await exact.put(sizeExact);
    assertStored(exact, sizeExact);
    const sent = appends(exact);
    assert.deepEqual(sent.filter((r) => r.close).map((r) => [r.offset, r.bytes]), [[4 * CHUNK, 0]], "a size of whole blocks closes with an empty append");
    assert.equal(sent.filter((r) => !r.close && r.bytes === CHUNK).length, 4);
  });

  test("without a chunk size, the file's size picks it; one spare buffer is filled while every lane sends, never a request more", async () => {
    const h = harness({ connections: 3, chunkBytes: "planned" });
    // 3 lanes and a spare within 40 MiB: 8 MiB chunks; 50 MiB is 7 chunks (3 rounds) at 8, 13 (5 rounds) at 4.
    const planned = 8 * MiB;
    const bytes = patternBytes(50 * MiB);
    const held: Array<() => void> = [];
    h.intercept((request) => {
      if (request.route !== APPEND || request.offset! >= 3 * planned) return undefined;
      return new Promise<undefined>((resolve) => held.push(() => resolve(undefined)));
    });
    const upload = h.put(bytes);
    await until(() => held.length === 3, "three chunks in flight");
    await until(() => h.pulled >= 4 * planned, "the spare buffer filled");
    await turns();
    assert.equal(appends(h).length, 3, "the filled spare waits for a lane");
    assert.ok(h.pulled < 5 * planned + 2 * MiB, `no buffer beyond the spare is filled (${h.pulled} bytes read)`);
    for (const release of held.splice(0)) release();
    await upload;
    assertStored(h, bytes);
    assert.equal(h.maxInFlight, 3);
    const sent = appends(h);
    assert.deepEqual(sent.filter((r) => !r.close).map((r) => [r.offset, r.bytes]).sort((a, b) => a[0]! - b[0]!), [0, 1, 2, 3, 4, 5].map((i) => [i * planned, planned]));
    assert.deepEqual(sent.filter((r) => r.close).map((r) => [r.offset, r.bytes]), [[48 * MiB, 2 * MiB]]);
  });

  test("connections: 1 keeps the sequential session (start carries the first chunk)", async () => {
    const h = harness({ connections: 1 });
    const bytes = patternBytes(2 * CHUNK + 3);
    await h.put(bytes);
    assertStored(h, bytes);
    assert.equal(h.maxInFlight, 1);
    assert.equal(h.started.find((r) => r.route === "files/upload_session/start")?.bytes, CHUNK);
  });

  test("chunks acknowledged out of order: the saved state names the chunks held beyond the contiguous prefix", async () => {
    const h = harness({ connections: 3 });
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    h.intercept((r) => (r.route === APPEND && r.offset === 0 ? firstHeld.then(() => undefined) : undefined));
    const bytes = patternBytes(5 * CHUNK + 9);
    const upload = h.put(bytes);
    // The held lane does not stop the others: chunks past it keep going, each acknowledged one named.
    await until(() => h.saves.some((s) => s.concurrent !== undefined && s.concurrent.chunksAhead.length === 2), "chunks 1 and 2 acknowledged");
    const early = h.saves.find((s) => s.concurrent?.chunksAhead.length === 2)!;
    assert.equal(early.bytesCommitted, 0);
    assert.deepEqual(early.concurrent, { chunkBytes: CHUNK, chunksAhead: [CHUNK, 2 * CHUNK], chunksInFlight: [0] }, "chunk 0, still unanswered, is named in flight");
    releaseFirst();
    await upload;
    assertStored(h, bytes);
    const last = h.saves.at(-1)!;
    assert.equal(last.bytesCommitted, 5 * CHUNK, "the prefix catches up once the first chunk is in");
    assert.deepEqual(last.concurrent?.chunksAhead, []);
    assert.equal(last.blockHashes.length, 5);
  });

  test("a 429 on one lane holds every lane for Retry-After, then the same chunk is sent again", async () => {
    const h = harness({ connections: 3 });
    h.fake.injectFault(APPEND, rateLimitedFault("too_many_write_operations", 3));
    h.holdSleeps();
    const bytes = patternBytes(8 * CHUNK + 1);
    const upload = h.put(bytes);
    await until(() => h.sleeps.includes(3000), "the 429 wait");
    await until(() => h.inFlight === 0, "the lanes in flight to answer");
    const before = appends(h).length;
    await turns();
    assert.equal(appends(h).length, before, "no lane sends while the file is held by a 429");
    h.releaseSleeps();
    await upload;
    assertStored(h, bytes);
    assert.equal(appends(h).length, 9 + 1, "nine chunks plus the one sent again");
  });

  test("an expired token and a refused connection on single lanes are retried per chunk, a lost finish answer is checked; no piece is sent twice", async () => {
    const h = harness({ connections: 3 });
    h.fake.injectFault(APPEND, { type: "expired-token" });
    let refused = false;
    h.intercept((r) => {
      if (r.route !== APPEND || r.offset !== 2 * CHUNK || refused) return undefined;
      refused = true;
      return Promise.reject(Object.assign(new TypeError("fetch failed"), { cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }) }));
    });
    h.fake.injectFault("files/upload_session/finish", { type: "apply-then-network-error" });
    const bytes = patternBytes(7 * CHUNK + 100);
    await h.put(bytes);
    assertStored(h, bytes);
    assert.ok(refused);
    assert.ok(h.refreshes.includes("expired_access_token"), JSON.stringify(h.refreshes));
    assert.equal(h.fake.openSessionCount(), 0);
    assert.equal(h.fake.repeatedPieceCount(), 0, "a chunk is sent again only after an answer saying Dropbox did not take it");
  });

  for (const [label, fault] of [
    ["a 5xx", { type: "status", status: 503, body: "Service temporarily unavailable." }],
    ["a lost answer", { type: "apply-then-network-error" }],
  ] as const) {
    test(`${label} on a chunk abandons the session: it is not sent again, the file starts over in a sequential session and is stored whole`, async () => {
      const h = harness({ connections: 3 });
      h.fake.injectFault(APPEND, fault);
      const bytes = patternBytes(7 * CHUNK + 100);
      const error = await h.put(bytes).then(() => undefined, (e: unknown) => e);
      assert.ok(SyncError.is(error) && error.kind === "source-interrupted" && error.code === "dropbox.concurrent_chunk_unknown", String(error));
      assert.match(error.message, /upload_session\/append_v2 for file "\/backups\/unms-backup-20240101-0100_b1\.unms"/);
      assert.match(error.message, /the chunk at bytes \d+\.\.\d+ may have reached Dropbox/);
      assert.match(error.message, /starts over in a sequential session/);
      assert.equal(await h.sessions.get("b1"), undefined, "the abandoned session is forgotten");
      assert.equal(h.fake.listFiles().length, 0);
      assert.equal((await h.store.resumePoint(FOLDER, NAME, "b1")).offset, 0);

      const sentBefore = h.started.length;
      await h.put(bytes);
      assertStored(h, bytes);
      const start = h.started.slice(sentBefore).find((r) => r.route === "files/upload_session/start");
      assert.equal(start?.bytes, CHUNK, "the second attempt is a sequential session (start carries data)");
      assert.equal(h.fake.repeatedPieceCount(), 0);
    });
  }

  test("a chunk Dropbox keeps refusing fails the upload once the other lanes are done; the next run sends only what Dropbox lacks", async () => {
    const h = harness({ connections: 3, attempts: 2 });
    const bytes = patternBytes(5 * CHUNK + 50);
    const serverError = () => new Response(
      JSON.stringify({ error_summary: "too_many_write_operations/..", error: { reason: { ".tag": "too_many_write_operations" } } }),
      { status: 429, headers: { "content-type": "application/json", "retry-after": "1" } },
    );
    // Chunk 1 fails on every attempt, its first answer coming only after chunks 2 and 3 went through.
    h.intercept((r) =>
      r.route === APPEND && r.offset === CHUNK
        ? until(() => h.saves.some((s) => s.concurrent?.chunksAhead.includes(3 * CHUNK) === true), "chunks 2 and 3").then(serverError)
        : undefined);
    const error = await h.put(bytes).then(() => undefined, (e: unknown) => e);
    assert.ok(SyncError.is(error) && error.kind === "rate-limited", String(error));
    assert.match(error.message, /upload_session\/append_v2/);
    assert.match(error.message, /unms-backup-20240101-0100_b1\.unms/);
    const saved = await h.sessions.get("b1");
    assert.equal(saved?.bytesCommitted, CHUNK, "chunk 0 is the contiguous prefix");
    const ahead = saved?.concurrent?.chunksAhead ?? [];
    assert.ok([2 * CHUNK, 3 * CHUNK].every((o) => ahead.includes(o)), `chunks 2 and 3 are saved as held: ${ahead.join(",")}`);
    assert.ok(!ahead.includes(CHUNK));

    h.intercept(() => undefined);
    const point = await h.store.resumePoint(FOLDER, NAME, "b1");
    assert.equal(point.offset, CHUNK);
    const sentBefore = appends(h).length;
    await h.put(bytes.subarray(CHUNK), { offset: CHUNK });
    assertStored(h, bytes);
    const resent = appends(h).slice(sentBefore).filter((r) => r.bytes > 0).map((r) => r.offset!);
    assert.deepEqual([0, ...ahead, ...resent].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5].map((i) => i * CHUNK), "each chunk sent once over both runs");
    assert.equal(h.fake.repeatedPieceCount(), 0);
  });

  test("a run killed with a chunk in flight saves it as such: that chunk's fate is unknown, so the next run starts over and says why", async () => {
    const h = harness({ connections: 3 });
    const bytes = patternBytes(6 * CHUNK + 11);
    const kill = new AbortController();
    // Chunk 1 never gets an answer before the kill; chunks 0 and 2 do.
    h.intercept((r, signal) =>
      r.route === APPEND && r.offset === CHUNK
        ? new Promise<Response>((_, reject) => signal?.addEventListener("abort", () => reject(signal.reason)))
        : undefined);
    const upload = h.put(bytes, { signal: kill.signal }).then(() => undefined, (e: unknown) => e);
    await until(() => h.saves.some((s) => s.bytesCommitted === CHUNK && s.concurrent?.chunksAhead.includes(2 * CHUNK) === true), "chunks 0 and 2");
    assert.ok(h.saves.some((s) => s.concurrent?.chunksInFlight?.includes(CHUNK) === true), "chunk 1 was saved as in flight before it was sent");
    kill.abort(new Error("SIGTERM"));
    assert.ok(await upload, "the killed upload fails");
    const saved = await h.sessions.get("b1");
    assert.deepEqual(saved?.concurrent?.chunksInFlight, [CHUNK]);
    h.intercept(() => undefined);
    const point = await h.store.resumePoint(FOLDER, NAME, "b1");
    assert.equal(point.offset, 0);
    assert.match(point.note ?? "", /the chunks at bytes 4194304 were being sent when it stopped/);
    assert.equal(await h.sessions.get("b1"), undefined);
  });

  test("a saved state naming chunks in flight (a hard kill) is not continued, and says why", async () => {
    const h = harness({ connections: 3 });
    await h.sessions.save({
      backupId: "b1", sessionId: "sess", folder: FOLDER, name: NAME, bytesCommitted: CHUNK, blockHashes: ["a".repeat(64)],
      startedAt: new Date().toISOString(), concurrent: { chunkBytes: CHUNK, chunksAhead: [2 * CHUNK], chunksInFlight: [CHUNK, 3 * CHUNK] },
    });
    const point = await h.store.resumePoint(FOLDER, NAME, "b1");
    assert.equal(point.offset, 0);
    assert.match(point.note ?? "", /chunks at bytes 4194304, 12582912 were being sent when it stopped/);
    assert.equal(await h.sessions.get("b1"), undefined);
    assert.equal(h.started.length, 0, "nothing is asked of Dropbox: no probe of a concurrent session");
  });

  test("a paused upload resumes from the saved state without a probe, sends each missing chunk once, and the hash is right", async () => {
    const h = harness({ connections: 3 });
    const bytes = patternBytes(6 * CHUNK + 11);
    let pause = false;
    const first = await h.store.put(FOLDER, NAME, { stream: streamOf(bytes), length: bytes.length }, {
      backupId: "b1",
      shouldPause: () => pause,
      onProgress: (done) => { if (done >= 2 * CHUNK) pause = true; },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(SyncError.is(first) && first.kind === "paused", String(first));
    const saved = (await h.sessions.get("b1"))!;
    assert.equal(saved.concurrent?.chunksInFlight, undefined, "a pause waits for every answer");
    const held = new Set([...Array(saved.bytesCommitted / CHUNK).keys()].map((i) => i * CHUNK).concat(saved.concurrent!.chunksAhead));
    const sentBefore = h.started.length;
    const appendsBefore = appends(h).length;
    const point = await h.store.resumePoint(FOLDER, NAME, "b1");
    assert.equal(point.offset, saved.bytesCommitted);
    assert.match(point.note ?? "", /Continuing the unfinished upload/);
    assert.equal(h.started.length, sentBefore, "no probe");
    const stored = await h.put(bytes.subarray(point.offset), { offset: point.offset });
    assert.equal(stored.contentHash, refContentHash(bytes));
    assertStored(h, bytes);
    const resent = appends(h).slice(appendsBefore).filter((r) => r.bytes > 0).map((r) => r.offset!);
    assert.ok(resent.every((offset) => !held.has(offset)), `no held chunk is sent again: ${resent.join(",")}`);
    assert.equal(h.fake.repeatedPieceCount(), 0);
  });

  test("a resumed session Dropbox no longer has fails as source-interrupted (dropbox.session_gone) and is forgotten", async () => {
    const h = harness({ connections: 3 });
    const bytes = patternBytes(3 * CHUNK + 5);
    await h.sessions.save({
      backupId: "b1", sessionId: "expired-session", folder: FOLDER, name: NAME, bytesCommitted: CHUNK,
      blockHashes: [createHash("sha256").update(bytes.subarray(0, CHUNK)).digest("hex")],
      startedAt: new Date().toISOString(), concurrent: { chunkBytes: CHUNK, chunksAhead: [] },
    });
    const error = await h.put(bytes.subarray(CHUNK), { offset: CHUNK }).then(() => undefined, (e: unknown) => e);
    assert.ok(SyncError.is(error) && error.kind === "source-interrupted" && error.code === "dropbox.session_gone", String(error));
    assert.match(error.message, /no longer has the upload session of file "\/backups\/unms-backup-20240101-0100_b1\.unms"/);
    assert.equal(await h.sessions.get("b1"), undefined);
  });

  test("validateConnections() accepts 1..16 and names DROPBOX_CONNECTIONS when refusing", () => {
    for (const good of [1, 4, 16]) assert.equal(validateConnections(good), good);
    for (const bad of [0, 17, 2.5, Number.NaN]) {
      assert.throws(() => validateConnections(bad), (e: unknown) => SyncError.is(e) && e.kind === "config" && /DROPBOX_CONNECTIONS/.test(e.message));
    }
  });
});

describe("DropboxBackupStore: concurrent chunks spooled to disk (its own node:http fetch)", () => {
  /** A store with no fetch given: it sends through node:http (msw intercepts it) and spools to `spoolDir`. */
  function spoolingStore(spoolDir: string) {
    const fake = new FakeDropbox();
    msw.resetHandlers(...fake.handlers);
    const token = fake.issueAccessToken();
    const tokens: AccessTokenProvider = { accessToken: async () => token, refreshAfterRejection: async () => token };
    const sessions = new MemoryUploadSessionStore();
    const store = new DropboxBackupStore({ tokens, chunkBytes: CHUNK, connections: 3, spoolDir, sessions, sleep: async () => undefined, retry: { attempts: 2 } });
    return { fake, store, sessions };
  }

  test("uploads the same bytes as from memory and leaves nothing in the spool folder", async () => {
    await withTempDir("spool-", async (dir) => {
      const { fake, store } = spoolingStore(dir);
      const bytes = patternBytes(6 * CHUNK + 777);
      const stored = await store.put(FOLDER, NAME, { stream: streamOf(bytes), length: bytes.length });
      assert.equal(stored.contentHash, refContentHash(bytes));
      assert.deepEqual(fake.listFiles().map((f) => [f.size, f.contentHash]), [[bytes.length, refContentHash(bytes)]]);
      assert.deepEqual(await readdir(dir), []);
    });
  });

  test("a download that breaks off while a chunk is sent as it is read: source-interrupted, nothing in the spool folder, and the next run continues the session", async () => {
    await withTempDir("spool-", async (dir) => {
      const { fake, store, sessions } = spoolingStore(dir);
      const bytes = patternBytes(6 * CHUNK);
      async function* breaking() {
        let sent = 0;
        for await (const piece of streamOf(bytes)) {
          // Inside the second chunk: a first-round chunk, sent as it is read.
          if (sent > CHUNK + CHUNK / 2) throw new Error("connection reset by the NMS");
          sent += piece.length;
          yield piece;
        }
      }
      await assert.rejects(store.put(FOLDER, NAME, { stream: breaking(), length: bytes.length }, { backupId: "b1" }), (error: unknown) => {
        assert.ok(SyncError.is(error));
        assert.equal(error.kind, "source-interrupted");
        assert.match(error.message, /connection reset by the NMS/);
        return true;
      });
      assert.deepEqual(fake.listFiles(), []);
      assert.deepEqual(await readdir(dir), []);
      // The chunk cut off mid-body is known not taken: the session is kept, no chunk of unknown fate.
      const saved = await sessions.get("b1");
      assert.ok(saved?.concurrent, "the concurrent session is kept");
      assert.equal(saved.concurrent.chunksInFlight, undefined);
      const point = await store.resumePoint(FOLDER, NAME, "b1");
      assert.match(point.note ?? "", /^Continuing the unfinished upload of file "\/backups\/unms-backup-20240101-0100_b1\.unms" from byte \d+/);
      assert.ok(point.offset > 0 && point.offset % CHUNK === 0, `continues from a chunk boundary (${point.offset})`);
      const stored = await store.put(FOLDER, NAME, { stream: streamOf(bytes.subarray(point.offset)), length: bytes.length - point.offset, offset: point.offset }, { backupId: "b1" });
      assert.equal(stored.contentHash, refContentHash(bytes));
      assert.deepEqual(await readdir(dir), []);
    });
  });
});
