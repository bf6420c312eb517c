/**
 * The authorization flows end to end against the Dropbox fake, with both config stores. Every
 * scenario's output (messages, warnings, URLs, events, errors) is grepped for every secret the fake
 * issued: none may appear, even before the redactor.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getResponse } from "msw";
import { FakeDropbox } from "../../../src/testing/fakes/dropbox.ts";
import { TokenSession, type AuthorizeResult } from "../../../src/app/token-session.ts";
import { DropboxOAuthClient } from "../../../src/adapters/dropbox-auth/dropbox-oauth-client.ts";
import { nodePkce } from "../../../src/adapters/dropbox-auth/pkce.ts";
import { EnvConfigStore } from "../../../src/adapters/config/env-config-store.ts";
import { UcrmFileConfigStore } from "../../../src/adapters/config/ucrm-file-config-store.ts";
import type { ConfigStore } from "../../../src/app/ports.ts";
import type { SyncEvent } from "../../../src/domain/ports.ts";
import { SyncError, describeError } from "../../../src/domain/errors.ts";

/** Removed once the file's tests are done (an afterEach at top level would wrap other files' tests too). */
const dirs: string[] = [];
after(async () => {
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true });
});

function fakeFetch(fake: FakeDropbox): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const response = await getResponse(fake.handlers, new Request(input, init));
    if (!response || response.type === "error") throw new TypeError("fetch failed");
    return response;
  }) as typeof fetch;
}

/** Everything a scenario showed the user, for the secret grep. */
class Output {
  readonly texts: string[] = [];
  readonly events: SyncEvent[] = [];
  readonly reporter = { report: (event: SyncEvent) => (this.events.push(event), this.texts.push(JSON.stringify(event))) };
  add(...texts: (string | undefined)[]) {
    for (const t of texts) if (t) this.texts.push(t);
  }
  assertNoSecrets(fake: FakeDropbox, extra: string[] = []) {
    const all = this.texts.join("\n");
    for (const secret of [...fake.secretsIssued(), ...extra]) {
      assert.ok(!all.includes(secret), `output must not contain a secret (${secret.length} chars)`);
    }
  }
}

async function run(fake: FakeDropbox, store: ConfigStore, out: Output, now = () => 1_000_000): Promise<AuthorizeResult> {
  const settings = await store.load();
  try {
    const result = await TokenSession.fromSettings(settings, { store, oauth: new DropboxOAuthClient({ fetch: fakeFetch(fake) }), pkce: nodePkce, now, reporter: out.reporter }).start(settings);
    out.add(...result.warnings, result.status === "awaiting-user" ? `${result.message}\n${result.url}` : result.authorizationUrl);
    return result;
  } catch (error) {
    out.add(describeError(error));
    throw error;
  }
}

async function envStore(fake: FakeDropbox, vars: Record<string, string>) {
  const dir = await mkdtemp(join(tmpdir(), "authorize-env-"));
  dirs.push(dir);
  const env = { UNMS_URL: "https://uisp.example.com/nms", UNMS_API_TOKEN: "unms-token-secret-1", DROPBOX_APP_KEY: fake.appKey, STATE_DIR: join(dir, "state"), ...vars };
  return { env, open: (extra: Record<string, string> = {}) => new EnvConfigStore({ ...env, ...extra }) };
}

async function ucrmPlugin(config: Record<string, unknown>) {
  const dir = await mkdtemp(join(tmpdir(), "authorize-ucrm-"));
  dirs.push(dir);
  await mkdir(join(dir, "data"));
  await writeFile(join(dir, "ucrm.json"), JSON.stringify({ unmsLocalUrl: "http://unms:8081/nms/" }));
  const configPath = join(dir, "data", "config.json");
  await writeFile(configPath, JSON.stringify({ unmsApiToken: "unms-token-secret-2", ...config }));
  return { configPath, open: () => new UcrmFileConfigStore(dir), config: async () => JSON.parse(await readFile(configPath, "utf8")) };
}

function challengeOf(url: string): string | undefined {
  return new URL(url).searchParams.get("code_challenge") ?? undefined;
}

