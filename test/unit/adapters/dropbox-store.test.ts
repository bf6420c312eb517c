/**
 * DropboxBackupStore against the Dropbox fake (msw interception): every fault of issue 4, with an
 * injected sleep that records the waits instead of sleeping through them.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { setupServer } from "msw/node";
import { http, HttpResponse } from "msw";
import { DropboxBackupStore, validateChunkBytes, type DropboxRetryInfo } from "../../../src/adapters/dropbox/dropbox-backup-store.ts";
import { createNodeHttpFetch } from "../../../src/adapters/http/node-http-fetch.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { AccessTokenProvider } from "../../../src/domain/ports.ts";
import { refContentHash } from "../../../src/testing/fakes/content-hash-ref.ts";
import {
  FakeDropbox, incorrectOffsetBody, invalidAccessTokenBody, pathWriteErrorBody, rateLimitedFault, serverErrorFault, type FakeDropboxOptions,
} from "../../../src/testing/fakes/dropbox.ts";
import { patternBytes, streamOf } from "../../../src/testing/contract/backup-store.ts";

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;
const FOLDER = "backups";

const msw = setupServer();
before(() => msw.listen({ onUnhandledRequest: "error" }));
after(() => msw.close());

interface Harness {
  fake: FakeDropbox;
  store: DropboxBackupStore;
  sleeps: number[];
  retries: DropboxRetryInfo[];
  refreshes: Array<{ rejected: string; reason: string }>;
  /** Request body bytes sent per Dropbox route. */
  sentBytes: Map<string, number>;
  put(name: string, bytes: Uint8Array, onProgress?: (done: number) => void): ReturnType<DropboxBackupStore["put"]>;
}

function harness(options: { fake?: FakeDropboxOptions; attempts?: number; maxListPages?: number } = {}): Harness {
  const fake = new FakeDropbox(options.fake);
  msw.resetHandlers(...fake.handlers);
  let token = fake.issueAccessToken();
  const refreshes: Harness["refreshes"] = [];
  const tokens: AccessTokenProvider = {
    accessToken: async () => token,
    refreshAfterRejection: async (rejected, reason) => {
      refreshes.push({ rejected, reason });
      token = fake.issueAccessToken();
      return token;
    },
  };
  const sentBytes = new Map<string, number>();
  const inner = createNodeHttpFetch();
  const countingFetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const route = new URL(String(input)).pathname.replace(/^\/2\//, "");
    const body = init?.body;
    const length = body instanceof Uint8Array ? body.byteLength : typeof body === "string" ? body.length : 0;
    sentBytes.set(route, (sentBytes.get(route) ?? 0) + length);
    return inner(input, init);
  }) as typeof fetch;
  const sleeps: number[] = [];
  const retries: DropboxRetryInfo[] = [];
  const store = new DropboxBackupStore({
    tokens,
    fetch: countingFetch,
    chunkBytes: CHUNK,
    // The sequential session path; the concurrent one has its own file (dropbox-concurrent.test.ts).
    connections: 1,
    sleep: async (ms) => { sleeps.push(ms); },
    retry: { attempts: options.attempts ?? 6, random: () => 0.5 },
    onRetry: (info) => retries.push(info),
    ...(options.maxListPages === undefined ? {} : { maxListPages: options.maxListPages }),
  });
  return {
    fake, store, sleeps, retries, refreshes, sentBytes,
    put: (name, bytes, onProgress) =>
      store.put(FOLDER, name, { stream: streamOf(bytes) }, onProgress ? { onProgress } : {}),
  };
}

const uploadBytes = (h: Harness) =>
  ["files/upload", "files/upload_session/start", "files/upload_session/append_v2", "files/upload_session/finish"]
    .reduce((sum, route) => sum + (h.sentBytes.get(route) ?? 0), 0);

function assertStored(h: Harness, name: string, bytes: Uint8Array): void {
  const file = h.fake.listFiles().find((f) => f.path === `/${FOLDER}/${name}`);
  assert.ok(file, `expected /${FOLDER}/${name} in the fake, found ${JSON.stringify(h.fake.listFiles().map((f) => f.path))}`);
  assert.equal(file.size, bytes.length);
  assert.equal(file.contentHash, refContentHash(bytes));
}

function assertNoSecrets(h: Harness, text: string): void {
  for (const secret of h.fake.secretsIssued()) assert.ok(!text.includes(secret), "a token leaked into an error message");
}

