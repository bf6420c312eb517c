/**
 * The URL the admin opens to authorize the app. Always www.dropbox.com (the only OAuth step served
 * there); no redirect_uri, so Dropbox shows the code for the admin to paste. `token_access_type=offline`
 * makes the exchange return a refresh token.
 */
const DROPBOX_AUTHORIZE_URL = "https://www.dropbox.com/oauth2/authorize";

export function buildAuthorizationUrl(params: { clientId: string; codeChallenge?: string }): string {
  const query = new URLSearchParams({ client_id: params.clientId, response_type: "code", token_access_type: "offline" });
  if (params.codeChallenge) {
    query.set("code_challenge", params.codeChallenge);
    query.set("code_challenge_method", "S256");
  }
  return `${DROPBOX_AUTHORIZE_URL}?${query.toString()}`;
}
