/**
 * The console sink as a person at a terminal, cron or a pipe sees it: which stream each line takes,
 * and the progress bar redrawn on a fake 80-column TTY, frame by frame.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { consoleSink, LineReporter, takesEscapes } from "../../../src/adapters/report/line-reporter.ts";
import { fitProgressLine, shortenMiddle } from "../../../src/adapters/report/progress.ts";
import type { SyncEvent } from "../../../src/domain/ports.ts";

const MiB = 1024 * 1024;
const LONG_NAME = "unms-backup-20261202-0300_0aa11bb2-3c4d-4e5f-8a9b-0c1d2e3f4a5b.unms";
// eslint-disable-next-line no-control-regex
const ESCAPE = /\x1b\[[0-9;]*[A-Za-z]/g;

interface FakeStream {
  stream: NodeJS.WriteStream;
  text(): string;
}

function fakeStream(isTTY: boolean, columns?: number): FakeStream {
  let text = "";
  const stream = { isTTY, columns, write: (chunk: string) => ((text += chunk), true) };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

function progress(name: string, percent: number, size = 2300 * MiB, elapsedMs = 6_000 + percent * 1000): SyncEvent {
  return { type: "progress", name, bytesDone: Math.round((size * percent) / 100), size, elapsedMs };
}

/** The events of one upload with a long name, a warning in the middle, and the result line. */
function uploadEvents(): SyncEvent[] {
  return [
    { type: "uploading", name: LONG_NAME, size: 2300 * MiB },
    ...[0, 1, 9, 10, 33, 52].map((p) => progress(LONG_NAME, p)),
    { type: "warning", message: "Dropbox upload_session/append_v2 failed with HTTP 503: retrying in 1.2 s (attempt 2 of 8)" },
    ...[53, 77, 99, 100].map((p) => progress(LONG_NAME, p)),
    { type: "uploaded", name: LONG_NAME, bytes: 2300 * MiB, durationMs: 106_000, dryRun: false },
  ];
}

function run(events: SyncEvent[], options: { ttyErr: boolean; columns?: number; env?: Record<string, string> }) {
  const stdout = fakeStream(false);
  const stderr = fakeStream(options.ttyErr, options.columns);
  const reporter = new LineReporter(consoleSink({ stdout: stdout.stream, stderr: stderr.stream, env: options.env ?? {} }));
  for (const event of events) reporter.report(event);
  return { stdout: stdout.text(), stderr: stderr.text() };
}

describe("consoleSink streams", () => {
  const events: SyncEvent[] = [
    { type: "run-started", target: "Dropbox app folder /Backups", dryRun: false },
    { type: "warning", message: "The NMS settings name no time zone; new file names use UTC" },
    { type: "failed", name: "b.unms", message: "Dropbox refused the upload" },
    { type: "deleted", name: "old.unms", dryRun: false },
    { type: "info", message: "Replacing a.unms: the copy holds 1 bytes, fewer than the 3 bytes UNMS lists" },
  ];

  for (const ttyErr of [false, true]) {
    test(`results go to stdout; ERROR and WARNING lines and notes to stderr (stderr ${ttyErr ? "a TTY" : "a pipe"})`, () => {
      const out = run(events, { ttyErr, columns: 80 });
      assert.equal(out.stdout, "Syncing UNMS backups to Dropbox app folder /Backups\nDeleted old.unms (UNMS no longer lists its backup)\n");
      assert.equal(
        out.stderr,
        "WARNING: The NMS settings name no time zone; new file names use UTC\nERROR: b.unms: Dropbox refused the upload\n" +
          "Replacing a.unms: the copy holds 1 bytes, fewer than the 3 bytes UNMS lists\n",
      );
    });
  }
});

