/**
 * UnmsBackupSource against a real HTTPS UNMS on loopback (FakeUnms's handlers, certificates made by
 * openssl at test time): which certificates are refused, in which plain words, that a refusal is
 * final (one connection, no retry), and that the CA file and the insecure switch fix it for UNMS
 * only.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createNodeHttpFetch } from "../../../src/adapters/http/node-http-fetch.ts";
import { UnmsBackupSource } from "../../../src/adapters/unms/unms-backup-source.ts";
import { createUnmsTlsFetch, needsUnmsTlsFetch } from "../../../src/adapters/unms/unms-tls-fetch.ts";
import { certificateProblem } from "../../../src/adapters/unms/unms-tls-errors.ts";
import { RetryingBackupSource } from "../../../src/adapters/retry/retrying-source.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import { startLoopbackServer, type LoopbackServer } from "../../../src/testing/fakes/loopback.ts";
import { makeTestCertificates, type KeyAndCertificate, type TestCertificates } from "../../fakes/tls-certificates.ts";
import { FakeUnms } from "../../../src/testing/fakes/unms.ts";

const TOKEN = "tls-test-secret-token-5b1f0c";
const unms = new FakeUnms({ apiToken: TOKEN, timezone: "Europe/Lisbon" });
unms.addBackup({ id: "2f0d6c1e-0d7b-4c1a-9e57-8b7f2a1c3d4e", size: 10_000 });

let certs: TestCertificates;
const servers: Record<"trusted" | "selfSigned" | "wrongHost" | "expired", LoopbackServer> = {} as never;

before(async () => {
  certs = makeTestCertificates();
  const serve = (pair: KeyAndCertificate) => startLoopbackServer(unms.handlers, { tls: pair });
  servers.trusted = await serve(certs.trusted);
  servers.selfSigned = await serve(certs.selfSigned);
  servers.wrongHost = await serve(certs.wrongHost);
  servers.expired = await serve(certs.expired);
});
after(async () => {
  await Promise.all(Object.values(servers).map((server) => server.close()));
  certs.remove();
});

function source(server: LoopbackServer, fetchImpl?: typeof fetch): UnmsBackupSource {
  return new UnmsBackupSource({ baseUrl: `${server.url}/nms`, apiToken: TOKEN, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
}

async function refusal(run: () => Promise<unknown>): Promise<SyncError> {
  try {
    await run();
  } catch (error) {
    assert.ok(SyncError.is(error), `expected a SyncError, got ${String(error)}`);
    assert.ok(!error.message.includes(TOKEN.slice(0, 8)), "the message must not carry the token");
    return error;
  }
  assert.fail("expected the call to fail");
}

function assertNamesTheFixes(error: SyncError, server: LoopbackServer): void {
  assert.equal(error.kind, "config", "a refused certificate ends the run with exit 2");
  assert.ok(error.message.includes(`${server.url}/nms/api/v2.1/nms/backups`), `the URL is named: ${error.message}`);
  assert.match(error.message, /UNMS_CA_FILE \(UCRM plugin: unmsCaFile, library: unms\.caFile\)/);
  assert.match(error.message, /UNMS_TLS_INSECURE=true \(UCRM plugin: unmsTlsInsecure, library: unms\.tlsInsecure\)/);
  assert.ok(error.cause instanceof Error, "the TLS layer's error is kept as the cause");
}

describe("UnmsBackupSource over HTTPS with a certificate no public CA signed", () => {
  // Both fetches UNMS calls may go through by default: the global fetch (undici) and the node:http one.
  for (const [name, makeFetch] of [
    ["global fetch", () => undefined],
    ["node:http fetch", () => createNodeHttpFetch()],
  ] as const) {
    test(`${name}: a self-signed certificate is refused as such, naming the URL and both settings`, async () => {
      const error = await refusal(() => source(servers.selfSigned, makeFetch()).list());
      assert.equal(error.code, "unms.tls_self_signed");
      assert.match(error.message, /certificate is self-signed and not trusted here \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
      assertNamesTheFixes(error, servers.selfSigned);
    });

    test(`${name}: a certificate from an unknown CA is refused as unknown issuer`, async () => {
      const error = await refusal(() => source(servers.trusted, makeFetch()).list());
      assert.equal(error.code, "unms.tls_unknown_issuer");
      assert.match(error.message, /issued by a CA that is not trusted here \(unknown issuer\) \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/);
      assertNamesTheFixes(error, servers.trusted);
    });
  }

  test("with the CA's certificate, the CA-signed UNMS lists, reads the time zone and downloads", async () => {
    const tlsFetch = createUnmsTlsFetch({ caCertificates: [certs.caPem] });
    const trusted = source(servers.trusted, tlsFetch);
    assert.deepEqual((await trusted.list()).map((b) => b.id), ["2f0d6c1e-0d7b-4c1a-9e57-8b7f2a1c3d4e"]);
    assert.equal(await trusted.timeZone(), "Europe/Lisbon");
    const download = await trusted.open("2f0d6c1e-0d7b-4c1a-9e57-8b7f2a1c3d4e");
    let bytes = 0;
    for await (const chunk of download.stream) bytes += chunk.byteLength;
    assert.equal(bytes, 10_000);
  });

  test("the CA file does not make a self-signed certificate of another issuer acceptable", async () => {
    const error = await refusal(() => source(servers.selfSigned, createUnmsTlsFetch({ caCertificates: [certs.caPem] })).list());
    assert.equal(error.code, "unms.tls_self_signed");
  });

  test("trust given to the UNMS fetch stays there: the global fetch still refuses the same server", async () => {
    await source(servers.trusted, createUnmsTlsFetch({ caCertificates: [certs.caPem] })).list();
    const error = await refusal(() => source(servers.trusted).list());
    assert.equal(error.code, "unms.tls_unknown_issuer");
  });

  test("a CA-signed certificate for another host name is refused as a wrong host name, with advice on UNMS_URL", async () => {
    const error = await refusal(() => source(servers.wrongHost, createUnmsTlsFetch({ caCertificates: [certs.caPem] })).list());
    assert.equal(error.code, "unms.tls_wrong_host");
    assert.match(error.message, /not valid for the host name 127\.0\.0\.1 \(wrong host name\) \(ERR_TLS_CERT_ALTNAME_INVALID\)/);
    assert.match(error.message, /UNMS_URL/);
    assertNamesTheFixes(error, servers.wrongHost);
  });

  test("an expired certificate is refused as expired, even with its CA trusted", async () => {
    const error = await refusal(() => source(servers.expired, createUnmsTlsFetch({ caCertificates: [certs.caPem] })).list());
    assert.equal(error.code, "unms.tls_expired");
    assert.match(error.message, /the certificate has expired \(CERT_HAS_EXPIRED\)/);
    assertNamesTheFixes(error, servers.expired);
  });

  test("insecure mode accepts the self-signed, wrong-host and expired certificates", async () => {
    const insecure = createUnmsTlsFetch({ insecure: true });
    for (const server of [servers.selfSigned, servers.wrongHost, servers.expired]) {
      assert.equal((await source(server, insecure).list()).length, 1, server.url);
    }
  });

  test("a refused certificate is not retried: one connection, no retry announced", async () => {
    const [connectionsBefore, requestsBefore] = [servers.selfSigned.connectionCount, servers.selfSigned.requestCount];
    const retries: string[] = [];
    const retrying = new RetryingBackupSource(source(servers.selfSigned), {
      retry: { baseDelayMs: 1, maxDelayMs: 1 },
      onRetry: (info) => retries.push(info.reason),
    });
    const error = await refusal(() => retrying.list());
    assert.equal(error.code, "unms.tls_self_signed");
    assert.deepEqual(retries, []);
    assert.equal(servers.selfSigned.connectionCount - connectionsBefore, 1);
    assert.equal(servers.selfSigned.requestCount - requestsBefore, 0, "no request got through the refused handshake");
  });

  test("needsUnmsTlsFetch(): only a CA or the insecure switch needs the dedicated fetch", () => {
    assert.equal(needsUnmsTlsFetch({}), false);
    assert.equal(needsUnmsTlsFetch({ caCertificates: [], insecure: false }), false);
    assert.equal(needsUnmsTlsFetch({ caCertificates: [certs.caPem] }), true);
    assert.equal(needsUnmsTlsFetch({ insecure: true }), true);
  });
});

describe("certificateProblem()", () => {
  test("reads Deno's fetch reasons (rustls), as Deno 2 words them", () => {
    // Messages as `deno run` printed them against the certificates above (Deno 2.9, fetch()).
    const deno = (reason: string) =>
      new TypeError("fetch failed", { cause: new Error(`error sending request for url (https://127.0.0.1:1/): client error (Connect): invalid peer certificate: ${reason}`) });
    assert.equal(certificateProblem(deno("UnknownIssuer"))?.kind, "unknown-issuer");
    assert.equal(certificateProblem(deno("Other(OtherError(CaUsedAsEndEntity))"))?.kind, "self-signed");
    assert.equal(certificateProblem(deno("certificate expired: verification time 1796219566 (UNIX), but certificate is not valid after 1577923200"))?.kind, "expired");
    assert.equal(certificateProblem(deno("NotValidForName"))?.kind, "wrong-host");
    assert.equal(certificateProblem(deno("BadSignature"))?.kind, "refused");
  });

  test("leaves other network failures alone", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    assert.equal(certificateProblem(new TypeError("fetch failed", { cause: refused })), undefined);
    assert.equal(certificateProblem("not an error"), undefined);
  });
});
