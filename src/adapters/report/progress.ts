/**
 * Progress of one upload: a redrawn bar on a terminal, sparse lines anywhere else.
 *
 * Off a terminal (cron mail, plugin.log) a line every 10% or every minute, whichever comes first,
 * keeps a several-GiB upload visibly alive without flooding a log trimmed to 256 lines.
 */
import { formatBytes, formatDuration, formatRate } from "./format.ts";

export interface ProgressSample {
  name: string;
  bytesDone: number;
  size?: number;
  elapsedMs: number;
  /** Bytes an earlier run already stored (a continued upload): not part of this run's rate. */
  resumedFrom?: number;
}

export const LINE_EVERY_PERCENT = 10;
export const LINE_EVERY_MS = 60_000;
/** Uploads done within this time get no progress lines at all: their result line says enough. */
export const QUIET_FIRST_MS = 5_000;

/** Decides which samples deserve a line when the output is not a terminal. */
export class ProgressThrottle {
  #name = "";
  #lastPercentStep = 0;
  #lastLineMs = 0;

  /** The line for this sample, or undefined when it is too soon for another. */
  line(sample: ProgressSample): string | undefined {
    if (sample.name !== this.#name) {
      this.#name = sample.name;
      this.#lastPercentStep = 0;
      this.#lastLineMs = 0;
    }
    const percent = sample.size ? (sample.bytesDone / sample.size) * 100 : undefined;
    const step = percent === undefined ? 0 : Math.floor(percent / LINE_EVERY_PERCENT);
    const dueByPercent = percent !== undefined && step > this.#lastPercentStep && percent < 100;
    const dueByTime = sample.elapsedMs - this.#lastLineMs >= LINE_EVERY_MS;
    if (sample.elapsedMs < QUIET_FIRST_MS || (!dueByPercent && !dueByTime)) return undefined;
    this.#lastPercentStep = Math.max(step, this.#lastPercentStep);
    this.#lastLineMs = sample.elapsedMs;
    return describeProgress(sample);
  }
}

export function describeProgress({ name, bytesDone, size, elapsedMs, resumedFrom = 0 }: ProgressSample): string {
  const sent = bytesDone - resumedFrom;
  const rate = formatRate(sent, elapsedMs);
  if (!size) return `${name}: ${formatBytes(bytesDone)} sent, ${rate}`;
  const percent = Math.min(100, (bytesDone / size) * 100);
  const etaMs = sent > 0 ? ((size - bytesDone) * elapsedMs) / sent : undefined;
  return `${name}: ${percent.toFixed(0)}% (${formatBytes(bytesDone)} of ${formatBytes(size)}), ${rate}${etaMs === undefined ? "" : `, about ${formatDuration(etaMs)} left`}`;
}

/** A one-line bar for terminals: `[#####.....]  52% 1.2 GiB of 2.3 GiB, 48 MiB/s, ETA 23 s`. */
export function progressBar(sample: ProgressSample, width = 24): string {
  const { bytesDone, size, elapsedMs, resumedFrom = 0 } = sample;
  const sent = bytesDone - resumedFrom;
  const rate = formatRate(sent, elapsedMs);
  if (!size) return `${formatBytes(bytesDone)}, ${rate}`;
  const fraction = Math.min(1, bytesDone / size);
  const filled = Math.round(fraction * width);
  const etaMs = sent > 0 ? ((size - bytesDone) * elapsedMs) / sent : undefined;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${formatBytes(bytesDone)} of ${formatBytes(size)}, ${rate}${etaMs === undefined ? "" : `, ETA ${formatDuration(etaMs)}`}`;
}
