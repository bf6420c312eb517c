/**
 * A Reporter that writes readable lines to a sink: the console or plugin.log.
 *
 * Every text passes the redactor before it reaches the sink, so a secret that slipped into an
 * error message from some library still never reaches a log or a terminal.
 */
import type { Reporter, SyncEvent } from "../../domain/ports.ts";
import { formatEvent, type Line } from "./format.ts";
import { ProgressThrottle, progressBar } from "./progress.ts";

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
  /** Redraws the current progress bar in place (terminals only). */
  drawProgress?(text: string): void;
  /** Ends a progress bar line before other output. */
  clearProgress?(): void;
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
        this.sink.drawProgress(this.redact(`${event.name} ${progressBar(event)}`));
        this.#barShown = true;
        return;
      }
      const text = this.#throttle.line(event);
      if (text) this.sink.write({ level: "info", text: this.redact(text) });
      return;
    }
    const line = formatEvent(event);
    if (!line) return;
    if (this.#barShown) {
      this.sink.clearProgress?.();
      this.#barShown = false;
    }
    this.sink.write({ level: line.level, text: this.redact(line.text) });
  }
}

/** Console output: lines to stdout; the progress bar to stderr, only when stderr is a terminal. */
export function consoleSink(options: { stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream; progressBar?: boolean } = {}): LineSink {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const sink: LineSink = {
    write: ({ level, text }) => {
      const prefix = level === "error" ? "ERROR: " : level === "warning" ? "WARNING: " : "";
      // Only the first line carries the prefix, so a URL on its own line stays easy to copy.
      stdout.write(`${prefix}${text}\n`);
    },
  };
  if (options.progressBar ?? stderr.isTTY === true) {
    sink.drawProgress = (text) => stderr.write(`\r\x1b[2K${text}`);
    sink.clearProgress = () => stderr.write("\r\x1b[2K");
  }
  return sink;
}
