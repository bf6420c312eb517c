/**
 * Moving from a legacy long-lived Dropbox token to a refresh token.
 *
 * Dropbox is retiring long-lived tokens, so a run that holds one keeps syncing with it but warns
 * every time, and offers the authorization URL as soon as an app key is configured. Once a code was
 * exchanged (or a refresh token is configured) the refresh token wins and the legacy token is
 * cleared from the store. Pure: no I/O; messages name settings by the labels of the store in use.
 */

/** How the admin knows each Dropbox setting in the store in use (env variable or config key). */
export interface SettingLabels {
  appKey: string;
  appSecret: string;
  accessCode: string;
  refreshToken: string;
  legacyToken: string;
}

export interface LegacyInputs {
  hasLegacyToken: boolean;
  hasAppKey: boolean;
  hasRefreshToken: boolean;
  hasAccessCode: boolean;
}

export type LegacyDecision =
  /** No legacy token: nothing to migrate. */
  | { action: "none" }
  /** Sync with the legacy token; `offerAuthorization` when an app key allows migrating right now. */
  | { action: "use-legacy"; offerAuthorization: boolean }
  /** A code is about to be exchanged; the legacy token is the fallback if that fails. */
  | { action: "exchange-then-clear" }
  /** A refresh token exists: it wins and the legacy token is cleared. */
  | { action: "clear-legacy" };

export function decideLegacy(inputs: LegacyInputs): LegacyDecision {
  if (!inputs.hasLegacyToken) return { action: "none" };
  if (!inputs.hasAppKey) return { action: "use-legacy", offerAuthorization: false };
  if (inputs.hasAccessCode) return { action: "exchange-then-clear" };
  if (inputs.hasRefreshToken) return { action: "clear-legacy" };
  return { action: "use-legacy", offerAuthorization: true };
}

/** The steps from a legacy token to a refresh token, as one paragraph. */
export function migrationSteps(labels: SettingLabels): string {
  return (
    `To migrate: (1) in the Dropbox App Console (https://www.dropbox.com/developers/apps) open your app and copy its App key; ` +
    `(2) set ${labels.appKey} to it (${labels.appSecret} is optional: without it the safer PKCE flow is used); ` +
    `(3) run again, open the authorization URL it prints, allow access and paste the code Dropbox shows into ${labels.accessCode}; ` +
    `(4) run again: the refresh token is stored and ${labels.legacyToken} is no longer used.`
  );
}

/** The warning every run that syncs with a legacy token gives. */
export function legacyDeprecationWarning(labels: SettingLabels, offerAuthorization: boolean): string {
  const head = `The legacy long-lived Dropbox token (${labels.legacyToken}) is deprecated: Dropbox is retiring these tokens and it can stop working at any time.`;
  if (offerAuthorization) {
    return `${head} Syncing with it for now. To switch to a refresh token, open the authorization URL below, allow access and paste the code into ${labels.accessCode}; ${labels.legacyToken} is then cleared automatically.`;
  }
  return `${head} ${migrationSteps(labels)}`;
}

/** Told once the legacy token was replaced. */
export function legacyReplacedNote(labels: SettingLabels): string {
  return `Dropbox now uses the refresh token; the legacy token (${labels.legacyToken}) is no longer used.`;
}

/** Dropbox answered 401 to the legacy token. */
export function legacyRejectedMessage(labels: SettingLabels, reason: string, canAuthorizeNow: boolean): string {
  const head = `Dropbox rejected the legacy access token (${labels.legacyToken}): ${reason}. Long-lived tokens are being retired; authorize with a refresh token instead.`;
  return canAuthorizeNow
    ? `${head} Open the authorization URL below, allow access, paste the code into ${labels.accessCode} and run again.`
    : `${head} ${migrationSteps(labels)}`;
}
