/**
 * What every BackupSource must do, as node:test cases. An adapter's test file calls
 * `backupSourceContract(name, setup)` with a setup that gives a fresh, empty source and a way to
 * seed it; optional hooks let the suite check exact content and the time zone.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe } from "node:test";
import { SyncError } from "../../domain/errors.ts";
import type { BackupSource, ByteStream } from "../../domain/ports.ts";
import { fixtureTest } from "./fixture.ts";

export interface SeedBackup {
  id: string;
  createdAt: string;
  state: string;
  /** Bytes of content. */
  size: number;
}

/**
 * A fresh source for one contract case, and the backups the suite seeds.
 *
 * @example
 * ```ts
 * import type { SeedBackup } from "unms-dropbox-backup-sync/testing";
 *
 * const seedOne: SeedBackup = { id: "3f1c2a9e-0000-4000-8000-0000000000b1", createdAt: "2024-03-01T02:00:00.000Z", state: "success", size: 10 };
 * ```
 */
export interface BackupSourceFixture {
  source: BackupSource;
  seed(backups: SeedBackup[]): Promise<void> | void;
  /** Hex SHA-256 of a seeded backup's content; when given, content is compared, not just length. */
  expectedSha256?(id: string): string | Promise<string>;
  /** The time zone the source was set up with; when absent the suite only checks the answer's shape. */
  expectedTimeZone?: string;
  teardown?(): Promise<void>;
}

/**
 * What every BackupSource must do, as node:test cases; `setup` gives an empty source and a way to seed it.
 *
 * @example
 * ```ts
 * import { backupSourceContract } from "unms-dropbox-backup-sync/testing";
 * import type { BackupSource } from "unms-dropbox-backup-sync";
 *
 * declare class MyArchiveSource implements BackupSource {
 *   list: BackupSource["list"];
 *   timeZone: BackupSource["timeZone"];
 *   open: BackupSource["open"];
 *   add(id: string, createdAt: string, state: string, content: Uint8Array): void;
 * }
 *
 * backupSourceContract("MyArchiveSource", async () => {
 *   const source = new MyArchiveSource();
 *   return { source, seed: (backups) => backups.forEach((b) => source.add(b.id, b.createdAt, b.state, new Uint8Array(b.size))) };
 * });
 * ```
 */
