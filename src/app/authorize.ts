/**
 * The "authorize Dropbox" use case: runs the token lifecycle machine against a ConfigStore and an
 * OAuthClient, carrying out its effects (exchange a code, persist the refresh token, clear the used
 * code and a migrated legacy token, keep the PKCE verifier in private state, build the URL), and
 * ends either with an AccessTokenProvider to sync with or with "waiting for the user" (exit 3).
 *
 * PKCE: without an app secret the URL carries an S256 `code_challenge`; the verifier waits in private
 * state (never in config.json, which UCRM rewrites) until the code comes back, and refreshing needs
 * no secret at all, so the admin's configuration holds one secret less.
 */
import { SyncError } from "../domain/errors.ts";
import type { AccessTokenProvider, Reporter } from "../domain/ports.ts";
import type { Settings } from "../domain/settings.ts";
import {
  INITIAL_STATE,
  transition,
  type AccessGrant,
  type TokenEffect,
  type TokenEvent,
  type TokenState,
} from "../domain/token-lifecycle.ts";
import type { ConfigPatch, ConfigStore } from "../adapters/config/config-store.ts";
import { DropboxOAuthClient, OAuthGrantError } from "../adapters/dropbox-auth/dropbox-oauth-client.ts";
import type { OAuthClient } from "../adapters/dropbox-auth/oauth-client.ts";
import { codeChallengeS256, createCodeVerifier } from "../adapters/dropbox-auth/pkce.ts";
import {
  RefreshingAccessTokenProvider,
  StaticAccessTokenProvider,
  type AuthorizationLoss,
} from "../adapters/dropbox-auth/token-providers.ts";

export interface AuthorizeInput {
  settings: Settings;
  store: ConfigStore;
  /** Default: DropboxOAuthClient on `fetch` and `settings.dropboxBaseUrl`. */
  oauth?: OAuthClient;
  fetch?: typeof fetch;
  /** Epoch milliseconds; default Date.now. */
  now?: () => number;
  /** Warnings are reported here as they arise (and returned too). */
  reporter?: Reporter;
  /** Told every secret obtained during the run (refresh/access tokens, PKCE verifier) for redaction. */
  registerSecrets?: (secrets: (string | undefined)[]) => void;
}

export type AuthorizeResult =
  | {
      status: "authorized";
      tokens: AccessTokenProvider;
      warnings: string[];
      /** While migrating from a legacy token: the URL on offer (syncing goes on meanwhile). */
      authorizationUrl?: string;
    }
  | { status: "awaiting-user"; url: string; message: string; warnings: string[] };

/** Authorization was lost mid-run (revoked refresh token, rejected legacy token). */
export class AuthorizationLostError extends SyncError {
  constructor(
    readonly reason: string,
    readonly url: string | undefined,
    /** The message without the URL. */
    readonly advice: string,
  ) {
    super(url ? `${advice}\n${url}` : advice, {
      kind: "authorization-required",
      code: reason === "revoked" ? "dropbox.authorization_revoked" : "dropbox.legacy_token_rejected",
    });
    this.name = "AuthorizationLostError";
  }
}

