import { test, describe, before, after, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { setupServer } from "msw/node";
import { Dropbox, DropboxAuth } from "dropbox";
import {
  FakeDropbox,
  rateLimitedFault,
  serverErrorFault,
  endpointErrorFault,
  headerSafeJson,
  incorrectOffsetBody,
  finishIncorrectOffsetBody,
} from "../../src/testing/fakes/dropbox.ts";
import type { FakeDropboxOptions } from "../../src/testing/fakes/dropbox.ts";
import { RefContentHasher, refContentHash } from "../../src/testing/fakes/content-hash-ref.ts";

const API = "https://api.dropboxapi.com";
const CONTENT = "https://content.dropboxapi.com";
const MiB = 1024 * 1024;

const server = setupServer();
before(() => server.listen({ onUnhandledRequest: "error" }));
after(() => server.close());

let fake: FakeDropbox;
let token: string;

function useFake(options: FakeDropboxOptions = {}): FakeDropbox {
  fake = new FakeDropbox(options);
  server.resetHandlers(...fake.handlers);
  token = fake.issueAccessToken();
  return fake;
}

function sdk(accessToken = token): Dropbox {
  return new Dropbox({ accessToken, fetch: (url: string, init?: RequestInit) => fetch(url, init) });
}

/** The SDK's DropboxResponseError: status + parsed error body. */
async function sdkError(promise: Promise<unknown>): Promise<{ status: number; error: any; headers: Headers }> {
  try {
    await promise;
  } catch (error) {
    const e = error as { status: number; error: unknown; headers: Headers };
    assert.equal(typeof e.status, "number", `expected a DropboxResponseError, got ${String(error)}`);
    return e as { status: number; error: any; headers: Headers };
  }
  assert.fail("expected the SDK call to fail");
}

function rpc(route: string, args: unknown, accessToken = token): Promise<Response> {
  return fetch(`${API}/2/${route}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${accessToken}`, "Content-Type": "application/json" },
    body: JSON.stringify(args),
  });
}

