/**
 * `--quiet`: a sink that passes on warnings and errors only. Without drawProgress the reporter falls
 * back to throttled info lines for progress, which are dropped here too.
 */
import type { LineSink } from "./line-reporter.ts";

export function warningsAndErrorsOnly(sink: LineSink): LineSink {
  return { write: (line) => (line.level === "info" ? undefined : sink.write(line)) };
}
