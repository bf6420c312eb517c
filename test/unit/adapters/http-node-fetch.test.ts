import { describe, test, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { BODY_LENGTH, createNodeHttpFetch, type SizedBody } from "../../../src/adapters/http/node-http-fetch.ts";

interface Seen { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer; remotePort: number }

async function startServer(handler?: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void) {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => {
      const body = Buffer.concat(parts);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body, remotePort: req.socket.remotePort! });
      if (handler) return handler(req, res, body);
      res.writeHead(200, { "content-type": "application/json", "x-multi": ["a", "b"] });
      res.end(JSON.stringify({ ok: true, length: body.length }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe("createNodeHttpFetch()", async () => {
  const server = await startServer();
  after(() => server.close());

  test("rewrites Dropbox hosts to baseUrl and keeps the path and query", async () => {
    const fetch = createNodeHttpFetch({ baseUrl: server.url });
    for (const host of ["api.dropboxapi.com", "content.dropboxapi.com", "api.dropbox.com"]) {
      const response = await fetch(`https://${host}/2/files/list_folder?x=1`, { method: "POST", body: "{}" });
      assert.equal(response.status, 200);
      await response.text();
      assert.equal(server.seen.at(-1)!.url, "/2/files/list_folder?x=1");
    }
  });

  test("sends byte bodies exactly, with content-length and the given headers", async () => {
    const fetch = createNodeHttpFetch({ baseUrl: server.url });
    const whole = new Uint8Array(100_000).map((_, i) => i % 251);
    const view = whole.subarray(10, 70_010);
    const response = await fetch("https://content.dropboxapi.com/2/files/upload", {
      method: "POST",
      headers: { "Content-Type": "application/octet-stream", "Dropbox-API-Arg": '{"path":"/a"}' },
      body: view,
    });
    assert.deepEqual(await response.json(), { ok: true, length: 70_000 });
    const seen = server.seen.at(-1)!;
    assert.equal(seen.method, "POST");
    assert.equal(seen.headers["content-length"], "70000");
    assert.equal(seen.headers["dropbox-api-arg"], '{"path":"/a"}');
    assert.ok(seen.body.equals(Buffer.from(view)));
  });

  test("streams a sized body (the upload spool's) with its content-length, not chunked, iterating it afresh per request", async () => {
    const fetch = createNodeHttpFetch({ baseUrl: server.url });
    const pieces = [new Uint8Array(40_000).fill(1), new Uint8Array(25_000).fill(2)];
    let iterations = 0;
    const body: SizedBody = {
      [BODY_LENGTH]: 65_000,
      async *[Symbol.asyncIterator]() {
        iterations += 1;
        yield* pieces;
      },
    };
    for (let i = 0; i < 2; i++) {
      const response = await fetch("https://content.dropboxapi.com/2/files/upload_session/append_v2", { method: "POST", body: body as unknown as BodyInit });
      assert.deepEqual(await response.json(), { ok: true, length: 65_000 });
      const seen = server.seen.at(-1)!;
      assert.equal(seen.headers["content-length"], "65000");
      assert.equal(seen.headers["transfer-encoding"], undefined);
      assert.ok(seen.body.equals(Buffer.concat(pieces)));
    }
    assert.equal(iterations, 2);
  });

  test("sends an empty POST with content-length 0", async () => {
    const fetch = createNodeHttpFetch({ baseUrl: server.url });
    await (await fetch("https://content.dropboxapi.com/2/files/upload_session/finish", { method: "POST", body: null })).text();
    assert.equal(server.seen.at(-1)!.headers["content-length"], "0");
  });

  test("returns a WHATWG Response with status, multi-valued headers and a streaming body", async () => {
    const fetch = createNodeHttpFetch();
    const response = await fetch(`${server.url}/anything`);
    assert.ok(response instanceof Response);
    assert.equal(response.ok, true);
    assert.equal(response.headers.get("content-type"), "application/json");
    assert.equal(response.headers.get("x-multi"), "a, b");
    assert.ok(response.body instanceof ReadableStream);
    assert.equal((await response.json()).ok, true);
  });

  test("reuses the connection between sequential requests (keep-alive)", async () => {
    const fetch = createNodeHttpFetch();
    await (await fetch(`${server.url}/one`)).text();
    await (await fetch(`${server.url}/two`)).text();
    const [a, b] = server.seen.slice(-2);
    assert.equal(a!.remotePort, b!.remotePort);
  });

  test("does not rewrite other hosts", async () => {
    const fetch = createNodeHttpFetch({ baseUrl: "http://127.0.0.1:1" });
    const response = await fetch(`${server.url}/direct`);
    assert.equal(response.status, 200);
    await response.text();
    assert.equal(server.seen.at(-1)!.url, "/direct");
  });

  test("rejects with a TypeError carrying the cause when the connection fails", async () => {
    const closed = await startServer();
    await closed.close();
    const fetch = createNodeHttpFetch({ baseUrl: closed.url });
    await assert.rejects(fetch("https://api.dropboxapi.com/2/files/list_folder", { method: "POST" }), (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, /fetch failed: POST http:\/\/127\.0\.0\.1:\d+\/2\/files\/list_folder/);
      assert.equal((error.cause as NodeJS.ErrnoException).code, "ECONNREFUSED");
      return true;
    });
  });

  test("rejects with the abort reason when the signal fires mid-request", async () => {
    let release!: () => void;
    const slow = await startServer((_req, res) => { release = () => res.end("late"); });
    after(() => slow.close());
    const fetch = createNodeHttpFetch();
    const controller = new AbortController();
    const pending = fetch(`${slow.url}/slow`, { signal: controller.signal });
    while (slow.seen.length === 0) await new Promise((resolve) => setImmediate(resolve));
    controller.abort();
    await assert.rejects(pending, { name: "AbortError" });
    release();
  });

  test("rejects an already aborted signal before sending", async () => {
    const fetch = createNodeHttpFetch();
    const before = server.seen.length;
    await assert.rejects(fetch(`${server.url}/x`, { signal: AbortSignal.abort() }), { name: "AbortError" });
    assert.equal(server.seen.length, before);
  });

  test("gives a null body for 204 answers", async () => {
    const empty = await startServer((_req, res) => { res.writeHead(204); res.end(); });
    after(() => empty.close());
    const response = await createNodeHttpFetch()(`${empty.url}/`, { method: "POST", body: "x" });
    assert.equal(response.status, 204);
    assert.equal(response.body, null);
  });
});
