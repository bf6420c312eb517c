import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  REFRESH_MARGIN_MS,
  transition,
  type TokenEvent,
  type TokenEventType,
  type TokenState,
  type TokenStateKind,
  type Transition,
} from "../../../src/domain/token-lifecycle.ts";
import { ENV_LABELS } from "./setting-labels.ts";

const ctx = { labels: ENV_LABELS };
const NOW = 1_700_000_000_000;
const FRESH = { token: "access-fresh", expiresAt: NOW + 4 * 3600_000 };

const STATES: Record<TokenStateKind, TokenState> = {
  "not-configured": { kind: "not-configured" },
  "awaiting-user": { kind: "awaiting-user", pkce: true },
  "code-received": { kind: "code-received", code: "the-code", pkce: false },
  authorized: { kind: "authorized", refreshToken: "refresh-1", access: FRESH, refreshing: false },
  legacy: { kind: "legacy", token: "legacy-token" },
  migrating: { kind: "migrating", legacyToken: "legacy-token", pkce: true },
  revoked: { kind: "revoked", reason: "refresh token is invalid or revoked" },
};

const EVENTS: Record<TokenEventType, TokenEvent> = {
  "configuration-loaded": { type: "configuration-loaded", config: { appKey: "key", refreshToken: "refresh-cfg" } },
  "code-exchanged": { type: "code-exchanged", refreshToken: "refresh-new", access: { token: "access-new", expiresAt: NOW + 14_400_000 } },
  "exchange-failed": { type: "exchange-failed", detail: "code doesn't exist or has expired" },
  "access-token-needed": { type: "access-token-needed", now: NOW },
  "refresh-succeeded": { type: "refresh-succeeded", access: { token: "access-refreshed", expiresAt: NOW + 14_400_000 } },
  "refresh-failed": { type: "refresh-failed", reason: "invalid-grant", detail: "refresh token is invalid or revoked" },
  "expired-access-token": { type: "expired-access-token", token: "access-fresh" },
  "invalid-access-token": { type: "invalid-access-token", token: "legacy-token" },
};

type Row = [next: TokenStateKind, effects: string[]];
const U: Row = ["" as TokenStateKind, ["unexpected"]]; // same state, one "unexpected" effect
const LOADED: Row = ["authorized", []];

/** Every state x event pair, with the next state's kind and the effect types in order. */
const TABLE: Record<TokenStateKind, Record<TokenEventType, Row>> = {
  "not-configured": {
    "configuration-loaded": LOADED,
    "code-exchanged": U,
    "exchange-failed": U,
    "access-token-needed": ["not-configured", ["fail"]],
    "refresh-succeeded": U,
    "refresh-failed": U,
    "expired-access-token": U,
    "invalid-access-token": U,
  },
  "awaiting-user": {
    "configuration-loaded": LOADED,
    "code-exchanged": U,
    "exchange-failed": U,
    "access-token-needed": ["awaiting-user", ["wait-for-user"]],
    "refresh-succeeded": U,
    "refresh-failed": U,
    "expired-access-token": U,
    "invalid-access-token": U,
  },
  "code-received": {
    "configuration-loaded": LOADED,
    "code-exchanged": ["authorized", ["persist-refresh-token", "clear-access-code", "forget-pkce-verifier"]],
    "exchange-failed": ["awaiting-user", ["clear-access-code", "show-authorization-url", "wait-for-user"]],
    "access-token-needed": U,
    "refresh-succeeded": U,
    "refresh-failed": U,
    "expired-access-token": U,
    "invalid-access-token": U,
  },
  authorized: {
    "configuration-loaded": LOADED,
    "code-exchanged": U,
    "exchange-failed": U,
    "access-token-needed": ["authorized", ["use-access-token"]],
    "refresh-succeeded": ["authorized", ["use-access-token"]],
    "refresh-failed": ["revoked", ["clear-refresh-token", "show-authorization-url", "wait-for-user"]],
    "expired-access-token": ["authorized", ["refresh-access-token"]],
    "invalid-access-token": ["authorized", ["use-access-token"]], // a newer token than the rejected one is cached
  },
  legacy: {
    "configuration-loaded": LOADED,
    "code-exchanged": U,
    "exchange-failed": U,
    "access-token-needed": ["legacy", ["use-access-token"]],
    "refresh-succeeded": U,
    "refresh-failed": U,
    "expired-access-token": ["revoked", ["fail"]],
    "invalid-access-token": ["revoked", ["fail"]],
  },
  migrating: {
    "configuration-loaded": LOADED,
    "code-exchanged": U,
    "exchange-failed": U,
    "access-token-needed": ["migrating", ["use-access-token"]],
    "refresh-succeeded": U,
    "refresh-failed": U,
    "expired-access-token": ["revoked", ["show-authorization-url", "wait-for-user"]],
    "invalid-access-token": ["revoked", ["show-authorization-url", "wait-for-user"]],
  },
  revoked: {
    "configuration-loaded": LOADED,
    "code-exchanged": U,
    "exchange-failed": U,
    "access-token-needed": ["revoked", ["fail"]],
    "refresh-succeeded": U,
    "refresh-failed": U,
    "expired-access-token": U,
    "invalid-access-token": U,
  },
};

