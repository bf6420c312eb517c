/**
 * One whole run, shared by the command line and the UCRM plugin: load settings, take the run lock,
 * get Dropbox authorized (or say how), sync, and turn the outcome into an exit code.
 */
import { SyncError, describeError } from "../domain/errors.ts";
import type { AccessTokenProvider, Reporter } from "../domain/ports.ts";
import type { Container } from "inversify";
import type { ConfigStore, LoadedSettings } from "./ports.ts";
import { tokenSessionModule } from "./compose.ts";
import { insecureTlsWarning } from "../domain/insecure-tls-warning.ts";
import { monotonicClock, syncModule } from "./container.ts";
import { ids } from "./service-ids.ts";
import { resolve } from "node:path";
import { summarize, type SyncReport } from "./sync-report.ts";
import { retentionPolicyOf } from "../domain/retention.ts";
import { DEFAULT_MAX_BACKUP_AGE_HOURS } from "../domain/settings.ts";
import { healthcheckSecrets } from "../domain/healthcheck-secrets.ts";
import type { Redactor } from "../domain/ports.ts";
import type { RunRecord } from "./ports.ts";
import { describeLastRun, formatStatus, inspectStatus } from "./status.ts";
import type { OpenTarget } from "./open-target.ts";

export const ExitCode = {
  InSync: 0,
  Failed: 1,
  Config: 2,
  AwaitingAuthorization: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export interface RunSyncInput {
  /** The entry's container (`compose(profile)`): config store, reporter, redactor, run lock. */
  container: Container;
  dryRun?: boolean;
  allowMassDelete?: boolean;
  /**
   * The stored allowMassDelete setting is one-shot (the UCRM checkbox): after a run that had it
   * set, write it back as false and say so, so a forgotten tick cannot delete copies night after night.
   */
  allowMassDeleteOneShot?: boolean;
  signal?: AbortSignal;
  /** Test seams: replace how HTTP is done, never what is done. */
  unmsFetch?: typeof fetch;
  dropboxFetch?: typeof fetch;
  /** Test seam: how retry back-off waits (default: real timers), so in-process runs need not sleep. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Wall-clock ms since the epoch (staleness, the run record); default Date.now. */
  now?: () => number;
  /** End with the status verdict (the UCRM plugin: the last lines of each run's log). */
  writeVerdict?: boolean;
  /** How the entry names the staleness limit; default MAX_BACKUP_AGE_HOURS (the UCRM plugin: maxBackupAgeHours). */
  maxAgeSetting?: string;
}

export interface RunOutcome {
  exitCode: ExitCode;
  report?: SyncReport;
  /** Set when the run stopped before or outside the per-backup work. */
  error?: string;
  authorizationUrl?: string;
  /** Another run held the lock: this one did nothing, so it records nothing. */
  lockNotTaken?: boolean;
}

export async function runSync(input: RunSyncInput): Promise<RunOutcome> {
  const configStore = input.container.get(ids.ConfigStore);
  const reporter = input.container.get(ids.EntryReporter);
  const redactor = input.container.get(ids.Redactor);
  const fail = (error: unknown): RunOutcome => {
    const message = describeError(error);
    reporter.report({ type: "failed", message });
    return { exitCode: exitCodeFor(error), error: message };
  };

  let settings: LoadedSettings;
  try {
    settings = await configStore.load();
  } catch (error) {
    return fail(error);
  }
  // Every output path redacts them from here on.
  redactor.register([settings.unmsApiToken, settings.dropboxAppSecret, settings.dropboxAccessCode, settings.dropboxRefreshToken, settings.dropboxAccessToken]);
  redactor.register(settings.healthcheckUrl ? healthcheckSecrets(settings.healthcheckUrl) : []);

  // A dry run changes nothing and proves nothing: no pings, no run record.
  const observed = input.dryRun !== true;
  const pinger = observed && settings.healthcheckUrl ? input.container.get(ids.HealthcheckNotifier)(settings.healthcheckUrl, pingSleep(input)) : undefined;
  const pingWarning = await pinger?.start();
  if (pingWarning) reporter.report({ type: "warning", message: pingWarning });
  const previous = observed ? await readLastRun(configStore, reporter) : undefined;
  if (previous) reporter.report({ type: "info", message: describeLastRun(previous, wallClockOf(input)()) });

  const outcome = await syncWithSettings(input, settings, fail);
  if (!observed) return outcome;
  if (!outcome.lockNotTaken) await recordRun(configStore, reporter, redactor, outcome, previous, wallClockOf(input)());
  const finishWarning = await pinger?.finish(outcome.exitCode, redactor.redact(runText(outcome)));
  if (finishWarning) reporter.report({ type: "warning", message: finishWarning });
  if (input.writeVerdict) await reportVerdict(input, settings, outcome);
  return outcome;
}

/**
 * The verdict `status` would print, as the run's last lines (the UCRM plugin's log). Read after the
 * run with the run's own source and store; a run that never reached them gets its error as verdict.
 */
async function reportVerdict(input: RunSyncInput, settings: LoadedSettings, outcome: RunOutcome): Promise<void> {
  const reporter = input.container.get(ids.EntryReporter);
  if (!input.container.isBound(ids.BackupStore)) {
    reporter.report({ type: "warning", message: `Verdict: NOT HEALTHY: the run stopped before it reached UNMS and the copies (exit code ${outcome.exitCode}).` });
    return;
  }
  try {
    const lastRun = (await input.container.get(ids.ConfigStore).readPrivateState()).lastRun;
    const target: OpenTarget = {
      // A one-shot "allow mass deletion" is cleared by now: the next run's plan is made without it.
      settings: input.allowMassDeleteOneShot ? { ...settings, allowMassDelete: false } : settings,
      source: input.container.get(ids.BackupSource),
      store: input.container.get(ids.BackupStore),
      ledger: input.container.get(ids.DownloadLedger),
      targetDescription: input.container.get(ids.TargetDescription),
    };
    const nowMs = wallClockOf(input)();
    const status = await inspectStatus({ target, lastRun, nowMs, maxAgeSetting: input.maxAgeSetting ?? "MAX_BACKUP_AGE_HOURS", ...(input.signal ? { signal: input.signal } : {}) });
    for (const line of formatStatus(status, lastRun, nowMs)) {
      reporter.report(status.healthy || !line.startsWith("  - ") ? { type: "info", message: line } : { type: "warning", message: line.slice(4) });
    }
  } catch (error) {
    reporter.report({ type: "warning", message: `Verdict: unknown: the status could not be read after the run: ${describeError(error)}` });
  }
}

async function syncWithSettings(input: RunSyncInput, settings: LoadedSettings, fail: (error: unknown) => RunOutcome): Promise<RunOutcome> {
  const configStore = input.container.get(ids.ConfigStore);
  const reporter = input.container.get(ids.EntryReporter);
  const redactor = input.container.get(ids.Redactor);
  // Before the lock and any download: a folder that cannot be written is a configuration error.
  const folderNames = configStore.folderNames ?? { targetDir: "TARGET_DIR", stateDir: "STATE_DIR" };
  const ensureWritableFolder = input.container.get(ids.WritableFolderCheck);
  try {
    await ensureWritableFolder(settings.stateDir, folderNames.stateDir);
    if (settings.targetDir) await ensureWritableFolder(resolve(settings.targetDir), folderNames.targetDir);
  } catch (error) {
    return { ...fail(error), lockNotTaken: true };
  }

  let lock;
  let hardStop: { signal: AbortSignal; dispose: () => void } | undefined;
  try {
    lock = await input.container.get(ids.RunLock)(settings.stateDir, (info) => reporter.report({ type: "warning", message: info }));
  } catch (error) {
    return { ...fail(error), lockNotTaken: true };
  }

  // Told on every run, whatever happens next, until the setting is turned off.
  const tlsWarnings = settings.unmsTlsInsecure ? [insecureTlsWarning("UNMS_TLS_INSECURE / unmsTlsInsecure")] : [];
  try {
    for (const message of tlsWarnings) reporter.report({ type: "warning", message });
    let tokens: AccessTokenProvider | undefined;
    if (!settings.targetDir) {
      input.container.load(tokenSessionModule(settings, { ...(input.dropboxFetch ? { dropboxFetch: input.dropboxFetch } : {}), ...(input.sleep ? { sleep: input.sleep } : {}) }));
      const auth = await input.container.get(ids.TokenSession).start(settings);
      if (auth.status === "awaiting-user") {
        reporter.report({ type: "authorization-required", message: auth.message, url: auth.url });
        return { exitCode: ExitCode.AwaitingAuthorization, authorizationUrl: auth.url, error: auth.message };
      }
      tokens = auth.tokens;
    }

    const budgetMs = settings.maxRunMinutes === undefined ? undefined : settings.maxRunMinutes * 60_000;
    hardStop = budgetMs === undefined ? undefined : startHardStop(budgetMs, input.signal);
    input.container.load(syncModule({
      settings,
      reporter,
      redactor,
      ...(budgetMs === undefined ? {} : { runDeadline: monotonicClock.now() + budgetMs }),
      ...(tokens ? { tokens } : {}),
      ...(input.unmsFetch ? { unmsFetch: input.unmsFetch } : {}),
      ...(input.dropboxFetch ? { dropboxFetch: input.dropboxFetch } : {}),
      ...(input.sleep ? { sleep: input.sleep } : {}),
      ...(settings.dropboxBaseUrl ? { dropboxBaseUrl: settings.dropboxBaseUrl } : {}),
    }));
    const report = await input.container.get(ids.SyncBackups).run({
      folder: settings.dropboxFolder,
      dryRun: input.dryRun ?? false,
      policy: {
        ...(settings.maxDeletes === undefined ? {} : { maxDeletes: settings.maxDeletes }),
        allowMassDelete: input.allowMassDelete === true || settings.allowMassDelete === true,
        retention: retentionPolicyOf(settings),
      },
      ...(hardStop ? { signal: hardStop.signal } : input.signal ? { signal: input.signal } : {}),
      ...(budgetMs === undefined ? {} : { budgetMs }),
      staleness: {
        maxAgeHours: settings.maxBackupAgeHours ?? DEFAULT_MAX_BACKUP_AGE_HOURS,
        setting: input.maxAgeSetting ?? "MAX_BACKUP_AGE_HOURS",
        nowMs: wallClockOf(input)(),
      },
    });
    report.warnings.unshift(...tlsWarnings);
    const cleared = input.allowMassDeleteOneShot && settings.allowMassDelete === true && !report.dryRun ? await clearAllowMassDelete(configStore, reporter) : true;
    reporter.report({ type: "run-finished", summary: summarize(report) });
    return { exitCode: report.failed.length > 0 || !cleared ? ExitCode.Failed : ExitCode.InSync, report };
  } catch (error) {
    return fail(hardStop?.signal.aborted && !input.signal?.aborted ? hardStop.signal.reason : error);
  } finally {
    hardStop?.dispose();
    await lock.release();
  }
}


/** Writes allowMassDelete = false back; false (reported) when that failed. */
async function clearAllowMassDelete(configStore: ConfigStore, reporter: Reporter): Promise<boolean> {
  try {
    await configStore.save({ allowMassDelete: false });
  } catch (error) {
    reporter.report({
      type: "failed",
      message: `"Allow mass deletion" (allowMassDelete) was used by this run but could not be cleared in ${configStore.location}: ${describeError(error)} Untick it by hand in the plugin configuration, or every run may delete many copies.`,
    });
    return false;
  }
  reporter.report({
    type: "info",
    message: `"Allow mass deletion" (allowMassDelete) was used by this run and has been cleared (set to false) in ${configStore.location}; tick it again only for a run that really should delete many copies.`,
  });
  return true;
}

/**
 * Past the budget no new chunk or retry starts, but a call already under way may hang (a service
 * that never answers). This cuts the run a grace period after the budget: 10% of it, from 5 s (a
 * chunk in flight can finish) to 3 minutes (55 + 3 stays inside UCRM's hour). The upload state
 * saved so far is kept.
 */
function hardStopGraceMs(budgetMs: number): number {
  return Math.min(3 * 60_000, Math.max(5_000, budgetMs / 10));
}

function startHardStop(budgetMs: number, outer: AbortSignal | undefined): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const graceMs = hardStopGraceMs(budgetMs);
  const follow = () => controller.abort(outer?.reason);
  outer?.addEventListener("abort", follow, { once: true });
  if (outer?.aborted) follow();
  const timer = setTimeout(() => {
    const minutes = Math.round((budgetMs / 60_000) * 100) / 100;
    controller.abort(
      new SyncError(
        `The run was stopped ${Math.round(graceMs / 1000)} s after its time budget (MAX_RUN_MINUTES / maxRunMinutes: ${minutes} min) ` +
          "because a call to UNMS or Dropbox was still not answered; the upload state saved so far is kept and the next run continues from it",
        { kind: "transient", code: "run.hard_stop" },
      ),
    );
  }, budgetMs + graceMs);
  (timer as { unref?: () => void }).unref?.();
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(timer);
      outer?.removeEventListener("abort", follow);
    },
  };
}