describe("TokenSession.start(): command line (environment store), PKCE", () => {
  test("first run prints the URL with an S256 challenge, keeps the verifier, and waits", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const { open } = await envStore(fake, {});
    const first = await run(fake, open(), out);
    assert.equal(first.status, "awaiting-user");
    assert.ok(first.status === "awaiting-user");
    const url = new URL(first.url);
    assert.equal(`${url.origin}${url.pathname}`, "https://www.dropbox.com/oauth2/authorize");
    assert.equal(url.searchParams.get("client_id"), fake.appKey);
    assert.equal(url.searchParams.get("response_type"), "code");
    assert.equal(url.searchParams.get("token_access_type"), "offline");
    assert.equal(url.searchParams.get("code_challenge_method"), "S256");
    assert.match(first.message, /paste the code Dropbox shows into DROPBOX_ACCESS_CODE/);
    const again = await run(fake, open(), out);
    assert.ok(again.status === "awaiting-user");
    assert.equal(again.url, first.url, "the same URL until a code comes back");
    assert.equal(fake.tokenRequests.length, 0);
    const state = await open().readPrivateState();
    out.assertNoSecrets(fake, [state.pkceVerifier!]);
  });

  test("code exchange, then a later run from the persisted token, refreshing without a secret", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const { open } = await envStore(fake, {});
    const first = await run(fake, open(), out);
    assert.ok(first.status === "awaiting-user");
    const code = fake.issueAuthorizationCode({ codeChallenge: challengeOf(first.url)! });

    const exchanged = await run(fake, open({ DROPBOX_ACCESS_CODE: `  ${code}\n` }), out);
    assert.ok(exchanged.status === "authorized");
    const token = await exchanged.tokens.accessToken();
    assert.match(token, /^sl\./);
    assert.deepEqual(fake.tokenRequests.map((r) => r.grantType), ["authorization_code"], "the exchange's access token is used as is");
    assert.ok(exchanged.warnings.some((w) => w.includes("Remove DROPBOX_ACCESS_CODE")));
    assert.equal((await open().readPrivateState()).pkceVerifier, undefined, "verifier forgotten after use");

    // Later run: the code is still in the environment but already used; the persisted token is used.
    const later = await run(fake, open({ DROPBOX_ACCESS_CODE: code }), out);
    assert.ok(later.status === "authorized");
    assert.match(await later.tokens.accessToken(), /^sl\./);
    assert.deepEqual(fake.tokenRequests.map((r) => r.grantType), ["authorization_code", "refresh_token"]);
    assert.ok(fake.tokenRequests.every((r) => !r.secretsInQuery));
    out.assertNoSecrets(fake);
  });

  test("a used or expired code gives a specific message and a fresh URL", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const { open } = await envStore(fake, { DROPBOX_APP_SECRET: fake.appSecret });
    const code = fake.issueAuthorizationCode();
    assert.equal((await run(fake, open({ DROPBOX_ACCESS_CODE: code }), out)).status, "authorized");
    // The same code pasted again somewhere else (a fresh state folder): Dropbox refuses it.
    const other = await envStore(fake, { DROPBOX_APP_SECRET: fake.appSecret, DROPBOX_ACCESS_CODE: code });
    const result = await run(fake, other.open(), out);
    assert.ok(result.status === "awaiting-user");
    assert.match(result.message, /The Dropbox access code in DROPBOX_ACCESS_CODE was already used or has expired \(code doesn't exist or has expired\)/);
    assert.equal(challengeOf(result.url), undefined, "no PKCE with an app secret");
    out.assertNoSecrets(fake, [fake.appSecret]);
  });
});

describe("TokenSession.start(): UCRM plugin (file store), app secret", () => {
  test("exchange persists the refresh token and clears the code in config.json", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const plugin = await ucrmPlugin({ dropboxAppKey: fake.appKey, dropboxAppSecret: fake.appSecret, dropboxAccessCode: null, keepMe: "as is" });
    const first = await run(fake, plugin.open(), out);
    assert.ok(first.status === "awaiting-user");
    assert.match(first.message, /into "Dropbox Access Code" \(dropboxAccessCode\)/);
    const code = fake.issueAuthorizationCode();
    const config = await plugin.config();
    await writeFile(plugin.configPath, JSON.stringify({ ...config, dropboxAccessCode: ` ${code} ` }));
    const result = await run(fake, plugin.open(), out);
    assert.ok(result.status === "authorized");
    const saved = await plugin.config();
    assert.equal(saved.dropboxAccessCode, null);
    assert.ok(typeof saved.dropboxRefreshToken === "string" && saved.dropboxRefreshToken.length > 20);
    assert.equal(saved.keepMe, "as is");
    out.assertNoSecrets(fake, [fake.appSecret]);
  });

  test("a refresh token just obtained that cannot be saved: says the code is used up and what to do", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const code = fake.issueAuthorizationCode();
    const plugin = await ucrmPlugin({ dropboxAppKey: fake.appKey, dropboxAppSecret: fake.appSecret, dropboxAccessCode: code });
    // Root can write any file, so the read-only config (an immutable file, a read-only mount) is the
    // error the kernel gives then, raised where the store writes.
    const store = plugin.open();
    const readOnly = Object.assign(Object.create(Object.getPrototypeOf(store) as object) as typeof store, store, {
      save: () => Promise.reject(Object.assign(new Error(`EROFS: read-only file system, open '${plugin.configPath}'`), { code: "EROFS" })),
    });
    const error = await run(fake, readOnly, out).then(
      () => assert.fail("the run went on without a saved refresh token"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof Error);
    assert.equal((error as { kind?: string }).kind, "config");
    assert.match(
      error.message,
      /^Dropbox accepted the access code, but the refresh token it returned could not be saved: EROFS: read-only file system.* The access code in "Dropbox Access Code" \(dropboxAccessCode\) is now used up \(Dropbox accepts each code once\)\. Fix the permission first, then run again, open the new authorization URL it prints, allow access and paste the new code\.$/,
    );
    assert.ok(!error.message.includes(code), "the spent code is not echoed");
    out.assertNoSecrets(fake, [fake.appSecret, code]);
  });

  test("a revoked refresh token: specific message, the URL, the token cleared, nothing else", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const refreshToken = fake.issueRefreshToken();
    fake.revokeRefreshToken(refreshToken);
    const plugin = await ucrmPlugin({ dropboxAppKey: fake.appKey, dropboxAppSecret: fake.appSecret, dropboxRefreshToken: refreshToken });
    const result = await run(fake, plugin.open(), out);
    assert.ok(result.status === "awaiting-user");
    assert.match(result.message, /^Dropbox authorization was revoked or is invalid: refresh token is invalid or revoked\./);
    assert.match(result.url, /^https:\/\/www\.dropbox\.com\/oauth2\/authorize\?client_id=/);
    assert.equal((await plugin.config()).dropboxRefreshToken, null);
    out.assertNoSecrets(fake, [fake.appSecret]);
  });

  test("revoked in the middle of a run: the provider throws authorization-required with the URL", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const refreshToken = fake.issueRefreshToken();
    const plugin = await ucrmPlugin({ dropboxAppKey: fake.appKey, dropboxAppSecret: fake.appSecret, dropboxRefreshToken: refreshToken });
    const result = await run(fake, plugin.open(), out);
    assert.ok(result.status === "authorized");
    const token = await result.tokens.accessToken();
    fake.revokeRefreshToken(refreshToken);
    await assert.rejects(result.tokens.refreshAfterRejection(token, "invalid_access_token"), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.kind, "authorization-required");
      assert.match(error.message, /^Dropbox authorization was revoked or is invalid: .*\nhttps:\/\/www\.dropbox\.com\/oauth2\/authorize\?/s);
      out.add(error.message);
      return true;
    });
    out.assertNoSecrets(fake, [fake.appSecret]);
  });
});