describe("DropboxBackupStore: a listing that never ends", () => {
  test("has_more with the cursor it was given fails at once, naming the folder and the page", async () => {
    const h = harness();
    h.fake.putFile(`/${FOLDER}/a.unms`, new Uint8Array(3));
    h.fake.makeListingEndless("same-cursor");
    await assert.rejects(h.store.list(FOLDER), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.code, "dropbox.listing_endless");
      assert.match(error.message, /^Dropbox's listing of folder "\/backups" never ends: page 2 said has_more but handed back the cursor it was given\. Nothing was uploaded or deleted/);
      return true;
    });
    assert.equal(h.fake.requestCount("files/list_folder/continue"), 1);
  });

  test("has_more with a new cursor every time stops after maxListPages, naming the count", async () => {
    const h = harness({ maxListPages: 25 });
    h.fake.putFile(`/${FOLDER}/a.unms`, new Uint8Array(3));
    h.fake.makeListingEndless("fresh-cursor");
    await assert.rejects(h.store.list(FOLDER), /listing of folder "\/backups" never ends: it still said has_more after 25 pages \(1 files so far\)/);
    assert.equal(h.fake.requestCount("files/list_folder/continue"), 24);
  });

  test("a long but finite listing under the limit is read whole", async () => {
    const h = harness({ fake: { listLimitMax: 1 }, maxListPages: 5 });
    for (const n of [1, 2, 3, 4, 5]) h.fake.putFile(`/${FOLDER}/f${n}.unms`, new Uint8Array(n));
    assert.equal((await h.store.list(FOLDER)).length, 5);
  });
});

describe("DropboxBackupStore: a listing that is not a listing", () => {
  const garbage: [string, unknown, RegExp][] = [
    ["an HTML-ish JSON string", "<html>proxy login</html>", /the answer is not a JSON object/],
    ["no entries", { has_more: false }, /"entries" is missing/],
    ["entries not a list", { entries: { a: 1 }, has_more: false }, /"entries" is not a list \(object\)/],
    ["no has_more", { entries: [], cursor: "c" }, /"has_more" is missing/],
    ["has_more without cursor", { entries: [], has_more: true }, /"has_more" is true but there is no "cursor"/],
    ["a file without a size", { entries: [{ ".tag": "file", name: "a.unms" }], has_more: false, cursor: "c" }, /entry 1 of 1 is not file or folder metadata/],
  ];
  for (const [what, body, expected] of garbage) {
    test(`${what}: a specific error naming files/list_folder and the folder, not a TypeError`, async () => {
      const h = harness();
      msw.use(http.post("*/2/files/list_folder", () => HttpResponse.json(body as never)));
      await assert.rejects(h.store.list(FOLDER), (error: unknown) => {
        assert.ok(SyncError.is(error), String(error));
        assert.equal(error.code, "dropbox.bad_listing");
        assert.match(error.message, /^Dropbox's files\/list_folder answered for folder "\/backups" with something that is not a folder listing: /);
        assert.match(error.message, expected);
        assert.match(error.message, /Nothing was uploaded or deleted/);
        assert.doesNotMatch(error.message, /not iterable/);
        return true;
      });
    });
  }

  test("a garbage continuation page names files/list_folder/continue", async () => {
    const h = harness({ fake: { listLimitMax: 1 } });
    for (const n of [1, 2]) h.fake.putFile(`/${FOLDER}/f${n}.unms`, new Uint8Array(n));
    msw.use(http.post("*/2/files/list_folder/continue", () => HttpResponse.json({ error: "nope" })));
    await assert.rejects(h.store.list(FOLDER), /^SyncError: Dropbox's files\/list_folder\/continue answered for folder "\/backups" with something that is not a folder listing: "entries" is missing/);
  });
});

describe("DropboxBackupStore: rate limits (429)", () => {
  for (const reason of ["too_many_requests", "too_many_write_operations"] as const) {
    test(`put() waits Retry-After on 429 ${reason}, then retries and stores the file`, async () => {
      const h = harness();
      h.fake.injectFault("files/upload", rateLimitedFault(reason, 7));
      const bytes = patternBytes(1000);
      await h.put("small.unms", bytes);
      assert.deepEqual(h.sleeps, [7000]);
      assert.equal(h.fake.requestCount("files/upload"), 2);
      assert.equal(h.retries[0]!.operation, "upload");
      assert.match(h.retries[0]!.reason, new RegExp(`429 ${reason}`));
      assertStored(h, "small.unms", bytes);
    });
  }

  test("put() honours a 429 during an upload session (append_v2) and resends the same chunk", async () => {
    const h = harness();
    h.fake.injectFault("files/upload_session/append_v2", rateLimitedFault("too_many_write_operations", 2));
    const bytes = patternBytes(3 * CHUNK + 10);
    await h.put("session.unms", bytes);
    assert.deepEqual(h.sleeps, [2000]);
    assertStored(h, "session.unms", bytes);
  });

  test("put() treats too_many_write_operations inside a 409 path error as rate limiting (1 s default)", async () => {
    const h = harness();
    h.fake.injectFault("files/upload_session/finish", { type: "status", status: 409, body: pathWriteErrorBody({ ".tag": "too_many_write_operations" }) });
    const bytes = patternBytes(CHUNK + 5);
    await h.put("contended.unms", bytes);
    assert.deepEqual(h.sleeps, [1000]);
    assertStored(h, "contended.unms", bytes);
  });
});

describe("DropboxBackupStore: 5xx and network errors", () => {
  test("put() retries 503 on append_v2 with exponential backoff and resends the same chunk", async () => {
    const h = harness();
    h.fake.injectFault("files/upload_session/append_v2", serverErrorFault(503), 2);
    const bytes = patternBytes(3 * CHUNK + 123);
    await h.put("retry.unms", bytes);
    // random() = 0.5, jitter 1: half of 500 ms, then half of 1000 ms.
    assert.deepEqual(h.sleeps, [250, 500]);
    assertStored(h, "retry.unms", bytes);
  });

  test("put() retries a network error on finish and the file is stored once, whole", async () => {
    const h = harness();
    h.fake.injectFault("files/upload_session/finish", { type: "network-error" });
    const bytes = patternBytes(2 * CHUNK + 1);
    await h.put("net.unms", bytes);
    assert.equal(h.retries.length, 1);
    assert.match(h.retries[0]!.reason, /network error/);
    assertStored(h, "net.unms", bytes);
  });

  test("list() retries a 500 and a network error", async () => {
    const h = harness();
    h.fake.putFile(`/${FOLDER}/a.unms`, "abc");
    h.fake.injectFault("files/list_folder", serverErrorFault(500));
    h.fake.injectFault("files/list_folder", { type: "network-error" });
    const listed = await h.store.list(FOLDER);
    assert.deepEqual(listed.map((f) => [f.name, f.size]), [["a.unms", 3]]);
    assert.equal(h.sleeps.length, 2);
  });

  test("put() gives up after the capped number of attempts with a transient SyncError", async () => {
    const h = harness({ attempts: 3 });
    h.fake.injectFault("files/upload", serverErrorFault(503), 10);
    await assert.rejects(h.put("down.unms", patternBytes(100)), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.kind, "transient");
      assert.equal(error.code, "dropbox.server_error");
      assert.match(error.message, /Dropbox upload for file "\/backups\/down\.unms" failed after 3 attempts: .*HTTP 503/);
      return true;
    });
    assert.equal(h.fake.requestCount("files/upload"), 3);
    assert.equal(h.sleeps.length, 2);
  });
});

