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
import { summarize, type SyncReport } from "./sync-report.ts";

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
}

export interface RunOutcome {
  exitCode: ExitCode;
  report?: SyncReport;
  /** Set when the run stopped before or outside the per-backup work. */
  error?: string;
  authorizationUrl?: string;
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

  let lock;
  let hardStop: { signal: AbortSignal; dispose: () => void } | undefined;
  try {
    lock = await input.container.get(ids.RunLock)(settings.stateDir, (info) => reporter.report({ type: "warning", message: `Took over a stale run lock: ${info}` }));
  } catch (error) {
    return fail(error);
  }

  // Told on every run, whatever happens next, until the setting is turned off.
  const tlsWarnings = settings.unmsTlsInsecure ? [insecureTlsWarning("UNMS_TLS_INSECURE / unmsTlsInsecure")] : [];
  try {
    for (const message of tlsWarnings) reporter.report({ type: "warning", message });
    let tokens: AccessTokenProvider | undefined;
    if (!settings.targetDir) {
      input.container.load(tokenSessionModule(settings, input.dropboxFetch ? { dropboxFetch: input.dropboxFetch } : {}));
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
      },
      ...(hardStop ? { signal: hardStop.signal } : input.signal ? { signal: input.signal } : {}),
      ...(budgetMs === undefined ? {} : { budgetMs }),
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
export function hardStopGraceMs(budgetMs: number): number {
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
