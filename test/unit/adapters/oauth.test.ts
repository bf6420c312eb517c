import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { getResponse } from "msw";
import { FakeDropbox } from "../../../src/testing/fakes/dropbox.ts";
import { DropboxOAuthClient, OAuthGrantError } from "../../../src/adapters/dropbox-auth/dropbox-oauth-client.ts";
import { buildAuthorizationUrl } from "../../../src/adapters/dropbox-auth/authorization-url.ts";
import { codeChallengeS256, createCodeVerifier, isValidCodeVerifier } from "../../../src/adapters/dropbox-auth/pkce.ts";
import { RefreshingAccessTokenProvider, StaticAccessTokenProvider } from "../../../src/app/token-session.ts";
import { ENV_LABELS } from "../../../src/adapters/config/env-config-store.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import type { OAuthClient, TokenGrant } from "../../../src/app/ports.ts";

/** fetch served by the fake's msw handlers, in process; records every URL asked for. */
function fakeFetch(fake: FakeDropbox, urls: string[] = []): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    urls.push(request.url);
    const response = await getResponse(fake.handlers, request);
    if (!response || response.type === "error") throw new TypeError("fetch failed");
    return response;
  }) as typeof fetch;
}

async function rejection(promise: Promise<unknown>): Promise<SyncError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(SyncError.is(error), `a SyncError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a rejection");
}

describe("PKCE and the authorization URL", () => {
  test("verifier: 128 unreserved characters; challenge: base64url SHA-256 without padding (RFC 7636 example)", () => {
    const verifier = createCodeVerifier();
    assert.equal(verifier.length, 128);
    assert.ok(isValidCodeVerifier(verifier));
    assert.notEqual(createCodeVerifier(), verifier);
    assert.equal(codeChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  });

  test("URL: www.dropbox.com, code flow, offline access; PKCE parameters only when asked", () => {
    assert.equal(
      buildAuthorizationUrl({ clientId: "abc" }),
      "https://www.dropbox.com/oauth2/authorize?client_id=abc&response_type=code&token_access_type=offline",
    );
    const url = new URL(buildAuthorizationUrl({ clientId: "abc", codeChallenge: "CH" }));
    assert.equal(url.searchParams.get("code_challenge"), "CH");
    assert.equal(url.searchParams.get("code_challenge_method"), "S256");
  });
});

describe("DropboxOAuthClient against the fake token endpoint", () => {
  test("exchanges a code with the secret in the form body, never in the URL", async () => {
    const fake = new FakeDropbox();
    const urls: string[] = [];
    const client = new DropboxOAuthClient({ fetch: fakeFetch(fake, urls) });
    const code = fake.issueAuthorizationCode();
    const grant = await client.exchangeCode({ clientId: fake.appKey, clientSecret: fake.appSecret, code });
    assert.ok(grant.refreshToken);
    assert.match(grant.accessToken, /^sl\./);
    assert.equal(grant.expiresInSeconds, 14400);
    assert.deepEqual(urls, ["https://api.dropboxapi.com/oauth2/token"]);
    assert.deepEqual(fake.tokenRequests, [{ grantType: "authorization_code", secretsInQuery: false, basicAuth: false }]);
    const refreshed = await client.refresh({ clientId: fake.appKey, clientSecret: fake.appSecret, refreshToken: grant.refreshToken! });
    assert.match(refreshed.accessToken, /^sl\./);
    assert.equal(fake.tokenRequests[1]?.secretsInQuery, false);
    for (const url of urls) for (const secret of fake.secretsIssued()) assert.ok(!url.includes(secret));
  });

  test("PKCE: exchange with the verifier and refresh without any secret", async () => {
    const fake = new FakeDropbox();
    const client = new DropboxOAuthClient({ fetch: fakeFetch(fake), baseUrl: "http://127.0.0.1:9/" });
    const verifier = createCodeVerifier();
    const code = fake.issueAuthorizationCode({ codeChallenge: codeChallengeS256(verifier) });
    const grant = await client.exchangeCode({ clientId: fake.appKey, code, codeVerifier: verifier });
    assert.ok(grant.refreshToken);
    await client.refresh({ clientId: fake.appKey, refreshToken: grant.refreshToken! });
    assert.equal(client.tokenUrl, "http://127.0.0.1:9/oauth2/token");
  });

  test("used or expired code: OAuthGrantError with Dropbox's reason", async () => {
    const fake = new FakeDropbox();
    const client = new DropboxOAuthClient({ fetch: fakeFetch(fake) });
    const code = fake.issueAuthorizationCode();
    await client.exchangeCode({ clientId: fake.appKey, clientSecret: fake.appSecret, code });
    const error = await rejection(client.exchangeCode({ clientId: fake.appKey, clientSecret: fake.appSecret, code }));
    assert.ok(OAuthGrantError.isGrantError(error));
    assert.equal(error.kind, "authorization-required");
    assert.equal(error.description, "code doesn't exist or has expired");
    assert.ok(!error.message.includes(code));
  });

  test("revoked refresh token: OAuthGrantError; wrong secret: config error; 5xx and network: transient", async () => {
    const fake = new FakeDropbox();
    const client = new DropboxOAuthClient({ fetch: fakeFetch(fake) });
    const refreshToken = fake.issueRefreshToken();
    fake.revokeRefreshToken(refreshToken);
    const revoked = await rejection(client.refresh({ clientId: fake.appKey, clientSecret: fake.appSecret, refreshToken }));
    assert.ok(OAuthGrantError.isGrantError(revoked));
    assert.equal(revoked.description, "refresh token is invalid or revoked");

    const badSecret = await rejection(client.refresh({ clientId: fake.appKey, clientSecret: "wrong-secret", refreshToken }));
    assert.equal(badSecret.kind, "config");
    assert.equal(badSecret.code, "dropbox.oauth.invalid_client");

    const server = new DropboxOAuthClient({ fetch: async () => new Response("oops", { status: 503 }) });
    const transient = await rejection(server.refresh({ clientId: "k", refreshToken: "r" }));
    assert.equal(transient.kind, "transient");
    assert.match(transient.message, /HTTP 503/);

    const offline = new DropboxOAuthClient({ fetch: async () => { throw new TypeError("getaddrinfo ENOTFOUND"); } });
    const network = await rejection(offline.refresh({ clientId: "k", refreshToken: "r" }));
    assert.equal(network.kind, "transient");
    assert.match(network.message, /api\.dropboxapi\.com\/oauth2\/token could not be reached \(getaddrinfo ENOTFOUND\)/);

    const waits: number[] = [];
    const limited = new DropboxOAuthClient({
      fetch: async () => new Response("{}", { status: 429, headers: { "Retry-After": "7" } }),
      sleep: async (ms) => void waits.push(ms),
    });
    const rate = await rejection(limited.refresh({ clientId: "k", refreshToken: "r" }));
    assert.equal(rate.kind, "rate-limited");
    assert.equal(rate.retryAfterMs, 7000);
    assert.deepEqual(waits, [7000, 7000, 7000], "retried after each Retry-After, a bounded number of times");
    assert.match(rate.message, /asked to slow down \(HTTP 429\), also after 3 waits of up to 60 s; the next run tries again/);
  });

  test("a 429 from the token endpoint is retried after its Retry-After (capped at 60 s), then succeeds", async () => {
    const fake = new FakeDropbox();
    const refreshToken = fake.issueRefreshToken();
    fake.injectFault("oauth2/token", { type: "status", status: 429, body: '{"error": "too_many_requests"}', headers: { "Retry-After": "2" } });
    fake.injectFault("oauth2/token", { type: "status", status: 429, body: '{"error": "too_many_requests"}', headers: { "Retry-After": "900" } });
    const waits: number[] = [];
    const client = new DropboxOAuthClient({ fetch: fakeFetch(fake), sleep: async (ms) => void waits.push(ms) });
    const grant = await client.refresh({ clientId: fake.appKey, clientSecret: fake.appSecret, refreshToken });
    assert.ok(grant.accessToken);
    assert.deepEqual(waits, [2000, 60_000]);
  });

  test("a refresh token issued with the app secret, refreshed without it: a config error saying exactly that", async () => {
    const fake = new FakeDropbox();
    const client = new DropboxOAuthClient({ fetch: fakeFetch(fake) });
    const refreshToken = fake.issueRefreshToken({ pkce: false });
    const error = await rejection(client.refresh({ clientId: fake.appKey, refreshToken }));
    assert.equal(error.kind, "config");
    assert.equal(error.code, "dropbox.oauth.secret_required");
    assert.match(error.message, /the refresh token was issued with the app secret, and no app secret is set/);

    const session = new RefreshingAccessTokenProvider({ oauth: client, clientId: fake.appKey, refreshToken, labels: ENV_LABELS, now: Date.now });
    const fromSession = await rejection(session.accessToken());
    assert.equal(fromSession.kind, "config");
    assert.match(fromSession.message, /^The Dropbox refresh token was issued to an authorization made with the app secret, but DROPBOX_APP_SECRET is not set/);
    assert.match(fromSession.message, /remove the refresh token \(DROPBOX_REFRESH_TOKEN, or the one kept by this tool\) and authorize again/);
    assert.doesNotMatch(fromSession.message, /No auth function/);
  });

  test("an unexpected answer that echoes a sent value never repeats it", async () => {
    const client = new DropboxOAuthClient({ fetch: async (_u, init) => new Response(`bad request: ${String(init?.body)}`, { status: 400 }) });
    const error = await rejection(client.refresh({ clientId: "k", clientSecret: "app-secret-value", refreshToken: "refresh-secret-value" }));
    assert.equal(error.kind, "permanent");
    assert.doesNotMatch(error.message, /app-secret-value|refresh-secret-value/);
  });
});

class CountingOAuth implements OAuthClient {
  calls = 0;
  pending: ((grant: TokenGrant) => void)[] = [];
  constructor(private readonly answer: () => Promise<TokenGrant>) {}
  authorizationUrl(): string {
    return "https://www.dropbox.com/oauth2/authorize?client_id=k";
  }
  exchangeCode(): Promise<TokenGrant> {
    throw new Error("not used");
  }
  refresh(): Promise<TokenGrant> {
    this.calls++;
    return this.answer();
  }
}

describe("RefreshingAccessTokenProvider", () => {
  test("caches the token until 5 minutes before expiry, then refreshes", async () => {
    let now = 1_000_000;
    let n = 0;
    const oauth = new CountingOAuth(async () => ({ accessToken: `access-${++n}`, expiresInSeconds: 3600 }));
    const provider = new RefreshingAccessTokenProvider({ oauth, clientId: "k", refreshToken: "r", labels: ENV_LABELS, now: () => now });
    assert.equal(await provider.accessToken(), "access-1");
    now += 3600_000 - 5 * 60_000 - 1;
    assert.equal(await provider.accessToken(), "access-1");
    now += 1;
    assert.equal(await provider.accessToken(), "access-2");
    assert.equal(oauth.calls, 2);
  });

  test("one refresh in flight, shared by concurrent callers and rejections", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const oauth = new CountingOAuth(async () => {
      await gate;
      return { accessToken: "access-new", expiresInSeconds: 14400 };
    });
    const provider = new RefreshingAccessTokenProvider({
      oauth,
      clientId: "k",
      refreshToken: "r",
      labels: ENV_LABELS,
      now: () => 0,
      initialAccess: { token: "access-old", expiresAt: 14_400_000 },
    });
    const results = Promise.all([
      provider.refreshAfterRejection("access-old", "expired_access_token"),
      provider.refreshAfterRejection("access-old", "expired_access_token"),
      provider.accessToken(),
    ]);
    release();
    assert.deepEqual(await results, ["access-new", "access-new", "access-new"]);
    assert.equal(oauth.calls, 1);
    // A late rejection of the old token gets the new one without another refresh.
    assert.equal(await provider.refreshAfterRejection("access-old", "expired_access_token"), "access-new");
    assert.equal(oauth.calls, 1);
  });

  test("a revoked refresh token ends in the specific authorization-required error", async () => {
    const fake = new FakeDropbox();
    const refreshToken = fake.issueRefreshToken();
    fake.revokeRefreshToken(refreshToken);
    const provider = new RefreshingAccessTokenProvider({
      oauth: new DropboxOAuthClient({ fetch: fakeFetch(fake) }),
      clientId: fake.appKey,
      clientSecret: fake.appSecret,
      refreshToken,
      labels: ENV_LABELS,
      now: () => 0,
    });
    const error = await rejection(provider.accessToken());
    assert.equal(error.kind, "authorization-required");
    assert.match(error.message, /^Dropbox authorization was revoked or is invalid: refresh token is invalid or revoked/);
  });

  test("a transient refresh failure is rethrown and the next call tries again", async () => {
    let fail = true;
    const oauth = new CountingOAuth(async () => {
      if (fail) throw new SyncError("HTTP 503", { kind: "transient", code: "x" });
      return { accessToken: "a", expiresInSeconds: 14400 };
    });
    const provider = new RefreshingAccessTokenProvider({ oauth, clientId: "k", refreshToken: "r", labels: ENV_LABELS, now: () => 0 });
    assert.equal((await rejection(provider.accessToken())).kind, "transient");
    fail = false;
    assert.equal(await provider.accessToken(), "a");
  });
});

describe("StaticAccessTokenProvider", () => {
  test("hands out the legacy token; a rejection says so and how to migrate", async () => {
    const provider = new StaticAccessTokenProvider({ token: "legacy-tok", labels: ENV_LABELS, now: () => 0 });
    assert.equal(await provider.accessToken(), "legacy-tok");
    const error = await rejection(provider.refreshAfterRejection("legacy-tok", "invalid_access_token"));
    assert.equal(error.kind, "authorization-required");
    assert.equal(error.code, "dropbox.legacy_token_rejected");
    assert.match(error.message, /^Dropbox rejected the legacy access token \(DROPBOX_ACCESS_TOKEN\).*To migrate:/);
    assert.doesNotMatch(error.message, /legacy-tok/);
  });
});