describe("DropboxBackupStore: lost answers (incorrect_offset)", () => {
  test("put() continues from correct_offset after an applied append whose answer was lost, sending no byte twice", async () => {
    const h = harness();
    h.fake.injectFault("files/upload_session/append_v2", { type: "apply-then-network-error" });
    const bytes = patternBytes(3 * CHUNK + 77);
    await h.put("lost.unms", bytes);
    assertStored(h, "lost.unms", bytes);
    assert.equal(uploadBytes(h), bytes.length, "every byte crossed the wire exactly once");
    // chunk 2 (applied, answer lost), an empty probe told incorrect_offset, chunk 3; the rest rides on start/finish.
    const appends = h.fake.requests.filter((r) => r.route === "files/upload_session/append_v2").map((r) => r.status);
    assert.deepEqual(appends, [0, 409, 200]);
  });

  test("put() resends from correct_offset when Dropbox answers incorrect_offset to a data-carrying append", async () => {
    const h = harness();
    // Dropbox says it has everything up to CHUNK (the end of start's chunk): the append is sent again whole.
    h.fake.injectFault("files/upload_session/append_v2", { type: "status", status: 409, body: incorrectOffsetBody(CHUNK) });
    const bytes = patternBytes(3 * CHUNK + 1);
    await h.put("offset.unms", bytes);
    assertStored(h, "offset.unms", bytes);
    assert.ok(h.retries.some((r) => /continuing from there/.test(r.reason)), JSON.stringify(h.retries));
    assert.deepEqual(h.sleeps, [], "no wait: nothing to wait for");
  });

  test("put() fails specifically when correct_offset lies outside the chunk being sent", async () => {
    const h = harness();
    h.fake.injectFault("files/upload_session/append_v2", { type: "status", status: 409, body: incorrectOffsetBody(99 * CHUNK) });
    await assert.rejects(h.put("lost-step.unms", patternBytes(3 * CHUNK)), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.code, "dropbox.incorrect_offset");
      assert.match(error.message, /got out of step: Dropbox expects offset 415236096/);
      return true;
    });
    assert.equal(h.fake.listFiles().length, 0);
  });

  test("put() recognises a finish that committed although its answer was lost", async () => {
    const h = harness();
    h.fake.injectFault("files/upload_session/finish", { type: "apply-then-network-error" });
    const bytes = patternBytes(CHUNK + 9);
    const stored = await h.put("committed.unms", bytes);
    assert.equal(stored.size, bytes.length);
    assert.equal(stored.contentHash, refContentHash(bytes));
    assertStored(h, "committed.unms", bytes);
    assert.equal(h.fake.requestCount("files/upload_session/finish"), 1, "finish is not sent again");
  });

  test("put() of a single-request upload survives a lost answer (same bytes are already there)", async () => {
    const h = harness();
    h.fake.injectFault("files/upload", { type: "apply-then-network-error" });
    const bytes = patternBytes(5000);
    await h.put("single.unms", bytes);
    assertStored(h, "single.unms", bytes);
  });
});

