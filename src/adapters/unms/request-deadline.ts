/**
 * One request's abort signal: follows the caller's signal and a timer that can be re-armed, so a
 * download times out when it stalls, not when it is merely long.
 */

/** Calls `onTimeout` after `ms` unless the returned function is called first. */
export type ScheduleTimeout = (onTimeout: () => void, ms: number) => () => void;

export const realTimeout: ScheduleTimeout = (onTimeout, ms) => {
  const timer = setTimeout(onTimeout, ms);
  return () => clearTimeout(timer);
};

export class RequestDeadline {
  private readonly controller = new AbortController();
  private cancelTimer: () => void = () => {};
  private readonly unlink: () => void;
  /** True once the timer, not the caller, aborted the request. */
  timedOut = false;

  constructor(
    private readonly caller: AbortSignal | undefined,
    readonly timeoutMs: number,
    private readonly schedule: ScheduleTimeout,
  ) {
    const follow = () => this.controller.abort(caller?.reason);
    if (caller?.aborted) follow();
    caller?.addEventListener("abort", follow, { once: true });
    this.unlink = () => caller?.removeEventListener("abort", follow);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Whether the caller gave up (then its reason is rethrown as is). */
  get callerAborted(): boolean {
    return this.caller?.aborted === true;
  }

  get callerReason(): unknown {
    return this.caller?.reason;
  }

  /** (Re)starts the timer. */
  arm(): void {
    this.cancelTimer();
    this.cancelTimer = this.schedule(() => {
      this.timedOut = true;
      this.controller.abort(new DOMException(`No answer from UNMS within ${this.timeoutMs} ms`, "TimeoutError"));
    }, this.timeoutMs);
  }

  disarm(): void {
    this.cancelTimer();
    this.cancelTimer = () => {};
  }

  dispose(): void {
    this.disarm();
    this.unlink();
  }
}
