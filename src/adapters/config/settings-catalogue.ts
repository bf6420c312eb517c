/**
 * The one catalogue of settings: for each, its environment variable, its key in the UCRM plugin's
 * config.json and the label of the UCRM form, its default, whether it is required, and what it
 * means in one line. The env name table, the UCRM key table, the form labels in messages and the
 * settings part of `--help` all come from here, and tests hold plugin/manifest.json and the README's
 * table to it, so they cannot drift. A new setting is one entry here (plus its parsing).
 */
import type { SettingField } from "./parse-settings.ts";

/** One setting as a person meets it: on the command line, in the UCRM form, in the README. */
export interface SettingEntry {
  /** The environment variable (the CLI, containers, cron). */
  env: string;
  /**
   * The key in the UCRM plugin's data/config.json when it is not the setting's field name (the keys
   * are the field names today); null when the plugin takes the setting elsewhere.
   */
  configKey?: string | null;
  /** The label of the UCRM form field (plugin/manifest.json); absent for keys not on the form. */
  label?: string;
  /** Shown as "default: ..."; absent when unset means "not used". */
  default?: string;
  /** true, or the condition under which it is required (e.g. "for Dropbox"). */
  required?: true | string;
  /** What it is, in one line of help. */
  meaning: string;
}

/** Every setting the config stores read, in the order --help lists them. */
export const SETTINGS_CATALOGUE: Readonly<Record<SettingField, SettingEntry>> = {
  unmsUrl: { env: "UNMS_URL", configKey: null, required: true, meaning: "NMS base URL, e.g. https://uisp.example.com/nms (API under /api/v2.1/)" },
  unmsApiToken: { env: "UNMS_API_TOKEN", label: "UNMS API token", required: true, meaning: "UNMS API token (Network -> Settings -> Users)" },
  dropboxAppKey: {
    env: "DROPBOX_APP_KEY",
    label: "Dropbox App key",
    required: "for Dropbox, unless DROPBOX_ACCESS_TOKEN",
    meaning: "Dropbox app key; with DROPBOX_APP_SECRET or alone (PKCE)",
  },
  dropboxAppSecret: { env: "DROPBOX_APP_SECRET", label: "Dropbox App secret", default: "none, PKCE is used", meaning: "Dropbox app secret" },
  dropboxAccessCode: { env: "DROPBOX_ACCESS_CODE", label: "Dropbox Access Code", meaning: "the code Dropbox shows after you open the authorization URL (used once)" },
  dropboxRefreshToken: {
    env: "DROPBOX_REFRESH_TOKEN",
    label: "Dropbox refresh token",
    default: "the one obtained and kept in STATE_DIR",
    meaning: "a Dropbox refresh token",
  },
  dropboxAccessToken: { env: "DROPBOX_ACCESS_TOKEN", label: "Dropbox access token (legacy)", meaning: "legacy long-lived token (deprecated; still works, with a warning)" },
  dropboxFolder: { env: "DROPBOX_FOLDER", label: "Dropbox folder", default: "the app folder itself", meaning: "folder inside the app folder (or inside TARGET_DIR)" },
  targetDir: { env: "TARGET_DIR", meaning: "copy into this local folder instead of Dropbox" },
  chunkMiB: { env: "DROPBOX_CHUNK_MIB", label: "Upload chunk size (MiB)", default: "with several connections chosen per file, at most 8 at 4 connections; 8 with one", meaning: "upload chunk size in MiB, a multiple of 4, at most 148" },
  dropboxConnections: {
    env: "DROPBOX_CONNECTIONS",
    label: "Upload connections",
    default: "4; 1 is one chunk at a time",
    meaning: "chunks of one file uploaded at once, 1 to 16",
  },
  maxDeletes: { env: "MAX_DELETES", label: "Maximum deletions per run", default: "half of the tool's copies, at least 1", meaning: "most deletions per run without --allow-mass-delete" },
  allowMassDelete: { env: "ALLOW_MASS_DELETE", label: "Allow mass deletion", default: "false", meaning: "true lifts the mass-deletion guard on every run (not recommended)" },
  maxRunMinutes: {
    env: "MAX_RUN_MINUTES",
    label: "Maximum run minutes",
    default: "no limit; 55 in the UCRM plugin",
    meaning: "stop starting new upload chunks after this many minutes; the next run continues",
  },
  dropboxBaseUrl: { env: "DROPBOX_BASE_URL", meaning: "for tests only: replaces scheme and host of Dropbox's API hosts" },
  unmsCaFile: { env: "UNMS_CA_FILE", label: "UNMS CA certificate file", meaning: "PEM file of certificates (UISP's own or its CA) trusted for UNMS only" },
  unmsTlsInsecure: {
    env: "UNMS_TLS_INSECURE",
    label: "Do not verify the UNMS certificate",
    default: "false",
    meaning: "true: do not verify UNMS's certificate (UNMS only; warns every run)",
  },
  encryptTo: {
    env: "ENCRYPT_TO",
    label: "Encrypt to (age recipients)",
    default: "not encrypted",
    meaning: "age recipients (age1... public keys, comma or space separated): new copies are encrypted to them and named .unms.age",
  },
  maxBackupAgeHours: {
    env: "MAX_BACKUP_AGE_HOURS",
    label: "Maximum backup age (hours)",
    default: "48",
    meaning: "a run fails when UNMS's newest successful backup, or the newest copy while UNMS has newer ones, is older than this",
  },
  healthcheckUrl: {
    env: "HEALTHCHECK_URL",
    label: "Health-check ping URL",
    meaning: "healthchecks.io-style URL pinged at <url>/start and <url>/<exit code> (a secret: never shown)",
  },
  keepDaily: { env: "KEEP_DAILY", label: "Keep daily copies", default: "0", meaning: "after UNMS deleted a backup, keep the newest copy of each of the last N days (NMS time zone)" },
  keepWeekly: { env: "KEEP_WEEKLY", label: "Keep weekly copies", default: "0", meaning: "likewise for the last N ISO weeks" },
  keepMonthly: { env: "KEEP_MONTHLY", label: "Keep monthly copies", default: "0", meaning: "likewise for the last N months (with all three 0, copies of deleted backups are deleted too)" },
};

