/**
 * A fresh directory under the system temp dir for `run`, removed afterwards whatever happens. A
 * try/finally rather than `t.after`: under Deno's node:test, `t.after` callbacks never run, and the
 * directories piled up in /tmp.
 */
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
