/**
 * Dropbox authorization through the built command line against FakeDropbox's OAuth endpoint:
 * the first-run URL, exchanging a pasted code, the refresh token kept in STATE_DIR, rejected codes,
 * revoked refresh tokens, PKCE without an app secret, a token expiring mid-run, and the migration
 * from a legacy long-lived token. The harness checks every run's output for leaked secrets.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { join } from "node:path";
import { http } from "msw";
import { PRIVATE_STATE_FILE } from "../../src/adapters/config/private-state-file.ts";
import { assertNoSecrets, explain, inFolder, lastJsonLine, MiB, startHarness, type CliRun, type Harness, type HarnessOptions } from "./helpers.ts";
import { guid } from "../../src/testing/fakes/unms.ts";

const FOLDER = "Backups";
const AUTHORIZE = "https://www.dropbox.com/oauth2/authorize";

async function authHarness(t: TestContext, options: HarnessOptions = {}): Promise<Harness> {
  const h = await startHarness(options);
  t.after(() => h.close());
  // Checked after every test: no secret may travel in a token request's query string.
  t.after(() => assert.deepEqual(h.dropbox.tokenRequests.filter((r) => r.secretsInQuery), [], "a secret was sent in the query string"));
  return h;
}

function plainUrl(appKey: string): string {
  return `${AUTHORIZE}?client_id=${appKey}&response_type=code&token_access_type=offline`;
}

/** The authorization URL printed on a line of its own. */
function printedUrl(run: CliRun): URL {
  const line = run.stderr.split("\n").find((l) => l.startsWith(AUTHORIZE));
  assert.ok(line, `no authorization URL on a line of its own:\n${explain(run)}`);
  return new URL(line);
}

function fileRequests(h: Harness): number {
  return h.dropbox.requests.filter((r) => r.route !== "oauth2/token").length;
}

function grantTypes(h: Harness): string[] {
  return h.dropbox.tokenRequests.map((r) => r.grantType);
}

function addBackups(h: Harness, count: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const backup = h.unms.addBackup({ id: guid(`auth-${i}`), createdAt: `2024-03-0${i + 1}T10:00:00Z`, size: MiB });
    names.push(`unms-backup-2024030${i + 1}-1100_${backup.id}.unms`);
  }
  return names;
}

function storedCount(h: Harness): number {
  return h.dropbox.listFiles().filter((f) => f.path.startsWith(`/${FOLDER}/`)).length;
}

test("app key and secret only: exit 3 with the authorization URL, nothing uploaded", async (t) => {
  const h = await authHarness(t);
  addBackups(h, 2);

  const run = await h.run(["sync", "--json"]);
  assert.equal(run.code, 3, explain(run));
  assert.ok(run.stderr.split("\n").includes(plainUrl(h.dropbox.appKey)), `expected ${plainUrl(h.dropbox.appKey)} on its own line:\n${explain(run)}`);
  assert.match(run.stdout, /DROPBOX_ACCESS_CODE/);
  assert.equal(lastJsonLine(run).authorizationUrl, plainUrl(h.dropbox.appKey));
  assert.equal(fileRequests(h), 0);
  assert.equal(h.unms.requestCounts.download, 0);
});

// A spawned smoke test of the built dist/cli.mjs; the other scenarios run in process.
test("a pasted code (with whitespace) is exchanged, the refresh token kept privately, and the sync runs at once", async (t) => {
  const h = await authHarness(t, { spawn: true });
  const names = addBackups(h, 2);
  const code = h.dropbox.issueAuthorizationCode({ clientId: h.dropbox.appKey });

  const run = await h.run(["sync"], { DROPBOX_ACCESS_CODE: `  ${code}\n ` });
  assert.equal(run.code, 0, explain(run));
  assert.match(run.stderr, /Remove DROPBOX_ACCESS_CODE/);
  for (const name of names) assert.ok(h.dropbox.hasFile(inFolder(FOLDER, name)), `${name} must be uploaded in the same run`);
  assert.deepEqual(grantTypes(h), ["authorization_code"]);

  const state = h.privateState();
  assert.ok(state?.refreshToken, `the refresh token must be kept in ${join(h.stateDir, PRIVATE_STATE_FILE)}`);

  // Later runs: the code is gone from the environment; the persisted refresh token is used.
  const later = await h.run(["sync"]);
  assert.equal(later.code, 0, explain(later));
  assert.doesNotMatch(later.stdout, /oauth2\/authorize/);
  assert.match(later.stdout, /2 already stored/);
  assert.deepEqual(grantTypes(h), ["authorization_code", "refresh_token"]);

  // The admin forgot to remove the used code: it is recognised and not exchanged again.
  const forgotten = await h.run(["sync"], { DROPBOX_ACCESS_CODE: code });
  assert.equal(forgotten.code, 0, explain(forgotten));
  assert.deepEqual(grantTypes(h), ["authorization_code", "refresh_token", "refresh_token"]);
});

