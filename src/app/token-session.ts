/**
 * The one driver of the token lifecycle machine (src/domain/token-lifecycle.ts). A TokenSession
 * holds the machine's state for a whole run and carries out every effect: exchange a code, persist
 * the refresh token, clear the used code and a migrated legacy token, keep the PKCE verifier in
 * private state, build the authorization URL, refresh the short-lived access token (one refresh in
 * flight shared by every caller), and report. It serves all three entries: `start()` for the CLI and
 * the UCRM plugin (settings from a ConfigStore), and the library's RefreshingAccessTokenProvider /
 * StaticAccessTokenProvider, which are sessions started in the authorized or legacy state (no store:
 * nothing is persisted). Whoever needs a token asks the session (it is the AccessTokenProvider).
 *
 * PKCE: without an app secret the URL carries an S256 `code_challenge`; the verifier waits in private
 * state (never in config.json, which UCRM rewrites) until the code comes back, and refreshing needs
 * no secret at all, so the admin's configuration holds one secret less.
 */
import { OAuthGrantError, SyncError, describeError } from "../domain/errors.ts";
import type { SettingLabels } from "../domain/legacy-migration.ts";
import type { AccessTokenProvider, Reporter } from "../domain/ports.ts";
import type { Settings } from "../domain/settings.ts";
import {
  INITIAL_STATE,
  rejectionEvent,
  tokenRejectionOf,
  transition,
  type AccessGrant,
  type AuthorizationUrlReason,
  type TokenEffect,
  type TokenEvent,
  type TokenState,
} from "../domain/token-lifecycle.ts";
import type { ConfigPatch, ConfigStore, OAuthClient, Pkce } from "./ports.ts";

/** What a session needs besides its state; everything but `labels` and `now` is optional. */
export interface TokenSessionOptions {
  labels: SettingLabels;
  /** Epoch milliseconds. */
  now: () => number;
  oauth?: OAuthClient;
  clientId?: string;
  clientSecret?: string;
  /** Where the refresh token, the cleared code and the PKCE verifier are persisted (CLI, UCRM). */
  store?: ConfigStore;
  /** Verifier and challenge of the authorization URL when there is no app secret (with `store`). */
  pkce?: Pkce;
  /** Warnings and the "authorized" note are reported here as they arise. */
  reporter?: Reporter;
  /** Told every secret obtained (refresh/access tokens, PKCE verifier), for redaction. */
  registerSecret?: (secret: string) => void;
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
class AuthorizationLostError extends SyncError {
  constructor(
    readonly reason: string,
    readonly url: string | undefined,
    /** The message without the URL. */
    readonly advice: string,
  ) {
    super(url ? `${advice}\n${url}` : advice, { kind: "authorization-required", code: lostCode(reason) });
    this.name = "AuthorizationLostError";
  }
}

function lostCode(reason: string): string {
  return reason === "revoked" ? "dropbox.authorization_revoked" : "dropbox.legacy_token_rejected";
}

export class TokenSession implements AccessTokenProvider {
  #state: TokenState;
  #inflight: Promise<string> | undefined;
  /** A URL offered during start() (first run, migration), and whether the run must stop for the user. */
  #offered: { url: string; message: string } | undefined;
  #waiting = false;
  readonly #warnings: string[] = [];

  /** How many refreshes this session has made (for reports and tests). */
  refreshCount = 0;

  constructor(
    protected readonly options: TokenSessionOptions,
    initial: TokenState = INITIAL_STATE,
  ) {
    this.#state = initial;
  }