export function backupSourceContract(name: string, setup: () => Promise<BackupSourceFixture>): void {
  describe(`BackupSource contract: ${name}`, () => {
    const withSource = fixtureTest(setup);

    withSource("list() of an empty source is an empty array", async ({ source }) => {
      assert.deepEqual(await source.list(), []);
    });

    withSource("list() returns every seeded backup, whatever its state", async (fixture) => {
      const seeded: SeedBackup[] = [
        { id: "3f1c2a9e-0000-4000-8000-000000000001", createdAt: "2024-03-01T02:00:00.000Z", state: "success", size: 10 },
        { id: "3f1c2a9e-0000-4000-8000-000000000002", createdAt: "2024-03-02T02:00:00.000Z", state: "in-progress", size: 0 },
        { id: "3f1c2a9e-0000-4000-8000-000000000003", createdAt: "2024-03-03T02:00:00.000Z", state: "failed", size: 0 },
        { id: "3f1c2a9e-0000-4000-8000-000000000004", createdAt: "2024-03-04T23:59:59.000Z", state: "some-future-state", size: 1 },
      ];
      await fixture.seed(seeded);
      const listed = await fixture.source.list();
      const comparable = (b: { id: string; createdAt: string; state: string }) => ({
        id: b.id,
        createdAt: new Date(b.createdAt).toISOString(),
        state: b.state,
      });
      const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
      assert.deepEqual(listed.map(comparable).sort(byId), seeded.map(comparable).sort(byId));
      for (const backup of listed) {
        if (backup.size !== undefined) {
          assert.equal(backup.size, seeded.find((s) => s.id === backup.id)?.size, `listed size of ${backup.id}`);
        }
      }
    });

    withSource("open() streams exactly the backup's bytes, twice alike", async (fixture) => {
      const size = 5 * 1024 * 1024 + 3; // not a multiple of any chunk size
      await fixture.seed([{ id: "3f1c2a9e-0000-4000-8000-0000000000b1", createdAt: "2024-03-01T02:00:00.000Z", state: "success", size }]);
      const first = await fixture.source.open("3f1c2a9e-0000-4000-8000-0000000000b1");
      if (first.length !== undefined) assert.equal(first.length, size, "announced length");
      const a = await digest(first.stream);
      const b = await digest((await fixture.source.open("3f1c2a9e-0000-4000-8000-0000000000b1")).stream);
      assert.equal(a.bytes, size);
      assert.equal(b.sha256, a.sha256, "a second download must give the same bytes");
      if (fixture.expectedSha256) assert.equal(a.sha256, await fixture.expectedSha256("3f1c2a9e-0000-4000-8000-0000000000b1"));
    });

    // A real backup is never empty (UNMS sends an archive), and the UNMS source refuses an empty
    // body as "not the backup"; the smallest case every source must stream is one byte.
    withSource("open() of a one-byte backup streams that byte and ends cleanly", async (fixture) => {
      await fixture.seed([{ id: "3f1c2a9e-0000-4000-8000-0000000000e1", createdAt: "2024-03-01T02:00:00.000Z", state: "success", size: 1 }]);
      const download = await fixture.source.open("3f1c2a9e-0000-4000-8000-0000000000e1");
      if (download.length !== undefined) assert.equal(download.length, 1);
      assert.equal((await digest(download.stream)).bytes, 1);
    });

    withSource("open() streams two backups side by side without mixing them up", async (fixture) => {
      const size = 300 * 1024;
      await fixture.seed([
        { id: "3f1c2a9e-0000-4000-8000-0000000000c1", createdAt: "2024-03-01T02:00:00.000Z", state: "success", size },
        { id: "3f1c2a9e-0000-4000-8000-0000000000c2", createdAt: "2024-03-02T02:00:00.000Z", state: "success", size: size + 1 },
      ]);
      const [left, right] = await Promise.all([fixture.source.open("3f1c2a9e-0000-4000-8000-0000000000c1"), fixture.source.open("3f1c2a9e-0000-4000-8000-0000000000c2")]);
      const [l, r] = await Promise.all([digest(left.stream), digest(right.stream)]);
      assert.equal(l.bytes, size);
      assert.equal(r.bytes, size + 1);
      if (fixture.expectedSha256) {
        assert.equal(l.sha256, await fixture.expectedSha256("3f1c2a9e-0000-4000-8000-0000000000c1"));
        assert.equal(r.sha256, await fixture.expectedSha256("3f1c2a9e-0000-4000-8000-0000000000c2"));
      }
    });

    withSource("open() of an unknown id fails with a not-found SyncError naming the id", async (fixture) => {
      await fixture.seed([{ id: "3f1c2a9e-0000-4000-8000-0000000000d1", createdAt: "2024-03-01T02:00:00.000Z", state: "success", size: 1 }]);
      const error = await rejection(async () => {
        const download = await fixture.source.open("3f1c2a9e-0000-4000-8000-00000000ffff");
        await digest(download.stream);
      });
      assert.ok(SyncError.is(error), `expected a SyncError, got ${String(error)}`);
      assert.equal(error.kind, "not-found");
      assert.match(error.message, /3f1c2a9e-0000-4000-8000-00000000ffff/);
    });

    withSource("timeZone() gives a known IANA zone or undefined", async (fixture) => {
      const zone = await fixture.source.timeZone();
      if (fixture.expectedTimeZone !== undefined) assert.equal(zone, fixture.expectedTimeZone);
      if (zone !== undefined) {
        assert.doesNotThrow(() => new Intl.DateTimeFormat("en-US", { timeZone: zone }), `"${zone}" is not a time zone`);
      }
    });

    withSource("list() with an aborted signal rejects instead of answering", async ({ source }) => {
      const controller = new AbortController();
      controller.abort(new Error("caller gave up"));
      await assert.rejects(source.list(controller.signal));
    });
  });
}

async function digest(stream: ByteStream): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { bytes, sha256: hash.digest("hex") };
}

async function rejection(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  assert.fail("expected a failure, got success");
}
