/**
 * Setting labels for the domain's tests: as the environment store and the UCRM store name the
 * Dropbox settings (the stores derive their own from their name tables; the domain tests stay
 * free of adapters).
 */
import type { SettingLabels } from "../../../src/domain/legacy-migration.ts";

export const ENV_LABELS: SettingLabels = {
  appKey: "DROPBOX_APP_KEY",
  appSecret: "DROPBOX_APP_SECRET",
  accessCode: "DROPBOX_ACCESS_CODE",
  refreshToken: "DROPBOX_REFRESH_TOKEN",
  legacyToken: "DROPBOX_ACCESS_TOKEN",
};

export const UCRM_LABELS: SettingLabels = {
  appKey: "dropboxAppKey",
  appSecret: "dropboxAppSecret",
  accessCode: "dropboxAccessCode",
  refreshToken: "dropboxRefreshToken",
  legacyToken: "dropboxAccessToken",
};