function content(route: string, args: unknown, body: Uint8Array | string = new Uint8Array(), extraHeaders: Record<string, string> = {}) {
  return fetch(`${CONTENT}/2/${route}`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${token}`,
      "Content-Type": "application/octet-stream",
      "Dropbox-API-Arg": headerSafeJson(args),
      ...extraHeaders,
    },
    body: body as BodyInit,
  });
}

const bytesOf = (text: string) => new TextEncoder().encode(text);

describe("content hash reference", () => {
  test("matches the documented vectors", () => {
    assert.equal(refContentHash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert.equal(refContentHash("hello"), "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50");
    assert.equal(refContentHash(new Uint8Array(4 * MiB)), "c7e946d101855255d919ef0c70718633adf77d3dfb3adeeecf5d0cb4e951be58");
    assert.equal(refContentHash(new Uint8Array(4 * MiB + 1)), "14a4d47f23a30177885d9820122f17d2d3a55fe63f7f5c27b95f689e0b2accd6");
  });

  test("is independent of how the bytes are split, and forks do not disturb the original", () => {
    const data = new Uint8Array(9 * MiB + 17).map((_, i) => (i * 31) & 255);
    const hasher = new RefContentHasher();
    for (let offset = 0; offset < data.length; offset += 999_999) hasher.update(data.subarray(offset, offset + 999_999));
    assert.equal(hasher.hex(), refContentHash(data));
    const fork = hasher.fork().update(bytesOf("more"));
    assert.equal(hasher.hex(), refContentHash(data));
    assert.notEqual(fork.hex(), hasher.hex());
    assert.equal(hasher.size, data.length);
  });
});

describe("FakeDropbox through the official SDK", () => {
  beforeEach(() => useFake({ listLimitMax: 2 }));

  test("list_folder pages with cursor/has_more and returns documented entry fields", async () => {
    for (const name of ["a", "b", "c", "d", "e"]) fake.putFile(`/Backups/${name}.tar`, `content ${name}`);
    fake.createFolder("/Backups/sub");
    const dbx = sdk();
    const first = await dbx.filesListFolder({ path: "/backups", limit: 1000 });
    assert.equal(first.result.entries.length, 2);
    assert.equal(first.result.has_more, true);
    const all = [...first.result.entries];
    let cursor = first.result.cursor;
    for (let page = 0; page < 10; page++) {
      const next = await dbx.filesListFolderContinue({ cursor });
      all.push(...next.result.entries);
      cursor = next.result.cursor;
      if (!next.result.has_more) break;
    }
    assert.deepEqual(
      all.map((e) => `${e[".tag"]}:${e.path_display}`),
      ["file:/Backups/a.tar", "file:/Backups/b.tar", "file:/Backups/c.tar", "file:/Backups/d.tar", "file:/Backups/e.tar", "folder:/Backups/sub"],
    );
    const file = all[0] as unknown as Record<string, unknown>;
    assert.equal(file.name, "a.tar");
    assert.equal(file.path_lower, "/backups/a.tar");
    assert.equal(file.size, 9);
    assert.equal(file.content_hash, refContentHash("content a"));
    assert.match(String(file.id), /^id:/);
    assert.match(String(file.rev), /^[0-9a-f]{9,}$/);
    assert.match(String(file.server_modified), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const folder = all[5] as unknown as Record<string, unknown>;
    assert.equal(folder.size, undefined);
    assert.equal(folder.content_hash, undefined);
  });

  test("list_folder: root is \"\", \"/\" is a 400 text, a missing folder is 409 path/not_found", async () => {
    fake.putFile("/top.txt", "x");
    const dbx = sdk();
    const root = await dbx.filesListFolder({ path: "" });
    assert.deepEqual(root.result.entries.map((e) => e.name), ["top.txt"]);

    const slash = await sdkError(dbx.filesListFolder({ path: "/" }));
    assert.equal(slash.status, 400);
    assert.equal(
      slash.error,
      'Error in call to API function "files/list_folder": request body: path: Specify the root folder as an empty string rather than as "/".',
    );

    const missing = await sdkError(dbx.filesListFolder({ path: "/nope" }));
    assert.equal(missing.status, 409);
    assert.equal(missing.error.error[".tag"], "path");
    assert.equal(missing.error.error.path[".tag"], "not_found");
    assert.match(missing.error.error_summary, /^path\/not_found\//);
  });

  test("list_folder/continue after the last page reports later changes, including deletions", async () => {
    fake.putFile("/d/one", "1");
    const dbx = sdk();
    const listed = await dbx.filesListFolder({ path: "/d" });
    assert.equal(listed.result.has_more, false);
    fake.putFile("/d/two", "2");
    await dbx.filesDeleteV2({ path: "/d/one" });
    const changes = await dbx.filesListFolderContinue({ cursor: listed.result.cursor });
    assert.deepEqual(changes.result.entries.map((e) => `${e[".tag"]}:${e.name}`).sort(), ["deleted:one", "file:two"]);
  });

  test("upload then download round trip; result is FileMetadata without .tag and the documented hash", async () => {
    const dbx = sdk();
    const uploaded = await dbx.filesUpload({ path: "/Backups/hello.txt", contents: bytesOf("hello"), mode: { ".tag": "add" } });
    const result = uploaded.result as unknown as Record<string, unknown>;
    assert.equal(result[".tag"], undefined);
    assert.equal(result.content_hash, "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50");
    assert.equal(result.size, 5);
    assert.equal(result.path_display, "/Backups/hello.txt");
    assert.equal(fake.hasFolder("/backups"), true, "parent folders are created implicitly");

    // SDK 10.34 downloads fail with native fetch (res.buffer), so download with raw fetch.
    const response = await fetch(`${CONTENT}/2/files/download`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Dropbox-API-Arg": headerSafeJson({ path: "/backups/HELLO.txt" }) },
    });
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "hello");
    const meta = JSON.parse(response.headers.get("dropbox-api-result")!);
    assert.equal(meta.content_hash, result.content_hash);
    assert.equal(meta[".tag"], undefined);
  });

  test("upload in add mode conflicts with a different existing file; identical content is no conflict", async () => {
    fake.putFile("/x.bin", "old");
    const dbx = sdk();
    const same = await dbx.filesUpload({ path: "/X.bin", contents: bytesOf("old") });
    assert.equal(same.result.path_display, "/x.bin");

    const conflict = await sdkError(dbx.filesUpload({ path: "/x.bin", contents: bytesOf("new"), mode: { ".tag": "add" } }));
    assert.equal(conflict.status, 409);
    assert.equal(conflict.error.error[".tag"], "path");
    assert.deepEqual(conflict.error.error.reason, { ".tag": "conflict", conflict: { ".tag": "file" } });
    assert.equal(typeof conflict.error.error.upload_session_id, "string");
    assert.match(conflict.error.error_summary, /^path\/conflict\/file\//);
    assert.equal(new TextDecoder().decode(fake.readFile("/x.bin")), "old");

    await dbx.filesUpload({ path: "/x.bin", contents: bytesOf("new"), mode: { ".tag": "overwrite" } });
    assert.equal(new TextDecoder().decode(fake.readFile("/X.BIN")), "new");
  });

  test("content_hash argument is checked against the request body", async () => {
    const dbx = sdk();
    const wrong = await sdkError(dbx.filesUpload({ path: "/h", contents: bytesOf("hello"), content_hash: refContentHash("other") }));
    assert.equal(wrong.status, 409);
    assert.equal(wrong.error.error[".tag"], "content_hash_mismatch");
    assert.equal(fake.hasFile("/h"), false);
    await dbx.filesUpload({ path: "/h", contents: bytesOf("hello"), content_hash: refContentHash("hello") });
    assert.equal(fake.hasFile("/h"), true);
  });

  test("upload session start/append/finish; the file appears only at finish", async () => {
    const dbx = sdk();
    const part1 = new Uint8Array(3 * MiB).fill(1);
    const part2 = new Uint8Array(2 * MiB).fill(2);
    const part3 = bytesOf("tail");
    const start = await dbx.filesUploadSessionStart({ contents: part1 });
    const sessionId = start.result.session_id;
    await dbx.filesUploadSessionAppendV2({ cursor: { session_id: sessionId, offset: part1.length }, contents: part2, close: false });
    assert.equal(fake.hasFile("/big.bin"), false);
    const offset = part1.length + part2.length;
    const finished = await dbx.filesUploadSessionFinish({
      cursor: { session_id: sessionId, offset },
      commit: { path: "/Big.bin", mode: { ".tag": "add" } },
      contents: part3,
    });
    // Joined natively: spreading 5 MiB into an array of numbers took about a second (issue 10).
    const all = new Uint8Array(Buffer.concat([part1, part2, part3]));
    assert.equal((finished.result as unknown as Record<string, unknown>)[".tag"], undefined);
    assert.equal(finished.result.size, all.length);
    assert.equal(finished.result.content_hash, refContentHash(all));
    assert.deepEqual(fake.listFiles(), [{ path: "/Big.bin", size: all.length, contentHash: refContentHash(all) }]);
    assert.deepEqual(fake.readFile("/big.bin"), all);
    assert.equal(fake.openSessionCount(), 0);

    const again = await sdkError(dbx.filesUploadSessionAppendV2({ cursor: { session_id: sessionId, offset: 0 }, contents: part3 }));
    assert.equal(again.status, 409);
    assert.equal(again.error.error[".tag"], "not_found");
  });

  test("append with a wrong offset gives incorrect_offset with correct_offset; finish nests it under lookup_failed", async () => {
    const dbx = sdk();
    const start = await dbx.filesUploadSessionStart({ contents: bytesOf("12345") });
    const id = start.result.session_id;
    const append = await sdkError(dbx.filesUploadSessionAppendV2({ cursor: { session_id: id, offset: 3 }, contents: bytesOf("x") }));
    assert.equal(append.status, 409);
    assert.deepEqual(append.error.error, incorrectOffsetBody(5).error);
    assert.match(append.error.error_summary, /^incorrect_offset\//);

    const finish = await sdkError(
      dbx.filesUploadSessionFinish({ cursor: { session_id: id, offset: 9 }, commit: { path: "/f" }, contents: new Uint8Array() }),
    );
    assert.equal(finish.status, 409);
    assert.deepEqual(finish.error.error, finishIncorrectOffsetBody(5).error);
    assert.equal(finish.error.error.lookup_failed.correct_offset, 5);
  });

  test("append after close is `closed`; finish with a conflict nests the WriteError under path", async () => {
    fake.putFile("/taken", "someone else's file");
    const dbx = sdk();
    const start = await dbx.filesUploadSessionStart({ contents: bytesOf("abc"), close: true });
    const id = start.result.session_id;
    const closed = await sdkError(dbx.filesUploadSessionAppendV2({ cursor: { session_id: id, offset: 3 }, contents: bytesOf("d") }));
    assert.equal(closed.status, 409);
    assert.equal(closed.error.error[".tag"], "closed");

    const conflict = await sdkError(
      dbx.filesUploadSessionFinish({ cursor: { session_id: id, offset: 3 }, commit: { path: "/TAKEN", mode: { ".tag": "add" } }, contents: new Uint8Array() }),
    );
    assert.equal(conflict.status, 409);
    assert.deepEqual(conflict.error.error, { ".tag": "path", path: { ".tag": "conflict", conflict: { ".tag": "file" } } });
    assert.match(conflict.error.error_summary, /^path\/conflict\/file\//);
    assert.equal(new TextDecoder().decode(fake.readFile("/taken")), "someone else's file");
  });

  test("unknown session: append says not_found, finish says lookup_failed/not_found", async () => {
    const dbx = sdk();
    const append = await sdkError(dbx.filesUploadSessionAppendV2({ cursor: { session_id: "AAAAAAAAnope", offset: 0 }, contents: bytesOf("x") }));
    assert.equal(append.error.error[".tag"], "not_found");
    const finish = await sdkError(
      dbx.filesUploadSessionFinish({ cursor: { session_id: "AAAAAAAAnope", offset: 0 }, commit: { path: "/f" }, contents: new Uint8Array() }),
    );
    assert.deepEqual(finish.error.error, { ".tag": "lookup_failed", lookup_failed: { ".tag": "not_found" } });
  });

  test("paths are case-insensitive and keep the display casing of the first writer", async () => {
    const dbx = sdk();
    await dbx.filesUpload({ path: "/Backups/UNMS-2024.tar.gz", contents: bytesOf("a") });
    const meta = await dbx.filesGetMetadata({ path: "/BACKUPS/unms-2024.TAR.GZ" });
    assert.equal(meta.result[".tag"], "file");
    assert.equal(meta.result.path_display, "/Backups/UNMS-2024.tar.gz");
    assert.equal(meta.result.path_lower, "/backups/unms-2024.tar.gz");
    await dbx.filesUpload({ path: "/backups/other.tar.gz", contents: bytesOf("b") });
    assert.deepEqual(fake.listFiles().map((f) => f.path), ["/Backups/other.tar.gz", "/Backups/UNMS-2024.tar.gz"]);
  });

  test("non-ASCII names travel \\u-escaped in Dropbox-API-Arg and come back intact", async () => {
    const dbx = sdk();
    const name = "/Zálohy/über-😀.tar";
    const uploaded = await dbx.filesUpload({ path: name, contents: bytesOf("ü") });
    assert.equal(uploaded.result.path_display, name);
    const response = await fetch(`${CONTENT}/2/files/download`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Dropbox-API-Arg": headerSafeJson({ path: name }) },
    });
    const header = response.headers.get("dropbox-api-result")!;
    assert.match(header, /^[\x20-\x7e]+$/, "Dropbox-API-Result is ASCII-only");
    assert.equal(JSON.parse(header).name, "über-😀.tar");
    assert.equal(await response.text(), "ü");
  });

  test("get_metadata: root is a 400, missing is path/not_found, deleted shows with include_deleted", async () => {
    fake.putFile("/gone.txt", "x");
    const dbx = sdk();
    const root = await sdkError(dbx.filesGetMetadata({ path: "" }));
    assert.equal(root.status, 400);
    assert.match(root.error, /The root folder is unsupported/);
    await dbx.filesDeleteV2({ path: "/gone.txt" });
    const missing = await sdkError(dbx.filesGetMetadata({ path: "/gone.txt" }));
    assert.deepEqual(missing.error.error, { ".tag": "path", path: { ".tag": "not_found" } });
    const deleted = await dbx.filesGetMetadata({ path: "/gone.txt", include_deleted: true });
    assert.equal(deleted.result[".tag"], "deleted");
  });

  test("delete_v2 returns tagged metadata; a missing path is path_lookup/not_found", async () => {
    fake.putFile("/dir/a", "1");
    const dbx = sdk();
    const removed = await dbx.filesDeleteV2({ path: "/DIR" });
    assert.equal(removed.result.metadata[".tag"], "folder");
    assert.equal(fake.hasFile("/dir/a"), false);
    const missing = await sdkError(dbx.filesDeleteV2({ path: "/dir/a" }));
    assert.equal(missing.status, 409);
    assert.deepEqual(missing.error.error, { ".tag": "path_lookup", path_lookup: { ".tag": "not_found" } });
    assert.match(missing.error.error_summary, /^path_lookup\/not_found\//);
  });

  test("401 for unknown, revoked and expired tokens; long-lived tokens do not expire", async () => {
    const unknown = await sdkError(sdk("sl.u.not-a-token-we-issued").filesListFolder({ path: "" }));
    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown.error, { error_summary: "invalid_access_token/..", error: { ".tag": "invalid_access_token" } });

    const legacy = fake.issueLongLivedToken();
    const revoked = fake.issueAccessToken();
    fake.revokeAccessToken(revoked);
    assert.equal((await sdkError(sdk(revoked).filesListFolder({ path: "" }))).error.error[".tag"], "invalid_access_token");

    fake.expireAccessTokens();
    const expired = await sdkError(sdk().filesListFolder({ path: "" }));
    assert.equal(expired.status, 401);
    assert.equal(expired.error.error[".tag"], "expired_access_token");
    assert.equal((await sdk(legacy).filesListFolder({ path: "" })).status, 200);
  });
});

describe("FakeDropbox with raw fetch", () => {
  beforeEach(() => useFake());

  test("a missing or garbled Authorization header is a 400 text naming the API function", async () => {
    const none = await fetch(`${API}/2/files/list_folder`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ path: "" }),
    });
    assert.equal(none.status, 400);
    assert.match(await none.text(), /^Error in call to API function "files\/list_folder": .*Authorization/);

    const garbled = await fetch(`${CONTENT}/2/files/upload_session/append_v2`, {
      method: "POST",
      headers: { Authorization: "Basic abc", "Content-Type": "application/octet-stream", "Dropbox-API-Arg": "{}" },
      body: "x",
    });
    assert.equal(garbled.status, 400);
    assert.match(
      await garbled.text(),
      /^Error in call to API function "files\/upload_session\/append:2": Invalid authorization value in HTTP header "Authorization": .*Expecting "Bearer <oauth2-access-token>"\.$/,
    );
  });

  test("upload needs Content-Type application/octet-stream exactly; RPC needs JSON", async () => {
    const bad = await content("files/upload", { path: "/a" }, "x", { "Content-Type": "application/octet-stream; charset=utf8" });
    assert.equal(bad.status, 400);
    assert.match(await bad.text(), /Bad HTTP "Content-Type" header/);
    const rpcBad = await fetch(`${API}/2/files/list_folder`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "text/plain" },
      body: JSON.stringify({ path: "" }),
    });
    assert.equal(rpcBad.status, 400);
    assert.equal(fake.hasFile("/a"), false);
  });

  test("args may come in the `arg` query parameter; raw non-ASCII in the header is refused", async () => {
    const viaQuery = await fetch(`${CONTENT}/2/files/upload?arg=${encodeURIComponent(JSON.stringify({ path: "/q/ñ.txt" }))}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream" },
      body: "q",
    });
    assert.equal(viaQuery.status, 200);
    assert.equal(fake.hasFile("/q/Ñ.txt"), true);

    const raw = await content("files/upload", {}, "x", { "Dropbox-API-Arg": '{"path": "/\u00fc"}' });
    assert.equal(raw.status, 400);
    assert.match(await raw.text(), /Dropbox-API-Arg/);
  });

  test("server JSON uses Python-style separators and the reason phrase carries the summary", async () => {
    const response = await rpc("files/get_metadata", { path: "/missing" });
    assert.equal(response.status, 409);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(await response.text(), '{"error_summary": "path/not_found/..", "error": {".tag": "path", "path": {".tag": "not_found"}}}');
  });

  test("requests are logged per route with their status", async () => {
    await rpc("files/list_folder", { path: "" });
    await rpc("files/get_metadata", { path: "/nope" });
    assert.deepEqual(fake.requests, [
      { route: "files/list_folder", status: 200 },
      { route: "files/get_metadata", status: 409 },
    ]);
    assert.equal(fake.requestCount("files/get_metadata"), 1);
    assert.equal(fake.requestCount(), 2);
  });

  test("download of a folder is path/not_file; files above keepBytesLimit keep only size and hash", async () => {
    useFake({ keepBytesLimit: 1000 });
    fake.createFolder("/dir");
    const folder = await content("files/download", { path: "/dir" });
    assert.equal(folder.status, 409);
    assert.equal((await folder.json()).error.path[".tag"], "not_file");

    const big = new Uint8Array(5000).fill(7);
    const uploaded = await content("files/upload", { path: "/big" }, big);
    assert.equal(uploaded.status, 200);
    assert.equal(fake.readFile("/big"), undefined);
    assert.deepEqual(fake.listFiles(), [{ path: "/big", size: 5000, contentHash: refContentHash(big) }]);
    const download = await content("files/download", { path: "/big" });
    assert.equal(download.status, 500);
    assert.match(await download.text(), /keepBytesLimit/);
  });

  test("download of a missing path is 409 path/not_found; download faults corrupt or truncate the body, not the metadata", async () => {
    useFake();
    const missing = await content("files/download", { path: "/nope.unms" });
    assert.equal(missing.status, 409);
    const body = await missing.json();
    assert.equal(body.error_summary.startsWith("path/not_found/"), true, body.error_summary);
    assert.equal(body.error.path[".tag"], "not_found");

    const bytes = new Uint8Array(1001).map((_, i) => i % 251);
    fake.putFile("/copy.unms", bytes);
    const result = (r: Response) => JSON.parse(r.headers.get("dropbox-api-result")!) as { size: number; content_hash: string };

    fake.injectFault("files/download", { type: "corrupt-download" });
    const corrupt = await content("files/download", { path: "/copy.unms" });
    assert.equal(corrupt.status, 200);
    assert.deepEqual([result(corrupt).size, result(corrupt).content_hash], [1001, refContentHash(bytes)]);
    const corrupted = new Uint8Array(await corrupt.arrayBuffer());
    assert.equal(corrupted.length, 1001);
    assert.notEqual(refContentHash(corrupted), refContentHash(bytes));

    fake.injectFault("files/download", { type: "truncate-download" });
    const cut = await content("files/download", { path: "/copy.unms" });
    assert.equal(cut.headers.get("content-length"), null);
    assert.equal(result(cut).size, 1001);
    assert.equal((await cut.arrayBuffer()).byteLength, 500);

    const whole = await content("files/download", { path: "/copy.unms" });
    assert.deepEqual(new Uint8Array(await whole.arrayBuffer()), bytes, "a fault applies to one request only");
  });

  test("request bodies above the limit are payload_too_large", async () => {
    useFake({ maxRequestBodyBytes: 1024 });
    const response = await content("files/upload", { path: "/too-big" }, new Uint8Array(1025));
    assert.equal(response.status, 409);
    assert.equal((await response.json()).error[".tag"], "payload_too_large");
    assert.equal(fake.hasFile("/too-big"), false);
    assert.equal((await content("files/upload", { path: "/fits" }, new Uint8Array(1024))).status, 200);
  });

  test("a full account answers insufficient_space in both documented nestings", async () => {
    fake.failWhenFull(10);
    const upload = await content("files/upload", { path: "/a" }, new Uint8Array(11));
    assert.equal(upload.status, 409);
    const uploadBody = await upload.json();
    assert.deepEqual(uploadBody.error.reason, { ".tag": "insufficient_space" });
    assert.match(uploadBody.error_summary, /^path\/insufficient_space\//);

    const start = await content("files/upload_session/start", { close: true }, new Uint8Array(11));
    const { session_id } = await start.json();
    const finish = await content("files/upload_session/finish", { cursor: { session_id, offset: 11 }, commit: { path: "/b" } });
    assert.equal(finish.status, 409);
    assert.deepEqual((await finish.json()).error, { ".tag": "path", path: { ".tag": "insufficient_space" } });
  });

  test("create_folder_v2 creates untagged FolderMetadata and conflicts on an existing folder", async () => {
    const created = await rpc("files/create_folder_v2", { path: "/New" });
    assert.equal(created.status, 200);
    const body = await created.json();
    assert.equal(body.metadata.path_display, "/New");
    assert.equal(body.metadata[".tag"], undefined);
    const again = await rpc("files/create_folder_v2", { path: "/new" });
    assert.equal(again.status, 409);
    assert.deepEqual((await again.json()).error, { ".tag": "path", path: { ".tag": "conflict", conflict: { ".tag": "folder" } } });
  });
});

