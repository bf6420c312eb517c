import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DOWNLOAD_LEDGER_FILE, DownloadLedgerFile } from "../../../src/adapters/config/download-ledger-file.ts";
import { MemoryDownloadLedger } from "../../../src/adapters/memory/memory-download-ledger.ts";
import type { DownloadLedger } from "../../../src/domain/ports.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import { withTempDir } from "../../temp-dir.ts";

const A = "3f1c2a9e-0000-4000-8000-0000000000a1";
const B = "3f1c2a9e-0000-4000-8000-0000000000b2";

const withDir = (run: (dir: string) => Promise<void>) => withTempDir("download-ledger-", run);

/** What every DownloadLedger does. */
function ledgerBehaviour(name: string, make: (dir: string) => DownloadLedger): void {
  describe(`DownloadLedger: ${name}`, () => {
    test("starts empty, then reads back what was written, replaced whole", () =>
      withDir(async (dir) => {
        const ledger = make(join(dir, "state"));
        assert.deepEqual(await ledger.read(), new Map());
        await ledger.write(new Map([[A, { bytes: 10, verified: true }], [B, { bytes: 0, verified: false }]]));
        assert.deepEqual(await ledger.read(), new Map([[A, { bytes: 10, verified: true }], [B, { bytes: 0, verified: false }]]));
        await ledger.write(new Map([[B, { bytes: 5, verified: true }]]));
        assert.deepEqual(await ledger.read(), new Map([[B, { bytes: 5, verified: true }]]));
      }));

    test("what read() returns is a copy: changing it changes nothing stored", () =>
      withDir(async (dir) => {
        const ledger = make(join(dir, "state"));
        await ledger.write(new Map([[A, { bytes: 10, verified: true }]]));
        const records = await ledger.read();
        records.get(A)!.bytes = 99;
        records.delete(A);
        assert.deepEqual(await ledger.read(), new Map([[A, { bytes: 10, verified: true }]]));
      }));
  });
}

ledgerBehaviour("MemoryDownloadLedger", () => new MemoryDownloadLedger());
ledgerBehaviour("DownloadLedgerFile", (dir) => new DownloadLedgerFile(dir));

describe("DownloadLedgerFile", () => {
  test("writes downloads.json with mode 0600 in a new 0700 folder, leaving no temp file", () =>
    withDir(async (dir) => {
      const state = join(dir, "state");
      await new DownloadLedgerFile(state).write(new Map([[A, { bytes: 1, verified: true }]]));
      assert.deepEqual(await readdir(state), [DOWNLOAD_LEDGER_FILE]);
      if (process.platform !== "win32") {
        assert.equal((await stat(join(state, DOWNLOAD_LEDGER_FILE))).mode & 0o777, 0o600);
        assert.equal((await stat(state)).mode & 0o777, 0o700);
      }
      assert.deepEqual(JSON.parse(await readFile(join(state, DOWNLOAD_LEDGER_FILE), "utf8")), { backups: { [A]: { bytes: 1, verified: true } } });
    }));

  test("keys are read case-insensitively and unusable records are dropped", () =>
    withDir(async (dir) => {
      await writeFile(
        join(dir, DOWNLOAD_LEDGER_FILE),
        JSON.stringify({ backups: { [A.toUpperCase()]: { bytes: 3, verified: false }, [B]: { bytes: -1, verified: true }, x: "y" } }),
      );
      assert.deepEqual(await new DownloadLedgerFile(dir).read(), new Map([[A, { bytes: 3, verified: false }]]));
    }));

  for (const [what, content, why] of [
    ["not JSON", "{ nope", /is not valid JSON/],
    ["no backups object", "{}", /has no "backups" object/],
  ] as const) {
    test(`a file with ${what} is a config error naming the file`, () =>
      withDir(async (dir) => {
        await writeFile(join(dir, DOWNLOAD_LEDGER_FILE), content);
        await assert.rejects(new DownloadLedgerFile(dir).read(), (error: unknown) => {
          assert.ok(SyncError.is(error));
          assert.equal(error.code, "config.ledger_malformed");
          assert.match(error.message, new RegExp(`The download ledger .*${DOWNLOAD_LEDGER_FILE} is malformed: `));
          assert.match(error.message, why);
          return true;
        });
      }));
  }

  test("a folder that cannot be created is a config error naming the file", () =>
    withDir(async (dir) => {
      await writeFile(join(dir, "not-a-folder"), "x");
      await assert.rejects(new DownloadLedgerFile(join(dir, "not-a-folder", "state")).write(new Map()), (error: unknown) =>
        SyncError.is(error) && error.code === "config.ledger_unwritable" && /Cannot write the download ledger .*downloads\.json/.test(error.message),
      );
    }));
});
