/**
 * Dropbox's token endpoint (`${baseUrl}/oauth2/token`). Every parameter, secrets included, goes in
 * an application/x-www-form-urlencoded body; the URL never carries one. Answers are mapped to
 * SyncErrors: 400 invalid_grant -> OAuthGrantError (code used/expired, or refresh token revoked),
 * invalid_client and a grant made with the app secret used without it -> config, 429 -> retried after
 * its Retry-After (bounded), then rate-limited, 5xx and network errors -> transient.
 */
import { createNodeHttpFetch } from "../http/node-http-fetch.ts";
import { OAuthGrantError, SyncError, describeError } from "../../domain/errors.ts";
import { buildAuthorizationUrl } from "./authorization-url.ts";
import type { Redactor } from "../../domain/ports.ts";
import { SecretRedactor } from "../../domain/redactor.ts";
import { abortableSleep } from "../retry/retry.ts";
import type { ClientCredentials, OAuthClient, TokenGrant } from "../../app/ports.ts";

/** The error this client throws on `invalid_grant`; its class lives with the domain errors. */
export { OAuthGrantError };

const DROPBOX_API_BASE_URL = "https://api.dropboxapi.com";
const DEFAULT_TIMEOUT_MS = 30_000;
/** Dropbox short-lived tokens last 4 hours; used only if an answer omits expires_in. */
const DEFAULT_EXPIRES_IN_S = 14_400;

export interface DropboxOAuthClientOptions {
  fetch?: typeof fetch;
  /** Replaces https://api.dropboxapi.com (tests: the loopback fake). */
  baseUrl?: string;
  timeoutMs?: number;
  /** The run's redactor, for the token endpoint's text in errors (the secrets sent are registered with it); default a new one. */
  redactor?: Redactor;
  /** How a 429's Retry-After is waited out (default: real timers); tests pass one that does not sleep. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** A 429 from the token endpoint is retried this many times, each after its Retry-After... */
const TOKEN_RATE_LIMIT_RETRIES = 3;
/** ...but never after more than this: a run must not hang on one answer. */
const MAX_TOKEN_RETRY_AFTER_MS = 60_000;
const DEFAULT_TOKEN_RETRY_AFTER_MS = 5_000;

/**
 * Dropbox's OAuth token endpoint client (code exchange, refresh), secrets in the body only.
 *
 * @example
 * ```ts
 * import { DropboxOAuthClient } from "unms-dropbox-backup-sync";
 *
 * declare const appKey: string;
 * declare const refreshToken: string;
 *
 * const grant = await new DropboxOAuthClient().refresh({ clientId: appKey, refreshToken });
 * ```
 */
export class DropboxOAuthClient implements OAuthClient {
  private readonly fetch: typeof fetch;
  readonly tokenUrl: string;
  private readonly timeoutMs: number;
  private readonly redactor: Redactor;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(options: DropboxOAuthClientOptions = {}) {
    this.sleep = options.sleep ?? abortableSleep;
    this.fetch = options.fetch ?? defaultFetch();
    this.tokenUrl = `${(options.baseUrl ?? DROPBOX_API_BASE_URL).replace(/\/+$/, "")}/oauth2/token`;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.redactor = options.redactor ?? new SecretRedactor();
  }

  authorizationUrl(params: { clientId: string; codeChallenge?: string }): string {
    return buildAuthorizationUrl(params);
  }

  async exchangeCode(params: ClientCredentials & { code: string; codeVerifier?: string }, signal?: AbortSignal): Promise<TokenGrant> {
    const form: Record<string, string> = { grant_type: "authorization_code", code: params.code, ...credentials(params) };
    if (params.codeVerifier) form.code_verifier = params.codeVerifier;
    const grant = await this.post("authorization_code", form, signal);
    if (!grant.refreshToken) {
      throw new SyncError(
        `Dropbox exchanged the access code at ${this.tokenUrl} but returned no refresh token; the authorization URL must include token_access_type=offline. Authorize again with the URL this tool prints.`,
        { kind: "permanent", code: "dropbox.oauth.no_refresh_token" },
      );
    }
    return grant;
  }

  refresh(params: ClientCredentials & { refreshToken: string }, signal?: AbortSignal): Promise<TokenGrant> {
    return this.post("refresh_token", { grant_type: "refresh_token", refresh_token: params.refreshToken, ...credentials(params) }, signal);
  }

  /** One token request; a 429 is retried after its Retry-After (capped), a few times. */
  private async post(grantType: "authorization_code" | "refresh_token", form: Record<string, string>, signal?: AbortSignal): Promise<TokenGrant> {
    for (let retry = 0; ; retry++) {
      try {
        return await this.postOnce(grantType, form, signal);
      } catch (error) {
        if (!SyncError.is(error) || error.kind !== "rate-limited" || retry >= TOKEN_RATE_LIMIT_RETRIES) throw error;
        await this.sleep(Math.min(error.retryAfterMs ?? DEFAULT_TOKEN_RETRY_AFTER_MS, MAX_TOKEN_RETRY_AFTER_MS), signal);
      }
    }
  }