describe("transition(): every state x event pair", () => {
  test("the table covers every state and every event", () => {
    assert.deepEqual(Object.keys(TABLE).sort(), Object.keys(STATES).sort());
    for (const row of Object.values(TABLE)) assert.deepEqual(Object.keys(row).sort(), Object.keys(EVENTS).sort());
  });

  for (const [stateKind, state] of Object.entries(STATES) as [TokenStateKind, TokenState][]) {
    for (const [eventType, event] of Object.entries(EVENTS) as [TokenEventType, TokenEvent][]) {
      const [next, effects] = TABLE[stateKind][eventType];
      test(`${stateKind} + ${eventType} -> ${next || stateKind} [${effects.join(", ")}]`, () => {
        const result = transition(state, event, ctx);
        if (effects[0] === "unexpected") {
          assert.equal(result.state, state, "state unchanged");
          assert.equal(result.effects.length, 1);
          const [effect] = result.effects;
          assert.equal(effect?.type, "unexpected");
          assert.ok(effect?.type === "unexpected" && effect.message.includes(eventType) && effect.message.includes(stateKind));
        } else {
          assert.equal(result.state.kind, next);
          assert.deepEqual(result.effects.map((e) => e.type), effects);
        }
      });
    }
  }
});

function kinds(t: Transition): string[] {
  return t.effects.map((e) => e.type);
}
function load(config: Parameters<typeof transition>[1] extends infer E ? (E extends { type: "configuration-loaded"; config: infer C } ? C : never) : never): Transition {
  return transition(STATES["not-configured"], { type: "configuration-loaded", config }, ctx);
}
function message(t: Transition, type: string): string {
  const effect = t.effects.find((e) => e.type === type);
  assert.ok(effect && "message" in effect, `an effect ${type} with a message`);
  return effect.message;
}