describe("FakeDropbox state over time", () => {
  test("upload sessions expire after 7 days on the injected clock", async () => {
    let now = 1_700_000_000_000;
    useFake({ now: () => now, accessTokenTtlSeconds: 30 * 24 * 3600 });
    const start = await content("files/upload_session/start", {}, "abc");
    const { session_id } = await start.json();
    now += 7 * 24 * 3600 * 1000 + 1;
    const append = await content("files/upload_session/append_v2", { cursor: { session_id, offset: 3 } }, "d");
    assert.equal(append.status, 409);
    assert.equal((await append.json()).error[".tag"], "not_found");
  });

  test("autorename picks a free name instead of conflicting", async () => {
    useFake();
    fake.putFile("/r/report.tar.gz", "one");
    const response = await content("files/upload", { path: "/r/report.tar.gz", mode: "add", autorename: true }, "two");
    assert.equal(response.status, 200);
    assert.equal((await response.json()).path_display, "/r/report.tar (1).gz");
    assert.equal(new TextDecoder().decode(fake.readFile("/r/report.tar.gz")), "one");
  });

  test("update mode overwrites only the given rev", async () => {
    useFake();
    fake.putFile("/u", "v1");
    const rev = fake.fileMetadata("/u")!.rev as string;
    const stale = await content("files/upload", { path: "/u", mode: { ".tag": "update", update: "0123456789abcdef" } }, "v2");
    assert.equal(stale.status, 409);
    assert.deepEqual((await stale.json()).error.reason, { ".tag": "conflict", conflict: { ".tag": "file" } });
    const fresh = await content("files/upload", { path: "/u", mode: { ".tag": "update", update: rev } }, "v2");
    assert.equal(fresh.status, 200);
    const body = await fresh.json();
    assert.notEqual(body.rev, rev);
    assert.equal(body.id, fake.fileMetadata("/u")!.id, "the id survives an overwrite");
  });

  test("resetCursors makes list_folder/continue answer 409 reset", async () => {
    useFake();
    const listed = await (await rpc("files/list_folder", { path: "" })).json();
    fake.resetCursors();
    const response = await rpc("files/list_folder/continue", { cursor: listed.cursor });
    assert.equal(response.status, 409);
    assert.equal((await response.json()).error[".tag"], "reset");
  });

  test("makeListingEndless: has_more for ever, with the same or a fresh cursor; undefined ends it", async () => {
    useFake();
    fake.makeListingEndless("same-cursor");
    const first = await (await rpc("files/list_folder", { path: "" })).json();
    assert.equal(first.has_more, true);
    const same = await (await rpc("files/list_folder/continue", { cursor: first.cursor })).json();
    assert.deepEqual([same.cursor === first.cursor, same.has_more, same.entries], [true, true, []]);
    fake.makeListingEndless("fresh-cursor");
    const fresh = await (await rpc("files/list_folder/continue", { cursor: first.cursor })).json();
    assert.deepEqual([fresh.cursor === first.cursor, fresh.has_more], [false, true]);
    fake.makeListingEndless(undefined);
    const end = await (await rpc("files/list_folder/continue", { cursor: fresh.cursor })).json();
    assert.equal(end.has_more, false);
  });

  test("tokens and codes are random, never constant", () => {
    const a = new FakeDropbox();
    const b = new FakeDropbox();
    const issued = [a.issueAccessToken(), b.issueAccessToken(), a.issueRefreshToken(), b.issueRefreshToken()];
    assert.equal(new Set(issued).size, issued.length);
    assert.notEqual(a.appSecret, b.appSecret);
    assert.notEqual(a.issueAuthorizationCode(), a.issueAuthorizationCode());
    assert.match(a.issueLongLivedToken(), /^[A-Za-z0-9_-]{60,}$/);
  });
});

