/**
 * `backup-sync status`: the whole chain at a glance (UNMS's backups, the off-site copies, the last
 * run, what a sync would do now) and a verdict. Reads only: both listings, the download ledger and
 * the private state. "What a sync would do" is the domain's own plan (`reconcile`), the very plan
 * `sync --dry-run` makes; staleness is the domain's own judgement, the one `sync` fails on.
 */
import { reconcile } from "../domain/reconcile.ts";
import { describeRetention, retentionPolicyOf } from "../domain/retention.ts";
import { isBackupFileName, isKnownTimeZone } from "../domain/backup.ts";
import { copyInstants, describeAge, newestSuccessful, stalenessProblems } from "../domain/staleness.ts";
import { DEFAULT_MAX_BACKUP_AGE_HOURS } from "../domain/settings.ts";
import type { RunRecord } from "./ports.ts";
import type { OpenTarget } from "./open-target.ts";

/** What `status --json` prints (times ISO 8601). */
export interface StatusReport {
  healthy: boolean;
  problems: string[];
  unms: { newestBackupAt: string | null; successCount: number; backupCount: number };
  target: { description: string; copies: number; bytes: number; newestCopyAt: string | null };
  lastRun: (Pick<RunRecord, "finishedAt" | "exitCode" | "summary" | "failures"> & { lastSuccessAt: string | null }) | null;
  pending: { upload: string[]; delete: string[] };
  /** Copies of backups UNMS no longer lists that KEEP_DAILY/WEEKLY/MONTHLY keep, and why. */
  retained: { name: string; why: string }[];
  /** Deletions a sync would hold back, and why. */
  guarded: string[];
  checkedAt: string;
}

export interface InspectInput {
  target: OpenTarget;
  lastRun: RunRecord | undefined;
  nowMs: number;
  /** How the admin knows the staleness limit: MAX_BACKUP_AGE_HOURS or maxBackupAgeHours. */
  maxAgeSetting: string;
  signal?: AbortSignal;
}

export async function inspectStatus(input: InspectInput): Promise<StatusReport> {
  const { target, nowMs, lastRun, signal } = input;
  const { settings } = target;
  const backups = await target.source.list(signal);
  const zone = await target.source.timeZone(signal);
  const timeZone = zone && isKnownTimeZone(zone) ? zone : "UTC";
  const stored = await target.store.list(settings.dropboxFolder, signal);
  const downloads = await target.ledger.read();
  const plan = reconcile({
    backups,
    stored,
    timeZone,
    downloads,
    policy: {
      ...(settings.maxDeletes === undefined ? {} : { maxDeletes: settings.maxDeletes }),
      allowMassDelete: settings.allowMassDelete === true,
      retention: retentionPolicyOf(settings),
    },
  });
  const maxAgeHours = settings.maxBackupAgeHours ?? DEFAULT_MAX_BACKUP_AGE_HOURS;
  const problems = stalenessProblems({
    backups,
    copies: stored.map((f) => f.name),
    timeZone,
    nowMs,
    maxAgeHours,
    setting: input.maxAgeSetting,
    whyNoCopy: () => "not copied yet: the next sync uploads it",
  }).map((p) => p.message);

  if (!lastRun) problems.push("No sync run has been recorded yet (run `backup-sync sync`, or wait for the plugin's schedule).");
  else {
    if (lastRun.exitCode !== 0) {
      const first = lastRun.failures[0];
      problems.push(`The last sync run failed (exit code ${lastRun.exitCode}, finished ${lastRun.finishedAt})${first ? `: ${first}` : ""}`);
    }
    if (nowMs - Date.parse(lastRun.finishedAt) > maxAgeHours * 3_600_000) {
      problems.push(
        `The last sync run finished ${describeAge(nowMs - Date.parse(lastRun.finishedAt))} ago (${lastRun.finishedAt}), longer than ${input.maxAgeSetting} (${maxAgeHours} h): is its schedule (cron, timer, the UCRM plugin's execution period) still running?`,
      );
    }
  }

  // Copies are our files only: an admin's own files in the folder are no backups of ours.
  const copies = stored.filter((f) => isBackupFileName(f.name));
  const instantOf = copyInstants(backups, timeZone);
  const newestCopy = copies
    .map((f) => instantOf(f.name))
    .filter((t): t is number => t !== undefined)
    .reduce<number | undefined>((a, t) => (a === undefined || t > a ? t : a), undefined);
  const newest = newestSuccessful(backups);
  return {
    healthy: problems.length === 0,
    problems,
    unms: {
      newestBackupAt: newest ? new Date(Date.parse(newest.createdAt)).toISOString() : null,
      successCount: backups.filter((b) => b.state === "success").length,
      backupCount: backups.length,
    },
    target: {
      description: target.targetDescription,
      copies: copies.length,
      bytes: copies.reduce((n, f) => n + (f.size ?? 0), 0),
      newestCopyAt: newestCopy === undefined ? null : new Date(newestCopy).toISOString(),
    },
    lastRun: lastRun
      ? { finishedAt: lastRun.finishedAt, exitCode: lastRun.exitCode, summary: lastRun.summary, failures: lastRun.failures, lastSuccessAt: lastRun.exitCode === 0 ? lastRun.finishedAt : lastRun.lastSuccessAt ?? null }
      : null,
    pending: { upload: plan.uploads.map((u) => u.name), delete: plan.deletions.map((d) => d.file.name) },
    retained: plan.retained.map((r) => ({ name: r.file.name, why: describeRetention(r.reasons) })),
    guarded: plan.guards.map((g) => `${g.message}. ${g.advice}`),
    checkedAt: new Date(nowMs).toISOString(),
  };
}

