import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { Dropbox } from "dropbox";
import { http, HttpResponse } from "msw";
import { FakeDropbox, headerSafeJson } from "../../src/testing/fakes/dropbox.ts";
import { startLoopbackServer } from "../../src/testing/fakes/loopback.ts";
import type { LoopbackServer } from "../../src/testing/fakes/loopback.ts";
import { RefContentHasher } from "../../src/testing/fakes/content-hash-ref.ts";

const MiB = 1024 * 1024;
const isDeno = "Deno" in globalThis;

/** Deterministic, non-repeating-per-block bytes generated chunk by chunk (never held whole). */
function patternStream(total: number, chunkSize: number, hasher: RefContentHasher): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= total) {
        controller.close();
        return;
      }
      const size = Math.min(chunkSize, total - sent);
      const chunk = new Uint8Array(size);
      for (let i = 0; i < size; i += 4096) chunk[i] = ((sent + i) / 4096) & 255;
      hasher.update(chunk);
      sent += size;
      controller.enqueue(chunk);
    },
  });
}

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  while (current && typeof current === "object") {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

describe("FakeDropbox served on loopback", () => {
  let fake: FakeDropbox;
  let server: LoopbackServer;
  let token: string;

  before(async () => {
    fake = new FakeDropbox();
    server = await startLoopbackServer(() => fake.handlers);
    token = fake.issueAccessToken();
  });
  after(() => server.close());

  const post = (route: string, args: unknown, body?: BodyInit, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/2/${route}`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "Content-Type": "application/octet-stream",
        "Dropbox-API-Arg": headerSafeJson(args),
        ...headers,
      },
      ...(body === undefined ? {} : { body }),
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);

  test("url is http://127.0.0.1:PORT without a trailing slash", () => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test("the official SDK works against it through a URL-rewriting fetch", async () => {
    const dbx = new Dropbox({
      accessToken: token,
      fetch: (url: string, init?: RequestInit) => fetch(url.replace(/^https:\/\/[^/]+/, server.url), init),
    });
    await dbx.filesUpload({ path: "/Loop/ü.txt", contents: new TextEncoder().encode("hello") });
    const listed = await dbx.filesListFolder({ path: "/loop" });
    assert.deepEqual(
      listed.result.entries.map((e) => [e.name, (e as { content_hash?: string }).content_hash]),
      [["ü.txt", "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"]],
    );
    const download = await post("files/download", { path: "/loop/Ü.TXT" });
    assert.equal(await download.text(), "hello");
  });

  // 24 MiB in three appends still streams several bodies and outgrows the fake's 16 MiB
  // keepBytesLimit; 64 MiB tested the same in three times the time (issue 10).
  test("a 24 MiB upload session streams through in chunks and hashes to the reference", async () => {
    const total = 24 * MiB;
    const appendSize = 10 * MiB;
    const hasher = new RefContentHasher();
    const start = await post("files/upload_session/start", {}, new Uint8Array());
    assert.equal(start.status, 200);
    const { session_id } = (await start.json()) as { session_id: string };

    let offset = 0;
    while (offset < total) {
      const size = Math.min(appendSize, total - offset);
      const response = await post(
        "files/upload_session/append_v2",
        { cursor: { session_id, offset }, close: offset + size === total },
        patternStream(size, 256 * 1024, hasher),
      );
      assert.equal(response.status, 200, await response.clone().text());
      offset += size;
    }
    const finish = await post("files/upload_session/finish", {
      cursor: { session_id, offset: total },
      commit: { path: "/Loop/big.bin", mode: "add" },
    });
    assert.equal(finish.status, 200);
    const metadata = (await finish.json()) as { size: number; content_hash: string };
    assert.equal(metadata.size, total);
    assert.equal(metadata.content_hash, hasher.hex());
    assert.equal(fake.readFile("/loop/big.bin"), undefined, "bytes above keepBytesLimit are not kept");
  });

  test("a network-error fault becomes a connection reset", async () => {
    fake.injectFault("files/upload", { type: "network-error" });
    const failure = await post("files/upload", { path: "/Loop/reset" }, "x").then(
      () => undefined,
      (error: unknown) => error,
    );
    assert.deepEqual(fake.requests.find((r) => r.status === 0), { route: "files/upload", status: 0 }, "the fault was served");
    if (isDeno) {
      // Deno's fetch silently resends a POST whose reused connection was reset, so the retry may succeed.
      if (failure === undefined) assert.equal(fake.hasFile("/loop/reset"), true);
    } else {
      assert.ok(failure instanceof TypeError, `expected fetch to fail, got ${String(failure)}`);
      assert.match(String(errorCode(failure)), /UND_ERR_SOCKET|ECONNRESET/);
      assert.equal(fake.hasFile("/loop/reset"), false);
    }
    // The server itself keeps serving.
    assert.equal((await post("files/upload", { path: "/Loop/reset" }, "x")).status, 200);
  });

  test("an answer given without reading the body leaves the connection usable", async () => {
    const refused = await post("files/upload", { path: "/Loop/ct" }, new Uint8Array(4 * MiB), { "Content-Type": "text/plain" });
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /Bad HTTP "Content-Type" header/);
    const next = await post("files/upload", { path: "/Loop/ct" }, "ok");
    assert.equal(next.status, 200);
  });

  test("an unhandled route gives a 404 naming method and path", async () => {
    const response = await fetch(`${server.url}/2/files/no_such_route?x=1`, { method: "PUT", body: "x" });
    assert.equal(response.status, 404);
    const text = await response.text();
    assert.match(text, /PUT/);
    assert.match(text, /\/2\/files\/no_such_route/);
  });

  test("requestCount counts every request received", async () => {
    const before = server.requestCount;
    await fetch(`${server.url}/nothing`);
    assert.equal(server.requestCount, before + 1);
  });
});

describe("startLoopbackServer with plain handlers", () => {
  test("streams a response body and passes status text and headers", async () => {
    const server = await startLoopbackServer([
      http.get("*/stream", () => {
        let left = 8;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (left-- === 0) controller.close();
            else controller.enqueue(new Uint8Array(MiB).fill(left));
          },
        });
        return new HttpResponse(body, { status: 207, statusText: "multi/..", headers: { "X-Custom": "yes" } });
      }),
      http.post("*/boom", () => HttpResponse.error()),
    ]);
    try {
      const response = await fetch(`${server.url}/stream`);
      assert.equal(response.status, 207);
      // Deno's HTTP stack replaces custom reason phrases with the standard one.
      if (!isDeno) assert.equal(response.statusText, "multi/..");
      assert.equal(response.headers.get("x-custom"), "yes");
      const bytes = new Uint8Array(await response.arrayBuffer());
      assert.equal(bytes.length, 8 * MiB);
      assert.equal(bytes[0], 7);
      assert.equal(bytes[8 * MiB - 1], 0);
      await assert.rejects(fetch(`${server.url}/boom`, { method: "POST" }), TypeError);
    } finally {
      await server.close();
    }
  });

  test("a handler may clone the request and read both copies", async () => {
    const server = await startLoopbackServer([
      http.post("*/twice", async ({ request }) => {
        const copy = request.clone();
        return HttpResponse.text(`${await copy.text()}|${await request.text()}`);
      }),
    ]);
    try {
      const response = await fetch(`${server.url}/twice`, { method: "POST", body: "abc" });
      assert.equal(await response.text(), "abc|abc");
    } finally {
      await server.close();
    }
  });

  test("a handler that throws gives a 500 naming the route", async () => {
    const server = await startLoopbackServer([
      http.get("*/throws", () => {
        throw new Error("handler exploded");
      }),
    ]);
    try {
      const response = await fetch(`${server.url}/throws`);
      assert.equal(response.status, 500);
      assert.match(await response.text(), /GET \/throws.*handler exploded/);
    } finally {
      await server.close();
    }
  });
});
