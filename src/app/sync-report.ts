/**
 * The report of a run: what SyncBackups did (planned by the domain's reconcile, carried out by
 * sync-backups.ts), folded from the events it emits, and its two renderings: the one-line summary
 * and the `--json` line.
 */
import type { Reporter, SyncEvent } from "../domain/ports.ts";
import { describeRetention, type RetentionReason } from "../domain/retention.ts";

export interface UploadRecord {
  name: string;
  bytes: number;
  durationMs: number;
  /** Bytes an earlier run (or attempt) had already stored: this upload continued from there. */
  resumedFrom?: number;
}

/**
 * The outcome of one run, as `sync()` resolves it.
 *
 * @example
 * ```ts
 * import type { BackupSync, SyncReport } from "unms-dropbox-backup-sync";
 *
 * declare const backupSync: BackupSync;
 *
 * const { uploaded, deleted, failed }: SyncReport = await backupSync.sync();
 * console.log(uploaded.length, deleted.length, failed.length);
 * ```
 */
export interface SyncReport {
  dryRun: boolean;
  /** Names stored this run (with dryRun: names that would be). */
  uploaded: string[];
  /** Names already present and kept. */
  skipped: string[];
  /** Names deleted this run (with dryRun: names that would be). */
  deleted: string[];
  failed: { name: string; error: string }[];
  /** Why deletions were held back, with what to do. */
  guarded: string[];
  bytesUploaded: number;
  uploads: UploadRecord[];
  ignored: { backupId: string; reason: string }[];
  warnings: string[];
  /** Names left for the next run because the time budget was spent (paused part-way or not started). */
  resumable: string[];
  /** Copies of backups UNMS no longer lists that the retention policy keeps, and why (absent: none). */
  retained?: { name: string; why: string; reasons: RetentionReason[] }[];
  durationMs: number;
}

/** A run's report so far, before its duration is known. */
export type PartialReport = Omit<SyncReport, "durationMs">;

function emptyReport(): PartialReport {
  return { dryRun: false, uploaded: [], skipped: [], deleted: [], failed: [], guarded: [], bytesUploaded: 0, uploads: [], ignored: [], warnings: [], resumable: [] };
}

/** Events whose whole share of the report is their name, added to this list of it. */
const NAME_LIST_OF = { skipped: "skipped", deleted: "deleted", "held-over": "resumable" } as const;

type NameOnlyEvent = Extract<SyncEvent, { type: keyof typeof NAME_LIST_OF }>;

function isNameOnly(event: SyncEvent): event is NameOnlyEvent {
  return event.type in NAME_LIST_OF;
}

/** One event's share of the report; events that tell nothing the report keeps leave it as is. */
function fold(report: PartialReport, event: SyncEvent): void {
  if (isNameOnly(event)) {
    report[NAME_LIST_OF[event.type]].push(event.name);
    return;
  }
  switch (event.type) {
    case "run-started":
      report.dryRun = event.dryRun;
      return;
    case "uploaded": {
      report.uploaded.push(event.name);
      if (event.dryRun) return;
      const { name, bytes, durationMs, resumedFrom } = event;
      report.uploads.push({ name, bytes, durationMs, ...(resumedFrom === undefined ? {} : { resumedFrom }) });
      report.bytesUploaded += bytes;
      return;
    }
    case "failed":
    case "not-attempted":
      report.failed.push({ name: event.name ?? "", error: event.message });
      return;
    case "guarded":
      report.guarded.push(`${event.message}. ${event.advice}`);
      return;
    case "ignored":
      report.ignored.push({ backupId: event.backupId, reason: event.reason });
      return;
    case "warning":
      report.warnings.push(event.message);
      return;
    case "retained":
      (report.retained ??= []).push({ name: event.name, why: describeRetention(event.reasons), reasons: event.reasons });
      return;
    default:
      return;
  }
}

/** The report a sequence of events adds up to. */
export function collectReport(events: Iterable<SyncEvent>, durationMs: number): SyncReport {
  const collector = new ReportCollector();
  for (const event of events) collector.report(event);
  return collector.finish(durationMs);
}

/** A Reporter that keeps the report as the events arrive, so the run keeps no second set of books. */
export class ReportCollector implements Reporter {
  readonly #report = emptyReport();

