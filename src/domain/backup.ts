/**
 * UNMS backups and the names their copies carry.
 *
 * File names keep the original PHP plugin's format, `unms-backup-YYYYMMDD-HHmm_<id>.unms`, with the
 * time being `createdAt` in the NMS time zone, so files written by the old plugin are recognised.
 * Identity is the backup id parsed back from the name (case-insensitively): the timestamp part is
 * only for people, so a time-zone change never causes a re-upload or a deletion.
 *
 * UNMS ids are guids (its swagger's `UnmsBackup.id`), so only a name whose id part is a guid is one
 * of ours: `unms-backup-20240101-0000_my-copy.unms`, an admin's own file, is never a candidate for
 * deletion. The date part has eight or more digits, so a year above 9999 still parses back.
 */

/**
 * A backup as UNMS lists it.
 *
 * @example
 * ```ts
 * import type { UnmsBackup } from "unms-dropbox-backup-sync";
 *
 * const backup: UnmsBackup = { id: "3f1c2a9e-0000-4000-8000-0000000000b1", createdAt: "2024-03-01T02:00:00Z", state: "success", size: 1048576 };
 * ```
 */
export interface UnmsBackup {
  id: string;
  /** ISO-8601 instant. */
  createdAt: string;
  /** `success`, `in-progress`, `failed`, ... Only `success` backups are copied. */
  state: string;
  /** Size in bytes when UNMS reports one; never required, and never trusted over a verified copy. */
  size?: number;
  /** `auto` or `manual` in UNMS's swagger; for the record only. */
  origin?: string;
  /**
   * Set by the source when a `success` item carries a field we cannot use (a bad createdAt, a
   * non-guid id): the backup is ignored with this reason, the rest sync.
   */
  unusable?: string;
  /** Set by the source when a field was dropped (a `size` that is not a byte count), for the log. */
  warning?: string;
}

const BACKUP_FILE_PREFIX = "unms-backup-";
const BACKUP_FILE_EXTENSION = ".unms";
/** Appended to the name of a copy encrypted with age (ENCRYPT_TO): `...<id>.unms.age`. */
export const ENCRYPTED_FILE_EXTENSION = ".age";

/** A UNMS backup id: a guid, 8-4-4-4-12 hex digits, any case. */
const GUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const GUID_PATTERN = new RegExp(`^${GUID}$`, "i");

/**
 * `unms-backup-20240131-2359_<guid>.unms`, or `.unms.age` when encrypted (the same backup either
 * way); years above 9999 make the date part longer.
 */
const BACKUP_FILE_PATTERN = new RegExp(`^unms-backup-(\\d{8,})-(\\d{4})_(${GUID})\\.unms(?:\\.age)?$`, "i");

/** A backup id as a comparison key: Dropbox paths are case-insensitive, and so is our identity. */
export function backupKey(id: string): string {
  return id.toLowerCase();
}

/**
 * The backup id a file name carries, or undefined when the name is not one of ours.
 *
 * @example
 * ```ts
 * import { backupIdFromFileName } from "unms-dropbox-backup-sync";
 *
 * backupIdFromFileName("unms-backup-20240131-2359_abc.unms"); // "abc"
 * ```
 */
export function backupIdFromFileName(name: string): string | undefined {
  return BACKUP_FILE_PATTERN.exec(name)?.[3];
}

/**
 * The `YYYYMMDD-HHmm` stamp a file name of ours carries (the backup's time in the NMS time zone),
 * or undefined when the name is not one of ours.
 */
export function backupStampFromFileName(name: string): { date: string; time: string } | undefined {
  const match = BACKUP_FILE_PATTERN.exec(name);
  return match ? { date: match[1]!, time: match[2]! } : undefined;
}

/**
 * The instant a name's stamp stands for, read in `timeZone` (UTC when unknown), or undefined when
 * the name is not one of ours. Minutes only: the stamp has no seconds.
 */
export function instantFromFileName(name: string, timeZone: string): number | undefined {
  const stamp = backupStampFromFileName(name);
  if (!stamp) return undefined;
  const year = Number(stamp.date.slice(0, -4));
  const month = Number(stamp.date.slice(-4, -2));
  const day = Number(stamp.date.slice(-2));
  const wall = Date.UTC(year, month - 1, day, Number(stamp.time.slice(0, 2)), Number(stamp.time.slice(2)));
  if (Number.isNaN(wall)) return undefined;
  // The zone's offset at the guessed instant, then once more at the corrected one (DST edges).
  let instant = wall - zoneOffsetMs(wall, timeZone);
  instant = wall - zoneOffsetMs(instant, timeZone);
  return instant;
}

