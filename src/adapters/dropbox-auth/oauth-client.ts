/**
 * The OAuthClient port: Dropbox's token endpoint, owned by us because the SDK's DropboxAuth puts
 * client secret, code and refresh token in the URL query string (where proxies and logs keep them).
 */
export interface TokenGrant {
  accessToken: string;
  /** Lifetime Dropbox announced (`expires_in`), in seconds. */
  expiresInSeconds: number;
  /** Only code exchanges with token_access_type=offline return one. */
  refreshToken?: string;
}

export interface ClientCredentials {
  clientId: string;
  /** Absent for PKCE. */
  clientSecret?: string;
}

export interface OAuthClient {
  authorizationUrl(params: { clientId: string; codeChallenge?: string }): string;
  /** Exchanges a pasted code; with PKCE pass the verifier instead of a secret. */
  exchangeCode(params: ClientCredentials & { code: string; codeVerifier?: string }, signal?: AbortSignal): Promise<TokenGrant>;
  refresh(params: ClientCredentials & { refreshToken: string }, signal?: AbortSignal): Promise<TokenGrant>;
}
