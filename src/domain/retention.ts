/**
 * Retention beyond UNMS (KEEP_DAILY / KEEP_WEEKLY / KEEP_MONTHLY), with restic's semantics: the
 * newest copy of each of the last N days, ISO weeks and months that have copies. Periods are read
 * on the wall clock of the NMS time zone (the time a file name shows), so a copy made at 00:30 in
 * Prague belongs to that Prague day, whatever UTC says.
 *
 * Pure: no clock ("the last N" counts periods that have copies, not calendar periods back from
 * today, so a NMS that stopped making backups does not lose its last copies to the calendar).
 */
import type { LocalTime } from "./backup.ts";
import type { Settings } from "./settings.ts";

/**
 * How many periods of each kind keep their newest copy; absent or 0: that rule keeps nothing.
 *
 * @example
 * ```ts
 * import type { RetentionPolicy } from "unms-dropbox-backup-sync";
 *
 * const policy: RetentionPolicy = { keepDaily: 7, keepWeekly: 4, keepMonthly: 12 };
 * ```
 */
export interface RetentionPolicy {
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export type RetentionRule = "daily" | "weekly" | "monthly";

/**
 * Why the policy keeps a copy: it is the newest of `period` under `rule`. Periods read
 * `2026-11-30` (daily), `2026-W48` (weekly, ISO week) and `2026-11` (monthly).
 *
 * @example
 * ```ts
 * import { describeRetention, type RetentionReason } from "unms-dropbox-backup-sync";
 *
 * const reason: RetentionReason = { rule: "monthly", period: "2026-11" };
 * describeRetention([reason]); // "kept: newest of 2026-11 (monthly)"
 * ```
 */
export interface RetentionReason {
  rule: RetentionRule;
  period: string;
}

/** One copy the policy looks at: its backup key and the wall-clock time it was made. */
export interface RetentionCandidate {
  key: string;
  time: LocalTime;
}

const RULES: readonly { rule: RetentionRule; setting: keyof RetentionPolicy; period: (time: LocalTime) => string }[] = [
  { rule: "daily", setting: "keepDaily", period: (t) => `${year(t.year)}-${two(t.month)}-${two(t.day)}` },
  { rule: "weekly", setting: "keepWeekly", period: isoWeekLabel },
  { rule: "monthly", setting: "keepMonthly", period: (t) => `${year(t.year)}-${two(t.month)}` },
];

/** True when some rule keeps at least one period (otherwise deletions mirror UNMS). */
export function retentionActive(policy: RetentionPolicy | undefined): boolean {
  return RULES.some(({ setting }) => (policy?.[setting] ?? 0) > 0);
}

/**
 * The candidates the policy keeps, by key, each with every rule that keeps it. Candidates are
 * taken newest first (ties by key, so the outcome never depends on input order); each rule keeps
 * the first candidate of each new period until it has kept N periods.
 */
export function applyRetention(candidates: readonly RetentionCandidate[], policy: RetentionPolicy): Map<string, RetentionReason[]> {
  const kept = new Map<string, RetentionReason[]>();
  const newestFirst = [...candidates].sort((a, b) => compareTimes(b.time, a.time) || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0));
  for (const { rule, setting, period } of RULES) {
    let left = policy[setting] ?? 0;
    let last: string | undefined;
    for (const candidate of newestFirst) {
      if (left <= 0) break;
      const current = period(candidate.time);
      if (current === last) continue;
      last = current;
      left -= 1;
      kept.set(candidate.key, [...(kept.get(candidate.key) ?? []), { rule, period: current }]);
    }
  }
  return kept;
}

/**
 * The reasons as one line, e.g. "kept: newest of 2026-11 (monthly)".
 *
 * @example
 * ```ts
 * import { describeRetention } from "unms-dropbox-backup-sync";
 *
 * describeRetention([{ rule: "daily", period: "2026-11-30" }, { rule: "weekly", period: "2026-W48" }]);
 * // "kept: newest of 2026-11-30 (daily), newest of 2026-W48 (weekly)"
 * ```
 */
export function describeRetention(reasons: readonly RetentionReason[]): string {
  return `kept: ${reasons.map((r) => `newest of ${r.period} (${r.rule})`).join(", ")}`;
}

/** ISO 8601 week of a calendar date: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(time: Pick<LocalTime, "year" | "month" | "day">): { year: number; week: number } {
  // Calendar arithmetic only (no time zone): the date is already the NMS wall-clock date.
  const date = new Date(0);
  date.setUTCFullYear(time.year, time.month - 1, time.day);
  const weekday = date.getUTCDay() || 7;
  date.setUTCDate(date.getUTCDate() + 4 - weekday); // the Thursday of this week decides its year
  const weekYear = date.getUTCFullYear();
  const firstDay = new Date(0);
  firstDay.setUTCFullYear(weekYear, 0, 1);
  const week = Math.floor((date.getTime() - firstDay.getTime()) / 86_400_000 / 7) + 1;
  return { year: weekYear, week };
}

function isoWeekLabel(time: LocalTime): string {
  const { year: weekYear, week } = isoWeek(time);
  return `${year(weekYear)}-W${two(week)}`;
}

function compareTimes(a: LocalTime, b: LocalTime): number {
  return a.year - b.year || a.month - b.month || a.day - b.day || a.hour - b.hour || a.minute - b.minute;
}

function two(n: number): string {
  return String(n).padStart(2, "0");
}

function year(n: number): string {
  return String(n).padStart(4, "0");
}

/** KEEP_DAILY / KEEP_WEEKLY / KEEP_MONTHLY as the policy (absent or 0 settings keep nothing): what sync and status plan with. */
export function retentionPolicyOf(settings: Pick<Settings, "keepDaily" | "keepWeekly" | "keepMonthly">): RetentionPolicy {
  const { keepDaily, keepWeekly, keepMonthly } = settings;
  return { ...(keepDaily ? { keepDaily } : {}), ...(keepWeekly ? { keepWeekly } : {}), ...(keepMonthly ? { keepMonthly } : {}) };
}
