/**
 * The library as an embedder uses it: `createBackupSync` against the fake UNMS and Dropbox (msw
 * intercepting in-process), with a MemoryBackupStore, with an own source and store, with a custom
 * Reporter, dry runs, and the errors for options that are missing or unusable.
 *
 * msw listens for the whole file, so no loopback server is used here (msw would intercept it).
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DownloadLedgerFile,
  MemoryBackupStore,
  SyncError,
  backupFileName,
  createBackupSync,
  type BackupSource,
  type BackupSyncOptions,
  type Reporter,
  type SyncEvent,
  type UnmsBackup,
} from "../../src/index.ts";
import { FakeDropbox, FakeUnms } from "../../src/testing.ts";
import { mswServerForThisFile } from "../msw-server.ts";

const UNMS_URL = "https://uisp.example.test/nms";
const API_TOKEN = "unms-api-token-library-e2e";
const TIME_ZONE = "Europe/Prague";
const KiB = 1024;
const OWN = "0e0e0e0e-0000-4000-8000-000000000001";
const GOOD = "0e0e0e0e-0000-4000-8000-000000000002";
const BROKEN = "0e0e0e0e-0000-4000-8000-000000000003";

const msw = mswServerForThisFile();

class RecordingReporter implements Reporter {
  readonly events: SyncEvent[] = [];
  report(event: SyncEvent): void {
    this.events.push(event);
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
  of<T extends SyncEvent["type"]>(type: T): Extract<SyncEvent, { type: T }>[] {
    return this.events.filter((e): e is Extract<SyncEvent, { type: T }> => e.type === type);
  }
}

function fakes() {
  const unms = new FakeUnms({ apiToken: API_TOKEN, timezone: TIME_ZONE });
  const dropbox = new FakeDropbox();
  msw.use(...unms.handlers, ...dropbox.handlers);
  return { unms, dropbox };
}

const nameOf = (backup: UnmsBackup) => backupFileName(backup, TIME_ZONE);

/** Every secret a test handed out must stay out of whatever it reports. */
function assertNoSecret(text: string, secrets: string[]): void {
  for (const secret of secrets) assert.ok(!text.includes(secret), "a secret leaked into the output");
}

