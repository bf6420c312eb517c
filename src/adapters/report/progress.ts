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

const LINE_EVERY_PERCENT = 10;
const LINE_EVERY_MS = 60_000;
/** Uploads done within this time get no progress lines at all: their result line says enough. */
const QUIET_FIRST_MS = 5_000;

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

/** Assumed when a terminal does not say how wide it is. */
const DEFAULT_COLUMNS = 80;
const ELLIPSIS = "…";

/** The name keeps at least this much (most of its date, the end of its id) before the bar gives way. */
const NAME_MIN = 28;

/**
 * `name bar` shortened to at most `columns - 1` characters, so it never wraps (the last column is
 * left free: some terminals wrap as soon as it is written) and `\r` + clear-line redraws it cleanly.
 * The numbers are never cut: the name loses its middle, the bar its `[###...]` drawing, then its
 * ETA; only a terminal too narrow even for the numbers gets them clipped at its edge.
 */
export function fitProgressLine(name: string, bar: string, columns: number | undefined): string {
  const width = Math.max(1, (columns !== undefined && columns > 0 ? columns : DEFAULT_COLUMNS) - 1);
  const noDrawing = bar.replace(/^\[[#.]*\] +/, "");
  const bars = [bar, noDrawing, noDrawing.replace(/, ETA [^,]*$/, "")];
  const nameMin = Math.min(name.length, NAME_MIN);
  const fittedBar = bars.find((b) => nameMin + 1 + b.length <= width) ?? bars[bars.length - 1]!;
  const room = width - fittedBar.length - 1;
  // A name cut to a few characters tells nothing: then the numbers alone.
  if (room < 8) return fittedBar.slice(0, width);
  return `${shortenMiddle(name, room)} ${fittedBar}`;
}

/**
 * `name` cut to `max` characters by an ellipsis in its middle, two thirds kept from the start (a
 * backup's date) and one third from the end (its id's last digits and the extension).
 */
export function shortenMiddle(name: string, max: number): string {
  if (name.length <= max) return name;
  if (max <= 1) return ELLIPSIS.slice(0, max);
  const keep = max - 1;
  const head = Math.ceil((keep * 2) / 3);
  return `${name.slice(0, head)}${ELLIPSIS}${name.slice(name.length - (keep - head))}`;
}
