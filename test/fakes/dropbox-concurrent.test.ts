/**
 * FakeDropbox's concurrent upload sessions against the documented rules (dropbox-api.md section 5;
 * UploadSessionStartError / UploadSessionLookupError / UploadSessionFinishError in the SDK types):
 * no data on start or finish, 4 MiB-aligned offsets, 4 MiB multiples except the closing append, any
 * order, finish only when closed and complete.
 */
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { setupServer } from "msw/node";
import { FakeDropbox, headerSafeJson } from "../../src/testing/fakes/dropbox.ts";
import { refContentHash } from "../../src/testing/fakes/content-hash-ref.ts";
import { patternBytes } from "../../src/testing/contract/backup-store.ts";

const CONTENT = "https://content.dropboxapi.com";
const MiB = 1024 * 1024;
const server = setupServer();
before(() => server.listen({ onUnhandledRequest: "error" }));
after(() => server.close());

function useFake() {
  const fake = new FakeDropbox();
  server.resetHandlers(...fake.handlers);
  const token = fake.issueAccessToken();
  const call = async (route: string, args: unknown, body: Uint8Array = new Uint8Array()) => {
    const response = await fetch(`${CONTENT}/2/files/upload_session/${route}`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream", "Dropbox-API-Arg": headerSafeJson(args) },
      body: body as BodyInit,
    });
    return { status: response.status, json: (await response.json()) as any };
  };
  const start = async () => (await call("start", { session_type: { ".tag": "concurrent" } })).json.session_id as string;
  return { fake, call, start };
}

describe("FakeDropbox: concurrent upload sessions", () => {
  test("appends in any order at explicit offsets; finish (no data) commits the bytes in offset order", async () => {
    const { fake, call, start } = useFake();
    const bytes = patternBytes(8 * MiB + 1000);
    const id = await start();
    // The closing piece last, the middle one first: order of arrival does not matter.
    assert.equal((await call("append_v2", { cursor: { session_id: id, offset: 4 * MiB } }, bytes.subarray(4 * MiB, 8 * MiB))).status, 200);
    assert.equal((await call("append_v2", { cursor: { session_id: id, offset: 0 } }, bytes.subarray(0, 4 * MiB))).status, 200);
    assert.equal((await call("append_v2", { cursor: { session_id: id, offset: 8 * MiB }, close: true }, bytes.subarray(8 * MiB))).status, 200);
    const done = await call("finish", { cursor: { session_id: id, offset: bytes.length }, commit: { path: "/c.unms" } });
    assert.equal(done.status, 200, JSON.stringify(done.json));
    assert.equal(done.json.size, bytes.length);
    assert.equal(done.json.content_hash, refContentHash(bytes));
    assert.deepEqual(fake.readFile("/c.unms"), bytes);
  });

  test("a piece sent again at the same offset is counted (undocumented: clients must not rely on it); the fake keeps the later", async () => {
    const { fake, call, start } = useFake();
    const bytes = patternBytes(4 * MiB + 5);
    const id = await start();
    await call("append_v2", { cursor: { session_id: id, offset: 0 } }, bytes.subarray(0, 4 * MiB));
    await call("append_v2", { cursor: { session_id: id, offset: 0 } }, bytes.subarray(0, 4 * MiB));
    await call("append_v2", { cursor: { session_id: id, offset: 4 * MiB }, close: true }, bytes.subarray(4 * MiB));
    const done = await call("finish", { cursor: { session_id: id, offset: bytes.length }, commit: { path: "/r.unms" } });
    assert.equal(done.json.content_hash, refContentHash(bytes));
    assert.equal(fake.repeatedPieceCount(), 1);
  });

  test("start refuses data and close; appends refuse unaligned offsets and non-multiple sizes unless closing", async () => {
    const { call, start } = useFake();
    const withData = await call("start", { session_type: { ".tag": "concurrent" } }, new Uint8Array(10));
    assert.deepEqual([withData.status, withData.json.error[".tag"]], [409, "concurrent_session_data_not_allowed"]);
    const closed = await call("start", { session_type: { ".tag": "concurrent" }, close: true });
    assert.deepEqual([closed.status, closed.json.error[".tag"]], [409, "concurrent_session_close_not_allowed"]);
    const id = await start();
    const unaligned = await call("append_v2", { cursor: { session_id: id, offset: 1000 } }, new Uint8Array(4 * MiB));
    assert.deepEqual([unaligned.status, unaligned.json.error[".tag"]], [409, "concurrent_session_invalid_offset"]);
    const odd = await call("append_v2", { cursor: { session_id: id, offset: 0 } }, new Uint8Array(MiB));
    assert.deepEqual([odd.status, odd.json.error[".tag"]], [409, "concurrent_session_invalid_data_size"]);
    const probe = await call("append_v2", { cursor: { session_id: id, offset: 4 * MiB } });
    assert.equal(probe.status, 200, "an empty append (a resume probe) is a whole number of 4 MiB blocks: zero");
  });

  test("finish refuses data, an open session, and a session with a gap; nothing after close is accepted", async () => {
    const { fake, call, start } = useFake();
    const id = await start();
    await call("append_v2", { cursor: { session_id: id, offset: 4 * MiB } }, new Uint8Array(4 * MiB));
    const open = await call("finish", { cursor: { session_id: id, offset: 8 * MiB }, commit: { path: "/g.unms" } });
    assert.deepEqual([open.status, open.json.error[".tag"]], [409, "concurrent_session_not_closed"]);
    await call("append_v2", { cursor: { session_id: id, offset: 8 * MiB }, close: true }, new Uint8Array(3));
    const late = await call("append_v2", { cursor: { session_id: id, offset: 0 } }, new Uint8Array(4 * MiB));
    assert.deepEqual([late.status, late.json.error[".tag"]], [409, "closed"]);
    const data = await call("finish", { cursor: { session_id: id, offset: 8 * MiB + 3 }, commit: { path: "/g.unms" } }, new Uint8Array(1));
    assert.deepEqual([data.status, data.json.error[".tag"]], [409, "concurrent_session_data_not_allowed"]);
    const gap = await call("finish", { cursor: { session_id: id, offset: 8 * MiB + 3 }, commit: { path: "/g.unms" } });
    assert.deepEqual([gap.status, gap.json.error[".tag"]], [409, "concurrent_session_missing_data"]);
    assert.equal(fake.listFiles().length, 0);
  });
});