describe("FakeDropbox fault injection", () => {
  beforeEach(() => useFake());

  test("429 with Retry-After and the RateLimitError body, then normal service", async () => {
    fake.injectFault("files/upload", rateLimitedFault("too_many_write_operations", 3));
    const limited = await content("files/upload", { path: "/r" }, "x");
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "3");
    const body = await limited.json();
    assert.deepEqual(body.error.reason, { ".tag": "too_many_write_operations" });
    assert.equal(fake.hasFile("/r"), false);
    assert.equal((await content("files/upload", { path: "/r" }, "x")).status, 200);
    assert.deepEqual(fake.requests.map((r) => r.status), [429, 200]);
  });

  test("endpointErrorFault answers a 409 with that error, e.g. too_many_write_operations on finish", async () => {
    fake.injectFault("files/upload_session/finish", endpointErrorFault({ ".tag": "too_many_write_operations" }));
    const response = await content("files/upload_session/finish", { cursor: { session_id: "x", offset: 0 }, commit: { path: "/f" } });
    assert.equal(response.status, 409);
    assert.deepEqual(await response.json(), {
      error_summary: "too_many_write_operations/..",
      error: { ".tag": "too_many_write_operations" },
    });
  });

  test("5xx faults repeat `times` times", async () => {
    fake.injectFault("files/list_folder", serverErrorFault(503), 2);
    assert.equal((await rpc("files/list_folder", { path: "" })).status, 503);
    assert.equal((await rpc("files/list_folder", { path: "" })).status, 503);
    assert.equal((await rpc("files/list_folder", { path: "" })).status, 200);
  });

  test("network-error fails the fetch without applying anything", async () => {
    fake.injectFault("files/upload", { type: "network-error" });
    await assert.rejects(content("files/upload", { path: "/n" }, "x"), TypeError);
    assert.equal(fake.hasFile("/n"), false);
    assert.deepEqual(fake.requests, [{ route: "files/upload", status: 0 }]);
  });

  test("apply-then-network-error: the append is applied, the retry learns the correct offset", async () => {
    const start = await content("files/upload_session/start", {}, "abc");
    const { session_id } = await start.json();
    fake.injectFault("files/upload_session/append_v2", { type: "apply-then-network-error" });
    await assert.rejects(content("files/upload_session/append_v2", { cursor: { session_id, offset: 3 } }, "def"));
    const retry = await content("files/upload_session/append_v2", { cursor: { session_id, offset: 3 } }, "def");
    assert.equal(retry.status, 409);
    assert.deepEqual((await retry.json()).error, { ".tag": "incorrect_offset", correct_offset: 6 });
    const finish = await content("files/upload_session/finish", { cursor: { session_id, offset: 6 }, commit: { path: "/s" } });
    assert.equal(finish.status, 200);
    assert.equal(new TextDecoder().decode(fake.readFile("/s")), "abcdef");
  });

  test("expired-token and corrupt-hash faults", async () => {
    fake.injectFault("files/upload", { type: "expired-token" });
    const expired = await content("files/upload", { path: "/e" }, "x");
    assert.equal(expired.status, 401);
    assert.equal((await expired.json()).error[".tag"], "expired_access_token");

    fake.injectFault("files/upload", { type: "corrupt-hash" });
    const corrupt = await content("files/upload", { path: "/e" }, "hello");
    const reported = (await corrupt.json()).content_hash;
    assert.notEqual(reported, refContentHash("hello"));
    assert.match(reported, /^[0-9a-f]{64}$/);
    assert.equal(fake.listFiles()[0]!.contentHash, refContentHash("hello"), "the stored file itself is intact");
  });
});