test("the refresh token kept in a new STATE_DIR is private: folder 0700, file 0600", async (t) => {
  const h = await authHarness(t);
  addBackups(h, 1);
  const code = h.dropbox.issueAuthorizationCode({ clientId: h.dropbox.appKey });

  const run = await h.run(["sync"], { DROPBOX_ACCESS_CODE: code });
  assert.equal(run.code, 0, explain(run));
  assert.ok(h.privateState()?.refreshToken);
  assert.equal(statSync(join(h.stateDir, PRIVATE_STATE_FILE)).mode & 0o777, 0o600, "the state file must be private (0600)");
  const mode = statSync(h.stateDir).mode & 0o777;
  assert.equal(mode, 0o700, `STATE_DIR (created by the run) must be private (0700), it is 0${mode.toString(8)}`);
});

test("a used or expired code: a specific message, a fresh URL, exit 3", async (t) => {
  const h = await authHarness(t);
  addBackups(h, 1);
  const code = h.dropbox.issueAuthorizationCode({ clientId: h.dropbox.appKey });
  const first = await h.run(["sync"], { DROPBOX_ACCESS_CODE: code, STATE_DIR: join(h.root, "elsewhere") });
  assert.equal(first.code, 0, explain(first));

  // Same code again, from a state folder that never saw it: Dropbox answers invalid_grant.
  const run = await h.run(["sync"], { DROPBOX_ACCESS_CODE: code });
  assert.equal(run.code, 3, explain(run));
  assert.match(run.stderr, /DROPBOX_ACCESS_CODE was already used or has expired/);
  // One message: not also "remove the code, it has been used", which would contradict it.
  assert.doesNotMatch(run.output, /has been used/);
  assert.equal(run.output.match(/^(WARNING|ERROR): /gm)?.length, 1, explain(run));
  assert.equal(printedUrl(run).href, plainUrl(h.dropbox.appKey));
  assert.equal(h.privateState()?.refreshToken, undefined);
});

test("a revoked refresh token: exit 3, says so with a URL, deletes nothing", async (t) => {
  const h = await authHarness(t);
  const names = addBackups(h, 2);
  const code = h.dropbox.issueAuthorizationCode({ clientId: h.dropbox.appKey });
  assert.equal((await h.run(["sync"], { DROPBOX_ACCESS_CODE: code })).code, 0);
  const refreshToken = h.privateState()?.refreshToken;
  assert.ok(refreshToken);

  h.dropbox.revokeRefreshToken(refreshToken);
  h.unms.removeBackup("auth-0");
  const run = await h.run(["sync"]);
  assert.equal(run.code, 3, explain(run));
  assert.match(run.stderr, /Dropbox authorization was revoked or is invalid/);
  assert.equal(printedUrl(run).href, plainUrl(h.dropbox.appKey));
  for (const name of names) assert.ok(h.dropbox.hasFile(inFolder(FOLDER, name)), `${name} must not be deleted`);
  assert.equal(h.dropbox.requestCount("files/delete_v2"), 0);
  assert.equal(h.privateState()?.refreshToken, undefined, "the dead refresh token is forgotten");
});

