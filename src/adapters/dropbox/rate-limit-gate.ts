/**
 * Shared by the lanes of one concurrent upload: when Dropbox answers one of them 429 with a
 * Retry-After, no lane sends its next request before that wait is over (the limit is per account,
 * so the other lanes would only collect 429s of their own).
 */
export class RateLimitGate {
  #until: Promise<void> = Promise.resolve();

  constructor(private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>) {}

  /** Holds every lane for `ms` from now (on top of a hold already running). */
  hold(ms: number, signal?: AbortSignal): void {
    const wait = this.sleep(ms, signal).catch(() => undefined);
    this.#until = Promise.all([this.#until, wait]).then(() => undefined);
  }

  /** Resolves once no hold is running. */
  async passed(): Promise<void> {
    let seen: Promise<void>;
    do {
      seen = this.#until;
      await seen;
    } while (seen !== this.#until);
  }
}