export async function authorizeDropbox(input: AuthorizeInput): Promise<AuthorizeResult> {
  const { settings, store } = input;
  const labels = store.labels;
  const now = input.now ?? Date.now;
  const register = (...secrets: (string | undefined)[]) => input.registerSecrets?.(secrets);
  const oauth =
    input.oauth ??
    new DropboxOAuthClient({
      ...(input.fetch ? { fetch: input.fetch } : {}),
      ...(settings.dropboxBaseUrl ? { baseUrl: settings.dropboxBaseUrl } : {}),
    });
  const appKey = settings.dropboxAppKey;
  const appSecret = settings.dropboxAppSecret;
  const credentials = () => (appSecret ? { clientId: appKey ?? "", clientSecret: appSecret } : { clientId: appKey ?? "" });

  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    input.reporter?.report({ type: "warning", message });
  };

  /** The URL to show, with a PKCE challenge when there is no secret (verifier reused until exchanged). */
  const authorizationUrl = async (): Promise<string> => {
    if (!appKey) throw new SyncError(`Cannot build the Dropbox authorization URL: ${labels.appKey} is not set.`, { kind: "config", code: "config.dropbox_app_key_missing" });
    if (appSecret) return oauth.authorizationUrl({ clientId: appKey });
    const state = await store.readPrivateState();
    let verifier = state.pkceClientId === appKey ? state.pkceVerifier : undefined;
    if (!verifier) {
      verifier = createCodeVerifier();
      await store.writePrivateState({ ...state, pkceVerifier: verifier, pkceClientId: appKey });
    }
    register(verifier);
    return oauth.authorizationUrl({ clientId: appKey, codeChallenge: codeChallengeS256(verifier) });
  };

  const persist = async (patch: ConfigPatch) => {
    if (Object.keys(patch).length === 0) return;
    const { notes } = await store.save(patch);
    notes.forEach(warn);
  };

  const onAuthorizationLost = async (loss: AuthorizationLoss): Promise<SyncError> => {
    if (loss.clearRefreshToken) await persist({ dropboxRefreshToken: null });
    const url = appKey ? await authorizationUrl() : undefined;
    return new AuthorizationLostError(loss.reason, url, loss.message);
  };

  let state: TokenState = INITIAL_STATE;
  let access: AccessGrant | undefined;
  let offered: { url: string; message: string } | undefined;
  let waiting = false;
  const queue: TokenEvent[] = [
    {
      type: "configuration-loaded",
      config: {
        ...(appKey ? { appKey } : {}),
        ...(appSecret ? { appSecret } : {}),
        ...(settings.dropboxAccessCode ? { accessCode: settings.dropboxAccessCode } : {}),
        ...(settings.dropboxRefreshToken ? { refreshToken: settings.dropboxRefreshToken } : {}),
        ...(settings.dropboxAccessToken ? { legacyToken: settings.dropboxAccessToken } : {}),
      },
    },
  ];

  while (queue.length > 0) {
    const next = transition(state, queue.shift()!, { labels });
    state = next.state;
    const patch: ConfigPatch = {};
    for (const effect of next.effects) {
      const followUp = await carryOut(effect, patch);
      if (followUp) queue.push(followUp);
    }
    await persist(patch);
  }

  if (offered) {
    if (waiting) return { status: "awaiting-user", url: offered.url, message: offered.message, warnings };
    warn(`${offered.message}\n${offered.url}`);
  }
  if (waiting) {
    throw new SyncError(`Dropbox is waiting for authorization but no URL could be built (${state.kind}).`, { kind: "authorization-required", code: "dropbox.awaiting_authorization" });
  }

  const driver = { labels, now, onAuthorizationLost, registerSecret: (s: string) => register(s) };
  if (state.kind === "authorized") {
    const tokens = new RefreshingAccessTokenProvider({
      ...driver,
      oauth,
      ...credentials(),
      refreshToken: state.refreshToken,
      ...(access ? { initialAccess: access } : {}),
    });
    try {
      // Fail now, before any listing, when the refresh token was revoked: nothing is deleted.
      await tokens.accessToken();
    } catch (error) {
      if (error instanceof AuthorizationLostError && error.url) {
        return { status: "awaiting-user", url: error.url, message: error.advice, warnings };
      }
      throw error;
    }
    return { status: "authorized", tokens, warnings };
  }
  if (state.kind === "legacy" || state.kind === "migrating") {
    const token = state.kind === "legacy" ? state.token : state.legacyToken;
    const tokens = new StaticAccessTokenProvider({ ...driver, token, migrating: state.kind === "migrating" });
    return offered ? { status: "authorized", tokens, warnings, authorizationUrl: offered.url } : { status: "authorized", tokens, warnings };
  }
  throw new SyncError(`Internal error: Dropbox authorization ended in state "${state.kind}".`, { kind: "permanent", code: "internal.token_lifecycle" });

  async function carryOut(effect: TokenEffect, patch: ConfigPatch): Promise<TokenEvent | undefined> {
    switch (effect.type) {
      case "exchange-code":
        return exchange(effect.code);
      case "persist-refresh-token":
        patch.dropboxRefreshToken = effect.refreshToken;
        return undefined;
      case "clear-access-code":
        patch.dropboxAccessCode = null;
        return undefined;
      case "clear-legacy-token":
        patch.dropboxAccessToken = null;
        return undefined;
      case "clear-refresh-token":
        patch.dropboxRefreshToken = null;
        return undefined;
      case "forget-pkce-verifier": {
        const { pkceVerifier: _v, pkceClientId: _c, ...rest } = await store.readPrivateState();
        await store.writePrivateState(rest);
        return undefined;
      }
      case "show-authorization-url":
        offered = { url: await authorizationUrl(), message: effect.message };
        return undefined;
      case "wait-for-user":
        waiting = true;
        return undefined;
      case "warn":
        warn(effect.message);
        return undefined;
      case "fail":
        throw new SyncError(effect.message, { kind: effect.kind, code: effect.code });
      case "unexpected":
        throw new SyncError(effect.message, { kind: "permanent", code: "internal.token_lifecycle" });
      case "refresh-access-token":
      case "await-refresh":
      case "use-access-token":
        return undefined; // the token provider's business
    }
  }

  async function exchange(code: string): Promise<TokenEvent> {
    const state = await store.readPrivateState();
    const verifier = state.pkceClientId === appKey ? state.pkceVerifier : undefined;
    if (!appSecret && !verifier) {
      return {
        type: "exchange-failed",
        detail: "no PKCE verifier is stored for this code; the URL it came from was made elsewhere or before a reset",
      };
    }
    try {
      const grant = await oauth.exchangeCode({ ...credentials(), code, ...(verifier ? { codeVerifier: verifier } : {}) });
      register(grant.refreshToken, grant.accessToken);
      input.reporter?.report({
        type: "info",
        message: "Dropbox is authorized: the access code was exchanged for a refresh token, which is saved; from now on each run gets a short-lived access token from it.",
      });
      access = { token: grant.accessToken, expiresAt: now() + grant.expiresInSeconds * 1000 };
      return { type: "code-exchanged", refreshToken: grant.refreshToken ?? "", access };
    } catch (error) {
      if (OAuthGrantError.isGrantError(error)) return { type: "exchange-failed", detail: error.description };
      throw error;
    }
  }
}