describe("FakeDropbox OAuth token endpoint", () => {
  beforeEach(() => useFake());

  const tokenUrl = "https://api.dropboxapi.com/oauth2/token";
  const form = (params: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(tokenUrl, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
      body: new URLSearchParams(params).toString(),
    });
  const basic = () => ({ Authorization: `Basic ${Buffer.from(`${fake.appKey}:${fake.appSecret}`).toString("base64")}` });

  test("code exchange (form body + Basic auth), single-use code, refresh, revoked refresh", async () => {
    const code = fake.issueAuthorizationCode();
    const exchanged = await form({ grant_type: "authorization_code", code }, basic());
    assert.equal(exchanged.status, 200);
    const tokens = await exchanged.json();
    assert.match(tokens.access_token, /^sl\.u\.[A-Za-z0-9_-]{40,}$/);
    assert.equal(tokens.token_type, "bearer");
    assert.equal(tokens.expires_in, 14400);
    assert.equal(typeof tokens.refresh_token, "string");
    assert.match(tokens.account_id, /^dbid:/);
    assert.equal((await rpc("files/list_folder", { path: "" }, tokens.access_token)).status, 200);
    assert.deepEqual(fake.tokenRequests, [{ grantType: "authorization_code", secretsInQuery: false, basicAuth: true }]);

    const reused = await form({ grant_type: "authorization_code", code }, basic());
    assert.equal(reused.status, 400);
    assert.deepEqual(await reused.json(), { error_description: "code doesn't exist or has expired", error: "invalid_grant" });

    const refreshed = await form({
      grant_type: "refresh_token",
      refresh_token: tokens.refresh_token,
      client_id: fake.appKey,
      client_secret: fake.appSecret,
    });
    const refreshedBody = await refreshed.json();
    assert.deepEqual(Object.keys(refreshedBody).sort(), ["access_token", "expires_in", "token_type"]);
    assert.notEqual(refreshedBody.access_token, tokens.access_token);

    fake.revokeRefreshToken(tokens.refresh_token);
    const revoked = await form({ grant_type: "refresh_token", refresh_token: tokens.refresh_token }, basic());
    assert.equal(revoked.status, 400);
    assert.deepEqual(await revoked.json(), { error: "invalid_grant", error_description: "refresh token is invalid or revoked" });
    assert.ok(fake.secretsIssued().includes(tokens.refresh_token));
    assert.ok(fake.secretsIssued().includes(fake.appSecret));
  });

  test("expired codes and wrong client credentials are refused", async () => {
    let now = 1_700_000_000_000;
    useFake({ now: () => now });
    const code = fake.issueAuthorizationCode();
    const wrongSecret = await form({ grant_type: "authorization_code", code, client_id: fake.appKey, client_secret: "nope" });
    assert.equal(wrongSecret.status, 400);
    assert.match((await wrongSecret.json()).error, /^invalid_client/);
    now += 11 * 60 * 1000;
    const late = await form({ grant_type: "authorization_code", code }, basic());
    assert.equal((await late.json()).error, "invalid_grant");
  });

  test("access tokens expire after accessTokenTtlSeconds on the injected clock", async () => {
    let now = 1_700_000_000_000;
    useFake({ now: () => now, accessTokenTtlSeconds: 60 });
    assert.equal((await rpc("files/list_folder", { path: "" })).status, 200);
    now += 60_000;
    const expired = await rpc("files/list_folder", { path: "" });
    assert.equal(expired.status, 401);
    assert.equal((await expired.json()).error[".tag"], "expired_access_token");
  });

  test("PKCE: the S256 verifier replaces the secret; a wrong verifier is invalid_grant", async () => {
    const verifier = "v".repeat(43) + "erifier-with-enough-length-to-be-valid-0123456789";
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const bad = fake.issueAuthorizationCode({ codeChallenge: challenge, clientId: fake.appKey });
    const wrong = await form({ grant_type: "authorization_code", code: bad, client_id: fake.appKey, code_verifier: "x".repeat(64) });
    assert.equal(wrong.status, 400);
    assert.equal((await wrong.json()).error, "invalid_grant");

    const good = fake.issueAuthorizationCode({ codeChallenge: challenge });
    const ok = await form({ grant_type: "authorization_code", code: good, client_id: fake.appKey, code_verifier: verifier });
    assert.equal(ok.status, 200);
    const { refresh_token } = await ok.json();
    const refreshed = await form({ grant_type: "refresh_token", refresh_token, client_id: fake.appKey });
    assert.equal(refreshed.status, 200, "PKCE refresh tokens refresh without a secret");
  });

  test("the SDK's PKCE flow works and its query-string secrets are recorded", async () => {
    const auth = new DropboxAuth({ clientId: fake.appKey, fetch: (url: string, init?: RequestInit) => fetch(url, init) });
    await auth.getAuthenticationUrl("http://localhost/cb", undefined, "code", "offline", undefined, undefined, true);
    const code = fake.issueAuthorizationCode({ codeChallenge: (auth as unknown as { codeChallenge: string }).codeChallenge });
    const response = await auth.getAccessTokenFromCode("http://localhost/cb", code);
    const result = response.result as { access_token: string; refresh_token: string };
    assert.match(result.access_token, /^sl\.u\./);
    assert.deepEqual(fake.tokenRequests, [{ grantType: "authorization_code", secretsInQuery: true, basicAuth: false }]);

    const dbx = new Dropbox({
      clientId: fake.appKey,
      clientSecret: fake.appSecret,
      refreshToken: result.refresh_token,
      fetch: (url: string, init?: RequestInit) => fetch(url, init),
    });
    const listed = await dbx.filesListFolder({ path: "" });
    assert.equal(listed.status, 200);
    assert.deepEqual(fake.tokenRequests[1], { grantType: "refresh_token", secretsInQuery: true, basicAuth: false });
  });

  test("token endpoint also answers on api.dropbox.com and honours faults", async () => {
    fake.injectFault("oauth2/token", serverErrorFault(500));
    const failed = await fetch("https://api.dropbox.com/oauth2/token", { method: "POST" });
    assert.equal(failed.status, 500);
    const code = fake.issueAuthorizationCode();
    const ok = await fetch("https://api.dropbox.com/oauth2/token", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", ...basic() },
      body: `grant_type=authorization_code&code=${code}`,
    });
    assert.equal(ok.status, 200);
  });
});