describe("TokenSession.start(): legacy tokens", () => {
  test("legacy token alone: syncs, warns that it is deprecated with the migration steps", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const legacy = fake.issueLongLivedToken();
    const plugin = await ucrmPlugin({ dropboxAccessToken: legacy });
    const result = await run(fake, plugin.open(), out);
    assert.ok(result.status === "authorized");
    assert.equal(await result.tokens.accessToken(), legacy);
    assert.match(result.warnings.join("\n"), /deprecated.*To migrate:.*dropboxAppKey/s);
    assert.ok(out.events.some((e) => e.type === "warning" && /deprecated/.test(e.message)));
    await assert.rejects(result.tokens.refreshAfterRejection(legacy, "invalid_access_token"), /Dropbox rejected the legacy access token/);
    out.assertNoSecrets(fake);
  });

  test("migration: legacy in use while the URL is offered, then the code switches to a refresh token and clears it", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const legacy = fake.issueLongLivedToken();
    const plugin = await ucrmPlugin({ dropboxAppKey: fake.appKey, dropboxAccessToken: legacy });
    const offering = await run(fake, plugin.open(), out);
    assert.ok(offering.status === "authorized");
    assert.equal(await offering.tokens.accessToken(), legacy);
    assert.ok(offering.authorizationUrl && challengeOf(offering.authorizationUrl), "PKCE URL on offer");
    const code = fake.issueAuthorizationCode({ codeChallenge: challengeOf(offering.authorizationUrl!)! });
    await writeFile(plugin.configPath, JSON.stringify({ ...(await plugin.config()), dropboxAccessCode: code }));
    const migrated = await run(fake, plugin.open(), out);
    assert.ok(migrated.status === "authorized");
    assert.notEqual(await migrated.tokens.accessToken(), legacy);
    const saved = await plugin.config();
    assert.equal(saved.dropboxAccessToken, null);
    assert.equal(saved.dropboxAccessCode, null);
    assert.ok(saved.dropboxRefreshToken);
    assert.match(migrated.warnings.join("\n"), /legacy token \("Dropbox access token \(legacy\)" \(dropboxAccessToken\)\) is no longer used/);
    out.assertNoSecrets(fake);
  });

  test("environment store: after migration it says which variable to remove and ignores the legacy token", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const legacy = fake.issueLongLivedToken();
    const { open } = await envStore(fake, { DROPBOX_ACCESS_TOKEN: legacy, DROPBOX_APP_SECRET: fake.appSecret });
    const code = fake.issueAuthorizationCode();
    const migrated = await run(fake, open({ DROPBOX_ACCESS_CODE: code }), out);
    assert.ok(migrated.status === "authorized");
    assert.match(migrated.warnings.join("\n"), /Remove DROPBOX_ACCESS_TOKEN from the environment/);
    const later = await run(fake, open(), out);
    assert.ok(later.status === "authorized");
    assert.notEqual(await later.tokens.accessToken(), legacy);
    out.assertNoSecrets(fake, [fake.appSecret]);
  });
});

describe("TokenSession.start(): not configured", () => {
  test("no app key and no token: a config error naming the setting", async () => {
    const fake = new FakeDropbox();
    const out = new Output();
    const plugin = await ucrmPlugin({});
    await assert.rejects(run(fake, plugin.open(), out), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.kind, "config");
      assert.match(error.message, /dropboxAppKey/);
      return true;
    });
  });
});
