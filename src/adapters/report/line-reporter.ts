/**
 * A Reporter that writes readable lines to a sink: the console or plugin.log.
 *
 * Every text passes the redactor before it reaches the sink, so a secret that slipped into an
 * error message from some library still never reaches a log or a terminal.
 */
import type { Reporter, SyncEvent } from "../../domain/ports.ts";
import { formatEvent, type Line } from "./format.ts";
import { fitProgressLine, ProgressThrottle, progressBar } from "./progress.ts";

/**
 * Where a LineReporter writes.
 *
 * @example
 * ```ts
 * import type { Line, LineSink } from "unms-dropbox-backup-sync";
 *
 * declare const logger: { error(text: string): void; info(text: string): void };
 *
 * const sink: LineSink = { write: ({ level, text }: Line) => logger[level === "error" ? "error" : "info"](text) };
 * ```
 */
export interface LineSink {
  write(line: Line): void;
  /**
   * Redraws the current progress bar in place (terminals only). `parts` holds the backup name and
   * the bar apart, so a sink can shorten the name to its width without cutting the numbers.
   */
  drawProgress?(text: string, parts?: { name: string; bar: string }): void;
  /** Ends a progress bar line before other output. */
  clearProgress?(): void;
  /** Where a throttled plain progress line goes when there is no bar; default `write` as info. */
  progress?(text: string): void;
  /** Where a note goes (an `info` event: a replaced copy, a continued upload); default `write` as info. */
  note?(text: string): void;
}

/**
 * A Reporter writing readable lines (the CLI's output), with a console sink.
 *
 * @example
 * ```ts
 * import { createBackupSync, LineReporter, consoleSink, type BackupStore, type UnmsConnection } from "unms-dropbox-backup-sync";
 *
 * declare const unms: UnmsConnection;
 * declare const store: BackupStore;
 *
 * createBackupSync({ unms, store, reporter: new LineReporter(consoleSink()) });
 * ```
 */
export class LineReporter implements Reporter {
  readonly #throttle = new ProgressThrottle();
  #barShown = false;

  constructor(
    private readonly sink: LineSink,
    private readonly redact: (text: string) => string = (text) => text,
  ) {}

  report(event: SyncEvent): void {
    if (event.type === "progress") {
      if (this.sink.drawProgress) {
        const name = this.redact(event.name);
        const bar = this.redact(progressBar(event));
        this.sink.drawProgress(`${name} ${bar}`, { name, bar });
        this.#barShown = true;
        return;
      }
      const text = this.#throttle.line(event);
      if (!text) return;
      if (this.sink.progress) this.sink.progress(this.redact(text));
      else this.sink.write({ level: "info", text: this.redact(text) });
      return;
    }
    const line = formatEvent(event);
    if (!line) return;
    if (this.#barShown) {
      this.sink.clearProgress?.();
      this.#barShown = false;
    }
    if (event.type === "info" && this.sink.note) return this.sink.note(this.redact(line.text));
    this.sink.write({ level: line.level, text: this.redact(line.text) });
  }
}

/** Options of `consoleSink`. */
export interface ConsoleSinkOptions {
  /** Where result lines (uploaded, deleted, the summary) go; default process.stdout. */
  stdout?: NodeJS.WriteStream;
  /** Where diagnostics go (errors, warnings, progress); default process.stderr. */
  stderr?: NodeJS.WriteStream;
  /** Force the redrawn bar on or off; default: on when stderr is a terminal that takes escapes. */
  progressBar?: boolean;
  /** Where TERM and NO_COLOR are read; default process.env. */
  env?: Record<string, string | undefined>;
}

/**
 * Console output, as servers expect it: results (uploaded, deleted, the summary) on stdout;
 * diagnostics (ERROR:, WARNING:, notes, progress) on stderr, so `> file` keeps the results and cron mail
 * or a pipe still shows what went wrong. The progress bar is redrawn in place only on a terminal
 * that takes escapes (not TERM=dumb, not NO_COLOR); elsewhere progress comes as sparse plain lines.
 */
export function consoleSink(options: ConsoleSinkOptions = {}): LineSink {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const sink: LineSink = {
    write: ({ level, text }) => {
      const prefix = level === "error" ? "ERROR: " : level === "warning" ? "WARNING: " : "";
      // Only the first line carries the prefix, so a URL on its own line stays easy to copy.
      (level === "info" ? stdout : stderr).write(`${prefix}${text}\n`);
    },
  };
  if (options.progressBar ?? takesEscapes(stderr, options.env ?? process.env)) {
    sink.drawProgress = (text, parts) => stderr.write(`\r\x1b[2K${parts ? fitProgressLine(parts.name, parts.bar, stderr.columns) : text}`);
    sink.clearProgress = () => stderr.write("\r\x1b[2K");
  } else {
    // Off a terminal, progress still belongs with the diagnostics, as plain throttled lines.
    sink.progress = (text) => stderr.write(`${text}\n`);
  }
  sink.note = (text) => stderr.write(`${text}\n`);
  return sink;
}

/** A terminal that can redraw a line: a TTY, TERM not "dumb", NO_COLOR unset or empty (no-color.org). */
export function takesEscapes(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  return stream.isTTY === true && env.TERM !== "dumb" && !env.NO_COLOR;
}
