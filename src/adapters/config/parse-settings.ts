/**
 * Turns raw setting values (strings from the environment, strings/numbers/booleans from UCRM's
 * config.json) into validated `Settings`, collecting every problem before failing so the admin
 * fixes the configuration in one go. Shared by both config stores; only the names differ.
 */
import { SyncError } from "../../domain/errors.ts";
import type { LoadedSettings } from "../../app/ports.ts";
import { readUnmsCaFile } from "./unms-ca-file.ts";
import { parseFolder, ROOT_FOLDER } from "../../domain/folder.ts";
import { checkHttpUrl } from "../../domain/http-url.ts";
import type { SettingLabels } from "../../domain/legacy-migration.ts";

export type RawValue = string | number | boolean | null | undefined;

/** Settings fields a store can supply (stateDir is the store's own business; CA certificates are read from unmsCaFile). */
export type SettingField = Exclude<keyof LoadedSettings, "stateDir" | "unmsCaCertificates">;

export type RawSettings = Partial<Record<SettingField, RawValue>>;

/** A store's labels for the Dropbox settings, taken from its one name table (env names, config keys). */
export function labelsFrom(names: Record<"dropboxAppKey" | "dropboxAppSecret" | "dropboxAccessCode" | "dropboxRefreshToken" | "dropboxAccessToken", string>): SettingLabels {
  return {
    appKey: names.dropboxAppKey,
    appSecret: names.dropboxAppSecret,
    accessCode: names.dropboxAccessCode,
    refreshToken: names.dropboxRefreshToken,
    legacyToken: names.dropboxAccessToken,
  };
}

export interface ParseContext {
  /** How the admin knows each setting: an environment variable or a config.json key. */
  names: Record<SettingField, string>;
  /** Where the settings came from, for the error's first line. */
  location: string;
  /** What to tell the admin to do, e.g. "set the variables" or "fix the plugin configuration". */
  howToFix: string;
  stateDir: string;
}

/** Settings whose values must never appear in a message. */
const SECRET_FIELDS: ReadonlySet<SettingField> = new Set<SettingField>([
  "unmsApiToken",
  "dropboxAppSecret",
  "dropboxAccessCode",
  "dropboxRefreshToken",
  "dropboxAccessToken",
  "healthcheckUrl",
]);

export const MAX_CHUNK_MIB = 148;
export const MAX_DROPBOX_CONNECTIONS = 16;
/** Ten years: a larger staleness limit would only hide a UNMS that stopped making backups. */
export const MAX_BACKUP_AGE_HOURS_LIMIT = 87_600;

/** Trimmed text, or undefined for absent/empty values. Numbers and booleans become text. */
export function text(value: RawValue): string | undefined {
  if (value === undefined || value === null || value === false) return undefined;
  const s = String(value).trim();
  return s === "" ? undefined : s;
}

