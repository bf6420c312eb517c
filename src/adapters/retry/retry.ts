/**
 * One retry helper for every outside call, modelled on Deno std `async/retry.ts`: capped attempts
 * and total time, exponential backoff with jitter, a server-given wait honoured as it is, a token
 * refresh retried once, and fatal failures never retried. Sleep and clock are injectable so tests
 * never wait through real time.
 */

/** What to do about one failure; adapters produce it with their own classifier. */
export type RetryDecision =
  /** The service said how long to wait (429 Retry-After): wait exactly that, then retry. */
  | { action: "retry-after"; delayMs: number; reason: string }
  /** Transient (5xx, network): wait an exponential backoff with jitter, then retry. */
  | { action: "retry"; reason: string }
  /** The access token expired: refresh it (options.refresh), then retry at once, only once in a row. */
  | { action: "refresh-token"; reason: string }
  /** A retry will not help. */
  | { action: "fatal"; reason: string };

export interface RetryInfo {
  /** The attempt that failed, from 1. */
  attempt: number;
  reason: string;
  delayMs: number;
  error: unknown;
}

export interface RetryOptions {
  /** Most attempts in all, the first included (default 8). */
  attempts: number;
  /** No retry starts once this much time has passed since the first attempt, waits included (default 15 min). */
  maxTotalMs: number;
  /**
   * `now()` time at which the whole run's budget is spent: no retry (nor its wait) goes past it, so
   * a service that never answers costs at most the run's budget, not attempts x timeout per call.
   */
  deadline?: number;
  /** Backoff before the 2nd attempt; it doubles per attempt (default 500 ms). */
  baseDelayMs: number;
  /** Backoff ceiling, also for server-given waits (default 60 s). */
  maxDelayMs: number;
  /** 0..1: share of each backoff that is randomised away (default 1, "full jitter"). */
  jitter: number;
  /** Decides per failure; defaults to `isRetriable` (retry with backoff, else fatal). */
  classify?: (error: unknown, attempt: number) => RetryDecision;
  /** Simple alternative to `classify`; default: everything is retriable. */
  isRetriable?: (error: unknown) => boolean;
  /** Called for a `refresh-token` decision before the retry; its failure ends the retries. */
  refresh?: (error: unknown) => Promise<void>;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  now: () => number;
  random: () => number;
  signal?: AbortSignal;
  onRetry?: (info: RetryInfo) => void;
}

export const DEFAULT_RETRY_OPTIONS: Readonly<Omit<RetryOptions, "classify" | "isRetriable" | "refresh" | "signal" | "onRetry">> = {
  attempts: 8,
  maxTotalMs: 15 * 60_000,
  baseDelayMs: 500,
  maxDelayMs: 60_000,
  jitter: 1,
  sleep: abortableSleep,
  now: () => performance.now(),
  random: Math.random,
};

/** Thrown when the attempts or the time budget ran out; `cause` is the last failure. */
export class RetryError extends Error {
  readonly attempts: number;
  readonly lastDecision: RetryDecision;
  constructor(attempts: number, lastDecision: RetryDecision, cause: unknown, why: string) {
    super(`Gave up after ${attempts} attempt${attempts === 1 ? "" : "s"} (${why}); last failure: ${lastDecision.reason}`, { cause });
    this.name = "RetryError";
    this.attempts = attempts;
    this.lastDecision = lastDecision;
  }
}

/** Exponential backoff with jitter for the retry after failed attempt `attempt` (from 1). */
export function backoffDelay(attempt: number, options: Pick<RetryOptions, "baseDelayMs" | "maxDelayMs" | "jitter" | "random">): number {
  const exponential = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exponential * (1 - options.jitter * options.random()));
}

/**
 * Runs `fn` until it succeeds, a failure is fatal, or attempts/time run out.
 * @throws the fatal failure itself, or RetryError (cause: the last failure) when the budget ran out,
 *   or the signal's reason when aborted.
 * @example
 * const answer = await retry(() => fetchSomething(), { attempts: 3, classify: myClassifier });
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, partial: Partial<RetryOptions> = {}): Promise<T> {
  const options: RetryOptions = { ...DEFAULT_RETRY_OPTIONS, ...stripUndefined(partial) };
  if (!(options.attempts >= 1)) throw new RangeError(`retry(): attempts must be at least 1, got ${options.attempts}`);
  const classify = options.classify ?? ((error: unknown): RetryDecision =>
    (options.isRetriable ?? (() => true))(error)
      ? { action: "retry", reason: describe(error) }
      : { action: "fatal", reason: describe(error) });
  const started = options.now();
  let refreshedLast = false;
  for (let attempt = 1; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      let decision = classify(error, attempt);
      if (decision.action === "refresh-token" && (refreshedLast || !options.refresh)) {
        decision = { action: "fatal", reason: `${decision.reason} (again after a token refresh)` };
      }
      if (decision.action === "fatal") throw error;
      if (attempt >= options.attempts) throw new RetryError(attempt, decision, error, "attempts exhausted");
      const delayMs =
        decision.action === "retry-after" ? Math.min(decision.delayMs, options.maxDelayMs)
        : decision.action === "retry" ? backoffDelay(attempt, options)
        : 0;
      if (options.now() - started + delayMs > options.maxTotalMs) {
        throw new RetryError(attempt, decision, error, `time budget of ${Math.round(options.maxTotalMs / 1000)} s exhausted`);
      }
      if (options.deadline !== undefined && options.now() + delayMs >= options.deadline) {
        throw new RetryError(attempt, decision, error, "the run's time budget (MAX_RUN_MINUTES) is spent");
      }
      options.onRetry?.({ attempt, reason: decision.reason, delayMs, error });
      refreshedLast = decision.action === "refresh-token";
      if (refreshedLast) await options.refresh!(error);
      else if (delayMs > 0) await options.sleep(delayMs, options.signal);
    }
  }
}

/** setTimeout as a promise that an AbortSignal cuts short. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