/** The readable status: one line per part of the chain, then the verdict and each problem. */
export function formatStatus(status: StatusReport, lastRun: RunRecord | undefined, nowMs: number): string[] {
  const at = (iso: string | null) => (iso === null ? "none" : `${iso} (${describeAge(nowMs - Date.parse(iso))} ago)`);
  const lines = [
    `UNMS: newest successful backup ${at(status.unms.newestBackupAt)}; ${status.unms.successCount} successful of ${status.unms.backupCount} listed`,
    `Off-site copies in ${status.target.description}: ${status.target.copies} (${formatBytes(status.target.bytes)}), newest ${at(status.target.newestCopyAt)}`,
    lastRun ? `${describeLastRun(lastRun, nowMs)} ${lastRun.summary}` : "Last run: none recorded",
    `A sync now would upload ${status.pending.upload.length} and delete ${status.pending.delete.length}` +
      (status.pending.upload.length + status.pending.delete.length > 0
        ? `: ${[...status.pending.upload.map((n) => `upload ${n}`), ...status.pending.delete.map((n) => `delete ${n}`)].join(", ")}`
        : ""),
    ...status.retained.map((r) => `Kept by the retention policy: ${r.name} (${r.why})`),
    ...status.guarded.map((g) => `Held back: ${g}`),
    status.healthy ? "Verdict: healthy" : `Verdict: NOT HEALTHY (${status.problems.length} problem${status.problems.length === 1 ? "" : "s"})`,
    ...status.problems.map((p) => `  - ${p}`),
  ];
  return lines;
}

/** "Last run: finished ... (2 days ago), exit code 1; last successful run: 3 days ago." */
export function describeLastRun(record: RunRecord, nowMs: number): string {
  const ago = (iso: string) => `${describeAge(nowMs - Date.parse(iso))} ago`;
  const success = record.exitCode === 0 ? "" : record.lastSuccessAt ? `; last successful run: ${ago(record.lastSuccessAt)} (${record.lastSuccessAt})` : "; no successful run recorded";
  return `Last run: finished ${record.finishedAt} (${ago(record.finishedAt)}), exit code ${record.exitCode}${success}.`;
}

/** 1536 -> "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}
