/**
 * A fresh directory under the system temp dir for `run`, removed afterwards whatever happens. A
 * try/finally rather than `t.after`: under Deno's node:test, `t.after` callbacks never run, and the
 * directories piled up in /tmp.
 */
import { afterEach, beforeEach } from "node:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

export async function withTempDir(prefix: string, run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A fresh directory for one test, removed when the test ends (`t.after`: for files run by Node only). */
export async function tempDirFor(t: { after: (fn: () => Promise<void>) => void }, prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * Inside a describe(): a fresh directory before each of its tests, handed to `use` (which resets
 * whatever else the tests share), and removed after the test. Call it in a describe(), never at top
 * level: unit files share a process (scripts/node-tests.mjs), where a top-level hook would run
 * around every other file's tests too.
 */
export function freshDirEach(prefix: string, use: (dir: string) => void): void {
  let dir: string | undefined;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    use(dir);
  });
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });
}