  /** A session for the CLI or UCRM run: app key and secret from `settings`, persistence in `store`. */
  static fromSettings(
    settings: Settings,
    input: { store: ConfigStore; oauth: OAuthClient; pkce: Pkce; now?: () => number; reporter?: Reporter; registerSecret?: (secret: string) => void },
  ): TokenSession {
    return new TokenSession({
      labels: input.store.labels,
      now: input.now ?? Date.now,
      oauth: input.oauth,
      store: input.store,
      pkce: input.pkce,
      ...(settings.dropboxAppKey ? { clientId: settings.dropboxAppKey } : {}),
      ...(settings.dropboxAppSecret ? { clientSecret: settings.dropboxAppSecret } : {}),
      ...(input.reporter ? { reporter: input.reporter } : {}),
      ...(input.registerSecret ? { registerSecret: input.registerSecret } : {}),
    });
  }

  /**
   * Feeds the configuration to the machine and carries out what it asks (exchange, persist, clear,
   * build the URL). Ends authorized (this session serves the tokens) or waiting for the user.
   */
  async start(settings: Pick<Settings, "dropboxAppKey" | "dropboxAppSecret" | "dropboxAccessCode" | "dropboxRefreshToken" | "dropboxAccessToken">): Promise<AuthorizeResult> {
    const queue: TokenEvent[] = [
      {
        type: "configuration-loaded",
        config: {
          ...(settings.dropboxAppKey ? { appKey: settings.dropboxAppKey } : {}),
          ...(settings.dropboxAppSecret ? { appSecret: settings.dropboxAppSecret } : {}),
          ...(settings.dropboxAccessCode ? { accessCode: settings.dropboxAccessCode } : {}),
          ...(settings.dropboxRefreshToken ? { refreshToken: settings.dropboxRefreshToken } : {}),
          ...(settings.dropboxAccessToken ? { legacyToken: settings.dropboxAccessToken } : {}),
        },
      },
    ];
    while (queue.length > 0) {
      const effects = this.#step(queue.shift()!);
      const patch: ConfigPatch = {};
      for (const effect of effects) {
        const followUp = await this.#carryOutSetup(effect, patch);
        if (followUp) queue.push(followUp);
      }
      await this.#persist(patch);
    }

    const warnings = this.#warnings;
    const offered = this.#offered;
    if (offered) {
      if (this.#waiting) return { status: "awaiting-user", url: offered.url, message: offered.message, warnings };
      this.#warn(`${offered.message}\n${offered.url}`);
    }
    if (this.#waiting) {
      throw new SyncError(`Dropbox is waiting for authorization but no URL could be built (${this.#state.kind}).`, { kind: "authorization-required", code: "dropbox.awaiting_authorization" });
    }
    if (this.#state.kind === "authorized") {
      try {
        // Fail now, before any listing, when the refresh token was revoked: nothing is deleted.
        await this.accessToken();
      } catch (error) {
        if (error instanceof AuthorizationLostError && error.url) return { status: "awaiting-user", url: error.url, message: error.advice, warnings };
        throw error;
      }
      return { status: "authorized", tokens: this, warnings };
    }
    if (this.#state.kind === "legacy" || this.#state.kind === "migrating") {
      return offered ? { status: "authorized", tokens: this, warnings, authorizationUrl: offered.url } : { status: "authorized", tokens: this, warnings };
    }
    throw new SyncError(`Internal error: Dropbox authorization ended in state "${this.#state.kind}".`, { kind: "permanent", code: "internal.token_lifecycle" });
  }

  accessToken(_signal?: AbortSignal): Promise<string> {
    return this.#serve(this.#step({ type: "access-token-needed", now: this.options.now() }));
  }

  refreshAfterRejection(rejected: string, reason: string, _signal?: AbortSignal): Promise<string> {
    return this.#serve(this.#step(rejectionEvent(tokenRejectionOf(reason), rejected)));
  }

  #step(event: TokenEvent): TokenEffect[] {
    const next = transition(this.#state, event, { labels: this.options.labels });
    this.#state = next.state;
    return next.effects;
  }

  /** Effects while setting up (start): persisting ones are gathered into one save per step. */
  async #carryOutSetup(effect: TokenEffect, patch: ConfigPatch): Promise<TokenEvent | undefined> {
    switch (effect.type) {
      case "exchange-code":
        return this.#exchange(effect.code);
      case "persist-refresh-token":
        patch.dropboxRefreshToken = effect.refreshToken;
        return undefined;
      case "clear-access-code":
        patch.dropboxAccessCode = null;
        if (effect.rejected) patch.accessCodeRejected = true;
        return undefined;
      case "clear-legacy-token":
        patch.dropboxAccessToken = null;
        return undefined;
      case "clear-refresh-token":
        patch.dropboxRefreshToken = null;
        return undefined;
      case "forget-pkce-verifier": {
        const store = this.#requireStore();
        const { pkceVerifier: _v, pkceClientId: _c, ...rest } = await store.readPrivateState();
        await store.writePrivateState(rest);
        return undefined;
      }
      case "show-authorization-url":
        this.#offered = { url: await this.#authorizationUrl(), message: effect.message };
        return undefined;
      case "wait-for-user":
        this.#waiting = true;
        return undefined;
      case "warn":
        this.#warn(effect.message);
        return undefined;
      case "fail":
        throw new SyncError(effect.message, { kind: effect.kind, code: effect.code });
      case "unexpected":
        throw new SyncError(effect.message, { kind: "permanent", code: "internal.token_lifecycle" });
      case "refresh-access-token":
      case "await-refresh":
      case "use-access-token":
        return undefined; // served once the session is set up
    }
  }