describe("transition(): configuration-loaded", () => {
  test("nothing configured: a config failure that says how to get an app key", () => {
    const t = load({});
    assert.equal(t.state.kind, "not-configured");
    assert.deepEqual(kinds(t), ["fail"]);
    assert.match(message(t, "fail"), /DROPBOX_APP_KEY/);
    assert.match(message(t, "fail"), /PKCE/);
  });

  test("app key only: show the URL and wait; PKCE unless a secret is set", () => {
    const t = load({ appKey: "key" });
    assert.deepEqual(t.state, { kind: "awaiting-user", pkce: true });
    assert.deepEqual(kinds(t), ["show-authorization-url", "wait-for-user"]);
    assert.match(message(t, "show-authorization-url"), /paste the code .* into DROPBOX_ACCESS_CODE/);
    assert.deepEqual(load({ appKey: "key", appSecret: "s" }).state, { kind: "awaiting-user", pkce: false });
  });

  test("code present: exchange it (a refresh token and legacy token become fallbacks)", () => {
    const t = load({ appKey: "key", accessCode: "c", refreshToken: "r", legacyToken: "l" });
    assert.deepEqual(t.state, { kind: "code-received", code: "c", pkce: true, fallbackRefreshToken: "r", legacyToken: "l" });
    assert.deepEqual(t.effects, [{ type: "exchange-code", code: "c", pkce: true }]);
  });

  test("refresh token: authorized, nothing to do until a token is needed", () => {
    const t = load({ appKey: "key", appSecret: "s", refreshToken: "r" });
    assert.deepEqual(t.state, { kind: "authorized", refreshToken: "r", refreshing: false });
    assert.deepEqual(t.effects, []);
  });

  test("refresh token and legacy token: the refresh token wins and the legacy one is cleared", () => {
    const t = load({ appKey: "key", refreshToken: "r", legacyToken: "l" });
    assert.equal(t.state.kind, "authorized");
    assert.deepEqual(kinds(t), ["clear-legacy-token", "warn"]);
  });

  test("legacy token without app key: legacy, with a deprecation warning that lists the migration steps", () => {
    const t = load({ legacyToken: "l" });
    assert.deepEqual(t.state, { kind: "legacy", token: "l" });
    assert.deepEqual(kinds(t), ["warn"]);
    assert.match(message(t, "warn"), /deprecated/);
    assert.match(message(t, "warn"), /To migrate: .*DROPBOX_APP_KEY.*DROPBOX_ACCESS_CODE/);
  });

  test("legacy token with app key: migrating, keep syncing while offering the URL", () => {
    const t = load({ appKey: "key", legacyToken: "l" });
    assert.deepEqual(t.state, { kind: "migrating", legacyToken: "l", pkce: true });
    assert.deepEqual(kinds(t), ["warn", "show-authorization-url"]);
    assert.ok(!kinds(t).includes("wait-for-user"));
  });

  test("code or refresh token without app key: config failure naming the app key", () => {
    for (const config of [{ accessCode: "c" }, { refreshToken: "r" }]) {
      const t = load(config);
      assert.equal(t.state.kind, "not-configured");
      assert.equal(t.effects[0]?.type, "fail");
      assert.match(message(t, "fail"), /DROPBOX_APP_KEY is not/);
    }
    const withLegacy = load({ accessCode: "c", legacyToken: "l" });
    assert.equal(withLegacy.state.kind, "legacy");
    assert.deepEqual(kinds(withLegacy), ["warn", "warn"]);
  });

  test("configuration-loaded restarts the machine from any state", () => {
    for (const state of Object.values(STATES)) {
      assert.deepEqual(transition(state, { type: "configuration-loaded", config: { appKey: "k" } }, ctx), load({ appKey: "k" }));
    }
  });
});