/** How far `timeZone`'s wall clock is ahead of UTC at `instant`, in ms (whole minutes). */
function zoneOffsetMs(instant: number, timeZone: string): number {
  const parts = (stampFormatter(timeZone) ?? stampFormatter("UTC")!).formatToParts(new Date(instant));
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(part("year"), part("month") - 1, part("day"), part("hour"), part("minute"));
  return wall - (instant - (instant % 60_000 + 60_000) % 60_000);
}

/**
 * True when a file name is one of ours (only those are ever deleted).
 *
 * @example
 * ```ts
 * import { isBackupFileName } from "unms-dropbox-backup-sync";
 *
 * isBackupFileName("notes.txt"); // false
 * ```
 */
export function isBackupFileName(name: string): boolean {
  return BACKUP_FILE_PATTERN.test(name);
}

/**
 * True when `timeZone` is an IANA zone this runtime knows. Pure: Intl reads no clock or file.
 */
export function isKnownTimeZone(timeZone: string): boolean {
  // A zone the runtime lists needs no formatter to be known: the first formatter of a process loads
  // ICU's locale data (~8 MiB of RSS, 30-40 ms), which a run that names no new file never needs.
  return listedTimeZones().has(timeZone) || stampFormatter(timeZone) !== undefined;
}

let timeZoneList: ReadonlySet<string> | undefined;

/** The runtime's own list of zones (empty where Intl.supportedValuesOf is missing: Node 16). */
function listedTimeZones(): ReadonlySet<string> {
  const supportedValuesOf = (Intl as { supportedValuesOf?: (key: "timeZone") => string[] }).supportedValuesOf;
  return (timeZoneList ??= new Set(typeof supportedValuesOf === "function" ? supportedValuesOf("timeZone") : []));
}

/**
 * One formatter per time zone and set of fields, built on first use: building one costs far more than
 * formatting (20,000 names took 4.6 s and ~250 MiB with two new formatters per name; BENCHMARKS.md,
 * scale). A run meets one or two zones, so the caches stay tiny.
 */
function formatterPerZone(fields: Intl.DateTimeFormatOptions): (timeZone: string) => Intl.DateTimeFormat | undefined {
  const formatters = new Map<string, Intl.DateTimeFormat | undefined>();
  return (timeZone) => {
    if (formatters.has(timeZone)) return formatters.get(timeZone);
    let formatter: Intl.DateTimeFormat | undefined;
    try {
      formatter = new Intl.DateTimeFormat("en-US", { ...fields, timeZone, hourCycle: "h23" });
    } catch {
      formatter = undefined;
    }
    // Unknown names are remembered too, but only a few: they come from settings or UNMS, not per file.
    if (formatters.size < 64) formatters.set(timeZone, formatter);
    return formatter;
  };
}

