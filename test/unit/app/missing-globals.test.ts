/**
 * The polyfills the bundle installs on old runtimes, tested on their own (this Node has the real
 * globals, so installing is checked to leave them alone; the Node 16 path runs for real in
 * test/e2e/plugin-runtimes.test.ts).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { abortSignalAny, installAbortSignalHelpers, installMissingGlobals } from "../../../src/app/missing-globals.ts";
import { readableToWeb } from "../../../src/app/node16-globals.ts";

test("abortSignalAny aborts with the reason of the first signal that aborts, once", () => {
  const a = new AbortController();
  const b = new AbortController();
  const any = abortSignalAny([a.signal, b.signal]);
  let events = 0;
  any.addEventListener("abort", () => events++);
  assert.equal(any.aborted, false);
  b.abort(new Error("b went first"));
  a.abort(new Error("a later"));
  assert.equal(any.aborted, true);
  assert.equal((any.reason as Error).message, "b went first");
  assert.equal(events, 1);
});

test("abortSignalAny of an already aborted signal is aborted at once with its reason", () => {
  const a = new AbortController();
  a.abort("early");
  const any = abortSignalAny([new AbortController().signal, a.signal]);
  assert.equal(any.aborted, true);
  assert.equal(any.reason, "early");
});

test("installing leaves globals that exist untouched", async () => {
  const before = { Response: globalThis.Response, fetch: globalThis.fetch, any: AbortSignal.any, throwIfAborted: AbortSignal.prototype.throwIfAborted };
  await installMissingGlobals();
  installAbortSignalHelpers();
  assert.equal(globalThis.Response, before.Response);
  assert.equal(globalThis.fetch, before.fetch);
  assert.equal(AbortSignal.any, before.any);
  assert.equal(AbortSignal.prototype.throwIfAborted, before.throwIfAborted);
});

test("readableToWeb streams every byte, and reads the source only as fast as it is read", async () => {
  let produced = 0;
  const source = new Readable({
    highWaterMark: 4,
    read() {
      produced++;
      this.push(produced <= 5 ? Buffer.from(`chunk${produced};`) : null);
    },
  });
  const reader = readableToWeb(source).getReader();
  const first = await reader.read();
  assert.equal(new TextDecoder().decode(first.value), "chunk1;");
  assert.ok(produced <= 3, `the source ran ahead: ${produced} chunks made for one read`);
  let text = "chunk1;";
  for (let next = await reader.read(); !next.done; next = await reader.read()) text += new TextDecoder().decode(next.value);
  assert.equal(text, "chunk1;chunk2;chunk3;chunk4;chunk5;");
});

test("readableToWeb: cancelling destroys the source; a source error errors the stream", async () => {
  const source = new Readable({ read() { this.push(Buffer.from("x")); } });
  const stream = readableToWeb(source);
  const reader = stream.getReader();
  await reader.read();
  await reader.cancel(new Error("enough"));
  assert.equal(source.destroyed, true);

  const failing = new Readable({ read() { this.destroy(new Error("socket reset")); } });
  await assert.rejects(readableToWeb(failing).getReader().read(), /socket reset/);
});