describe("DropboxBackupStore: tokens", () => {
  test("put() refreshes an access token that expires mid-upload and retries the same request", async () => {
    const h = harness();
    const bytes = patternBytes(3 * CHUNK + 1);
    const firstToken = h.fake.secretsIssued().at(-1)!; // the harness's access token, issued last
    let expired = false;
    await h.put("long.unms", bytes, (done) => {
      if (!expired && done >= CHUNK) {
        expired = true;
        h.fake.expireAccessTokens();
      }
    });
    assert.equal(h.refreshes.length, 1);
    assert.equal(h.refreshes[0]!.rejected, firstToken);
    assert.equal(h.refreshes[0]!.reason, "expired_access_token");
    assert.deepEqual(h.sleeps, []);
    assertStored(h, "long.unms", bytes);
  });

  test("put() refreshes on an injected expired-token answer for finish", async () => {
    const h = harness();
    h.fake.injectFault("files/upload_session/finish", { type: "expired-token" });
    const bytes = patternBytes(CHUNK + 1);
    await h.put("finish.unms", bytes);
    assert.equal(h.refreshes.length, 1);
    assertStored(h, "finish.unms", bytes);
  });

  test("an invalid token goes to the provider once, then is fatal: unauthorized, and the token never appears in the message", async () => {
    const h = harness();
    h.fake.injectFault("files/list_folder", { type: "status", status: 401, body: invalidAccessTokenBody() }, 2);
    await assert.rejects(h.store.list(FOLDER), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.kind, "unauthorized");
      assert.equal(error.code, "dropbox.invalid_access_token");
      assert.match(error.message, /list_folder.*folder "\/backups".*invalid_access_token.*authorize the app again/);
      assertNoSecrets(h, error.message);
      return true;
    });
    assert.equal(h.fake.requestCount("files/list_folder"), 2);
    assert.equal(h.refreshes.length, 1);
  });

  test("a 400 that echoes the Authorization header is reported without the token", async () => {
    const h = harness();
    const token = h.fake.secretsIssued().at(-1)!;
    h.fake.injectFault("files/delete_v2", {
      type: "status",
      status: 400,
      body: `Error in call to API function "files/delete_v2": Invalid authorization value in HTTP header "Authorization": "Bearer ${token}".  Expecting "Bearer <oauth2-access-token>".`,
    });
    await assert.rejects(h.store.remove(FOLDER, "x.unms"), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.code, "dropbox.bad_request");
      assert.match(error.message, /HTTP 400/);
      assertNoSecrets(h, error.message);
      assertNoSecrets(h, JSON.stringify(error));
      return true;
    });
  });
});

