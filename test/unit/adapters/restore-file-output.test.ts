/**
 * restore's file output on disk: the file appears whole, private and synced, or not at all; an
 * existing file is never replaced without `replace`, not even one that appears during the write.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { localRestoreFileOutput as output } from "../../../src/adapters/local-dir/restore-file-output.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import { breakingStream, patternBytes, streamOf } from "../../../src/testing/contract/backup-store.ts";
import { tempDirFor } from "../../temp-dir.ts";

function failsWith(code: string, text: RegExp) {
  return (error: unknown) => {
    assert.ok(SyncError.is(error), String(error));
    assert.equal(error.code, code);
    assert.match(error.message, text);
    return true;
  };
}

test("destination: the absolute path; an existing file is refused unless replace is asked for", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-restore-");
  const to = join(dir, "copy.unms");
  assert.equal(await output.destination(relative(process.cwd(), to), false), to);
  await writeFile(to, "old");
  await assert.rejects(output.destination(to, false), failsWith("restore.exists", /copy\.unms already exists; it was left as it is\. .*--force/));
  assert.equal(await output.destination(to, true), to);
});

test("write: every byte lands at the path with mode 0600, progress counts them, no temporary file is left", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-restore-");
  const to = join(dir, "copy.unms");
  const bytes = patternBytes(3 * 1024 * 1024 + 5);
  const progress: number[] = [];
  await output.write(to, streamOf(bytes, 1024 * 1024), { replace: false, onProgress: (n) => progress.push(n) });
  assert.deepEqual(new Uint8Array(await readFile(to)), bytes);
  assert.equal((await stat(to)).mode & 0o777, 0o600);
  assert.equal(progress.at(-1), bytes.length);
  assert.deepEqual(await readdir(dir), ["copy.unms"]);
});

test("write: a stream that breaks leaves nothing at the path and no temporary file", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-restore-");
  const to = join(dir, "copy.unms");
  await assert.rejects(output.write(to, breakingStream(2 * 1024 * 1024), { replace: false }), /ECONNRESET/);
  assert.deepEqual(await readdir(dir), []);
});

test("write: a file that appears at the path meanwhile wins without replace, and is replaced with it", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-restore-");
  const to = join(dir, "copy.unms");
  async function* appearingMidway(): AsyncGenerator<Uint8Array> {
    yield patternBytes(1000);
    await writeFile(to, "someone else's");
    yield patternBytes(1000);
  }
  await assert.rejects(output.write(to, appearingMidway(), { replace: false }), failsWith("restore.exists", /copy\.unms appeared while the copy was being restored; it was left as it is/));
  assert.equal(await readFile(to, "utf8"), "someone else's");
  assert.deepEqual(await readdir(dir), ["copy.unms"]);

  await output.write(to, appearingMidway(), { replace: true });
  assert.equal((await readFile(to)).length, 2000);
  assert.deepEqual(await readdir(dir), ["copy.unms"]);
});

test("write: a folder that does not exist is named in a temp_unwritable error", async (t) => {
  const dir = await tempDirFor(t, "backup-sync-restore-");
  const missing = join(dir, "no-such-folder");
  await assert.rejects(
    output.write(join(missing, "copy.unms"), streamOf(patternBytes(10)), { replace: false }),
    failsWith("restore.temp_unwritable", new RegExp(`Cannot create a temporary file in ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} to restore into`)),
  );
});
