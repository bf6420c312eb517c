/**
 * AccessTokenProvider implementations, both driven by the token lifecycle machine:
 * - RefreshingAccessTokenProvider: caches the short-lived token with its expiry, refreshes 5 minutes
 *   before it and after a 401, one refresh in flight shared by every caller.
 * - StaticAccessTokenProvider: the legacy long-lived token; a 401 ends in a specific message.
 */
import { SyncError, describeError } from "../../domain/errors.ts";
import type { AccessTokenProvider } from "../../domain/ports.ts";
import type { SettingLabels } from "../../domain/legacy-migration.ts";
import {
  transition,
  type AccessGrant,
  type AuthorizationUrlReason,
  type TokenEffect,
  type TokenEvent,
  type TokenState,
} from "../../domain/token-lifecycle.ts";
import { OAuthGrantError } from "./dropbox-oauth-client.ts";
import type { OAuthClient } from "./oauth-client.ts";

/** Authorization is gone for good; the handler persists what must change and returns the error to throw. */
export interface AuthorizationLoss {
  reason: AuthorizationUrlReason;
  message: string;
  /** The refresh token must be cleared from the store. */
  clearRefreshToken: boolean;
}
export type AuthorizationLossHandler = (loss: AuthorizationLoss) => Promise<SyncError>;

const defaultLossHandler: AuthorizationLossHandler = async (loss) =>
  new SyncError(loss.message, { kind: "authorization-required", code: loss.reason === "revoked" ? "dropbox.authorization_revoked" : "dropbox.legacy_token_rejected" });

interface DriverOptions {
  labels: SettingLabels;
  /** Epoch milliseconds. */
  now: () => number;
  onAuthorizationLost?: AuthorizationLossHandler;
  /** Told each access token obtained, for redaction. */
  registerSecret?: (secret: string) => void;
}

/** Runs events through the machine and carries out the effects a token provider is concerned with. */
abstract class MachineDrivenProvider implements AccessTokenProvider {
  protected state: TokenState;
  protected inflight: Promise<string> | undefined;

  constructor(
    initial: TokenState,
    protected readonly options: DriverOptions,
  ) {
    this.state = initial;
  }

  accessToken(_signal?: AbortSignal): Promise<string> {
    return this.drive({ type: "access-token-needed", now: this.options.now() });
  }

  refreshAfterRejection(rejected: string, reason: string, _signal?: AbortSignal): Promise<string> {
    const type = reason === "expired_access_token" ? "expired-access-token" : "invalid-access-token";
    return this.drive({ type, token: rejected });
  }

  protected step(event: TokenEvent): TokenEffect[] {
    const next = transition(this.state, event, { labels: this.options.labels });
    this.state = next.state;
    return next.effects;
  }

  protected async drive(event: TokenEvent): Promise<string> {
    return this.carryOut(this.step(event));
  }

  protected async carryOut(effects: TokenEffect[]): Promise<string> {
    const urlEffect = effects.find((e) => e.type === "show-authorization-url");
    if (urlEffect && urlEffect.type === "show-authorization-url") {
      const handler = this.options.onAuthorizationLost ?? defaultLossHandler;
      throw await handler({
        reason: urlEffect.reason,
        message: urlEffect.message,
        clearRefreshToken: effects.some((e) => e.type === "clear-refresh-token"),
      });
    }
    for (const effect of effects) {
      switch (effect.type) {
        case "use-access-token":
          return effect.token;
        case "refresh-access-token":
          this.inflight = this.refresh().finally(() => {
            this.inflight = undefined;
          });
          return this.inflight;
        case "await-refresh":
          if (this.inflight) return this.inflight;
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
          break; // persisting effects belong to the authorize use case
      }
    }
    throw new SyncError(`Internal error: no Dropbox access token came out of state "${this.state.kind}".`, {
      kind: "permanent",
      code: "internal.token_lifecycle",
    });
  }

  protected refresh(): Promise<string> {
    return Promise.reject(new SyncError("This token provider cannot refresh.", { kind: "permanent", code: "internal.token_lifecycle" }));
  }
}

export interface RefreshingAccessTokenProviderOptions extends DriverOptions {
  oauth: OAuthClient;
  clientId: string;
  clientSecret?: string;
  refreshToken: string;
  /** A token the code exchange just returned, so the first request needs no refresh. */
  initialAccess?: AccessGrant;
}

export class RefreshingAccessTokenProvider extends MachineDrivenProvider {
  constructor(private readonly config: RefreshingAccessTokenProviderOptions) {
    super(
      config.initialAccess
        ? { kind: "authorized", refreshToken: config.refreshToken, access: config.initialAccess, refreshing: false }
        : { kind: "authorized", refreshToken: config.refreshToken, refreshing: false },
      config,
    );
  }

  /** How many refreshes this provider has made (for reports and tests). */
  refreshCount = 0;

  protected override async refresh(): Promise<string> {
    this.refreshCount++;
    let grant;
    try {
      const credentials = this.config.clientSecret
        ? { clientId: this.config.clientId, clientSecret: this.config.clientSecret }
        : { clientId: this.config.clientId };
      grant = await this.config.oauth.refresh({ ...credentials, refreshToken: this.config.refreshToken });
    } catch (error) {
      if (OAuthGrantError.isGrantError(error)) {
        return this.carryOut(this.step({ type: "refresh-failed", reason: "invalid-grant", detail: error.description }));
      }
      this.step({ type: "refresh-failed", reason: "other", detail: describeError(error) });
      throw error;
    }
    this.options.registerSecret?.(grant.accessToken);
    const access = { token: grant.accessToken, expiresAt: this.options.now() + grant.expiresInSeconds * 1000 };
    return this.carryOut(this.step({ type: "refresh-succeeded", access }));
  }
}

export interface StaticAccessTokenProviderOptions extends DriverOptions {
  token: string;
  /** True while an authorization URL is on offer (app key set): a rejection then shows it. */
  migrating?: boolean;
}

export class StaticAccessTokenProvider extends MachineDrivenProvider {
  constructor(options: StaticAccessTokenProviderOptions) {
    super(options.migrating ? { kind: "migrating", legacyToken: options.token, pkce: false } : { kind: "legacy", token: options.token }, options);
  }
}