export function exitCodeFor(error: unknown): ExitCode {
  if (!SyncError.is(error)) return ExitCode.Failed;
  if (error.kind === "config") return ExitCode.Config;
  if (error.kind === "authorization-required") return ExitCode.AwaitingAuthorization;
  return ExitCode.Failed;
}

export function wallClockOf(input: { now?: () => number }): () => number {
  return input.now ?? Date.now;
}

/** The ping retry waits as the run's back-off does (tests pass one that does not sleep). */
function pingSleep(input: RunSyncInput): ((ms: number) => Promise<void>) | undefined {
  const sleep = input.sleep;
  return sleep ? (ms) => sleep(ms) : undefined;
}

/** The run as text: its summary (or the error that stopped it), then every failure and warning. */
function runText(outcome: RunOutcome): string {
  const report = outcome.report;
  if (!report) return `The run stopped (exit code ${outcome.exitCode}): ${outcome.error ?? "no reason was given"}`;
  return [
    summarize(report),
    ...report.failed.map((f) => `ERROR: ${f.name ? `${f.name}: ` : ""}${f.error}`),
    ...report.warnings.map((w) => `WARNING: ${w}`),
  ].join("\n");
}

async function readLastRun(store: ConfigStore, reporter: Reporter): Promise<RunRecord | undefined> {
  try {
    return (await store.readPrivateState()).lastRun;
  } catch (error) {
    reporter.report({ type: "warning", message: `Could not read the record of the last run: ${describeError(error)}` });
    return undefined;
  }
}

