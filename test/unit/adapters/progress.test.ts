import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ProgressThrottle, progressBar, describeProgress } from "../../../src/adapters/report/progress.ts";

const MiB = 1024 * 1024;

describe("ProgressThrottle", () => {
  test("a long upload gets at most one line per 10% once past the quiet start", () => {
    const throttle = new ProgressThrottle();
    const lines: string[] = [];
    // 1000 MiB in 1 MiB steps at 10 MiB/s: 100 s in all.
    for (let done = MiB; done <= 1000 * MiB; done += MiB) {
      const line = throttle.line({ name: "b.unms", bytesDone: done, size: 1000 * MiB, elapsedMs: (done / MiB) * 100 });
      if (line) lines.push(line);
    }
    assert.ok(lines.length >= 8 && lines.length <= 10, `got ${lines.length} lines`);
    assert.match(lines[0]!, /^b\.unms: 10% \(100 MiB of 1000 MiB\), 10\.0 MiB\/s, about 1 min 30 s left$/);
  });

  test("a quick upload gets no progress line at all", () => {
    const throttle = new ProgressThrottle();
    const lines = [1, 2, 3, 4].map((i) => throttle.line({ name: "q", bytesDone: i * MiB, size: 4 * MiB, elapsedMs: i * 10 }));
    assert.deepEqual(lines.filter(Boolean), []);
  });

  test("without a known size, one line a minute", () => {
    const throttle = new ProgressThrottle();
    const lines: string[] = [];
    for (let s = 1; s <= 180; s++) {
      const line = throttle.line({ name: "u", bytesDone: s * MiB, elapsedMs: s * 1000 });
      if (line) lines.push(line);
    }
    assert.equal(lines.length, 3);
    assert.match(lines[0]!, /^u: 60\.0 MiB sent, 1\.0 MiB\/s$/);
  });

  test("a new upload starts its own count", () => {
    const throttle = new ProgressThrottle();
    assert.ok(throttle.line({ name: "a", bytesDone: 50, size: 100, elapsedMs: 6000 }));
    assert.ok(throttle.line({ name: "b", bytesDone: 50, size: 100, elapsedMs: 6000 }));
  });
});

describe("progressBar()", () => {
  test("shows bytes, percent, rate and ETA", () => {
    assert.equal(
      progressBar({ name: "x", bytesDone: 512 * MiB, size: 1024 * MiB, elapsedMs: 10_000 }, 10),
      "[#####.....]  50% 512 MiB of 1.0 GiB, 51.2 MiB/s, ETA 10.0 s",
    );
    assert.equal(describeProgress({ name: "x", bytesDone: 0, size: 10, elapsedMs: 0 }), "x: 0% (0 B of 10 B), -");
  });
});

describe("progress of a continued upload", () => {
  test("rate and time left count only what this run sent, not what an earlier run stored", () => {
    // 600 of 1000 MiB were stored by an earlier run; this run sent 100 MiB in 10 s.
    const line = describeProgress({ name: "b.unms", bytesDone: 700 * MiB, size: 1000 * MiB, elapsedMs: 10_000, resumedFrom: 600 * MiB });
    assert.equal(line, "b.unms: 70% (700 MiB of 1000 MiB), 10.0 MiB/s, about 30.0 s left");
    assert.match(progressBar({ name: "b", bytesDone: 700 * MiB, size: 1000 * MiB, elapsedMs: 10_000, resumedFrom: 600 * MiB }), /10\.0 MiB\/s, ETA 30\.0 s$/);
  });
});