  private async postOnce(grantType: "authorization_code" | "refresh_token", form: Record<string, string>, signal?: AbortSignal): Promise<TokenGrant> {
    const what = grantType === "authorization_code" ? "Exchanging the Dropbox access code" : "Refreshing the Dropbox access token";
    const timeout = AbortSignal.timeout(this.timeoutMs);
    // Dropbox does not echo parameters, but a proxy might: never let a secret sent come back in a message.
    this.redactor.register([form.code, form.refresh_token, form.client_secret, form.code_verifier]);
    let response: Response;
    try {
      response = await this.fetch(this.tokenUrl, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
        body: new URLSearchParams(form).toString(),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      const why = timeout.aborted ? `no answer within ${this.timeoutMs / 1000} s` : this.redactor.redact(describeError(error));
      throw new SyncError(`${what} failed: ${this.tokenUrl} could not be reached (${why}). Check the network connection; the next run tries again.`, {
        kind: "transient",
        code: "dropbox.oauth.network",
        cause: error,
      });
    }

    const text = await response.text().catch(() => "");
    const body = parseJson(text);
    if (response.ok) return this.grantFrom(body, what);

    const errorTag = typeof body?.error === "string" ? body.error : "";
    const description = (typeof body?.error_description === "string" ? body.error_description : "").slice(0, 300);
    const status = response.status;
    if (errorTag === "invalid_grant") {
      const detail = description || "invalid_grant";
      throw new OAuthGrantError(`${what} failed: Dropbox answered invalid_grant (${detail}).`, detail, grantType);
    }
    if (errorTag.startsWith("invalid_client") || status === 401) {
      throw new SyncError(
        `${what} failed: Dropbox rejected the app credentials (${errorTag || `HTTP ${status}`}). Check the app key and app secret against the Dropbox App Console (https://www.dropbox.com/developers/apps); leave the secret empty only if you authorized with PKCE.`,
        { kind: "config", code: "dropbox.oauth.invalid_client", status },
      );
    }
    if (errorTag === "invalid_request" && /no auth function/i.test(description) && !form.client_secret && !form.code_verifier) {
      // Dropbox's answer to a request without the app secret for a grant made with it.
      throw new SyncError(
        `${what} failed: ${grantType === "refresh_token" ? "the refresh token was issued" : "the access code comes from an authorization URL made"} with the app secret, and no app secret is set (Dropbox: "${description}").`,
        { kind: "config", code: "dropbox.oauth.secret_required", status },
      );
    }
    if (status === 429) {
      const seconds = Number(response.headers.get("retry-after"));
      throw new SyncError(`${what} failed: Dropbox asked to slow down (HTTP 429), also after ${TOKEN_RATE_LIMIT_RETRIES} waits of up to ${MAX_TOKEN_RETRY_AFTER_MS / 1000} s; the next run tries again.`, {
        kind: "rate-limited",
        code: "dropbox.oauth.rate_limited",
        status,
        retryAfterMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 5000,
      });
    }
    if (status >= 500) {
      throw new SyncError(`${what} failed: Dropbox's token endpoint answered HTTP ${status}; this is on Dropbox's side, the next run tries again.`, {
        kind: "transient",
        code: "dropbox.oauth.server_error",
        status,
      });
    }
    const safeText = this.redactor.redact(text).slice(0, 200).trim();
    const reason = errorTag ? `${errorTag}${description ? `: ${description}` : ""}` : `HTTP ${status}${safeText ? `: ${safeText}` : ""}`;
    throw new SyncError(`${what} failed: Dropbox answered ${reason}.`, { kind: "permanent", code: "dropbox.oauth.rejected", status });
  }

  private grantFrom(body: Record<string, unknown> | undefined, what: string): TokenGrant {
    const accessToken = typeof body?.access_token === "string" ? body.access_token.trim() : "";
    if (!accessToken) {
      throw new SyncError(`${what} failed: ${this.tokenUrl} answered without an access_token.`, {
        kind: "transient",
        code: "dropbox.oauth.bad_response",
      });
    }
    const expiresIn = typeof body?.expires_in === "number" && body.expires_in > 0 ? body.expires_in : DEFAULT_EXPIRES_IN_S;
    const grant: TokenGrant = { accessToken, expiresInSeconds: expiresIn };
    if (typeof body?.refresh_token === "string" && body.refresh_token.trim()) grant.refreshToken = body.refresh_token.trim();
    return grant;
  }
}

function credentials(params: ClientCredentials): Record<string, string> {
  return params.clientSecret ? { client_id: params.clientId, client_secret: params.clientSecret } : { client_id: params.clientId };
}

function parseJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * node:http under Node: the first call of Node's global fetch loads undici, about 30 MiB of peak RSS,
 * which was a third of a nightly no-op run (BENCHMARKS.md, no-op). Deno keeps its own fetch.
 */
function defaultFetch(): typeof fetch {
  if ("Deno" in globalThis) return globalThis.fetch.bind(globalThis);
  return createNodeHttpFetch();
}
