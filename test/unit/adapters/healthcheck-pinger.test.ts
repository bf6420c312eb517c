/** The health-check pinger against a real loopback receiver: paths, body cap, one retry, warnings without the URL. */
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { HealthcheckPinger, PING_BODY_MAX_BYTES, truncateUtf8 } from "../../../src/adapters/healthcheck/healthcheck-pinger.ts";
import { healthcheckSecrets } from "../../../src/domain/healthcheck-secrets.ts";
import { createNodeHttpFetch } from "../../../src/adapters/http/node-http-fetch.ts";
import { SecretRedactor } from "../../../src/domain/redactor.ts";
import { startHealthcheckReceiver } from "../../e2e/healthcheck-receiver.ts";

const TOKEN = "5bd0a1c2-9f0e-4d3b-8a77-0c1d2e3f4a5b";
const noSleep = async () => {};

test("start and finish POST to <url>/start and <url>/<exit code>; the body is the summary, cut to 10 KB", async (t) => {
  const hc = await startHealthcheckReceiver();
  t.after(() => hc.close());
  const pinger = new HealthcheckPinger({ url: `${hc.url}/${TOKEN}`, fetch: createNodeHttpFetch(), redactor: new SecretRedactor(), sleep: noSleep });
  assert.equal(await pinger.start(), undefined);
  const long = "é".repeat(PING_BODY_MAX_BYTES);
  assert.equal(await pinger.finish(1, long), undefined);
  assert.deepEqual(hc.pings.map((p) => `${p.method} ${p.path}`), [`POST /${TOKEN}/start`, `POST /${TOKEN}/1`]);
  assert.equal(hc.pings[0]!.body, "");
  assert.ok(Buffer.byteLength(hc.pings[1]!.body) <= PING_BODY_MAX_BYTES, `${Buffer.byteLength(hc.pings[1]!.body)} bytes`);
  assert.match(hc.pings[1]!.body, /^é+\n\[cut to 10 KB\]$/);
});

test("a 5xx is retried once, a 4xx is not; the warning quotes the answer with the URL redacted", async (t) => {
  const hc = await startHealthcheckReceiver();
  t.after(() => hc.close());
  const url = `${hc.url}/ping/${TOKEN}`;
  const redactor = new SecretRedactor();
  const pinger = new HealthcheckPinger({ url, fetch: createNodeHttpFetch(), redactor, sleep: noSleep });
  hc.answerWith(503, () => `overloaded while handling ${url}`);
  const warning = await pinger.finish(0, "Sync finished.");
  assert.equal(hc.pings.length, 2);
  assert.ok(warning && !warning.includes(TOKEN) && !warning.includes(url), warning);
  assert.match(warning, /^The health-check ping "\/0" to HEALTHCHECK_URL \/ healthcheckUrl \(not shown: it is secret\) failed: HTTP 503 "overloaded while handling \[redacted\]"/);
  hc.answerWith(404, () => "not found");
  assert.match((await pinger.start()) ?? "", /failed: HTTP 404 "not found"/);
  assert.equal(hc.pings.length, 3);
});

test("a monitor that never answers is given up after the timeout, twice, and reported", async (t) => {
  const sockets = new Set<import("node:net").Socket>();
  const silent = http.createServer(() => {});
  silent.on("connection", (socket) => sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const socket of sockets) socket.destroy();
    silent.close();
  });
  const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/${TOKEN}`;
  const pinger = new HealthcheckPinger({ url, fetch: createNodeHttpFetch(), redactor: new SecretRedactor(), timeoutMs: 50, sleep: noSleep });
  const warning = await pinger.start();
  assert.match(warning ?? "", /failed: no answer within 0.05 s/);
  assert.ok(!warning!.includes(TOKEN));
});

test("the URL's token-sized parts are secrets too; short words are not", () => {
  assert.deepEqual(healthcheckSecrets(`https://user:pass-word-1@hc.example.net/ping/${TOKEN}?k=abcdef`), [
    `https://user:pass-word-1@hc.example.net/ping/${TOKEN}?k=abcdef`,
    TOKEN,
    "pass-word-1",
    "k=abcdef",
  ]);
  assert.equal(truncateUtf8("short", 10), "short");
});