test("PKCE without an app secret: S256 challenge, verifier kept between runs, exchange and refresh without a secret", async (t) => {
  const h = await authHarness(t);
  const names = addBackups(h, 1);
  const env = { DROPBOX_APP_SECRET: undefined };

  const first = await h.run(["sync"], env);
  assert.equal(first.code, 3, explain(first));
  const url = printedUrl(first);
  assert.equal(url.searchParams.get("client_id"), h.dropbox.appKey);
  assert.equal(url.searchParams.get("response_type"), "code");
  assert.equal(url.searchParams.get("token_access_type"), "offline");
  assert.equal(url.searchParams.get("code_challenge_method"), "S256");
  const challenge = url.searchParams.get("code_challenge");
  assert.match(challenge ?? "", /^[A-Za-z0-9_-]{43}$/);

  const second = await h.run(["sync"], env);
  assert.equal(second.code, 3, explain(second));
  assert.equal(printedUrl(second).searchParams.get("code_challenge"), challenge, "the verifier must be kept until the code comes back");

  const code = h.dropbox.issueAuthorizationCode({ clientId: h.dropbox.appKey, codeChallenge: challenge! });
  const exchange = await h.run(["sync"], { ...env, DROPBOX_ACCESS_CODE: code });
  assert.equal(exchange.code, 0, explain(exchange));
  assert.ok(h.dropbox.hasFile(inFolder(FOLDER, names[0]!)));

  const later = await h.run(["sync"], env);
  assert.equal(later.code, 0, explain(later));
  assert.deepEqual(grantTypes(h), ["authorization_code", "refresh_token"]);
  assert.equal(h.dropbox.tokenRequests.some((r) => r.basicAuth), false, "PKCE sends no client secret");
  assert.equal(h.privateState()?.pkceVerifier, undefined, "the verifier is dropped once used");
});

test("an access token expiring mid-run is refreshed and the call retried", async (t) => {
  const h = await authHarness(t);
  h.baseEnv.DROPBOX_REFRESH_TOKEN = h.dropbox.issueRefreshToken();
  const backup = h.unms.addBackup({ id: guid("long-one"), createdAt: "2024-02-01T00:00:00Z", size: 9 * MiB });
  h.dropbox.injectFault("files/list_folder", { type: "expired-token" });
  h.dropbox.injectFault("files/upload_session/append_v2", { type: "expired-token" });

  const run = await h.run(["sync"]);
  assert.equal(run.code, 0, explain(run));
  const name = `unms-backup-20240201-0100_${backup.id}.unms`;
  assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, name))?.content_hash, h.unms.expectedContentHash(backup.id));
  assert.deepEqual(grantTypes(h), ["refresh_token", "refresh_token", "refresh_token"]);
});

test("access tokens that really expire between listing and upload are refreshed", async (t) => {
  const h = await authHarness(t);
  h.baseEnv.DROPBOX_REFRESH_TOKEN = h.dropbox.issueRefreshToken();
  const backup = h.unms.addBackup({ id: guid("tick-1"), createdAt: "2024-02-01T00:00:00Z", size: MiB });
  // The download starts after the Dropbox listing: expire every token right then, then fall
  // through to FakeUnms's own handler.
  h.unmsOverrides.push(
    http.get("*/nms/api/v2.1/nms/backups/:id", () => {
      h.dropbox.expireAccessTokens();
      return undefined;
    }),
  );

  const run = await h.run(["sync"]);
  assert.equal(run.code, 0, explain(run));
  const name = `unms-backup-20240201-0100_${backup.id}.unms`;
  assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, name))?.content_hash, h.unms.expectedContentHash(backup.id));
  assert.deepEqual(grantTypes(h), ["refresh_token", "refresh_token"]);
  assert.ok(h.dropbox.requests.some((r) => r.status === 401), "the upload must have met the expired token");
});

test("legacy DROPBOX_ACCESS_TOKEN alone syncs, with a deprecation warning and the migration steps", async (t) => {
  const h = await authHarness(t);
  const names = addBackups(h, 1);
  const legacy = h.dropbox.issueLongLivedToken();

  const run = await h.run(["sync"], { DROPBOX_ACCESS_TOKEN: legacy, DROPBOX_APP_KEY: undefined, DROPBOX_APP_SECRET: undefined });
  assert.equal(run.code, 0, explain(run));
  assert.ok(h.dropbox.hasFile(inFolder(FOLDER, names[0]!)));
  assert.match(run.stderr, /WARNING: .*DROPBOX_ACCESS_TOKEN.*deprecated/);
  assert.match(run.stderr, /To migrate:.*DROPBOX_APP_KEY.*DROPBOX_ACCESS_CODE/);
  assert.doesNotMatch(run.output, /oauth2\/authorize/);
  assert.deepEqual(h.dropbox.tokenRequests, []);
});