  /** Effects while serving tokens: the first token, a shared refresh, or the loss of authorization. */
  async #serve(effects: TokenEffect[]): Promise<string> {
    const urlEffect = effects.find((e) => e.type === "show-authorization-url");
    if (urlEffect && urlEffect.type === "show-authorization-url") {
      throw await this.#authorizationLost(urlEffect.reason, urlEffect.message, effects.some((e) => e.type === "clear-refresh-token"));
    }
    for (const effect of effects) {
      switch (effect.type) {
        case "use-access-token":
          return effect.token;
        case "refresh-access-token":
          this.#inflight = this.#refresh().finally(() => {
            this.#inflight = undefined;
          });
          return this.#inflight;
        case "await-refresh":
          if (this.#inflight) return this.#inflight;
          break;
        case "fail":
          throw new SyncError(effect.message, { kind: effect.kind, code: effect.code });
        case "wait-for-user":
          throw new SyncError("Dropbox is waiting for the authorization code; run again after pasting it.", {
            kind: "authorization-required",
            code: "dropbox.awaiting_authorization",
          });
        case "unexpected":
          throw new SyncError(effect.message, { kind: "permanent", code: "internal.token_lifecycle" });
        default:
          break; // persisting effects only arise while setting up
      }
    }
    throw new SyncError(`Internal error: no Dropbox access token came out of state "${this.#state.kind}".`, {
      kind: "permanent",
      code: "internal.token_lifecycle",
    });
  }

  async #refresh(): Promise<string> {
    this.refreshCount++;
    const refreshToken = this.#state.kind === "authorized" ? this.#state.refreshToken : "";
    let grant;
    try {
      grant = await this.#oauth().refresh({ ...this.#credentials(), refreshToken });
    } catch (error) {
      if (OAuthGrantError.isGrantError(error)) {
        return this.#serve(this.#step({ type: "refresh-failed", reason: "invalid-grant", detail: error.description }));
      }
      this.#step({ type: "refresh-failed", reason: "other", detail: describeError(error) });
      if (SyncError.is(error) && error.code === "dropbox.oauth.secret_required") throw this.#secretRequired();
      throw error;
    }
    this.options.registerSecret?.(grant.accessToken);
    const access = { token: grant.accessToken, expiresAt: this.options.now() + grant.expiresInSeconds * 1000 };
    return this.#serve(this.#step({ type: "refresh-succeeded", access }));
  }

  async #exchange(code: string): Promise<TokenEvent> {
    const store = this.#requireStore();
    const appKey = this.options.clientId;
    const state = await store.readPrivateState();
    const verifier = state.pkceClientId === appKey ? state.pkceVerifier : undefined;
    if (!this.options.clientSecret && !verifier) {
      return {
        type: "exchange-failed",
        detail: "no PKCE verifier is stored for this code; the URL it came from was made elsewhere or before a reset",
      };
    }
    try {
      const grant = await this.#oauth().exchangeCode({ ...this.#credentials(), code, ...(verifier ? { codeVerifier: verifier } : {}) });
      this.#register(grant.refreshToken, grant.accessToken);
      this.options.reporter?.report({
        type: "info",
        message: "Dropbox is authorized: the access code was exchanged for a refresh token, which is saved; from now on each run gets a short-lived access token from it.",
      });
      const access = { token: grant.accessToken, expiresAt: this.options.now() + grant.expiresInSeconds * 1000 };
      return { type: "code-exchanged", refreshToken: grant.refreshToken ?? "", access };
    } catch (error) {
      if (OAuthGrantError.isGrantError(error)) return { type: "exchange-failed", detail: error.description };
      throw error;
    }
  }

  /** A refresh token issued with the app secret, used without it: say exactly that, and both ways out. */
  #secretRequired(): SyncError {
    const { appSecret, refreshToken } = this.options.labels;
    return new SyncError(
      `The Dropbox refresh token was issued to an authorization made with the app secret, but ${appSecret} is not set, so Dropbox refuses to use it. ` +
        `Set ${appSecret} to your app's secret (Dropbox App Console, https://www.dropbox.com/developers/apps), or, to go without a secret (PKCE), ` +
        `remove the refresh token (${refreshToken}, or the one kept by this tool) and authorize again.`,
      { kind: "config", code: "dropbox.oauth.secret_required" },
    );
  }

  /** The URL to show, with a PKCE challenge when there is no secret (verifier reused until exchanged). */
  async #authorizationUrl(): Promise<string> {
    const appKey = this.options.clientId;
    if (!appKey) throw new SyncError(`Cannot build the Dropbox authorization URL: ${this.options.labels.appKey} is not set.`, { kind: "config", code: "config.dropbox_app_key_missing" });
    if (this.options.clientSecret) return this.#oauth().authorizationUrl({ clientId: appKey });
    const store = this.#requireStore();
    const state = await store.readPrivateState();
    let verifier = state.pkceClientId === appKey ? state.pkceVerifier : undefined;
    if (!verifier) {
      verifier = this.#pkce().createCodeVerifier();
      await store.writePrivateState({ ...state, pkceVerifier: verifier, pkceClientId: appKey });
    }
    this.#register(verifier);
    return this.#oauth().authorizationUrl({ clientId: appKey, codeChallenge: this.#pkce().codeChallengeS256(verifier) });
  }

  /**
   * Authorization is gone for good. With a store: clear the refresh token, offer a fresh URL. Without
   * one (library): only say so; the embedder keeps its credentials.
   */
  async #authorizationLost(reason: AuthorizationUrlReason, message: string, clearRefreshToken: boolean): Promise<SyncError> {
    if (!this.options.store) return new SyncError(message, { kind: "authorization-required", code: lostCode(reason) });
    if (clearRefreshToken) await this.#persist({ dropboxRefreshToken: null });
    const url = this.options.clientId ? await this.#authorizationUrl() : undefined;
    return new AuthorizationLostError(reason, url, message);
  }

  async #persist(patch: ConfigPatch): Promise<void> {
    if (Object.keys(patch).length === 0) return;
    let notes: string[];
    try {
      ({ notes } = await this.#requireStore().save(patch));
    } catch (error) {
      if (typeof patch.dropboxRefreshToken === "string") throw this.#refreshTokenUnsaved(error);
      throw error;
    }
    notes.forEach((note) => this.#warn(note));
  }

  /** The code was exchanged, so it is spent; without the refresh token saved, only a new code helps. */
  #refreshTokenUnsaved(error: unknown): SyncError {
    return new SyncError(
      `Dropbox accepted the access code, but the refresh token it returned could not be saved: ${describeError(error)} ` +
        `The access code in ${this.options.labels.accessCode} is now used up (Dropbox accepts each code once). ` +
        `Fix the permission first, then run again, open the new authorization URL it prints, allow access and paste the new code.`,
      { kind: "config", code: "config.refresh_token_unsaved", cause: error },
    );
  }

  #warn(message: string): void {
    this.#warnings.push(message);
    this.options.reporter?.report({ type: "warning", message });
  }

  #register(...secrets: (string | undefined)[]): void {
    for (const secret of secrets) if (secret) this.options.registerSecret?.(secret);
  }

  #credentials(): { clientId: string; clientSecret?: string } {
    const clientId = this.options.clientId ?? "";
    return this.options.clientSecret ? { clientId, clientSecret: this.options.clientSecret } : { clientId };
  }

  #pkce(): Pkce {
    if (!this.options.pkce) throw new SyncError("Internal error: this Dropbox token session has no PKCE generator.", { kind: "permanent", code: "internal.token_lifecycle" });
    return this.options.pkce;
  }

  #oauth(): OAuthClient {
    if (!this.options.oauth) throw new SyncError("Internal error: this Dropbox token session has no OAuth client.", { kind: "permanent", code: "internal.token_lifecycle" });
    return this.options.oauth;
  }

  #requireStore(): ConfigStore {
    if (!this.options.store) throw new SyncError("Internal error: this Dropbox token session has no configuration store.", { kind: "permanent", code: "internal.token_lifecycle" });
    return this.options.store;
  }
}