describe("createBackupSync with UNMS and Dropbox credentials", () => {
  test("copies the successful backups into the folder, then finds them in sync", async () => {
    const { unms, dropbox } = fakes();
    const first = unms.addBackup({ size: 300 * KiB });
    const second = unms.addBackup({ size: 5 * KiB });
    unms.addBackup({ state: "in-progress", size: 0 });
    const refreshToken = dropbox.issueRefreshToken();
    const reporter = new RecordingReporter();

    const backupSync = createBackupSync({
      unms: { url: UNMS_URL, apiToken: API_TOKEN },
      dropbox: { appKey: dropbox.appKey, appSecret: dropbox.appSecret, refreshToken },
      folder: "/UISP/nightly/",
      reporter,
    });
    const report = await backupSync.sync();

    assert.deepEqual(report.failed, []);
    assert.deepEqual([...report.uploaded].sort(), [nameOf(first), nameOf(second)].sort());
    assert.equal(report.bytesUploaded, 305 * KiB);
    assert.equal(report.dryRun, false);
    const stored = dropbox.listFiles().map((f) => [f.path.toLowerCase(), f.size]).sort();
    assert.deepEqual(stored, [
      [`/uisp/nightly/${nameOf(first)}`.toLowerCase(), 300 * KiB],
      [`/uisp/nightly/${nameOf(second)}`.toLowerCase(), 5 * KiB],
    ].sort());
    assert.deepEqual(dropbox.readFile(`/UISP/nightly/${nameOf(second)}`), unms.expectedBytes(second.id));

    assert.equal(reporter.events[0]?.type, "run-started");
    assert.match((reporter.events[0] as Extract<SyncEvent, { type: "run-started" }>).target, /Dropbox app folder \/UISP\/nightly/);
    assert.equal(reporter.of("uploaded").length, 2);
    assert.equal(reporter.events.at(-1)?.type, "run-finished");
    assertNoSecret(JSON.stringify(reporter.events), dropbox.secretsIssued().concat(API_TOKEN));

    const again = await backupSync.sync();
    assert.deepEqual(again.uploaded, []);
    assert.deepEqual([...again.skipped].sort(), [nameOf(first), nameOf(second)].sort());
  });

  test("dry run: reports what would be uploaded and deleted, changes nothing", async () => {
    const { unms, dropbox } = fakes();
    const kept = unms.addBackup({ size: 10 * KiB });
    const fresh = unms.addBackup({ size: 10 * KiB });
    const goneName = "unms-backup-20230101-0100_00000000-dead-4000-8000-000000000000.unms";
    dropbox.putFile(`/${nameOf(kept)}`, unms.expectedBytes(kept.id));
    dropbox.putFile(`/${goneName}`, new Uint8Array(10));
    dropbox.putFile("/notes.txt", "not ours");
    const reporter = new RecordingReporter();

    const report = await createBackupSync({
      unms: { url: UNMS_URL, apiToken: API_TOKEN },
      dropbox: { appKey: dropbox.appKey, refreshToken: dropbox.issueRefreshToken({ pkce: true }) },
      reporter,
    }).sync({ dryRun: true });

    assert.equal(report.dryRun, true);
    assert.deepEqual(report.uploaded, [nameOf(fresh)]);
    assert.deepEqual(report.deleted, [goneName]);
    assert.deepEqual(report.skipped, [nameOf(kept)]);
    assert.equal(report.bytesUploaded, 0);
    assert.deepEqual(dropbox.listFiles().map((f) => f.path).sort(), [`/${goneName}`, `/${nameOf(kept)}`, "/notes.txt"].sort());
    assert.ok(reporter.of("uploaded").every((e) => e.dryRun));
    assert.ok(reporter.of("deleted").every((e) => e.dryRun));
    assert.match(reporter.of("run-finished")[0]!.summary, /Dry run/);
  });

  test("a legacy access token still syncs, with a warning in the report", async () => {
    const { unms, dropbox } = fakes();
    unms.addBackup({ size: KiB });
    const report = await createBackupSync({
      unms: { url: UNMS_URL, apiToken: API_TOKEN },
      dropbox: { accessToken: dropbox.issueLongLivedToken() },
    }).sync();
    assert.equal(report.uploaded.length, 1);
    assert.ok(report.warnings.some((w) => /dropbox\.accessToken is a legacy/.test(w)), report.warnings.join("\n"));
  });

  test("your own AccessTokenProvider is asked for tokens", async () => {
    const { unms, dropbox } = fakes();
    unms.addBackup({ size: KiB });
    let asked = 0;
    const token = dropbox.issueAccessToken();
    const report = await createBackupSync({
      unms: { url: UNMS_URL, apiToken: API_TOKEN },
      dropbox: {
        tokens: {
          accessToken: async () => {
            asked++;
            return token;
          },
          refreshAfterRejection: async () => {
            throw new Error("not expected in this test");
          },
        },
      },
    }).sync();
    assert.equal(report.uploaded.length, 1);
    assert.ok(asked > 0);
  });

  test("a revoked refresh token stops the run before anything is deleted, without leaking it", async () => {
    const { unms, dropbox } = fakes();
    unms.addBackup({ size: KiB });
    dropbox.putFile("/unms-backup-20230101-0100_0000dead-0000-4000-8000-00000000000f.unms", new Uint8Array(4));
    const refreshToken = dropbox.issueRefreshToken();
    dropbox.revokeRefreshToken(refreshToken);
    const reporter = new RecordingReporter();

    await assert.rejects(
      createBackupSync({
        unms: { url: UNMS_URL, apiToken: API_TOKEN },
        dropbox: { appKey: dropbox.appKey, appSecret: dropbox.appSecret, refreshToken },
        reporter,
      }).sync(),
      (error: unknown) => {
        assert.ok(SyncError.is(error), String(error));
        assert.equal(error.kind, "authorization-required");
        assert.match(error.message, /dropbox\.refreshToken|authoriz/i);
        assertNoSecret(error.message, dropbox.secretsIssued());
        return true;
      },
    );
    assert.ok(dropbox.hasFile("/unms-backup-20230101-0100_0000dead-0000-4000-8000-00000000000f.unms"));
    assert.equal(reporter.of("failed").length, 1);
  });
});