describe("DropboxBackupStore: fatal errors and verification", () => {
  test("insufficient_space is fatal: not retried, specific message", async () => {
    const h = harness({ fake: { quotaBytes: 1000 } });
    await assert.rejects(h.put("full.unms", patternBytes(CHUNK + 1)), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.code, "dropbox.insufficient_space");
      assert.equal(error.kind, "permanent");
      assert.match(error.message, /upload_session\/finish for file "\/backups\/full\.unms".*insufficient_space.*Dropbox is full: free space or upgrade the plan/);
      return true;
    });
    assert.equal(h.fake.requestCount("files/upload_session/finish"), 1);
    assert.deepEqual(h.sleeps, []);
    assert.equal(h.fake.listFiles().length, 0);
  });

  test("malformed_path is fatal and not retried", async () => {
    const h = harness();
    h.fake.injectFault("files/upload", { type: "status", status: 409, body: { error_summary: "path/malformed_path/", error: { ".tag": "path", reason: { ".tag": "malformed_path" }, upload_session_id: "x" } } });
    await assert.rejects(h.put("bad.unms", patternBytes(10)), { code: "dropbox.malformed_path" });
    assert.equal(h.fake.requestCount("files/upload"), 1);
  });

  for (const [label, size, route] of [
    ["an upload session", CHUNK + 3, "files/upload_session/finish"],
    ["a single upload", 300, "files/upload"],
  ] as const) {
    test(`a content hash mismatch after ${label} deletes the file and fails as integrity`, async () => {
      const h = harness();
      h.fake.injectFault(route, { type: "corrupt-hash" });
      await assert.rejects(h.put("corrupt.unms", patternBytes(size)), (error: unknown) => {
        assert.ok(SyncError.is(error));
        assert.equal(error.kind, "integrity");
        assert.equal(error.code, "dropbox.content_hash_mismatch");
        assert.match(error.message, /Verification of file "\/backups\/corrupt\.unms" failed: Dropbox reports content hash [0-9a-f]{64}, the bytes sent hash to [0-9a-f]{64}; the damaged copy was deleted/);
        return true;
      });
      assert.equal(h.fake.hasFile(`/${FOLDER}/corrupt.unms`), false);
      assert.equal(h.fake.requestCount("files/delete_v2"), 1);
    });
  }

  test("a conflict (existing file, no overwrite) is specific and not retried", async () => {
    const h = harness();
    h.fake.putFile(`/${FOLDER}/taken.unms`, "old");
    await assert.rejects(h.put("taken.unms", patternBytes(CHUNK + 1)), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.code, "dropbox.conflict");
      assert.match(error.message, /path\/conflict\/file/);
      return true;
    });
    assert.equal(h.fake.requestCount("files/upload_session/finish"), 1);
  });
});

describe("DropboxBackupStore: requests and listing", () => {
  test("put() sends one chunk per request, none larger than the chunk size, in as few requests as the size needs", async () => {
    const h = harness();
    const bytes = patternBytes(3 * CHUNK + 1);
    await h.put("count.unms", bytes);
    assert.equal(h.fake.requestCount("files/upload_session/start"), 1);
    assert.equal(h.fake.requestCount("files/upload_session/append_v2"), 2);
    assert.equal(h.fake.requestCount("files/upload_session/finish"), 1);
    assert.equal(h.fake.requestCount("files/upload"), 0);
    assert.equal(uploadBytes(h), bytes.length);
    assert.equal(h.fake.openSessionCount(), 0);
  });

  test("put() of exactly one chunk uses a single files/upload", async () => {
    const h = harness();
    await h.put("one.unms", patternBytes(CHUNK));
    assert.equal(h.fake.requestCount("files/upload"), 1);
    assert.equal(h.fake.requestCount("files/upload_session/start"), 0);
  });

  test("list() follows has_more through list_folder/continue and lists files only", async () => {
    const h = harness({ fake: { listLimitMax: 2 } });
    for (let i = 0; i < 5; i++) h.fake.putFile(`/${FOLDER}/f${i}.unms`, "x".repeat(i));
    h.fake.createFolder(`/${FOLDER}/sub`);
    const listed = await h.store.list(FOLDER);
    assert.deepEqual(listed.map((f) => f.name).sort(), ["f0.unms", "f1.unms", "f2.unms", "f3.unms", "f4.unms"]);
    assert.ok(h.fake.requestCount("files/list_folder/continue") >= 2);
  });

  test("list() of the root uses path \"\"", async () => {
    const h = harness();
    h.fake.putFile("/root.unms", "abc");
    assert.deepEqual((await h.store.list("")).map((f) => f.name), ["root.unms"]);
  });

  test("validateChunkBytes() accepts multiples of 4 MiB up to 148 MiB and explains refusals", () => {
    assert.equal(validateChunkBytes(16 * MiB), 16 * MiB);
    assert.equal(validateChunkBytes(148 * MiB), 148 * MiB);
    for (const bad of [0, 5 * MiB, 152 * MiB, 1.5]) {
      assert.throws(() => validateChunkBytes(bad), (error: unknown) => SyncError.is(error) && error.kind === "config" && /DROPBOX_CHUNK_MIB/.test(error.message));
    }
  });
});
