/**
 * Health-check pings in the healthchecks.io convention: `POST <url>/start` when a run begins and
 * `POST <url>/<exit code>` with the run's text summary when it ends, so a monitor alerts when runs
 * fail or stop happening. A ping never changes a run's outcome: its failure comes back as text for a
 * WARNING. The URL carries the check's token, so no message here ever contains it.
 */
import { describeError } from "../../domain/errors.ts";
import type { Redactor } from "../../domain/ports.ts";
import { healthcheckSecrets } from "../../domain/healthcheck-secrets.ts";

/** Monitors cap ping bodies (healthchecks.io keeps 10 KB by default): the summary is cut to this. */
export const PING_BODY_MAX_BYTES = 10_000;
/** Each attempt gives up after this long: a slow monitor must not hold the run. */
export const PING_TIMEOUT_MS = 10_000;

export interface HealthcheckPingerOptions {
  /** The check's ping URL, without a trailing "/". */
  url: string;
  fetch: typeof fetch;
  redactor: Redactor;
  timeoutMs?: number;
  /** How the one retry waits (default 1 s); tests pass one that does not sleep. */
  sleep?: (ms: number) => Promise<void>;
}

export class HealthcheckPinger {
  readonly #options: HealthcheckPingerOptions;

  constructor(options: HealthcheckPingerOptions) {
    this.#options = options;
    options.redactor.register(healthcheckSecrets(options.url));
  }

  /** Pings `/start`; resolves to a warning text when the ping failed, else undefined. */
  start(): Promise<string | undefined> {
    return this.#ping("start", "");
  }

  /** Pings `/<exitCode>` with `summary` (cut to PING_BODY_MAX_BYTES); a warning text on failure. */
  finish(exitCode: number, summary: string): Promise<string | undefined> {
    return this.#ping(String(exitCode), truncateUtf8(summary, PING_BODY_MAX_BYTES));
  }

  async #ping(suffix: string, body: string): Promise<string | undefined> {
    const { url, fetch, redactor } = this.#options;
    const sleep = this.#options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    let why = "";
    for (let attempt = 1; attempt <= 2; attempt++) {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new Error(`no answer within ${(this.#options.timeoutMs ?? PING_TIMEOUT_MS) / 1000} s`)), this.#options.timeoutMs ?? PING_TIMEOUT_MS);
      try {
        const response = await fetch(`${url}/${suffix}`, {
          method: "POST",
          headers: { "content-type": "text/plain; charset=utf-8" },
          body,
          signal: controller.signal,
        });
        const text = (await response.text().catch(() => "")).trim().slice(0, 200);
        if (response.ok) return undefined;
        why = `HTTP ${response.status}${text ? ` "${text}"` : ""}`;
        // A 4xx (unknown check, bad URL) will not change on a second try.
        if (response.status < 500 && response.status !== 429) break;
      } catch (error) {
        why = controller.signal.aborted ? describeError(controller.signal.reason) : describeError(error);
      } finally {
        clearTimeout(timer);
      }
      if (attempt === 1) await sleep(1000);
    }
    return redactor.redact(
      `The health-check ping "/${suffix}" to HEALTHCHECK_URL / healthcheckUrl (not shown: it is secret) failed: ${why}. The run's outcome is not affected; check the URL and that the monitor is reachable.`,
    );
  }
}

/** At most `maxBytes` of UTF-8, cut at a character boundary, with a marker when cut. */
export function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  const marker = "\n[cut to 10 KB]";
  let end = maxBytes - marker.length;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end)) + marker;
}
