import type { Folder } from "./folder.ts";

/**
 * Settings of one run, whichever store they came from (UCRM's data/config.json or the environment).
 * Values are already trimmed; an empty value reads as absent.
 *
 * @example
 * ```ts
 * import { EnvConfigStore, type Settings } from "unms-dropbox-backup-sync";
 *
 * const settings: Settings = await new EnvConfigStore(process.env).load();
 * ```
 */
export interface Settings {
  /** The NMS base URL, e.g. `https://uisp.example.com/nms`; the API is under `${unmsUrl}/api/v2.1/`. */
  unmsUrl: string;
  unmsApiToken: string;
  dropboxAppKey?: string;
  /** Absent with an app key: PKCE is used, so no secret has to live in the configuration. */
  dropboxAppSecret?: string;
  /** The one-time code the admin pasted after authorizing. */
  dropboxAccessCode?: string;
  dropboxRefreshToken?: string;
  /** Legacy long-lived token: still honoured, with a deprecation warning each run. */
  dropboxAccessToken?: string;
  /** Folder inside the app folder; "" is the app folder root. */
  dropboxFolder: Folder;
  /** Store copies in this local directory instead of Dropbox. */
  targetDir?: string;
  /** Upload chunk size in MiB (a multiple of 4, at most 148). */
  chunkMiB?: number;
  /** Chunks of one file uploaded at once (1..16; 1 is one sequential upload session). */
  dropboxConnections?: number;
  /** Most deletions one run may do without allowMassDelete. */
  maxDeletes?: number;
  allowMassDelete?: boolean;
  /** Stop starting new upload chunks after this many minutes; the rest continues on the next run. */
  maxRunMinutes?: number;
  /** PEM file of certificates trusted for UNMS calls only (besides the public CAs). */
  unmsCaFile?: string;
  /** The certificates read from `unmsCaFile` when the settings were loaded. */
  unmsCaCertificates?: string[];
  /** Skip certificate verification for UNMS calls only (a warning on every run). */
  unmsTlsInsecure?: boolean;
  /** age recipients (`age1...` public keys): new copies are encrypted to all of them, as `.unms.age`. */
  encryptTo?: string[];
  /** Keep the newest copy of each of the last N days (NMS time zone) after UNMS deleted the backup. */
  keepDaily?: number;
  /** Keep the newest copy of each of the last N ISO weeks after UNMS deleted the backup. */
  keepWeekly?: number;
  /** Keep the newest copy of each of the last N months after UNMS deleted the backup. */
  keepMonthly?: number;
  /**
   * A run fails (exit 1) when UNMS's newest successful backup, or the newest off-site copy while
   * UNMS has newer ones, is older than this many hours. Default DEFAULT_MAX_BACKUP_AGE_HOURS (48).
   */
  maxBackupAgeHours?: number;
  /** healthchecks.io-style URL pinged at `/start` and `/<exit code>`; a secret (it carries a token). */
  healthcheckUrl?: string;
  /** Where private state (obtained refresh token, PKCE verifier, run lock) is kept. */
  stateDir: string;
}

/** Hours after which a backup or copy counts as stale when maxBackupAgeHours is not set. */
export const DEFAULT_MAX_BACKUP_AGE_HOURS = 48;