function authorizedState(refreshToken: string, access: AccessGrant | undefined): TokenState {
  return access ? { kind: "authorized", refreshToken, access, refreshing: false } : { kind: "authorized", refreshToken, refreshing: false };
}

function legacyState(token: string, migrating: boolean): TokenState {
  return migrating ? { kind: "migrating", legacyToken: token, pkce: false } : { kind: "legacy", token };
}

/** A TokenSession on a refresh token, as the library and embedders build one (nothing persisted). */
export interface RefreshingAccessTokenProviderOptions extends Omit<TokenSessionOptions, "oauth" | "clientId" | "store"> {
  oauth: OAuthClient;
  clientId: string;
  refreshToken: string;
  /** A token the code exchange just returned, so the first request needs no refresh. */
  initialAccess?: AccessGrant;
}

/**
 * Short-lived tokens from a refresh token: renewed 5 minutes before expiry and after a 401, one refresh shared.
 *
 * @example
 * ```ts
 * import { DropboxOAuthClient, RefreshingAccessTokenProvider } from "unms-dropbox-backup-sync";
 *
 * declare const appKey: string;
 * declare const refreshToken: string;
 *
 * const tokens = new RefreshingAccessTokenProvider({
 *   oauth: new DropboxOAuthClient(),
 *   clientId: appKey,
 *   refreshToken,
 *   labels: { appKey: "appKey", appSecret: "appSecret", accessCode: "code", refreshToken: "refreshToken", legacyToken: "token" },
 *   now: Date.now,
 * });
 * ```
 */
export class RefreshingAccessTokenProvider extends TokenSession {
  constructor({ refreshToken, initialAccess, ...options }: RefreshingAccessTokenProviderOptions) {
    super(options, authorizedState(refreshToken, initialAccess));
  }
}

/** A TokenSession on a legacy long-lived token. */
export interface StaticAccessTokenProviderOptions extends Omit<TokenSessionOptions, "store"> {
  token: string;
  /** True while an authorization URL is on offer (app key set): a rejection then shows it. */
  migrating?: boolean;
}

/** The legacy long-lived token; a 401 ends in a specific message. */
export class StaticAccessTokenProvider extends TokenSession {
  constructor({ token, migrating, ...options }: StaticAccessTokenProviderOptions) {
    super(options, legacyState(token, migrating === true));
  }
}
