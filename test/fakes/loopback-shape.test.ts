/**
 * The loopback server's WAN model (LinkShape, used by the bench): latency both ways plus server work,
 * per-connection and aggregate caps on request bodies. These tests take real time (under a second):
 * the model is made of real time.
 */
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { request as httpRequest, Agent } from "node:http";
import { http, HttpResponse } from "msw";
import { Pacer, startLoopbackServer } from "../../src/testing/fakes/loopback.ts";

const MiB = 1024 * 1024;
const handlers = [
  http.post("*/sink", async ({ request }) => {
    let bytes = 0;
    for await (const piece of request.body as unknown as AsyncIterable<Uint8Array>) bytes += piece.length;
    return HttpResponse.json({ bytes });
  }),
];

/** POSTs `bytes` on its own connection; resolves with the milliseconds until the answer was read. */
function post(url: string, bytes: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}/sink`, { method: "POST", agent: new Agent({ keepAlive: false }) }, (res) => {
      res.resume();
      res.on("end", () => resolve(performance.now() - started));
    });
    req.on("error", reject);
    req.end(new Uint8Array(bytes));
  });
}

describe("loopback LinkShape", () => {
  test("Pacer queues reservations: each waits for the bytes reserved before it", () => {
    const pacer = new Pacer(MiB, 20);
    assert.equal(pacer.reserve(MiB / 2, 0), 480, "a fresh pacer grants its burst (20 ms) once");
    assert.equal(pacer.reserve(MiB / 2, 0), 980);
    assert.equal(pacer.reserve(MiB, 5000), 980, "an idle pacer starts afresh, with its burst");
  });

  test("Pacer keeps the rate when a wait ends late: the lateness is not lost", () => {
    const pacer = new Pacer(MiB, 20);
    pacer.reserve(MiB / 2, 0); // free at 480
    // Woken 3 ms late (483): the next half MiB is due 500 ms after 480, not after 483.
    assert.equal(pacer.reserve(MiB / 2, 483), 497);
    // Woken 30 ms late (free at 980), more than the burst: only 20 ms of it is made up (990 + 500).
    assert.equal(pacer.reserve(MiB / 2, 1010), 480);
  });

  test("a request costs latency twice plus the route's work, and its body the per-connection rate", async () => {
    const server = await startLoopbackServer(handlers, {
      shape: { latencyMs: 40, workMs: (path) => (path === "/sink" ? 60 : 0), connectionBytesPerSecond: 4 * MiB },
    });
    try {
      // 40 + 230 (1 MiB at 4 MiB/s, less the 20 ms burst) + 60 + 40. No try may be faster than the model; the quickest of
      // three must not be much slower (one try alone took 1.8 s on a machine at load 30, issue 10).
      const tries = [await post(server.url, MiB), await post(server.url, MiB), await post(server.url, MiB)];
      for (const ms of tries) assert.ok(ms >= 370, `took ${ms.toFixed(0)} ms`);
      const ms = Math.min(...tries);
      assert.ok(ms < 1500, `the quickest of three took ${ms.toFixed(0)} ms`);
    } finally {
      await server.close();
    }
  });

  test("two connections share the aggregate cap", async () => {
    const server = await startLoopbackServer(handlers, {
      shape: { latencyMs: 0, connectionBytesPerSecond: 8 * MiB, aggregateBytesPerSecond: 4 * MiB },
    });
    try {
      const started = performance.now();
      await Promise.all([post(server.url, MiB), post(server.url, MiB)]);
      const ms = performance.now() - started;
      // 2 MiB at 4 MiB/s together, though each connection alone could do 8 MiB/s.
      assert.ok(ms >= 450, `took ${ms.toFixed(0)} ms`);
    } finally {
      await server.close();
    }
  });
});
