/**
 * The UNMS fake itself (others' tests trust it). That the generated schema is current is checked
 * once per `npm test`, by its check:generated phase (scripts/check-generated.mjs).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { getResponse } from "msw";
import { backupChunks, FakeUnms } from "../../../src/testing/fakes/unms.ts";

const TOKEN = "fake-test-token";

/** `token` null sends no x-auth-token header. */
function get(unms: FakeUnms, path: string, token: string | null = TOKEN): Promise<Response | undefined> {
  const headers: Record<string, string> = token === null ? {} : { "x-auth-token": token };
  return getResponse(unms.handlers, new Request(`http://anywhere.test:1234/nms/api/v2.1/${path}`, { headers }));
}

async function bytesOf(response: Response | undefined): Promise<Uint8Array> {
  assert.ok(response, "no handler answered");
  return new Uint8Array(await response.arrayBuffer());
}

describe("FakeUnms", () => {
  test("content is deterministic per id, differs between ids, and has the asked size", () => {
    const unms = new FakeUnms({ apiToken: TOKEN });
    const a = unms.addBackup({ id: "3f1c2a9e-0000-4000-8000-00000000000a", size: 70_000 });
    const b = unms.addBackup({ id: "3f1c2a9e-0000-4000-8000-00000000000b", size: 70_000 });
    assert.equal(unms.expectedBytes(a.id).byteLength, 70_000);
    const other = new FakeUnms({ apiToken: "another" });
    other.addBackup({ id: a.id, size: 70_000 });
    assert.deepEqual(unms.expectedBytes(a.id), other.expectedBytes(a.id));
    assert.notDeepEqual(unms.expectedBytes(a.id), unms.expectedBytes(b.id));
    const sha = createHash("sha256").update(unms.expectedBytes(a.id)).digest("hex");
    assert.equal(unms.expectedSha256(a.id), sha);
  });

  test("chunks of one backup differ from each other, so reordering changes the hash", () => {
    const [first, second] = [...backupChunks("same", 2 * 65_536)];
    assert.ok(first && second);
    assert.notDeepEqual(first, second);
  });

  // Pulling the first chunk of a 1 GiB backup shows the content is made chunk by chunk, not held
  // whole; the chunk arithmetic is checked on 64 MiB + 5 bytes (walking 1 GiB took 5 s, issue 10).
  test("generates 1 GiB without holding it", () => {
    const before = process.memoryUsage().arrayBuffers;
    const huge = backupChunks("huge", 1024 ** 3);
    const first = huge.next();
    assert.equal(first.done, false);
    assert.equal(first.value?.byteLength, 65_536);
    const held = process.memoryUsage().arrayBuffers - before;
    assert.ok(held < 16 * 1024 ** 2, `the first chunk of 1 GiB cost ${held} bytes of buffers`);
    huge.return(undefined);

    let bytes = 0;
    let chunks = 0;
    for (const chunk of backupChunks("huge", 64 * 1024 ** 2 + 5)) {
      bytes += chunk.byteLength;
      chunks += 1;
    }
    assert.equal(bytes, 64 * 1024 ** 2 + 5);
    assert.equal(chunks, 1_025);
  });

  test("lists backups with defaults, serves them with content-length, and counts requests", async () => {
    const unms = new FakeUnms({ apiToken: TOKEN });
    const backup = unms.addBackup();
    assert.equal(backup.state, "success");
    assert.equal(backup.size, 1024 * 1024);
    const listed = (await (await get(unms, "nms/backups"))?.json()) as { id: string }[];
    assert.deepEqual(listed.map((b) => b.id), [backup.id]);
    const download = await get(unms, `nms/backups/${backup.id}`);
    assert.equal(download?.headers.get("content-length"), String(1024 * 1024));
    assert.deepEqual(await bytesOf(download), unms.expectedBytes(backup.id));
    assert.equal(unms.requestCount, 2);
    assert.deepEqual(unms.requestCounts, { list: 1, download: 1, settings: 0 });
  });

  test("answers 401 without the right token and 404 for an unknown backup, in UNMS's error shape", async () => {
    const unms = new FakeUnms({ apiToken: TOKEN });
    const unauthorized = await get(unms, "nms/backups", null);
    assert.equal(unauthorized?.status, 401);
    assert.deepEqual(await unauthorized?.json(), { statusCode: 401, error: "Unauthorized" });
    assert.equal((await get(unms, "nms/backups", "wrong"))?.status, 401);
    const missing = await get(unms, "nms/backups/nope");
    assert.equal(missing?.status, 404);
    assert.deepEqual(await missing?.json(), { statusCode: 404, error: "Not Found", message: "Backup nope not found." });
  });

  test("settings carry the time zone, or fail with 500 when it is null", async () => {
    assert.equal(((await (await get(new FakeUnms({ apiToken: TOKEN }), "nms/settings"))?.json()) as { timezone: string }).timezone, "Europe/Prague");
    assert.equal((await get(new FakeUnms({ apiToken: TOKEN, timezone: null }), "nms/settings"))?.status, 500);
  });

  test("faults apply the given number of times, then the route behaves again", async () => {
    const unms = new FakeUnms({ apiToken: TOKEN });
    const backup = unms.addBackup({ size: 200_000 });
    unms.injectFault("list", { type: "status", status: 502 }, 2);
    assert.equal((await get(unms, "nms/backups"))?.status, 502);
    assert.equal((await get(unms, "nms/backups"))?.status, 502);
    assert.equal((await get(unms, "nms/backups"))?.status, 200);

    unms.injectFault("download", { type: "truncate-after", bytes: 1000 });
    const short = await get(unms, `nms/backups/${backup.id}`);
    assert.equal(short?.headers.get("content-length"), "200000");
    assert.equal((await bytesOf(short)).byteLength, 1000);

    unms.injectFault("download", { type: "reset-after", bytes: 1000 });
    await assert.rejects(bytesOf(await get(unms, `nms/backups/${backup.id}`)), /reset the connection/);

    unms.injectFault("settings", { type: "non-json" });
    const html = await get(unms, "nms/settings");
    assert.equal(html?.headers.get("content-type"), "text/html");
  });

  test("list items have exactly the swagger's UnmsBackup fields, size being the listed one", async () => {
    const unms = new FakeUnms({ apiToken: TOKEN });
    const backup = unms.addBackup({ size: 1000, listedSize: 1024, origin: "manual" });
    unms.addListItem({ id: "3f1c2a9e-0000-4000-8000-00000000dead", state: "failed", createdAt: null });
    const listed = (await (await get(unms, "nms/backups"))?.json()) as Record<string, unknown>[];
    assert.deepEqual(listed[0], {
      id: backup.id,
      state: "success",
      createdAt: backup.createdAt,
      size: 1024,
      origin: "manual",
      compatible: true,
      unmsVersion: { major: 2, minor: 4, patch: 211 },
    });
    assert.deepEqual(listed[1], { id: "3f1c2a9e-0000-4000-8000-00000000dead", state: "failed", createdAt: null });
    assert.equal((await bytesOf(await get(unms, `nms/backups/${backup.id}`))).byteLength, 1000, "the download sends the real bytes");
    assert.equal(unms.downloadSize(backup.id), 1000);
    assert.equal(unms.backups()[0]!.size, 1024);
  });

  test("answers only under the /nms/api/v2.1/ prefix", async () => {
    const unms = new FakeUnms({ apiToken: TOKEN });
    const headers = { "x-auth-token": TOKEN };
    assert.equal(await getResponse(unms.handlers, new Request("http://anywhere.test:1234/api/v2.1/nms/backups", { headers })), undefined);
    assert.equal(await getResponse(unms.handlers, new Request("http://anywhere.test:1234/crm/api/v2.1/nms/backups", { headers })), undefined);
    assert.equal((await getResponse(unms.handlers, new Request("http://anywhere.test:1234/nms/api/v2.1/nms/backups", { headers })))?.status, 200);
  });

  test("download faults: a login page, an empty body, a body cut short without a length, no content-length at all", async () => {
    const unms = new FakeUnms({ apiToken: TOKEN });
    const backup = unms.addBackup({ size: 200_000 });
    unms.injectFault("download", { type: "login-page" });
    const page = await get(unms, `nms/backups/${backup.id}`);
    assert.equal(page?.status, 200);
    assert.match(page?.headers.get("content-type") ?? "", /^text\/html/);
    unms.injectFault("download", { type: "empty-body" });
    const empty = await get(unms, `nms/backups/${backup.id}`);
    assert.equal(empty?.status, 200);
    assert.equal((await bytesOf(empty)).byteLength, 0);
    unms.injectFault("download", { type: "cut-short-unannounced", bytes: 70_000 });
    const cut = await get(unms, `nms/backups/${backup.id}`);
    assert.equal(cut?.headers.get("content-length"), null);
    assert.equal((await bytesOf(cut)).byteLength, 70_000);
    const lengthless = new FakeUnms({ apiToken: TOKEN, downloadContentLength: false });
    const other = lengthless.addBackup({ size: 5 });
    const whole = await get(lengthless, `nms/backups/${other.id}`);
    assert.equal(whole?.headers.get("content-length"), null);
    assert.equal((await bytesOf(whole)).byteLength, 5);
  });

  test("removeBackup() makes a backup unknown", async () => {
    const unms = new FakeUnms({ apiToken: TOKEN });
    const backup = unms.addBackup({ size: 1 });
    unms.removeBackup(backup.id);
    assert.deepEqual(unms.backups(), []);
    assert.equal((await get(unms, `nms/backups/${backup.id}`))?.status, 404);
  });
});
