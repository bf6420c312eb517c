import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { SecretRedactor, createRedactor, REDACTED } from "../../../src/domain/redactor.ts";
import { buildAuthorizationUrl } from "../../../src/adapters/dropbox-auth/authorization-url.ts";
import { codeChallengeS256, createCodeVerifier } from "../../../src/adapters/dropbox-auth/pkce.ts";

describe("createRedactor()", () => {
  test("replaces each configured secret, raw and URL-encoded", () => {
    const secret = "s3cr/t+value with space";
    const redact = createRedactor([secret, undefined, "  "]);
    const text = `a ${secret} b ${encodeURIComponent(secret)} c ${new URLSearchParams({ x: secret })}`;
    const out = redact(text);
    assert.equal(out, `a ${REDACTED} b ${REDACTED} c x=${REDACTED}`);
  });

  test("a secret inside another is replaced whole, longest first", () => {
    const out = createRedactor(["abcdef", "abcdefghij"])("x abcdefghij y abcdef");
    assert.equal(out, `x ${REDACTED} y ${REDACTED}`);
  });

  test("ignores secrets too short to be told from ordinary words", () => {
    assert.equal(createRedactor(["abc"])("abc abc"), "abc abc");
  });

  test("replaces Dropbox short-lived tokens it was never told about", () => {
    const token = `sl.u.${"AbC123_-".repeat(10)}`;
    assert.equal(createRedactor([])(`Bearer ${token}.`), `Bearer ${REDACTED}.`);
  });

  test("replaces long opaque mixed-case runs (refresh tokens, verifiers)", () => {
    const verifier = createCodeVerifier();
    assert.equal(createRedactor([])(`v=${verifier}`), `v=${REDACTED}`);
    const refresh = "aB3" + "xY9z".repeat(12);
    assert.equal(createRedactor([])(`"${refresh}"`), `"${REDACTED}"`);
  });

  test("keeps hashes, UUIDs, backup names and the authorization URL readable", () => {
    const text = [
      "unms-backup-20240131-2359_1b2c3d4e-5f6a-7b8c-9d0e-1f2a3b4c5d6e.unms",
      "content hash 3f1a".padEnd(20, "0") + "a".repeat(64),
      "ABCDEF0123456789ABCDEF0123456789ABCDEF0123",
    ].join("\n");
    assert.equal(createRedactor([])(text), text);
    const url = buildAuthorizationUrl({ clientId: "appkey123", codeChallenge: codeChallengeS256(createCodeVerifier()) });
    assert.equal(createRedactor([])(url), url);
  });

  test("SecretRedactor.addSecret() extends an existing redactor", () => {
    const redactor = new SecretRedactor(["first-secret"]);
    redactor.addSecret("second-secret");
    assert.equal(redactor.redact("first-secret second-secret"), `${REDACTED} ${REDACTED}`);
  });
});