  report(event: SyncEvent): void {
    fold(this.#report, event);
  }

  /** The report so far (read-only: only events change it). */
  get sofar(): Readonly<PartialReport> {
    return this.#report;
  }

  /** The report of the finished run, with its duration (the collector is done then). */
  finish(durationMs: number): SyncReport {
    return { ...this.#report, durationMs };
  }
}

/** Hands every event to each reporter in turn (the collector and the output, say). */
export function fanOut(...reporters: Reporter[]): Reporter {
  return { report: (event) => reporters.forEach((reporter) => reporter.report(event)) };
}

/**
 * The one-line summary of a report, as the CLI prints it.
 *
 * @example
 * ```ts
 * import { summarize, type BackupSync } from "unms-dropbox-backup-sync";
 *
 * declare const backupSync: BackupSync;
 *
 * console.log(summarize(await backupSync.sync())); // "Sync finished: 2 uploaded, 5 already stored, 1 deleted."
 * ```
 */
export function summarize(report: SyncReport): string {
  const verb = report.dryRun ? "would be " : "";
  const parts = [
    `${report.uploaded.length} ${verb}uploaded`,
    `${report.skipped.length} already stored`,
    `${report.deleted.length} ${verb}deleted`,
  ];
  if (report.failed.length) parts.push(`${report.failed.length} failed`);
  if (report.guarded.length) parts.push(`${report.guarded.length} guard(s) held deletions back`);
  if (report.resumable.length) parts.push(`${report.resumable.length} continue(s) on the next run`);
  if (report.retained?.length) parts.push(`${report.retained.length} kept by the retention policy`);
  const outcome = report.failed.length ? "Sync finished with failures" : report.dryRun ? "Dry run finished" : "Sync finished";
  return `${outcome}: ${parts.join(", ")}.`;
}

/**
 * The JSON summary line of `--json`. A run that stopped before syncing (configuration, run lock) has
 * no report: `{"error": "...", "exitCode": n}`. One waiting for authorization keeps the summary's
 * shape (nothing done) with `error` and `authorizationUrl`.
 */
export function jsonSummary(outcome: JsonSummaryOutcome): string {
  return JSON.stringify(jsonSummaryObject(outcome));
}

/** What `jsonSummary` renders: a run's outcome, with its report when it got as far. */
export interface JsonSummaryOutcome {
  exitCode: number;
  report?: SyncReport;
  error?: string;
  authorizationUrl?: string;
}

/** Pieces of about this many characters: small enough to stay flat, large enough to be few writes. */
const JSON_PIECE_CHARS = 64 * 1024;

/**
 * The text of `jsonSummary`, in pieces that add up to it exactly: a dry run over a million backups
 * lists a million names, and one 70 MiB string (with its copies for redaction and writing) would
 * cost more memory than the whole plan. Each array element and each other value passes `redact` on
 * its own, so a secret inside one is redacted as in the whole text.
 */
export function* jsonSummaryPieces(outcome: JsonSummaryOutcome, redact: (text: string) => string = (text) => text): Generator<string> {
  let piece = "{";
  let first = true;
  for (const [key, value] of Object.entries(jsonSummaryObject(outcome))) {
    if (value === undefined) continue;
    piece += `${first ? "" : ","}${JSON.stringify(key)}:`;
    first = false;
    if (!Array.isArray(value)) {
      piece += redact(JSON.stringify(value));
      continue;
    }
    piece += "[";
    for (let i = 0; i < value.length; i++) {
      piece += `${i === 0 ? "" : ","}${redact(JSON.stringify(value[i]) ?? "null")}`;
      if (piece.length >= JSON_PIECE_CHARS) {
        yield piece;
        piece = "";
      }
    }
    piece += "]";
  }
  yield `${piece}}`;
}

function jsonSummaryObject(outcome: JsonSummaryOutcome): Record<string, unknown> {
  const report = outcome.report;
  if (!report && outcome.error !== undefined && !outcome.authorizationUrl) {
    return { error: outcome.error, exitCode: outcome.exitCode };
  }
  return {
    ...(!report && outcome.error !== undefined ? { error: outcome.error } : {}),
    uploaded: report?.uploaded ?? [],
    skipped: report?.skipped ?? [],
    deleted: report?.deleted ?? [],
    failed: report?.failed ?? [],
    guarded: report?.guarded ?? [],
    bytesUploaded: report?.bytesUploaded ?? 0,
    uploads: report?.uploads ?? [],
    ignored: report?.ignored ?? [],
    warnings: report?.warnings ?? [],
    resumable: report?.resumable ?? [],
    retained: report?.retained ?? [],
    dryRun: report?.dryRun ?? false,
    durationMs: Math.round(report?.durationMs ?? 0),
    exitCode: outcome.exitCode,
    ...(outcome.authorizationUrl ? { authorizationUrl: outcome.authorizationUrl } : {}),
  };
}
