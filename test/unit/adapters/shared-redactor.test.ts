/**
 * One redactor per run: a secret registered once with it (run-sync registers the settings' secrets)
 * is taken out of the outside text each adapter puts into its errors, whichever adapter met it.
 * The secret here is one no adapter knows on its own and not token-shaped, so only registration hides it.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DropboxBackupStore } from "../../../src/adapters/dropbox/dropbox-backup-store.ts";
import { DropboxOAuthClient } from "../../../src/adapters/dropbox-auth/dropbox-oauth-client.ts";
import { UnmsBackupSource } from "../../../src/adapters/unms/unms-backup-source.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import { REDACTED, SecretRedactor } from "../../../src/domain/redactor.ts";

const SECRET = "app-secret-of-the-run";
const echoing = (status: number, body: string, contentType: string): typeof fetch => async () =>
  new Response(body, { status, headers: { "content-type": contentType } });

async function failure(promise: Promise<unknown>): Promise<SyncError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(SyncError.is(error), `expected a SyncError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a rejection");
}

/** Each adapter's failing call, with the redactor it is handed (undefined: its own default). */
const adapters: { name: string; fail: (redactor: SecretRedactor | undefined) => Promise<SyncError> }[] = [
  {
    name: "UNMS source (UNMS's own error message)",
    fail: (redactor) =>
      failure(new UnmsBackupSource({
        baseUrl: "http://unms.test/nms",
        apiToken: "unms-api-token-0001",
        fetch: echoing(400, JSON.stringify({ statusCode: 400, error: "Bad Request", message: `rejected ${SECRET}` }), "application/json"),
        ...(redactor ? { redactor } : {}),
      }).list()),
  },
  {
    name: "Dropbox store (a 400's text)",
    fail: (redactor) =>
      failure(new DropboxBackupStore({
        tokens: { accessToken: async () => "access-token-in-use", refreshAfterRejection: async () => "access-token-in-use" },
        fetch: echoing(400, `Error in call to API function "files/list_folder": bad value ${SECRET}`, "text/plain"),
        retry: { attempts: 1 },
        ...(redactor ? { redactor } : {}),
      }).list("")),
  },
  {
    name: "OAuth client (an unexpected answer)",
    fail: (redactor) =>
      failure(new DropboxOAuthClient({
        fetch: echoing(400, `proxy says no: ${SECRET}`, "text/plain"),
        ...(redactor ? { redactor } : {}),
      }).refresh({ clientId: "appkey", refreshToken: "refresh-token-value" })),
  },
];

describe("one redactor handed to every adapter", () => {
  for (const { name, fail } of adapters) {
    test(`${name}: a secret registered once is redacted from its error`, async () => {
      const redactor = new SecretRedactor();
      redactor.register([SECRET]);
      const error = await fail(redactor);
      assert.ok(error.message.includes(REDACTED), error.message);
      assert.doesNotMatch(error.message, new RegExp(SECRET));
    });

    test(`${name}: control, with no secret registered the text comes through (so the test above can fail)`, async () => {
      const error = await fail(undefined);
      assert.match(error.message, new RegExp(SECRET));
    });
  }
});