/** Settings only the environment has (no field of the parsed settings). */
export const ENV_ONLY_SETTINGS: readonly SettingEntry[] = [
  {
    env: "STATE_DIR",
    default: "$XDG_CONFIG_HOME/unms-dropbox-backup-sync",
    meaning: "private state: obtained refresh token, PKCE verifier, run lock, upload state",
  },
  {
    env: "AGE_IDENTITY_FILE",
    meaning: "restore only: age identity file (AGE-SECRET-KEY-1... lines) that decrypts .unms.age copies",
  },
];

/** `{ field: pick(entry) }` for every catalogue entry that has it. */
export function tableOf<K extends keyof SettingEntry>(key: K): Partial<Record<SettingField, NonNullable<SettingEntry[K]>>> {
  const table: Partial<Record<SettingField, NonNullable<SettingEntry[K]>>> = {};
  for (const [field, entry] of Object.entries(SETTINGS_CATALOGUE) as [SettingField, SettingEntry][]) {
    const value = entry[key];
    if (value !== undefined) table[field] = value as NonNullable<SettingEntry[K]>;
  }
  return table;
}

const NAME_WIDTH = 22;
const LINE_WIDTH = 100;

/** The "Settings (environment)" part of --help: every setting with its default and whether it is required. */
export function settingsHelp(): string {
  const entries = [...Object.values(SETTINGS_CATALOGUE), ...ENV_ONLY_SETTINGS];
  const lines = entries.flatMap((entry) => {
    const notes = [
      entry.required === true ? "required" : entry.required ? `required ${entry.required}` : undefined,
      entry.default === undefined ? undefined : `default: ${entry.default}`,
    ].filter((note): note is string => note !== undefined);
    const text = notes.length > 0 ? `${entry.meaning} [${notes.join("; ")}]` : entry.meaning;
    return wrap(text, LINE_WIDTH - 2 - NAME_WIDTH).map((line, i) => `  ${(i === 0 ? entry.env : "").padEnd(NAME_WIDTH)}${line}`.trimEnd());
  });
  return `Settings (environment; optional unless marked required):\n${lines.join("\n")}\n`;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}