describe("FakeDropbox: upload sessions over time (resumed uploads)", () => {
  test("a session lives 7 days: then append says not_found and finish lookup_failed/not_found", async () => {
    let now = Date.parse("2024-05-01T00:00:00Z");
    useFake({ now: () => now });
    token = fake.issueLongLivedToken();
    const dbx = sdk();
    const id = (await dbx.filesUploadSessionStart({ contents: bytesOf("abc"), close: false })).result.session_id;
    now += 7 * 24 * 3600 * 1000 - 1000;
    await dbx.filesUploadSessionAppendV2({ cursor: { session_id: id, offset: 3 }, contents: bytesOf("d") });
    now += 2000;
    const append = await sdkError(dbx.filesUploadSessionAppendV2({ cursor: { session_id: id, offset: 4 }, contents: bytesOf("e") }));
    assert.equal(append.status, 409);
    assert.equal(append.error.error[".tag"], "not_found");
    const finish = await sdkError(
      dbx.filesUploadSessionFinish({ cursor: { session_id: id, offset: 4 }, commit: { path: "/f" }, contents: new Uint8Array() }),
    );
    assert.deepEqual(finish.error.error, { ".tag": "lookup_failed", lookup_failed: { ".tag": "not_found" } });
  });

  test("uploadBytesReceived counts every upload body byte, accepted or refused", async () => {
    useFake();
    const dbx = sdk();
    const id = (await dbx.filesUploadSessionStart({ contents: bytesOf("abcd"), close: false })).result.session_id;
    await sdkError(dbx.filesUploadSessionAppendV2({ cursor: { session_id: id, offset: 0 }, contents: bytesOf("xy") }));
    await dbx.filesUpload({ path: "/one", contents: bytesOf("12345") });
    assert.equal(fake.uploadBytesReceived, 4 + 2 + 5);
  });
});
