/**
 * Downloads started part-way (resumed uploads) against FakeUnms over a real socket, with UNMS
 * honouring Range (206 + Content-Range) and ignoring it (200, whole body, the first bytes dropped).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { http, HttpResponse } from "msw";
import { UnmsBackupSource } from "../../../src/adapters/unms/unms-backup-source.ts";
import { contentRangeProblem } from "../../../src/adapters/unms/resume-range.ts";
import { skipBytes } from "../../../src/domain/skip-bytes.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { ByteStream } from "../../../src/domain/ports.ts";
import { FakeUnms } from "../../../src/testing/fakes/unms.ts";
import { startLoopbackServer, type LoopbackServer } from "../../../src/testing/fakes/loopback.ts";

const MiB = 1024 * 1024;
const TOKEN = "range-secret-token-51ab";
const unms = new FakeUnms({ apiToken: TOKEN });
const overrides: ReturnType<typeof http.get>[] = [];
let server: LoopbackServer;
let source: UnmsBackupSource;

before(async () => {
  server = await startLoopbackServer(() => [...overrides, ...unms.handlers]);
  source = new UnmsBackupSource({ baseUrl: `${server.url}/nms`, apiToken: TOKEN });
});
after(() => server.close());

async function collect(stream: ByteStream): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

describe("UnmsBackupSource.open from an offset", () => {
  const cases = [
    { name: "UNMS honouring Range: 206 is used as it comes, only the rest travels", honourRange: true, bytesSent: MiB + 4321 },
    { name: "UNMS ignoring Range: the whole body comes, the first bytes are read and dropped", honourRange: false, bytesSent: 3 * MiB + 4321 },
  ];
  for (const { name, honourRange, bytesSent } of cases) {
    test(name, async () => {
      const backup = unms.addBackup({ size: 3 * MiB + 4321 });
      unms.honourRange = honourRange;
      const sentBefore = unms.downloadBytesSent;
      const download = await source.open(backup.id, undefined, { offset: 2 * MiB });
      assert.equal(download.offset, 2 * MiB);
      assert.equal(download.length, MiB + 4321);
      const bytes = await collect(download.stream);
      assert.deepEqual(bytes, Buffer.from(unms.expectedBytes(backup.id).subarray(2 * MiB)));
      assert.equal(unms.downloadRanges.at(-1), `bytes=${2 * MiB}-`, "the Range header is sent either way");
      assert.equal(unms.downloadBytesSent - sentBefore, bytesSent);
      unms.honourRange = true;
    });
  }

  test("offset 0 sends no Range header at all", async () => {
    const backup = unms.addBackup({ size: 1000 });
    const download = await source.open(backup.id);
    assert.equal((await collect(download.stream)).length, 1000);
    assert.equal(unms.downloadRanges.at(-1), null);
  });

  test("a 206 whose Content-Range starts elsewhere is refused, naming the backup and the header", async (t) => {
    const backup = unms.addBackup({ size: 2 * MiB });
    overrides.push(http.get("*/api/v2.1/nms/backups/:id", () =>
      new HttpResponse(new Uint8Array(10), { status: 206, headers: { "content-range": `bytes 0-9/${2 * MiB}`, "content-length": "10" } })));
    t.after(() => overrides.pop());
    await assert.rejects(source.open(backup.id, undefined, { offset: MiB }), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.code, "unms.bad_content_range");
      assert.match(error.message, new RegExp(`backup "${backup.id}".*Range bytes=${MiB}-.*does not start at byte ${MiB}`));
      return true;
    });
  });

  test("a 200 body shorter than the offset fails as an interruption, never a quiet short stream", async () => {
    const backup = unms.addBackup({ size: MiB });
    unms.honourRange = false;
    // The resume point lies past the end of what UNMS now sends (the backup changed).
    const download = await source.open(backup.id, undefined, { offset: 2 * MiB }).catch((e: unknown) => e);
    unms.honourRange = true;
    assert.ok(!(download instanceof Error), String(download));
    await assert.rejects(collect((download as { stream: ByteStream }).stream), /ended after 1048576 bytes, before byte 2097152/);
  });
});

describe("Content-Range checks", () => {
  test("accepts the range asked for, refuses others with the reason", () => {
    assert.equal(contentRangeProblem("bytes 100-999/1000", 100), undefined);
    assert.equal(contentRangeProblem("bytes 100-999/*", 100), undefined);
    assert.match(contentRangeProblem(null, 100) ?? "", /no Content-Range/);
    assert.match(contentRangeProblem("bytes 0-999/1000", 100) ?? "", /does not start at byte 100/);
    assert.match(contentRangeProblem("bytes 100-500/1000", 100) ?? "", /does not run to the end/);
    assert.match(contentRangeProblem("items 1-2", 100) ?? "", /cannot be read/);
  });

  test("skipBytes drops exactly the first bytes across piece boundaries", async () => {
    async function* pieces() {
      yield new Uint8Array([1, 2, 3]);
      yield new Uint8Array([4, 5]);
      yield new Uint8Array([6, 7, 8]);
    }
    assert.deepEqual([...(await collect(skipBytes(pieces(), 4, "x")))], [5, 6, 7, 8]);
  });
});
