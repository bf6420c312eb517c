/**
 * The UCRM plugin's Reporter: readable lines in data/plugin.log (which every UCRM admin can read,
 * so every line passes the redactor first), echoed to stdout (UCRM shows a manual run's output).
 * Long per-backup lists are summarised (see LogDigest), and lines carry the NMS time zone's offset
 * once the run has read it.
 */
import type { Reporter, SyncEvent } from "../../domain/ports.ts";
import { LogDigest } from "./log-digest.ts";
import { LineReporter, type LineSink } from "./line-reporter.ts";
import type { PluginLog } from "./plugin-log.ts";

const RULE = "=".repeat(72);

export class PluginReporter implements Reporter {
  readonly #lines: LineReporter;
  readonly #digest = new LogDigest();

  constructor(
    private readonly log: PluginLog,
    private readonly redact: (text: string) => string,
    private readonly stdout?: NodeJS.WritableStream | undefined,
  ) {
    const sink: LineSink = {
      write: ({ level, text }) => {
        log.append(text, level);
        stdout?.write(`${level === "error" ? "ERROR: " : level === "warning" ? "WARNING: " : ""}${text}\n`);
      },
    };
    this.#lines = new LineReporter(sink, redact);
  }

  report(event: SyncEvent): void {
    if (event.type === "listed") this.log.setTimeZone(event.timeZone);
    for (const admitted of this.#digest.admit(event)) this.#write(admitted);
  }

  #write(event: SyncEvent): void {
    if (event.type !== "authorization-required") return this.#lines.report(event);
    // As the original plugin did: the URL alone between rules, easy to find and copy.
    this.log.append(this.redact(event.message), "warning");
    this.log.appendRaw([RULE, this.redact(event.url), RULE]);
    this.stdout?.write(`${this.redact(event.message)}\n${this.redact(event.url)}\n`);
  }
}
