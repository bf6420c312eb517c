/**
 * UnmsBackupSource over a real socket (the loopback server feeding FakeUnms's handlers): broken and
 * short transfers must surface as source-interrupted there too, not hang or end quietly. No msw here:
 * its interception would stand between the client and the socket.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { UnmsBackupSource } from "../../../src/adapters/unms/unms-backup-source.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { ByteStream } from "../../../src/domain/ports.ts";
import { FakeUnms } from "../../../src/testing/fakes/unms.ts";
import { startLoopbackServer } from "../../../src/testing/fakes/loopback.ts";
import type { LoopbackServer } from "../../../src/testing/fakes/loopback.ts";
import { backupSourceContract } from "../../../src/testing/contract/backup-source.ts";

const TOKEN = "loopback-secret-token-9c2e";
const unms = new FakeUnms({ apiToken: TOKEN, timezone: "Europe/Lisbon" });
let server: LoopbackServer;
let source: UnmsBackupSource;

before(async () => {
  server = await startLoopbackServer(unms.handlers);
  source = new UnmsBackupSource({ baseUrl: `${server.url}/nms/`, apiToken: TOKEN });
});
after(() => server.close());

async function drain(stream: ByteStream): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += chunk.byteLength;
  return bytes;
}

async function interruption(id: string): Promise<SyncError> {
  try {
    await drain((await source.open(id)).stream);
  } catch (error) {
    assert.ok(SyncError.is(error), `expected a SyncError, got ${String(error)}`);
    assert.ok(!error.message.includes(TOKEN.slice(0, 8)));
    return error;
  }
  assert.fail("expected the download to fail");
}

describe("UnmsBackupSource over a loopback socket", () => {
  test("lists, reads the time zone and streams a backup byte-exact", async () => {
    const backup = unms.addBackup({ size: 3 * 1024 * 1024 + 5 });
    assert.ok((await source.list()).some((b) => b.id === backup.id));
    assert.equal(await source.timeZone(), "Europe/Lisbon");
    const download = await source.open(backup.id);
    assert.equal(download.length, backup.size);
    const chunks: Uint8Array[] = [];
    for await (const chunk of download.stream) chunks.push(chunk);
    assert.ok(Buffer.concat(chunks).equals(unms.expectedBytes(backup.id)));
  });

  test("a body cut short of its content-length is source-interrupted", async () => {
    const backup = unms.addBackup({ size: 2 * 1024 * 1024 });
    unms.injectFault("download", { type: "truncate-after", bytes: 100_000 });
    const error = await interruption(backup.id);
    assert.equal(error.kind, "source-interrupted");
    assert.equal(error.code, "unms.download_interrupted");
    assert.match(error.message, new RegExp(`UNMS backup "${backup.id}" .* broke off after \\d+ of 2097152 bytes`));
  });

  test("a connection reset mid-body is source-interrupted", async () => {
    const backup = unms.addBackup({ size: 2 * 1024 * 1024 });
    unms.injectFault("download", { type: "reset-after", bytes: 500_000 });
    const error = await interruption(backup.id);
    assert.equal(error.kind, "source-interrupted");
    assert.match(error.message, new RegExp(`UNMS backup "${backup.id}" .* broke off after \\d+ of 2097152 bytes: the connection broke`));
  });

  test("a login page or an empty 200 over the socket is refused, naming the backup", async () => {
    const backup = unms.addBackup({ size: 100_000 });
    unms.injectFault("download", { type: "login-page" });
    const page = await interruption(backup.id);
    assert.equal(page.code, "unms.download_refused");
    assert.match(page.message, new RegExp(`backup "${backup.id}".*content-type text/html; charset=utf-8, starting "<!DOCTYPE html><html><head><title>Sign in`));
    unms.injectFault("download", { type: "empty-body" });
    const empty = await interruption(backup.id);
    assert.equal(empty.code, "unms.download_refused");
  });

  test("a base URL without /nms reaches nothing: the fake answers only under /nms/api/v2.1/", async () => {
    const bare = new UnmsBackupSource({ baseUrl: server.url, apiToken: TOKEN });
    await assert.rejects(bare.list(), (error: unknown) => SyncError.is(error) && error.code === "unms.not_found" && /UNMS URL setting/.test(error.message));
  });

  test("a wrong token is unauthorized over the socket too", async () => {
    const wrong = new UnmsBackupSource({ baseUrl: `${server.url}/nms`, apiToken: "not-the-token" });
    await assert.rejects(wrong.list(), (error: unknown) => SyncError.is(error) && error.code === "unms.unauthorized" && error.status === 401);
  });
});

backupSourceContract("UnmsBackupSource over FakeUnms (loopback socket)", async () => {
  const apiToken = "contract-loopback-token";
  const unms = new FakeUnms({ apiToken, timezone: "Australia/Adelaide" });
  const loopback = await startLoopbackServer(unms.handlers);
  return {
    source: new UnmsBackupSource({ baseUrl: `${loopback.url}/nms`, apiToken }),
    seed(backups) {
      for (const backup of backups) unms.addBackup(backup);
    },
    expectedSha256: (id) => unms.expectedSha256(id),
    expectedTimeZone: "Australia/Adelaide",
    teardown: () => loopback.close(),
  };
});