describe("createBackupSync with a MemoryBackupStore", () => {
  test("stores the exact bytes, deletes copies of backups UNMS no longer has, keeps other files", async () => {
    const { unms } = fakes();
    const a = unms.addBackup({ size: 70 * KiB });
    const b = unms.addBackup({ size: 3 * KiB });
    const store = new MemoryBackupStore();
    const backupSync = createBackupSync({ unms: { url: UNMS_URL, apiToken: API_TOKEN }, store, folder: "uisp" });

    await backupSync.sync();
    assert.deepEqual(store.read("uisp", nameOf(a)), unms.expectedBytes(a.id));
    assert.deepEqual(store.read("uisp", nameOf(b)), unms.expectedBytes(b.id));
    await store.put("uisp", "readme.txt", { stream: (async function* () { yield new TextEncoder().encode("keep me"); })() });

    unms.removeBackup(a.id);
    const report = await backupSync.sync();
    assert.deepEqual(report.deleted, [nameOf(a)]);
    assert.deepEqual(store.paths(), ["uisp/readme.txt", `uisp/${nameOf(b)}`]);
  });

  test("the policy guards deletions as configured", async () => {
    const { unms } = fakes();
    const backups = [unms.addBackup({ size: KiB }), unms.addBackup({ size: KiB }), unms.addBackup({ size: KiB })];
    const store = new MemoryBackupStore();
    const backupSync = createBackupSync({ unms: { url: UNMS_URL, apiToken: API_TOKEN }, store, policy: { maxDeletes: 1 } });
    await backupSync.sync();
    for (const backup of backups.slice(0, 2)) unms.removeBackup(backup.id);

    const report = await backupSync.sync();
    assert.deepEqual(report.deleted, []);
    assert.equal(report.guarded.length, 1);
    assert.equal(store.paths().length, 3);
  });
});

