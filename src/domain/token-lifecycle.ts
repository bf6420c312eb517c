/**
 * The Dropbox token lifecycle as a pure state machine: `transition(state, event, context)` returns
 * the next state and the effects the app layer must carry out (exchange a code, persist or clear a
 * setting, refresh, show the authorization URL, fail with a message). No I/O and no clock reads:
 * time comes in with the events.
 *
 * ```
 *                      configuration-loaded (from any state; decided by what is configured)
 *   ┌──────────────┬───────────────┬──────────────┬──────────────┬─────────────┐
 *   v              v               v              v              v             v
 * not-configured  awaiting-user  code-received  authorized    legacy       migrating
 * (no app key,    (URL shown,    (exchange it)  (refresh      (long-lived  (legacy in use,
 *  no token)       exit 3)          │  │         token held)    token)       URL offered)
 *                     ^             │  │ code-exchanged ^  │      │             │
 *                     │ exchange-   │  └─────────────────┘  │      │ 401         │ 401
 *                     │ failed      │   (persist refresh,   │      v             v
 *                     └─────────────┘    clear code+legacy) │    revoked <───────┘
 *                      (or back to migrating / authorized   │      ^
 *                       when there is a fallback)           │      │ refresh-failed invalid_grant
 *                                                           └──────┘ (clear refresh token, URL, exit 3)
 *   authorized: access-token-needed -> use the cached token, or refresh 5 minutes before expiry;
 *               401 expired/invalid_access_token -> refresh (one in flight), the caller retries once.
 * ```
 *
 * An event that cannot happen in a state (a bug in the caller) leaves the state as it is and yields
 * a single `unexpected` effect, so every pair has a defined, tested outcome.
 */
import type { FailureKind } from "./errors.ts";
import { dropboxPermissionsText } from "./dropbox-permissions.ts";
import {
  decideLegacy,
  legacyDeprecationWarning,
  legacyRejectedMessage,
  legacyReplacedNote,
  type SettingLabels,
} from "./legacy-migration.ts";

/** Refresh this long before the access token expires. */
export const REFRESH_MARGIN_MS: number = 5 * 60 * 1000;