const MAX_RECORDED_FAILURES = 20;
const MAX_FAILURE_CHARS = 500;

/** Keeps the run's outcome in the private state; a failure to keep it is a warning, never the run's outcome. */
async function recordRun(store: ConfigStore, reporter: Reporter, redactor: Redactor, outcome: RunOutcome, previous: RunRecord | undefined, nowMs: number): Promise<void> {
  const report = outcome.report;
  const finishedAt = new Date(nowMs).toISOString();
  const failures = report ? report.failed.map((f) => (f.name ? `${f.name}: ${f.error}` : f.error)) : outcome.error ? [outcome.error] : [];
  const lastSuccessAt = outcome.exitCode === ExitCode.InSync ? finishedAt : previous?.exitCode === 0 ? previous.finishedAt : previous?.lastSuccessAt;
  const record: RunRecord = {
    finishedAt,
    exitCode: outcome.exitCode,
    summary: redactor.redact(report ? summarize(report) : `The run stopped: ${outcome.error ?? "no reason was given"}`).slice(0, MAX_FAILURE_CHARS),
    counts: { uploaded: report?.uploaded.length ?? 0, skipped: report?.skipped.length ?? 0, deleted: report?.deleted.length ?? 0, failed: failures.length },
    failures: failures.slice(0, MAX_RECORDED_FAILURES).map((f) => redactor.redact(f).slice(0, MAX_FAILURE_CHARS)),
    ...(lastSuccessAt ? { lastSuccessAt } : {}),
  };
  try {
    await store.writePrivateState({ ...(await store.readPrivateState()), lastRun: record });
  } catch (error) {
    reporter.report({ type: "warning", message: `Could not keep the record of this run: ${describeError(error)}` });
  }
}