describe("transition(): code exchange", () => {
  test("success with a legacy token: persist, clear the code, the verifier and the legacy token", () => {
    const state: TokenState = { kind: "code-received", code: "c", pkce: true, legacyToken: "l" };
    const t = transition(state, EVENTS["code-exchanged"], ctx);
    assert.deepEqual(kinds(t), ["persist-refresh-token", "clear-access-code", "forget-pkce-verifier", "clear-legacy-token", "warn"]);
    assert.deepEqual(t.effects[0], { type: "persist-refresh-token", refreshToken: "refresh-new" });
    assert.deepEqual(t.state, { kind: "authorized", refreshToken: "refresh-new", access: { token: "access-new", expiresAt: NOW + 14_400_000 }, refreshing: false });
  });

  test("used or expired code: a specific message and a fresh URL", () => {
    const t = transition(STATES["code-received"], EVENTS["exchange-failed"], ctx);
    const text = message(t, "show-authorization-url");
    assert.match(text, /DROPBOX_ACCESS_CODE was already used or has expired \(code doesn't exist or has expired\)/);
  });

  test("used code with a legacy token: back to migrating, still syncing", () => {
    const state: TokenState = { kind: "code-received", code: "c", pkce: true, legacyToken: "l" };
    const t = transition(state, EVENTS["exchange-failed"], ctx);
    assert.deepEqual(t.state, { kind: "migrating", legacyToken: "l", pkce: true });
    assert.ok(!kinds(t).includes("wait-for-user"));
  });

  test("used code with an existing refresh token: keep the refresh token, warn", () => {
    const state: TokenState = { kind: "code-received", code: "c", pkce: false, fallbackRefreshToken: "r" };
    const t = transition(state, EVENTS["exchange-failed"], ctx);
    assert.deepEqual(t.state, { kind: "authorized", refreshToken: "r", refreshing: false });
    assert.deepEqual(kinds(t), ["clear-access-code", "warn"]);
  });
});

describe("transition(): access tokens", () => {
  const authorized = (access?: { token: string; expiresAt: number }, refreshing = false): TokenState =>
    access ? { kind: "authorized", refreshToken: "r", access, refreshing } : { kind: "authorized", refreshToken: "r", refreshing };

  test("no cached token: refresh, marking a refresh in flight", () => {
    const t = transition(authorized(), EVENTS["access-token-needed"], ctx);
    assert.deepEqual(t.state, authorized(undefined, true));
    assert.deepEqual(kinds(t), ["refresh-access-token"]);
  });

  test(`refreshes ${REFRESH_MARGIN_MS / 60000} minutes before expiry, not earlier`, () => {
    const justOutside = authorized({ token: "a", expiresAt: NOW + REFRESH_MARGIN_MS + 1 });
    assert.deepEqual(transition(justOutside, EVENTS["access-token-needed"], ctx).effects, [{ type: "use-access-token", token: "a" }]);
    const atMargin = authorized({ token: "a", expiresAt: NOW + REFRESH_MARGIN_MS });
    assert.deepEqual(kinds(transition(atMargin, EVENTS["access-token-needed"], ctx)), ["refresh-access-token"]);
  });

  test("while a refresh is in flight, callers wait for it", () => {
    for (const event of [EVENTS["access-token-needed"], EVENTS["expired-access-token"], EVENTS["invalid-access-token"]]) {
      assert.deepEqual(kinds(transition(authorized(undefined, true), event, ctx)), ["await-refresh"]);
    }
  });

  test("401 for the current token: drop it and refresh", () => {
    for (const type of ["expired-access-token", "invalid-access-token"] as const) {
      const t = transition(authorized({ token: "a", expiresAt: NOW + 9e6 }), { type, token: "a" }, ctx);
      assert.deepEqual(t.state, authorized(undefined, true));
      assert.deepEqual(kinds(t), ["refresh-access-token"]);
    }
  });

  test("refresh failure other than invalid_grant: a transient failure, no longer refreshing", () => {
    const t = transition(authorized(undefined, true), { type: "refresh-failed", reason: "other", detail: "HTTP 503" }, ctx);
    assert.deepEqual(t.state, authorized());
    assert.equal(t.effects[0]?.type === "fail" && t.effects[0].kind, "transient");
  });

  test("revoked refresh token: the specific message", () => {
    const t = transition(authorized(undefined, true), EVENTS["refresh-failed"], ctx);
    assert.match(message(t, "show-authorization-url"), /^Dropbox authorization was revoked or is invalid: refresh token is invalid or revoked\./);
    const later = transition(t.state, EVENTS["access-token-needed"], ctx);
    assert.equal(later.effects[0]?.type === "fail" && later.effects[0].kind, "authorization-required");
  });

  test("legacy token rejected: says so and how to migrate", () => {
    const t = transition(STATES.legacy, EVENTS["invalid-access-token"], ctx);
    const effect = t.effects[0];
    assert.ok(effect?.type === "fail");
    assert.equal(effect.kind, "authorization-required");
    assert.equal(effect.code, "dropbox.legacy_token_rejected");
    assert.match(effect.message, /Dropbox rejected the legacy access token \(DROPBOX_ACCESS_TOKEN\): invalid_access_token.*To migrate:/);
  });
});

test("a 401's reason becomes a domain rejection, and that the machine's event", async () => {
  const { TokenRejection, rejectionEvent, tokenRejectionOf } = await import("../../../src/domain/token-lifecycle.ts");
  assert.equal(tokenRejectionOf("expired_access_token"), TokenRejection.Expired);
  for (const reason of ["invalid_access_token", "HTTP 401", "rejected", ""]) assert.equal(tokenRejectionOf(reason), TokenRejection.Invalid, reason);
  assert.deepEqual(rejectionEvent(TokenRejection.Expired, "t"), { type: "expired-access-token", token: "t" });
  assert.deepEqual(rejectionEvent(TokenRejection.Invalid, "t"), { type: "invalid-access-token", token: "t" });
});