const TO_THE_MINUTE = { year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" } as const;
const stampFormatter = formatterPerZone(TO_THE_MINUTE);
const secondsFormatter = formatterPerZone({ ...TO_THE_MINUTE, second: "2-digit" });

/**
 * The file name for a backup, its timestamp shown in `timeZone` (an IANA name; UTC when unknown).
 * Throws a RangeError naming the backup when `createdAt` is not a date.
 *
 * @example
 * ```ts
 * import { backupFileName } from "unms-dropbox-backup-sync";
 *
 * backupFileName({ id: "abc", createdAt: "2024-01-31T23:59:00Z" }, "UTC"); // "unms-backup-20240131-2359_abc.unms"
 * ```
 */
export function backupFileName(backup: Pick<UnmsBackup, "id" | "createdAt">, timeZone: string, encrypted = false): string {
  const instant = new Date(backup.createdAt);
  if (Number.isNaN(instant.getTime())) {
    throw new RangeError(`Backup ${backup.id} has an invalid createdAt "${backup.createdAt}": expected an ISO-8601 date`);
  }
  // One flat string (join), not a tree of pieces: a plan holds a million of these names.
  return [BACKUP_FILE_PREFIX, formatStamp(instant, timeZone), "_", backup.id, BACKUP_FILE_EXTENSION, encrypted ? ENCRYPTED_FILE_EXTENSION : ""].join("");
}

/** True when a name is one of our encrypted copies (`.unms.age`). */
export function isEncryptedFileName(name: string): boolean {
  return isBackupFileName(name) && name.toLowerCase().endsWith(ENCRYPTED_FILE_EXTENSION);
}

/** A wall-clock time in some time zone, as a file name's stamp shows it. */
export interface LocalTime {
  year: number;
  /** 1..12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
}

/** The wall-clock time a file name's stamp shows (the NMS time zone of the run that wrote it). */
export function localTimeOfFileName(name: string): LocalTime | undefined {
  const match = BACKUP_FILE_PATTERN.exec(name);
  if (!match) return undefined;
  const date = match[1]!;
  const time = match[2]!;
  return {
    year: Number(date.slice(0, -4)),
    month: Number(date.slice(-4, -2)),
    day: Number(date.slice(-2)),
    hour: Number(time.slice(0, 2)),
    minute: Number(time.slice(2)),
  };
}

/** The wall-clock time of an instant in `timeZone` (UTC when unknown), as file names show it. */
export function localTimeIn(instant: Date, timeZone: string): LocalTime {
  return localTimeOfFileName(`${BACKUP_FILE_PREFIX}${formatStamp(instant, timeZone)}_00000000-0000-0000-0000-000000000000${BACKUP_FILE_EXTENSION}`)!;
}

/** `YYYYMMDD-HHmm` of an instant in a time zone. */
function formatStamp(instant: Date, timeZone: string): string {
  const zone = stampFormatter(timeZone) ? timeZone : "UTC";
  const offset = utcOffsetMs(instant.getTime(), zone);
  if (offset !== undefined) {
    const wall = new Date(instant.getTime() + offset);
    // One flat string (join), not a tree of pieces: a plan holds a million of these names.
    return [
      String(wall.getUTCFullYear()).padStart(4, "0"), pad2(wall.getUTCMonth() + 1), pad2(wall.getUTCDate()), "-", pad2(wall.getUTCHours()), pad2(wall.getUTCMinutes()),
    ].join("");
  }
  const parts = stampFormatter(zone)!.formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "00";
  // Eight or more digits for the date: a five-digit year stays matchable by BACKUP_FILE_PATTERN.
  return [part("year").padStart(4, "0"), part("month"), part("day"), "-", part("hour"), part("minute")].join("");
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

const DAY_MS = 86_400_000;
const STEADY_FROM = Date.UTC(1970, 0, 1);
const STEADY_UNTIL = Date.UTC(10000, 0, 1);

/** Per zone, the last UTC day whose offset was the same at its first and last second. */
const steadyDays = new Map<string, { day: number; offsetMs: number }>();

/**
 * The zone's offset from UTC at `instant` when its UTC day has one offset throughout (the same at
 * its first and last second; no zone changes twice within a day and back), else undefined (the
 * formatter decides). Asking Intl twice a day instead of once per name made 1,000,000 names
 * ~10 times faster; the cache keeps one day per zone (backups come in time order).
 */
function utcOffsetMs(instant: number, timeZone: string): number | undefined {
  // Old dates (local mean times, eras) are left to the formatter alone.
  if (!(instant >= STEADY_FROM && instant < STEADY_UNTIL)) return undefined;
  const day = Math.floor(instant / DAY_MS);
  const known = steadyDays.get(timeZone);
  if (known?.day === day) return known.offsetMs;
  const first = exactOffsetMs(day * DAY_MS, timeZone);
  const last = exactOffsetMs(day * DAY_MS + DAY_MS - 1000, timeZone);
  if (first === undefined || first !== last) return undefined;
  if (steadyDays.size < 64 || steadyDays.has(timeZone)) steadyDays.set(timeZone, { day, offsetMs: first });
  return first;
}

/** The zone's offset at a whole second, to the second (old local mean times are not whole minutes). */
function exactOffsetMs(second: number, timeZone: string): number | undefined {
  const formatter = secondsFormatter(timeZone);
  if (!formatter) return undefined;
  const parts = formatter.formatToParts(new Date(second));
  const part = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
  const wall = Date.UTC(part("year"), part("month") - 1, part("day"), part("hour"), part("minute"), part("second"));
  return Number.isNaN(wall) || parts.some((p) => p.type === "era") ? undefined : wall - second;
}

/**
 * Why a backup id cannot be used in a file name, or undefined when it can. Ids come from UNMS, but
 * a path separator or control character in one must never turn into a path outside the folder.
 */
export function unusableBackupId(id: string): string | undefined {
  if (id.trim() === "") return "the id is empty";
  if (/[/\\]/.test(id)) return "the id contains a path separator";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(id)) return "the id contains a control character";
  if (id.length > 200) return "the id is longer than 200 characters";
  if (!GUID_PATTERN.test(id)) return `the id "${id}" is not a guid (8-4-4-4-12 hex digits), so its copy could not be told apart from other files`;
  return undefined;
}
