/**
 * Staleness: a chain that quietly stopped (UNMS no longer making backups, copies no longer arriving)
 * is a failure, found from the listings and a wall-clock time alone.
 *
 * Pure: the caller passes the time (`nowMs`), so status, sync and tests all judge alike.
 */
import { backupIdFromFileName, backupKey, instantFromFileName, type UnmsBackup } from "./backup.ts";
import { KeyIndex } from "./key-index.ts";

/** Where UISP shows its backups and their schedule (the menu the guards name too). */
const UISP_BACKUPS_MENU = "Network -> Settings -> Backups";

export interface StalenessInput {
  /** Every backup UNMS lists, whatever its state. */
  backups: readonly UnmsBackup[];
  /** Names of the copies in the target folder (files that are not ours are ignored). */
  copies: readonly string[];
  /** NMS time zone, to read the time of a copy whose backup UNMS no longer lists. */
  timeZone: string;
  /** Wall-clock now, ms since the epoch. */
  nowMs: number;
  maxAgeHours: number;
  /** How the admin knows the limit: MAX_BACKUP_AGE_HOURS or maxBackupAgeHours. */
  setting: string;
  /** Why a successful backup has no copy (this run's failure, "a sync would upload it", ...). */
  whyNoCopy: (backup: UnmsBackup, name: string | undefined) => string;
}

export interface StalenessProblem {
  code: "unms-none" | "unms-stale" | "copies-none" | "copies-stale";
  message: string;
}

/** The newest successful backup UNMS lists (by createdAt), or undefined. */
export function newestSuccessful(backups: readonly UnmsBackup[]): UnmsBackup | undefined {
  let newest: UnmsBackup | undefined;
  for (const backup of backups) {
    if (backup.state !== "success" || backup.unusable || Number.isNaN(Date.parse(backup.createdAt))) continue;
    if (!newest || Date.parse(backup.createdAt) > Date.parse(newest.createdAt)) newest = backup;
  }
  return newest;
}

/**
 * When a copy was made from: its backup's createdAt while UNMS lists it, else the time in its name
 * (read in the NMS time zone); undefined for a file that is not ours.
 */
export function copyInstant(name: string, backups: readonly UnmsBackup[], timeZone: string): number | undefined {
  return copyInstants(backups, timeZone)(name);
}

/**
 * copyInstant for many names: the listed backups are indexed once (a linear search per copy made a
 * dry run over 20,000 backups take 25 s instead of 1).
 */
export function copyInstants(backups: readonly UnmsBackup[], timeZone: string): (name: string) => number | undefined {
  const listedAt = new Map<string, number>();
  for (const b of backups) {
    const at = Date.parse(b.createdAt);
    const key = backupKey(b.id);
    if (!Number.isNaN(at) && !listedAt.has(key)) listedAt.set(key, at);
  }
  return (name) => {
    const id = backupIdFromFileName(name);
    if (id === undefined) return undefined;
    return listedAt.get(backupKey(id)) ?? instantFromFileName(name, timeZone);
  };
}

/** "3 days", "5 hours", "12 minutes": how a person says an age. */
export function describeAge(ms: number): string {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (minutes < 120) return plural(minutes, "minute");
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return plural(hours, "hour");
  return plural(Math.floor(hours / 24), "day");
}

