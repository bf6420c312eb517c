/**
 * `createBackupSync({ unms: { url, apiToken, caFile | ca | tlsInsecure } })` against FakeUnms over
 * real loopback HTTPS (openssl-made certificates; no msw here, it would stand between the client
 * and the socket), into a MemoryBackupStore.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MemoryBackupStore, SyncError, createBackupSync, type Reporter, type SyncEvent } from "../../src/index.ts";
import { startLoopbackServer, type LoopbackServer } from "../../src/testing/fakes/loopback.ts";
import { makeTestCertificates, type TestCertificates } from "../fakes/tls-certificates.ts";
import { FakeUnms } from "../../src/testing/fakes/unms.ts";

const TOKEN = "unms-api-token-library-tls-7d21";
const unms = new FakeUnms({ apiToken: TOKEN, timezone: "Europe/Prague" });
unms.addBackup({ id: "0e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b", createdAt: "2024-03-01T10:00:00Z", size: 70_000 });
unms.addBackup({ id: "1f2a3b4c-5d6e-4f7a-9b8c-0d1e2f3a4b5c", createdAt: "2024-03-02T10:00:00Z", size: 50_000 });

let certs: TestCertificates;
let selfSigned: LoopbackServer;
let caSigned: LoopbackServer;
before(async () => {
  certs = makeTestCertificates();
  selfSigned = await startLoopbackServer(unms.handlers, { tls: certs.selfSigned });
  caSigned = await startLoopbackServer(unms.handlers, { tls: certs.trusted });
});
after(async () => {
  await selfSigned.close();
  await caSigned.close();
  certs.remove();
});

function recorder(): Reporter & { events: SyncEvent[] } {
  const events: SyncEvent[] = [];
  return { events, report: (event) => void events.push(event) };
}

function configFailure(run: () => unknown): SyncError {
  try {
    run();
  } catch (error) {
    assert.ok(SyncError.is(error), `expected a SyncError, got ${String(error)}`);
    assert.equal(error.kind, "config");
    return error;
  }
  assert.fail("expected createBackupSync to throw");
}

describe("createBackupSync with a UNMS behind a certificate no public CA signed", () => {
  test("without TLS options: sync() rejects at once naming the problem, the URL and unms.caFile / unms.tlsInsecure", async () => {
    const reporter = recorder();
    const sync = createBackupSync({ unms: { url: `${selfSigned.url}/nms`, apiToken: TOKEN }, store: new MemoryBackupStore(), reporter });
    const connections = selfSigned.connectionCount;
    await assert.rejects(sync.sync(), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.code, "unms.tls_self_signed");
      assert.equal(error.kind, "config");
      assert.ok(error.message.includes(`${selfSigned.url}/nms/api/v2.1/nms/backups`));
      assert.match(error.message, /library: unms\.caFile/);
      assert.match(error.message, /library: unms\.tlsInsecure/);
      assert.ok(!error.message.includes(TOKEN.slice(0, 10)));
      return true;
    });
    assert.equal(selfSigned.connectionCount - connections, 1, "not retried");
    assert.ok(!reporter.events.some((e) => e.type === "warning"), "no retry warnings");
  });

  test("unms.caFile and unms.ca (PEM text) each make the CA-signed UNMS sync", async () => {
    for (const tls of [{ caFile: certs.caFile }, { ca: certs.caPem }, { ca: [certs.caPem] }]) {
      const store = new MemoryBackupStore();
      const report = await createBackupSync({ unms: { url: `${caSigned.url}/nms`, apiToken: TOKEN, ...tls }, store }).sync();
      assert.equal(report.uploaded.length, 2, JSON.stringify(Object.keys(tls)));
      assert.equal(store.paths().length, 2);
    }
  });

  test("unms.tlsInsecure syncs from the self-signed UNMS and warns on every sync, naming the option", async () => {
    const reporter = recorder();
    const sync = createBackupSync({ unms: { url: `${selfSigned.url}/nms`, apiToken: TOKEN, tlsInsecure: true }, store: new MemoryBackupStore(), reporter });
    for (const uploads of [2, 0]) {
      const report = await sync.sync();
      assert.equal(report.uploaded.length, uploads);
      assert.ok(report.warnings[0]?.startsWith("unms.tlsInsecure is on: the UNMS certificate is not verified"), report.warnings[0]);
    }
    const warnings = reporter.events.filter((e) => e.type === "warning" && e.message.startsWith("unms.tlsInsecure"));
    assert.equal(warnings.length, 2);
  });

  test("an unusable unms.caFile or unms.ca is refused by createBackupSync, naming the option and the path", () => {
    const base = { url: `${caSigned.url}/nms`, apiToken: TOKEN };
    const store = new MemoryBackupStore();
    const missing = join(certs.dir, "missing.pem");
    assert.match(configFailure(() => createBackupSync({ unms: { ...base, caFile: missing }, store })).message, new RegExp(`unms\\.caFile names ${missing.replace(/[.]/g, "\\.")}, which does not exist`));
    const keyFile = join(certs.dir, "only-a-key.pem");
    writeFileSync(keyFile, certs.selfSigned.key);
    assert.match(configFailure(() => createBackupSync({ unms: { ...base, caFile: keyFile }, store })).message, /unms\.caFile names .*only-a-key\.pem, which holds no PEM certificate .*private key/);
    assert.match(configFailure(() => createBackupSync({ unms: { ...base, ca: ["not a certificate"] }, store })).message, /unms\.ca\[0\] is text that holds no PEM certificate/);
    assert.match(configFailure(() => createBackupSync({ unms: { ...base, tlsInsecure: "yes" as unknown as boolean }, store })).message, /unms\.tlsInsecure must be true or false/);
  });

  test("TLS options together with an own fetch are refused: that fetch would ignore them", () => {
    const error = configFailure(() =>
      createBackupSync({ unms: { url: `${caSigned.url}/nms`, apiToken: TOKEN, caFile: certs.caFile }, store: new MemoryBackupStore(), fetch: globalThis.fetch }),
    );
    assert.match(error.message, /fetch replaces it/);
  });
});