export function parseSettings(raw: RawSettings, context: ParseContext): LoadedSettings {
  const problems: string[] = [];
  const name = (field: SettingField) => context.names[field];
  const shown = (field: SettingField, value: string) =>
    SECRET_FIELDS.has(field) ? "(value not shown)" : JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);

  const unmsUrlText = text(raw.unmsUrl);
  let unmsUrl = "";
  if (!unmsUrlText) {
    problems.push(`${name("unmsUrl")} is not set: give the NMS base URL, e.g. https://uisp.example.com/nms`);
  } else {
    const checked = httpUrl(unmsUrlText);
    if (typeof checked === "string") unmsUrl = checked.replace(/\/+$/, "");
    else problems.push(`${name("unmsUrl")} ${checked.problem}; give the NMS base URL, e.g. https://uisp.example.com/nms`);
  }

  const unmsApiToken = text(raw.unmsApiToken) ?? "";
  if (!unmsApiToken) {
    problems.push(`${name("unmsApiToken")} is not set: create an API token in UISP under Network -> Settings -> Users and set it`);
  }

  let dropboxBaseUrl: string | undefined;
  const baseText = text(raw.dropboxBaseUrl);
  if (baseText) {
    const checked = httpUrl(baseText);
    if (typeof checked === "string") dropboxBaseUrl = checked.replace(/\/+$/, "");
    else problems.push(`${name("dropboxBaseUrl")} ${checked.problem}`);
  }

  let chunkMiB: number | undefined;
  const chunkText = text(raw.chunkMiB);
  if (chunkText) {
    const n = Number(chunkText);
    if (!/^\d+$/.test(chunkText) || n <= 0 || n % 4 !== 0 || n > MAX_CHUNK_MIB) {
      problems.push(
        `${name("chunkMiB")} is ${shown("chunkMiB", chunkText)}: it must be a positive multiple of 4 no larger than ${MAX_CHUNK_MIB} (MiB), e.g. 8`,
      );
    } else chunkMiB = n;
  }

  let dropboxConnections: number | undefined;
  const connectionsText = text(raw.dropboxConnections);
  if (connectionsText) {
    const n = Number(connectionsText);
    if (!/^\d+$/.test(connectionsText) || n < 1 || n > MAX_DROPBOX_CONNECTIONS) {
      problems.push(
        `${name("dropboxConnections")} is ${shown("dropboxConnections", connectionsText)}: it must be a whole number from 1 (one chunk at a time) to ${MAX_DROPBOX_CONNECTIONS}, e.g. 4`,
      );
    } else dropboxConnections = n;
  }

  let maxDeletes: number | undefined;
  const maxText = text(raw.maxDeletes);
  if (maxText) {
    if (!/^\d+$/.test(maxText) || !Number.isSafeInteger(Number(maxText))) {
      problems.push(`${name("maxDeletes")} is ${shown("maxDeletes", maxText)}: it must be a whole number of 0 or more`);
    } else maxDeletes = Number(maxText);
  }

  let allowMassDelete: boolean | undefined;
  if (raw.allowMassDelete === true || raw.allowMassDelete === false) allowMassDelete = raw.allowMassDelete;
  else {
    const boolText = text(raw.allowMassDelete);
    if (boolText) {
      const parsed = parseBoolean(boolText);
      if (parsed === undefined) {
        problems.push(`${name("allowMassDelete")} is ${shown("allowMassDelete", boolText)}: use true or false (or 1 / 0, yes / no)`);
      } else allowMassDelete = parsed;
    }
  }

  let unmsTlsInsecure: boolean | undefined;
  if (raw.unmsTlsInsecure === true || raw.unmsTlsInsecure === false) unmsTlsInsecure = raw.unmsTlsInsecure;
  else {
    const insecureText = text(raw.unmsTlsInsecure);
    if (insecureText) {
      unmsTlsInsecure = parseBoolean(insecureText);
      if (unmsTlsInsecure === undefined) {
        problems.push(`${name("unmsTlsInsecure")} is ${shown("unmsTlsInsecure", insecureText)}: use true or false (or 1 / 0, yes / no)`);
      }
    }
  }

  const unmsCaFile = text(raw.unmsCaFile);
  let unmsCaCertificates: string[] | undefined;
  if (unmsCaFile) {
    const read = readUnmsCaFile(unmsCaFile);
    if ("problem" in read) problems.push(`${name("unmsCaFile")} ${read.problem}; give a PEM file with the UISP certificate or the CA that issued it`);
    else unmsCaCertificates = read.certificates;
  }

  let maxRunMinutes: number | undefined;
  const minutesText = text(raw.maxRunMinutes);
  if (minutesText) {
    // Fractions are accepted (tests use a few seconds); the documented form is whole minutes.
    const n = Number(minutesText);
    if (!/^\d+(\.\d+)?$/.test(minutesText) || !(n > 0) || n > 7 * 24 * 60) {
      problems.push(`${name("maxRunMinutes")} is ${shown("maxRunMinutes", minutesText)}: it must be a number of minutes above 0 (at most 10080), e.g. 55`);
    } else maxRunMinutes = n;
  }

  let maxBackupAgeHours: number | undefined;
  const ageText = text(raw.maxBackupAgeHours);
  if (ageText) {
    const n = Number(ageText);
    if (!/^\d+$/.test(ageText) || n < 1 || n > MAX_BACKUP_AGE_HOURS_LIMIT) {
      problems.push(`${name("maxBackupAgeHours")} is ${shown("maxBackupAgeHours", ageText)}: it must be a whole number of hours from 1 to ${MAX_BACKUP_AGE_HOURS_LIMIT}, e.g. 48`);
    } else maxBackupAgeHours = n;
  }

  let healthcheckUrl: string | undefined;
  const healthcheckText = text(raw.healthcheckUrl);
  if (healthcheckText) {
    // The URL carries the check's token: the problem is named, the value never shown.
    const checked = checkHttpUrl(healthcheckText);
    if (checked.ok) healthcheckUrl = healthcheckText.replace(/\/+$/, "");
    else problems.push(`${name("healthcheckUrl")} (value not shown) ${checked.problem === "not-a-url" ? "is not an absolute URL" : "must start with http:// or https://"}; give the ping URL of your check, e.g. https://hc-ping.com/<uuid>`);
  }

  const folder = parseFolder(text(raw.dropboxFolder) ?? "");
  const dropboxFolder = "folder" in folder ? folder.folder : ROOT_FOLDER;
  if ("problem" in folder) problems.push(`${name("dropboxFolder")} is ${shown("dropboxFolder", folder.normalized)}: ${folder.problem}`);

  if (problems.length > 0) {
    const list = problems.map((p) => `\n  - ${p}`).join("");
    throw new SyncError(
      `The configuration in ${context.location} has ${problems.length === 1 ? "a problem" : `${problems.length} problems`}:${list}\n${context.howToFix}`,
      { kind: "config", code: "config.invalid" },
    );
  }

  const settings: LoadedSettings = { unmsUrl, unmsApiToken, dropboxFolder, stateDir: context.stateDir };
  const optionalText: SettingField[] = [
    "dropboxAppKey",
    "dropboxAppSecret",
    "dropboxAccessCode",
    "dropboxRefreshToken",
    "dropboxAccessToken",
    "targetDir",
  ];
  for (const field of optionalText) {
    const value = text(raw[field]);
    if (value !== undefined) (settings as unknown as Record<string, unknown>)[field] = value;
  }
  if (chunkMiB !== undefined) settings.chunkMiB = chunkMiB;
  if (dropboxConnections !== undefined) settings.dropboxConnections = dropboxConnections;
  if (maxDeletes !== undefined) settings.maxDeletes = maxDeletes;
  if (allowMassDelete !== undefined) settings.allowMassDelete = allowMassDelete;
  if (maxRunMinutes !== undefined) settings.maxRunMinutes = maxRunMinutes;
  if (dropboxBaseUrl !== undefined) settings.dropboxBaseUrl = dropboxBaseUrl;
  if (unmsCaFile !== undefined) settings.unmsCaFile = unmsCaFile;
  if (unmsCaCertificates !== undefined) settings.unmsCaCertificates = unmsCaCertificates;
  if (unmsTlsInsecure !== undefined) settings.unmsTlsInsecure = unmsTlsInsecure;
  if (maxBackupAgeHours !== undefined) settings.maxBackupAgeHours = maxBackupAgeHours;
  if (healthcheckUrl !== undefined) settings.healthcheckUrl = healthcheckUrl;
  return settings;
}

export function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  return undefined;
}

/** The URL as given when it is absolute http(s); otherwise why not (without echoing credentials). */
function httpUrl(value: string): string | { problem: string } {
  const checked = checkHttpUrl(value);
  if (checked.ok) return value;
  if (checked.problem === "not-a-url") return { problem: `is not an absolute URL${value.includes("@") ? "" : ` (${JSON.stringify(value)})`}` };
  return { problem: `must start with http:// or https:// (it starts with ${checked.url.protocol}//)` };
}