test("legacy token plus app key: syncs and offers the authorization URL", async (t) => {
  const h = await authHarness(t);
  const names = addBackups(h, 1);
  const legacy = h.dropbox.issueLongLivedToken();

  const run = await h.run(["sync", "--json"], { DROPBOX_ACCESS_TOKEN: legacy });
  assert.equal(run.code, 0, explain(run));
  assert.ok(h.dropbox.hasFile(inFolder(FOLDER, names[0]!)));
  assert.match(run.stderr, /deprecated/);
  assert.equal(printedUrl(run).href, plainUrl(h.dropbox.appKey));
  assert.deepEqual(lastJsonLine(run).uploaded, names);
});

test("legacy token plus app key plus code: exchanged, switches to the refresh token, says to remove DROPBOX_ACCESS_TOKEN", async (t) => {
  const h = await authHarness(t);
  const names = addBackups(h, 1);
  const legacy = h.dropbox.issueLongLivedToken();
  const code = h.dropbox.issueAuthorizationCode({ clientId: h.dropbox.appKey });

  const run = await h.run(["sync"], { DROPBOX_ACCESS_TOKEN: legacy, DROPBOX_ACCESS_CODE: code });
  assert.equal(run.code, 0, explain(run));
  assert.ok(h.dropbox.hasFile(inFolder(FOLDER, names[0]!)));
  assert.match(run.stderr, /Remove DROPBOX_ACCESS_TOKEN/);
  assert.ok(h.privateState()?.refreshToken);
  assert.deepEqual(grantTypes(h), ["authorization_code"]);

  // The legacy token still sits in the environment but is no longer used: even revoked it harms nothing.
  h.dropbox.revokeAccessToken(legacy);
  const later = await h.run(["sync"], { DROPBOX_ACCESS_TOKEN: legacy });
  assert.equal(later.code, 0, explain(later));
  assert.match(later.stdout, /1 already stored/);
  assert.deepEqual(grantTypes(h), ["authorization_code", "refresh_token"]);
});

test("a revoked legacy token: says so and how to migrate, exit 3, nothing deleted", async (t) => {
  const h = await authHarness(t);
  const legacy = h.dropbox.issueLongLivedToken();
  const stale = inFolder(FOLDER, `unms-backup-20230101-0100_${guid("gone")}.unms`);
  h.dropbox.putFile(stale, "old copy");
  addBackups(h, 1);
  h.dropbox.revokeAccessToken(legacy);

  const alone = await h.run(["sync"], { DROPBOX_ACCESS_TOKEN: legacy, DROPBOX_APP_KEY: undefined, DROPBOX_APP_SECRET: undefined });
  const withKey = await h.run(["sync"], { DROPBOX_ACCESS_TOKEN: legacy });
  assert.ok(h.dropbox.hasFile(stale));
  assert.equal(h.dropbox.requestCount("files/delete_v2"), 0);
  assert.equal(storedCount(h), 1);

  assert.equal(alone.code, 3, explain(alone));
  assert.match(alone.output, /Dropbox rejected the legacy access token \(DROPBOX_ACCESS_TOKEN\)/);
  assert.match(alone.output, /To migrate:/);

  assert.equal(withKey.code, 3, explain(withKey));
  assert.match(withKey.output, /Dropbox rejected the legacy access token/);
  assert.equal(printedUrl(withKey).href, plainUrl(h.dropbox.appKey));
});

test("the secret check itself catches a leaked prefix without printing it", () => {
  const secret = "s3cr3t-value-that-is-long-enough";
  assert.throws(
    () => assertNoSecrets({ stdout: `token=${secret.slice(0, 12)}...`, stderr: "" }, [secret], "probe"),
    (error: Error) => /secret #0 \(32 characters\)/.test(error.message) && !error.message.includes(secret.slice(0, 6)),
  );
  assert.doesNotThrow(() => assertNoSecrets({ stdout: "nothing to see", stderr: secret.slice(0, 11) }, [secret], "probe"));
});

test("a refresh token issued with the app secret, run without DROPBOX_APP_SECRET: exit 2 saying exactly that", async (t) => {
  const h = await authHarness(t);
  addBackups(h, 1);
  const refreshToken = h.dropbox.issueRefreshToken({ pkce: false });
  const run = await h.run(["sync"], { DROPBOX_REFRESH_TOKEN: refreshToken, DROPBOX_APP_SECRET: undefined });
  assert.equal(run.code, 2, explain(run));
  assert.match(run.output, /ERROR: The Dropbox refresh token was issued to an authorization made with the app secret, but DROPBOX_APP_SECRET is not set/);
  assert.doesNotMatch(run.output, /No auth function/);
  assert.equal(fileRequests(h), 0, "nothing was listed or uploaded");
});
