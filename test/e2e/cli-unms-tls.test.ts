/**
 * The built command line (node dist/cli.mjs sync) against FakeUnms served over real HTTPS on
 * loopback, with certificates openssl makes at test time: a certificate UISP really has (self-signed,
 * internal CA, wrong host, expired) fails the run at once with exit 2, in plain words, naming the URL
 * and both settings; UNMS_CA_FILE and UNMS_TLS_INSECURE=true make it work, for UNMS only.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import type { TestContext } from "node:test";
import { makeTestCertificates, type KeyAndCertificate, type TestCertificates } from "../fakes/tls-certificates.ts";
import { explain, lastJsonLine, MiB, startHarness, type Harness } from "./helpers.ts";

let certs: TestCertificates;
before(() => {
  certs = makeTestCertificates();
});
after(() => certs.remove());

const BACKUP_IDS = ["6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "7b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e"];

/** An authorized harness whose UNMS speaks HTTPS with `pair`, holding two backups. */
async function tlsHarness(t: TestContext, pair: KeyAndCertificate, spawn = false): Promise<Harness> {
  const h = await startHarness({ unmsTls: pair, spawn });
  t.after(() => h.close());
  h.baseEnv.DROPBOX_REFRESH_TOKEN = h.dropbox.issueRefreshToken();
  h.unms.addBackup({ id: BACKUP_IDS[0], createdAt: "2024-03-01T10:00:00Z", size: 2 * MiB + 3 });
  h.unms.addBackup({ id: BACKUP_IDS[1], createdAt: "2024-03-02T10:00:00Z", size: MiB });
  return h;
}

function storedCount(h: Harness): number {
  return h.dropbox.listFiles().filter((f) => f.path.startsWith("/Backups/")).length;
}

function assertCertificateFailure(h: Harness, run: Awaited<ReturnType<Harness["run"]>>, words: RegExp): void {
  assert.equal(run.code, 2, explain(run));
  const error = run.output.split("\n").find((line) => line.startsWith("ERROR: "));
  assert.ok(error, `an ERROR line\n${explain(run)}`);
  assert.match(error, words);
  assert.ok(error.includes(`${h.unmsServer.url}/nms/api/v2.1/nms/backups`), `the URL is named: ${error}`);
  assert.match(error, /UNMS_CA_FILE \(UCRM plugin: unmsCaFile/);
  assert.match(error, /UNMS_TLS_INSECURE=true \(UCRM plugin: unmsTlsInsecure/);
  assert.match(error, /This is not retried/);
  assert.doesNotMatch(run.output, /Retrying|attempt \d|check that UNMS is running/);
  assert.equal(lastJsonLine(run).exitCode, 2);
  assert.equal(storedCount(h), 0, "nothing reached Dropbox");
}

test("a self-signed UNMS fails at once with exit 2: one connection, no retry, the problem, URL and settings named", async (t) => {
  const h = await tlsHarness(t, certs.selfSigned);
  const started = performance.now();
  const run = await h.run(["sync", "--json"]);
  const seconds = (performance.now() - started) / 1000;
  assertCertificateFailure(h, run, /certificate is self-signed and not trusted here \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
  assert.equal(h.unmsServer.connectionCount, 1, "one attempt only");
  assert.equal(h.unmsServer.requestCount, 0, "no request got past the handshake");
  // With retries the first back-off alone would be 2 s; the process start is the rest.
  assert.ok(seconds < 5, `took ${seconds.toFixed(1)} s`);
});

test("an internal-CA UNMS: refused as unknown issuer, then synced with UNMS_CA_FILE", async (t) => {
  const h = await tlsHarness(t, certs.trusted);
  const refused = await h.run(["sync", "--json"]);
  assertCertificateFailure(h, refused, /issued by a CA that is not trusted here \(unknown issuer\)/);

  const run = await h.run(["sync", "--json"], { UNMS_CA_FILE: certs.caFile });
  assert.equal(run.code, 0, explain(run));
  const summary = lastJsonLine(run);
  assert.equal(summary.uploaded.length, 2);
  assert.equal(summary.bytesUploaded, 3 * MiB + 3);
  for (const id of BACKUP_IDS) {
    const file = h.dropbox.listFiles().find((f) => f.path.includes(id));
    assert.equal(file?.contentHash, h.unms.expectedContentHash(id), `stored ${id} whole`);
  }
  assert.doesNotMatch(run.output, /WARNING/);
});

// A spawned smoke test of the bundle's UNMS TLS; the other scenarios run in process.
test("UNMS_TLS_INSECURE=true syncs from a self-signed UNMS and warns on every run, naming the setting", async (t) => {
  const h = await tlsHarness(t, certs.selfSigned, true);
  for (const expectedUploads of [2, 0]) {
    const run = await h.run(["sync", "--json"], { UNMS_TLS_INSECURE: "true" });
    assert.equal(run.code, 0, explain(run));
    const warning = run.output.split("\n").find((line) => line.startsWith("WARNING: UNMS_TLS_INSECURE"));
    assert.ok(warning, `a WARNING naming UNMS_TLS_INSECURE\n${explain(run)}`);
    assert.match(warning, /the UNMS certificate is not verified/);
    const summary = lastJsonLine(run);
    assert.equal(summary.uploaded.length, expectedUploads);
    assert.ok((summary.warnings as string[]).some((w) => w.startsWith("UNMS_TLS_INSECURE")), "the JSON summary carries the warning");
  }
  assert.equal(storedCount(h), 2);
});

test("a certificate for another host name is refused as such even with its CA trusted", async (t) => {
  const h = await tlsHarness(t, certs.wrongHost);
  const run = await h.run(["sync", "--json"], { UNMS_CA_FILE: certs.caFile });
  assertCertificateFailure(h, run, /not valid for the host name 127\.0\.0\.1 \(wrong host name\) \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
});

test("an expired certificate is refused as expired even with its CA trusted", async (t) => {
  const h = await tlsHarness(t, certs.expired);
  const run = await h.run(["sync", "--json"], { UNMS_CA_FILE: certs.caFile });
  assertCertificateFailure(h, run, /the certificate has expired \(CERT_HAS_EXPIRED\)/);
});

test("an unusable UNMS_CA_FILE stops the run before UNMS is asked, naming the setting and the path", async (t) => {
  const h = await tlsHarness(t, certs.trusted);
  const missing = `${certs.dir}/no-such-ca.pem`;
  const run = await h.run(["sync"], { UNMS_CA_FILE: missing });
  assert.equal(run.code, 2, explain(run));
  assert.ok(run.output.includes(`UNMS_CA_FILE names ${missing}, which does not exist`), explain(run));
  assert.equal(h.unmsServer.connectionCount, 0);
});