export interface AccessGrant {
  token: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export type TokenState =
  | { kind: "not-configured" }
  | { kind: "awaiting-user"; pkce: boolean }
  | { kind: "code-received"; code: string; pkce: boolean; fallbackRefreshToken?: string; legacyToken?: string }
  | { kind: "authorized"; refreshToken: string; access?: AccessGrant; refreshing: boolean }
  | { kind: "legacy"; token: string }
  | { kind: "migrating"; legacyToken: string; pkce: boolean }
  | { kind: "revoked"; reason: string };

export type TokenStateKind = TokenState["kind"];

/** What the configuration holds (already trimmed; absent = undefined). */
export interface ConfiguredAuthorization {
  appKey?: string;
  appSecret?: string;
  accessCode?: string;
  refreshToken?: string;
  legacyToken?: string;
}

export type TokenEvent =
  | { type: "configuration-loaded"; config: ConfiguredAuthorization }
  | { type: "code-exchanged"; refreshToken: string; access: AccessGrant }
  /** The token endpoint answered `invalid_grant` to a code: used or expired. */
  | { type: "exchange-failed"; detail: string }
  | { type: "access-token-needed"; now: number }
  | { type: "refresh-succeeded"; access: AccessGrant }
  /** `invalid-grant`: the refresh token is revoked or invalid; `other`: anything else (the caller rethrows). */
  | { type: "refresh-failed"; reason: "invalid-grant" | "other"; detail: string }
  | { type: "expired-access-token"; token: string }
  | { type: "invalid-access-token"; token: string };

export type TokenEventType = TokenEvent["type"];

/** Why Dropbox refused an access token with 401: it ran out, or it is not (or no longer) valid. */
export const TokenRejection = { Expired: "expired", Invalid: "invalid" } as const;
export type TokenRejection = (typeof TokenRejection)[keyof typeof TokenRejection];

/**
 * The rejection named by the reason an AccessTokenProvider is given (Dropbox's error tag, e.g.
 * "expired_access_token"); any other reason counts as an invalid token.
 */
export function tokenRejectionOf(reason: string): TokenRejection {
  return reason === "expired_access_token" ? TokenRejection.Expired : TokenRejection.Invalid;
}

/** The machine's event for a rejected token. */
export function rejectionEvent(rejection: TokenRejection, token: string): TokenEvent {
  return rejection === TokenRejection.Expired ? { type: "expired-access-token", token } : { type: "invalid-access-token", token };
}

export type AuthorizationUrlReason = "first-run" | "code-rejected" | "revoked" | "legacy-migration" | "legacy-rejected";

export type TokenEffect =
  | { type: "exchange-code"; code: string; pkce: boolean }
  | { type: "persist-refresh-token"; refreshToken: string }
  /** `rejected`: Dropbox refused the code (the failure message says what to do), else it was exchanged. */
  | { type: "clear-access-code"; rejected?: true }
  | { type: "clear-legacy-token" }
  | { type: "clear-refresh-token" }
  | { type: "forget-pkce-verifier" }
  /** Build the authorization URL (with a PKCE challenge when no app secret is set) and show it after `message`. */
  | { type: "show-authorization-url"; reason: AuthorizationUrlReason; message: string }
  /** Stop here: nothing to sync until the user authorizes (exit 3). */
  | { type: "wait-for-user" }
  | { type: "refresh-access-token" }
  /** A refresh is already in flight: wait for its outcome. */
  | { type: "await-refresh" }
  | { type: "use-access-token"; token: string }
  | { type: "warn"; code: string; message: string }
  | { type: "fail"; kind: FailureKind; code: string; message: string }
  | { type: "unexpected"; message: string };

export interface Transition {
  state: TokenState;
  effects: TokenEffect[];
}

export interface LifecycleContext {
  labels: SettingLabels;
  refreshMarginMs?: number;
}

export const INITIAL_STATE: TokenState = { kind: "not-configured" };

export function transition(state: TokenState, event: TokenEvent, context: LifecycleContext): Transition {
  const { labels } = context;
  const margin = context.refreshMarginMs ?? REFRESH_MARGIN_MS;
  const unexpected = (): Transition => ({
    state,
    effects: [{ type: "unexpected", message: `Token lifecycle: event "${event.type}" cannot happen in state "${state.kind}".` }],
  });

  if (event.type === "configuration-loaded") return fromConfiguration(event.config, labels);

  switch (state.kind) {
    case "not-configured":
      if (event.type === "access-token-needed") {
        return { state, effects: [failNotConfigured(labels)] };
      }
      return unexpected();

    case "awaiting-user":
      if (event.type === "access-token-needed") return { state, effects: [{ type: "wait-for-user" }] };
      return unexpected();

    case "code-received":
      if (event.type === "code-exchanged") {
        const effects: TokenEffect[] = [
          { type: "persist-refresh-token", refreshToken: event.refreshToken },
          { type: "clear-access-code" },
          { type: "forget-pkce-verifier" },
        ];
        if (state.legacyToken) effects.push({ type: "clear-legacy-token" }, { type: "warn", code: "legacy-replaced", message: legacyReplacedNote(labels) });
        return { state: { kind: "authorized", refreshToken: event.refreshToken, access: event.access, refreshing: false }, effects };
      }
      if (event.type === "exchange-failed") {
        const rejected = `The Dropbox access code in ${labels.accessCode} was already used or has expired (${event.detail}). Codes work once and only for a few minutes.`;
        if (state.fallbackRefreshToken) {
          return {
            state: { kind: "authorized", refreshToken: state.fallbackRefreshToken, refreshing: false },
            effects: [
              { type: "clear-access-code", rejected: true },
              { type: "warn", code: "code-rejected", message: `${rejected} Keeping the existing authorization (${labels.refreshToken}).` },
            ],
          };
        }
        const again = "Open the authorization URL again, allow access, paste the new code and run again right away.";
        if (state.legacyToken) {
          return {
            state: { kind: "migrating", legacyToken: state.legacyToken, pkce: state.pkce },
            effects: [
              { type: "clear-access-code", rejected: true },
              { type: "warn", code: "legacy-deprecated", message: legacyDeprecationWarning(labels, true) },
              { type: "show-authorization-url", reason: "code-rejected", message: `${rejected} Still syncing with the legacy token. ${again}` },
            ],
          };
        }
        return {
          state: { kind: "awaiting-user", pkce: state.pkce },
          effects: [
            { type: "clear-access-code", rejected: true },
            { type: "show-authorization-url", reason: "code-rejected", message: `${rejected} ${again}` },
            { type: "wait-for-user" },
          ],
        };
      }
      return unexpected();

    case "authorized":
      switch (event.type) {
        case "access-token-needed":
          if (state.refreshing) return { state, effects: [{ type: "await-refresh" }] };
          if (state.access && state.access.expiresAt - event.now > margin) {
            return { state, effects: [{ type: "use-access-token", token: state.access.token }] };
          }
          return { state: { kind: "authorized", refreshToken: state.refreshToken, refreshing: true }, effects: [{ type: "refresh-access-token" }] };
        case "refresh-succeeded":
          return {
            state: { kind: "authorized", refreshToken: state.refreshToken, access: event.access, refreshing: false },
            effects: [{ type: "use-access-token", token: event.access.token }],
          };
        case "refresh-failed":
          if (event.reason === "invalid-grant") {
            return {
              state: { kind: "revoked", reason: event.detail },
              effects: [
                { type: "clear-refresh-token" },
                {
                  type: "show-authorization-url",
                  reason: "revoked",
                  message: `Dropbox authorization was revoked or is invalid: ${event.detail}. Open the authorization URL, allow access, paste the code into ${labels.accessCode} and run again.`,
                },
                { type: "wait-for-user" },
              ],
            };
          }
          return {
            state: { kind: "authorized", refreshToken: state.refreshToken, refreshing: false },
            effects: [{ type: "fail", kind: "transient", code: "dropbox.refresh_failed", message: `Refreshing the Dropbox access token failed: ${event.detail}` }],
          };
        case "expired-access-token":
        case "invalid-access-token":
          if (state.refreshing) return { state, effects: [{ type: "await-refresh" }] };
          if (state.access && state.access.token !== event.token) {
            // Someone refreshed since the rejected token was handed out: use the newer one.
            return { state, effects: [{ type: "use-access-token", token: state.access.token }] };
          }
          return { state: { kind: "authorized", refreshToken: state.refreshToken, refreshing: true }, effects: [{ type: "refresh-access-token" }] };
        default:
          return unexpected();
      }

    case "legacy":
    case "migrating": {
      const token = state.kind === "legacy" ? state.token : state.legacyToken;
      if (event.type === "access-token-needed") return { state, effects: [{ type: "use-access-token", token }] };
      if (event.type === "expired-access-token" || event.type === "invalid-access-token") {
        const reason = event.type === "expired-access-token" ? "expired_access_token" : "invalid_access_token";
        if (state.kind === "migrating") {
          return {
            state: { kind: "revoked", reason },
            effects: [
              { type: "show-authorization-url", reason: "legacy-rejected", message: legacyRejectedMessage(labels, reason, true) },
              { type: "wait-for-user" },
            ],
          };
        }
        return {
          state: { kind: "revoked", reason },
          effects: [{ type: "fail", kind: "authorization-required", code: "dropbox.legacy_token_rejected", message: legacyRejectedMessage(labels, reason, false) }],
        };
      }
      return unexpected();
    }

    case "revoked":
      if (event.type === "access-token-needed") {
        return {
          state,
          effects: [
            {
              type: "fail",
              kind: "authorization-required",
              code: "dropbox.authorization_revoked",
              message: `Dropbox authorization was revoked or is invalid: ${state.reason}. Authorize again with the URL shown and paste the code into ${labels.accessCode}.`,
            },
          ],
        };
      }
      return unexpected();
  }
}

function fromConfiguration(config: ConfiguredAuthorization, labels: SettingLabels): Transition {
  const pkce = !config.appSecret;
  const legacy = decideLegacy({
    hasLegacyToken: !!config.legacyToken,
    hasAppKey: !!config.appKey,
    hasRefreshToken: !!config.refreshToken,
    hasAccessCode: !!config.accessCode,
  });

  if (config.appKey && config.accessCode) {
    const state: TokenState = { kind: "code-received", code: config.accessCode, pkce };
    if (config.refreshToken) state.fallbackRefreshToken = config.refreshToken;
    if (legacy.action === "exchange-then-clear" && config.legacyToken) state.legacyToken = config.legacyToken;
    return { state, effects: [{ type: "exchange-code", code: config.accessCode, pkce }] };
  }

  if (config.appKey && config.refreshToken) {
    const effects: TokenEffect[] = [];
    if (legacy.action === "clear-legacy") {
      effects.push({ type: "clear-legacy-token" }, { type: "warn", code: "legacy-replaced", message: legacyReplacedNote(labels) });
    }
    return { state: { kind: "authorized", refreshToken: config.refreshToken, refreshing: false }, effects };
  }

  if (config.legacyToken) {
    const effects: TokenEffect[] = [];
    if (config.accessCode || config.refreshToken) {
      effects.push({
        type: "warn",
        code: "app-key-missing",
        message: `${config.accessCode ? labels.accessCode : labels.refreshToken} is set but ${labels.appKey} is not, so it cannot be used; syncing with the legacy token.`,
      });
    }
    if (legacy.action === "use-legacy" && legacy.offerAuthorization) {
      effects.push(
        { type: "warn", code: "legacy-deprecated", message: legacyDeprecationWarning(labels, true) },
        { type: "show-authorization-url", reason: "legacy-migration", message: `Authorize this app to replace the legacy token:` },
      );
      return { state: { kind: "migrating", legacyToken: config.legacyToken, pkce }, effects };
    }
    effects.push({ type: "warn", code: "legacy-deprecated", message: legacyDeprecationWarning(labels, false) });
    return { state: { kind: "legacy", token: config.legacyToken }, effects };
  }

  if (config.appKey) {
    return {
      state: { kind: "awaiting-user", pkce },
      effects: [
        {
          type: "show-authorization-url",
          reason: "first-run",
          message: `Dropbox is not authorized yet. Open this URL, allow access, then paste the code Dropbox shows into ${labels.accessCode} and run again:`,
        },
        { type: "wait-for-user" },
      ],
    };
  }

  return { state: { kind: "not-configured" }, effects: [failNotConfigured(labels, config)] };
}

/**
 * Why the Dropbox settings cannot work at all (no app key where one is needed), or undefined. The
 * config stores check this with the other settings, so every problem is reported in one run.
 */
export function dropboxSetupProblem(
  config: Pick<ConfiguredAuthorization, "appKey" | "accessCode" | "refreshToken" | "legacyToken">,
  labels: SettingLabels,
): { code: string; message: string } | undefined {
  if (config.appKey || config.legacyToken) return undefined;
  if (config.accessCode || config.refreshToken) {
    return {
      code: "config.dropbox_app_key_missing",
      message: `${config.accessCode ? labels.accessCode : labels.refreshToken} is set but ${labels.appKey} is not: set ${labels.appKey} to the App key from the Dropbox App Console (https://www.dropbox.com/developers/apps).`,
    };
  }
  return {
    code: "config.dropbox_not_configured",
    message:
      `Dropbox is not configured: set ${labels.appKey} to the App key of your app from the Dropbox App Console ` +
      `(https://www.dropbox.com/developers/apps; create a "Scoped access" app with "App folder" access and the ${dropboxPermissionsText()} permissions). ` +
      `${labels.appSecret} is optional: without it PKCE is used.`,
  };
}

function failNotConfigured(labels: SettingLabels, config: ConfiguredAuthorization = {}): TokenEffect {
  const problem = dropboxSetupProblem(config, labels) ?? dropboxSetupProblem({}, labels)!;
  return { type: "fail", kind: "config", code: problem.code, message: problem.message };
}