describe("the progress bar on an 80-column terminal", () => {
  test("every frame fits in 79 columns, starts with CR + clear-line, and keeps its numbers", () => {
    const { stderr, stdout } = run(uploadEvents(), { ttyErr: true, columns: 80 });
    const frames = stderr.split("\r").filter((frame) => frame !== "");
    const bars = frames.filter((frame) => frame.includes("%"));
    assert.equal(bars.length, 10, stderr);
    for (const frame of bars) {
      assert.ok(frame.startsWith("\x1b[2K"), `frame without clear-line: ${JSON.stringify(frame)}`);
      const visible = frame.replace(ESCAPE, "");
      const matchable = `\x1b[2K${visible}`;
      assert.ok(visible.length <= 79, `frame ${visible.length} columns wide: ${JSON.stringify(visible)}`);
      assert.doesNotMatch(visible, /\n/);
      // The name is shortened in its middle; the numbers stay whole.
      assert.match(matchable, /^\x1b\[2Kunms-backup-202612\S*…\S*a5b\.unms (\[[#.]{24}\] +)?\d+% [\d.]+ (MiB|GiB|B) of 2\.2 GiB, [\d.]+ (MiB|KiB|B)\/s(, ETA \d|$)/);
    }
    // The warning clears the bar first and then stands on a line of its own.
    assert.match(stderr, /\r\x1b\[2KWARNING: Dropbox upload_session\/append_v2 failed with HTTP 503: retrying in 1\.2 s \(attempt 2 of 8\)\n/);
    // The result line goes to stdout, never into the middle of a bar.
    assert.match(stdout, /^Uploading unms-backup-.*\nUploaded unms-backup-/);
  });

  test("a narrow terminal drops the drawing and the ETA before any number", () => {
    for (const columns of [40, 60, 80, 120]) {
      const line = fitProgressLine(LONG_NAME, "[############............]  52% 1.2 GiB of 2.2 GiB, 23.0 MiB/s, ETA 48.0 s", columns);
      assert.ok(line.length <= columns - 1, `${columns}: ${line}`);
      assert.match(line, /52% 1\.2 GiB of 2\.2 GiB, 23\.0 MiB\/s/, `${columns}: ${line}`);
    }
    assert.equal(
      fitProgressLine("b.unms", "[############............]  52% 1.2 GiB of 2.2 GiB, 23.0 MiB/s, ETA 48.0 s", 120),
      "b.unms [############............]  52% 1.2 GiB of 2.2 GiB, 23.0 MiB/s, ETA 48.0 s",
    );
    assert.equal(fitProgressLine(LONG_NAME, "52% 1.2 GiB of 2.2 GiB, 23.0 MiB/s", 40), "52% 1.2 GiB of 2.2 GiB, 23.0 MiB/s");
  });

  test("shortenMiddle keeps the start and the end", () => {
    assert.equal(shortenMiddle("abcdefghij", 5), "abc…j");
    assert.equal(shortenMiddle(LONG_NAME, 28), "unms-backup-202612…4a5b.unms");
    assert.equal(shortenMiddle("abc", 5), "abc");
    assert.equal(shortenMiddle("abcdefghij", 1), "…");
  });

  for (const [why, options] of [
    ["stderr is not a terminal", { ttyErr: false, columns: 80 }],
    ["TERM=dumb", { ttyErr: true, columns: 80, env: { TERM: "dumb" } }],
    ["NO_COLOR is set", { ttyErr: true, columns: 80, env: { NO_COLOR: "1" } }],
  ] as const) {
    test(`plain progress lines on stderr, no escapes, when ${why}`, () => {
      const { stderr, stdout } = run(uploadEvents(), options);
      assert.doesNotMatch(stderr + stdout, /[\x1b\r]/);
      const lines = stderr.split("\n").filter(Boolean);
      assert.ok(lines.some((line) => /^unms-backup-.*: 10% \(230 MiB of 2\.2 GiB\)/.test(line)), stderr);
      assert.ok(lines.length < 12, `throttled: ${lines.length} lines`);
      assert.doesNotMatch(stdout, /%/);
    });
  }

  test("takesEscapes: a TTY, not TERM=dumb, NO_COLOR empty or unset", () => {
    assert.equal(takesEscapes({ isTTY: true }, {}), true);
    assert.equal(takesEscapes({ isTTY: true }, { NO_COLOR: "" }), true);
    assert.equal(takesEscapes({ isTTY: true }, { NO_COLOR: "0" }), false);
    assert.equal(takesEscapes({ isTTY: true }, { TERM: "dumb" }), false);
    assert.equal(takesEscapes({ isTTY: false }, { TERM: "xterm" }), false);
    assert.equal(takesEscapes({}, {}), false);
  });
});
