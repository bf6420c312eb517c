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
import { SecretRedactor } from "../../domain/redactor.ts";
import { dropboxSetupProblem } from "../../domain/token-lifecycle.ts";

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
  /** The age recipient check; required when ENCRYPT_TO holds something (see `recipientCheckFor`). */
  ageRecipients?: AgeRecipientCheck;
}

/** What parseSettings needs of ../age/age-recipients.ts (the module itself fits). */
export interface AgeRecipientCheck {
  ageRecipientProblems(value: string, setting: string): string[];
  parseAgeRecipients(value: string, setting: string): string[];
}

/**
 * The context part that checks ENCRYPT_TO, loaded only when it holds something: evaluating the age
 * package costs a run ~70 ms and several MiB, which a run without encryption should not pay.
 */
export async function recipientCheckFor(raw: RawSettings): Promise<Pick<ParseContext, "ageRecipients">> {
  return text(raw.encryptTo) ? { ageRecipients: await import("../age/age-recipients.ts") } : {};
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

const MAX_CHUNK_MIB = 148;
export const MAX_DROPBOX_CONNECTIONS = 16;
/** Ten years: a larger staleness limit would only hide a UNMS that stopped making backups. */
const MAX_BACKUP_AGE_HOURS_LIMIT = 87_600;

/** Trimmed text, or undefined for absent/empty values. Numbers and booleans become text. */
export function text(value: RawValue): string | undefined {
  if (value === undefined || value === null || value === false) return undefined;
  const s = String(value).trim();
  return s === "" ? undefined : s;
}

export function parseSettings(raw: RawSettings, context: ParseContext): LoadedSettings {
  const problems: string[] = [];
  const name = (field: SettingField) => context.names[field];
  const isSecretLike = secretLikeness(raw);
  const shown = (field: SettingField, value: string) =>
    SECRET_FIELDS.has(field) ? "(value not shown)" : isSecretLike(value) ? "(value not shown: it looks like a secret or token)" : JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);

  const unmsUrlText = text(raw.unmsUrl);
  let unmsUrl = "";
  if (!unmsUrlText) {
    problems.push(`${name("unmsUrl")} is not set: give the NMS base URL, e.g. https://uisp.example.com/nms`);
  } else {
    const checked = httpUrl(unmsUrlText, isSecretLike);
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
    const checked = httpUrl(baseText, isSecretLike);
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

  const encryptText = text(raw.encryptTo);
  const recipients = context.ageRecipients;
  if (encryptText && !recipients) throw new Error(`parseSettings: ${name("encryptTo")} is set but no age recipient check was loaded (spread recipientCheckFor(raw) into the context)`);
  const encryptProblems = encryptText && recipients ? recipients.ageRecipientProblems(encryptText, name("encryptTo")) : [];
  problems.push(...encryptProblems);
  const encryptTo = encryptText && recipients && encryptProblems.length === 0 ? recipients.parseAgeRecipients(encryptText, name("encryptTo")) : undefined;

  const keep: Partial<Record<"keepDaily" | "keepWeekly" | "keepMonthly", number>> = {};
  for (const field of ["keepDaily", "keepWeekly", "keepMonthly"] as const) {
    const keepText = text(raw[field]);
    if (!keepText) continue;
    if (!/^\d+$/.test(keepText) || Number(keepText) > 100_000) {
      problems.push(`${name(field)} is ${shown(field, keepText)}: it must be a whole number of 0 or more (how many ${field.slice(4).toLowerCase()} periods keep their newest copy), e.g. 12`);
    } else keep[field] = Number(keepText);
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

  const folder = parseFolder(text(raw.dropboxFolder) ?? "", isSecretLike);

  const dropboxFolder = "folder" in folder ? folder.folder : ROOT_FOLDER;
  if ("problem" in folder) problems.push(`${name("dropboxFolder")} is ${shown("dropboxFolder", folder.normalized)}: ${folder.problem}`);

  // Already failing: name the Dropbox problem too, so one run lists everything. (Alone, it is the
  // token session's to report, so settings without Dropbox still load for the library and tests.)
  if (problems.length > 0 && !text(raw.targetDir)) {
    const dropbox = dropboxSetupProblem(
      {
        ...optional("appKey", text(raw.dropboxAppKey)),
        ...optional("accessCode", text(raw.dropboxAccessCode)),
        ...optional("refreshToken", text(raw.dropboxRefreshToken)),
        ...optional("legacyToken", text(raw.dropboxAccessToken)),
      },
      labelsFrom(context.names),
    );
    if (dropbox) problems.push(dropbox.message);
  }

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
  if (encryptTo !== undefined) settings.encryptTo = encryptTo;
  Object.assign(settings, keep);
  if (maxBackupAgeHours !== undefined) settings.maxBackupAgeHours = maxBackupAgeHours;
  if (healthcheckUrl !== undefined) settings.healthcheckUrl = healthcheckUrl;
  return settings;
}

function parseBoolean(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off", ""].includes(v)) return false;
  return undefined;
}

/** `{ [key]: value }` when value is set, else `{}` (exactOptionalPropertyTypes). */
function optional<K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, string>);
}

/**
 * Whether a value must not be echoed although its setting is not a secret one: it is (or holds) the
 * value of a secret setting, pasted into the wrong field, or it looks like a token by itself.
 */
function secretLikeness(raw: RawSettings): (value: string) => boolean {
  const secrets = [...SECRET_FIELDS].map((field) => text(raw[field])).filter((v): v is string => v !== undefined);
  const redactor = new SecretRedactor(secrets);
  return (value) => secrets.some((secret) => value === secret || value.includes(secret)) || redactor.redact(value) !== value;
}

/** The URL as given when it is absolute http(s); otherwise why not (without echoing credentials or secrets). */
function httpUrl(value: string, isSecretLike: (value: string) => boolean): string | { problem: string } {
  const checked = checkHttpUrl(value);
  if (checked.ok) return value;
  if (checked.problem === "not-a-url") return { problem: `is not an absolute URL${value.includes("@") || isSecretLike(value) ? "" : ` (${JSON.stringify(value)})`}` };
  if (isSecretLike(value)) return { problem: "must start with http:// or https://" };
  return { problem: `must start with http:// or https:// (it starts with ${checked.url.protocol}//)` };
}
