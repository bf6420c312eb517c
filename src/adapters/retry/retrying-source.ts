/**
 * Retries a BackupSource's calls through transient failures (UNMS restarting, busy making its own
 * nightly backup, a proxy's 502) with the one shared retry helper. Only the opening of a download is
 * retried here; a download that breaks midway is started over by SyncBackups.
 */
import { SyncError, describeError } from "../../domain/errors.ts";
import type { BackupDownload, BackupSource, OpenOptions } from "../../domain/ports.ts";
import type { UnmsBackup } from "../../domain/backup.ts";
import { retry, RetryError, type RetryDecision, type RetryOptions } from "./retry.ts";

/** Four attempts over about half a minute: long enough for a UNMS restart, short for a dead host. */
const SOURCE_RETRY: Partial<RetryOptions> = { attempts: 4, baseDelayMs: 2_000, maxDelayMs: 30_000, maxTotalMs: 3 * 60_000 };

export interface SourceRetryInfo {
  operation: string;
  /** The attempt about to start, from 2. */
  attempt: number;
  /** Most attempts in all. */
  attempts: number;
  /** The failure that is retried. */
  error: unknown;
  reason: string;
  delayMs: number;
}

export function classifySourceFailure(error: unknown): RetryDecision {
  if (SyncError.is(error) && error.kind === "rate-limited") {
    return { action: "retry-after", delayMs: error.retryAfterMs ?? 5_000, reason: error.message };
  }
  if (SyncError.is(error) && error.kind === "transient") return { action: "retry", reason: error.message };
  return { action: "fatal", reason: describeError(error) };
}

export class RetryingBackupSource implements BackupSource {
  constructor(
    private readonly inner: BackupSource,
    private readonly options: { retry?: Partial<RetryOptions>; onRetry?: (info: SourceRetryInfo) => void } = {},
  ) {}

  list(signal?: AbortSignal): Promise<UnmsBackup[]> {
    return this.#call("listing the backups", () => this.inner.list(signal), signal);
  }

  timeZone(signal?: AbortSignal): Promise<string | undefined> {
    return this.#call("reading the NMS time zone", () => this.inner.timeZone(signal), signal);
  }

  open(id: string, signal?: AbortSignal, options?: OpenOptions): Promise<BackupDownload> {
    return this.#call(`downloading backup ${id}`, () => this.inner.open(id, signal, options), signal);
  }

  async #call<T>(operation: string, run: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    const attempts = this.options.retry?.attempts ?? SOURCE_RETRY.attempts ?? 1;
    try {
      return await retry(run, {
        ...SOURCE_RETRY,
        ...this.options.retry,
        classify: classifySourceFailure,
        ...(signal ? { signal } : {}),
        onRetry: ({ attempt, reason, delayMs, error }) => this.options.onRetry?.({ operation, attempt: attempt + 1, attempts, reason, delayMs, error }),
      });
    } catch (error) {
      if (!(error instanceof RetryError)) throw error;
      // The last failure, told as it is, plus how hard we tried.
      const last = error.cause;
      const message = `${describeError(last)} (gave up ${operation} after ${error.attempts} attempts)`;
      throw SyncError.is(last)
        ? new SyncError(message, { kind: last.kind, code: last.code, ...(last.status === undefined ? {} : { status: last.status }), cause: last })
        : new SyncError(message, { kind: "transient", code: "source.retries_exhausted", cause: last });
    }
  }
}