/** What is stale, with what and since when; empty when the whole chain is fresh. */
export function stalenessProblems(input: StalenessInput): StalenessProblem[] {
  const { backups, nowMs, maxAgeHours, setting, timeZone } = input;
  const limitMs = maxAgeHours * 3_600_000;
  const limit = `${setting} (${maxAgeHours} h)`;
  const problems: StalenessProblem[] = [];
  const newest = newestSuccessful(backups);
  if (!newest) {
    problems.push({
      code: "unms-none",
      message: `UNMS lists no successful backup (${backups.length} backup(s) listed in total): UNMS is not making backups, so there is nothing to keep off-site. Check the backup schedule and the failed backups in UISP (${UISP_BACKUPS_MENU}).`,
    });
    return problems;
  }
  const newestAt = Date.parse(newest.createdAt);
  if (nowMs - newestAt > limitMs) {
    const since = new Date(newestAt).toISOString();
    const failedSince = backups.filter((b) => b.state !== "success" && Date.parse(b.createdAt) > newestAt).length;
    problems.push({
      code: "unms-stale",
      message:
        `UNMS's newest successful backup is ${describeAge(nowMs - newestAt)} old (backup ${newest.id}, made ${since}), older than ${limit}: ` +
        `UNMS has made no successful backup since ${since}${failedSince > 0 ? ` (${failedSince} later backup(s) did not succeed)` : ""}. ` +
        `Check the backup schedule and recent backups in UISP (${UISP_BACKUPS_MENU}) and the free disk space of the UISP host.`,
    });
  }

  const { newestCopy, uncopied } = copiesAndGaps(backups, input.copies, timeZone);
  // Successful backups newer than the newest copy that have none: counted, and the first few named.
  const newerUncopied: UnmsBackup[] = [];
  let newerCount = 0;
  let anyOverLimit = false;
  for (const b of uncopied()) {
    const at = Date.parse(b.createdAt);
    if (b.state !== "success" || b.unusable || !(at > (newestCopy?.at ?? -Infinity))) continue;
    newerCount += 1;
    if (newerUncopied.length < 5) newerUncopied.push(b);
    if (nowMs - at > limitMs) anyOverLimit = true;
  }
  if (newerCount === 0) return problems;
  const which = newerUncopied
    .map((b) => `backup ${b.id} of ${new Date(Date.parse(b.createdAt)).toISOString()} (${input.whyNoCopy(b, undefined)})`)
    .join("; ");
  const more = newerCount > 5 ? `; and ${newerCount - 5} more` : "";
  if (!newestCopy) {
    // No copy yet is a problem once a backup has waited longer than the limit for one (not on a first run).
    if (!anyOverLimit) return problems;
    problems.push({
      code: "copies-none",
      message: `There is no off-site copy, while UNMS has had successful backups for longer than ${limit}: ${which}${more}.`,
    });
  } else if (nowMs - newestCopy.at > limitMs) {
    problems.push({
      code: "copies-stale",
      message:
        `The newest off-site copy is ${describeAge(nowMs - newestCopy.at)} old (${newestCopy.name}), older than ${limit}, while UNMS has ` +
        `${newerCount} newer successful backup(s) without a copy: ${which}${more}.`,
    });
  }
  return problems;
}

/**
 * The newest copy (by copyInstant) and the listed backups without a copy, in list order. The
 * backups are indexed by position, once: a KeyIndex and one byte per backup, not a record per copy
 * (a dry run over a million backups has a million would-be copies).
 */
function copiesAndGaps(
  backups: readonly UnmsBackup[], copies: readonly string[], timeZone: string,
): { newestCopy: { name: string; at: number } | undefined; uncopied: () => Iterable<UnmsBackup> } {
  // Per key, the first backup with a valid createdAt (else the first at all): copyInstants' choice.
  const indexOf = new KeyIndex(backups.length, (i) => backupKey(backups[i]!.id));
  backups.forEach((b, i) => {
    const known = indexOf.get(backupKey(b.id));
    if (known === undefined || (Number.isNaN(Date.parse(backups[known]!.createdAt)) && !Number.isNaN(Date.parse(b.createdAt)))) indexOf.set(i);
  });
  const copied = new Uint8Array(backups.length);
  let newestCopy: { name: string; at: number } | undefined;
  for (const name of copies) {
    const id = backupIdFromFileName(name);
    if (id === undefined) continue;
    const index = indexOf.get(backupKey(id));
    if (index !== undefined) copied[index] = 1;
    const listedAt = index === undefined ? NaN : Date.parse(backups[index]!.createdAt);
    const at = Number.isNaN(listedAt) ? instantFromFileName(name, timeZone) : listedAt;
    if (at !== undefined && (!newestCopy || at > newestCopy.at)) newestCopy = { name, at };
  }
  return {
    newestCopy,
    uncopied: function* () {
      for (const b of backups) if (copied[indexOf.get(backupKey(b.id))!] !== 1) yield b;
    },
  };
}