describe("createBackupSync with your own source and store", () => {
  /** A source an embedder might write over their own archive. */
  function arraySource(backups: (UnmsBackup & { bytes: Uint8Array })[]): BackupSource {
    return {
      list: async () => backups.map(({ bytes: _bytes, ...backup }) => backup),
      timeZone: async () => "UTC",
      open: async (id) => {
        const found = backups.find((b) => b.id === id);
        if (!found) throw new SyncError(`no backup ${id}`, { kind: "not-found", code: "test.not_found" });
        return { stream: (async function* () { yield found.bytes; })(), length: found.bytes.length };
      },
    };
  }

  test("syncs without any network and tells a custom reporter every step", async () => {
    const bytes = new TextEncoder().encode("backup bytes");
    const source = arraySource([{ id: OWN, createdAt: "2024-05-01T10:20:00Z", state: "success", size: bytes.length, bytes }]);
    const store = new MemoryBackupStore();
    const reporter = new RecordingReporter();

    const report = await createBackupSync({ source, store, reporter }).sync();

    assert.deepEqual(report.uploaded, [`unms-backup-20240501-1020_${OWN}.unms`]);
    assert.deepEqual(store.read("", `unms-backup-20240501-1020_${OWN}.unms`), bytes);
    assert.deepEqual(
      reporter.types().filter((t) => t !== "progress"),
      ["run-started", "listed", "uploading", "uploaded", "run-finished"],
    );
    assert.match(reporter.of("run-started")[0]!.target, /MemoryBackupStore/);
  });

  test("a wrong listed size uploads once across instances sharing a DownloadLedgerFile, and once per instance by default", async () => {
    const dir = await mkdtemp(join(tmpdir(), "library-ledger-"));
    try {
      const bytes = new Uint8Array(100).fill(3);
      const source = arraySource([{ id: OWN, createdAt: "2024-05-01T10:20:00Z", state: "success", size: 1024, bytes }]);
      const store = new MemoryBackupStore();
      const uploads: number[] = [];
      for (let run = 0; run < 3; run++) {
        // A fresh instance per run, as a cron job would make.
        const report = await createBackupSync({ source, store, downloadLedger: new DownloadLedgerFile(dir) }).sync();
        uploads.push(report.uploaded.length);
      }
      assert.deepEqual(uploads, [1, 0, 0]);
      const sameInstance = createBackupSync({ source, store: new MemoryBackupStore() });
      const counts = [];
      for (let run = 0; run < 3; run++) counts.push((await sameInstance.sync()).uploaded.length);
      assert.deepEqual(counts, [1, 0, 0], "the default in-memory ledger lives as long as the instance");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a failing backup lands in report.failed while the others are stored", async () => {
    const good = new Uint8Array([1, 2, 3]);
    const source = arraySource([{ id: GOOD, createdAt: "2024-05-01T10:20:00Z", state: "success", size: 3, bytes: good }]);
    const broken: BackupSource = {
      ...source,
      list: async () => [...(await source.list()), { id: BROKEN, createdAt: "2024-05-02T10:20:00Z", state: "success" }],
    };
    const report = await createBackupSync({ source: broken, store: new MemoryBackupStore() }).sync();
    assert.deepEqual(report.uploaded, [`unms-backup-20240501-1020_${GOOD}.unms`]);
    assert.equal(report.failed.length, 1);
    assert.match(report.failed[0]!.error, new RegExp(`no backup ${BROKEN}`));
  });

  test("an aborted signal stops the run with the abort reason", async () => {
    const source = arraySource([{ id: OWN, createdAt: "2024-05-01T10:20:00Z", state: "success", size: 1, bytes: new Uint8Array(1) }]);
    const controller = new AbortController();
    const sync = createBackupSync({
      source: { ...source, timeZone: async () => { controller.abort(new Error("stopped by the embedder")); return "UTC"; } },
      store: new MemoryBackupStore(),
    });
    await assert.rejects(sync.sync({ signal: controller.signal }), /stopped by the embedder/);
  });
});

describe("createBackupSync options errors", () => {
  const store = new MemoryBackupStore();
  const unms = { url: UNMS_URL, apiToken: API_TOKEN };

  const cases: { title: string; options: BackupSyncOptions; code: string; names: RegExp }[] = [
    { title: "no source at all", options: { store }, code: "config.library.source_missing", names: /unms: \{ url, apiToken \}.*source/ },
    { title: "unms.url missing", options: { unms: { url: " ", apiToken: API_TOKEN }, store }, code: "config.unms_url_missing", names: /unms\.url/ },
    { title: "unms.url not a URL", options: { unms: { url: "uisp.example.test", apiToken: API_TOKEN }, store }, code: "config.unms_url", names: /unms\.url "uisp\.example\.test"/ },
    { title: "unms.apiToken missing", options: { unms: { url: UNMS_URL, apiToken: "" }, store }, code: "config.unms_token_missing", names: /unms\.apiToken/ },
    { title: "both unms and source", options: { unms, source: {} as BackupSource, store }, code: "config.library.source_ambiguous", names: /both unms and source/ },
    { title: "no target at all", options: { unms }, code: "config.library.store_missing", names: /dropbox.*store/ },
    { title: "both dropbox and store", options: { unms, store, dropbox: { accessToken: "t" } }, code: "config.library.store_ambiguous", names: /both dropbox and store/ },
    { title: "dropbox without credentials", options: { unms, dropbox: { appKey: "key" } }, code: "config.dropbox_credentials_missing", names: /dropbox\.refreshToken.*dropbox\.appKey/ },
    { title: "a refresh token without app key", options: { unms, dropbox: { refreshToken: "refresh-secret-value" } }, code: "config.dropbox_app_key_missing", names: /dropbox\.appKey/ },
    { title: "tokens that are no provider", options: { unms, dropbox: { tokens: {} as never } }, code: "config.library.tokens_invalid", names: /dropbox\.tokens/ },
    { title: "a store without put()", options: { unms, store: { list: async () => [] } as never }, code: "config.library.store_invalid", names: /store has no put\(\)/ },
    { title: "a folder with ..", options: { unms, store, folder: "a/../b" }, code: "config.folder", names: /folder "a\/\.\.\/b"/ },
  ];

  for (const { title, options, code, names } of cases) {
    test(`${title}: throws a config SyncError naming the option`, () => {
      assert.throws(
        () => createBackupSync(options),
        (error: unknown) => {
          assert.ok(SyncError.is(error), String(error));
          assert.equal(error.kind, "config");
          assert.equal(error.code, code);
          assert.match(error.message, names);
          assertNoSecret(error.message, [API_TOKEN, "refresh-secret-value"]);
          return true;
        },
      );
    });
  }

  test("no options at all: throws a config SyncError", () => {
    assert.throws(() => createBackupSync(undefined as never), (error: unknown) => SyncError.is(error) && error.kind === "config");
  });

  test("a second sync() while one runs is refused", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const backupSync = createBackupSync({
      source: { list: async () => { await gate; return []; }, timeZone: async () => "UTC", open: async () => { throw new Error("unused"); } },
      store,
    });
    const first = backupSync.sync();
    await assert.rejects(backupSync.sync(), (error: unknown) => SyncError.is(error) && error.code === "library.sync_in_progress");
    release();
    assert.deepEqual((await first).uploaded, []);
  });
});
