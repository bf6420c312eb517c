/**
 * SyncBackups with an encryptor and a retention policy, over the in-memory store: the ledger keeps
 * the plaintext count, an encrypted upload keeps no resumable state, kept copies are reported.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Decrypter, generateIdentity, identityToRecipient } from "age-encryption";
import { SyncBackups } from "../../../src/app/sync-backups.ts";
import { AgeBackupEncryptor } from "../../../src/adapters/age/age-encryptor.ts";
import { MemoryBackupStore } from "../../../src/adapters/memory/memory-backup-store.ts";
import { MemoryDownloadLedger } from "../../../src/adapters/memory/memory-download-ledger.ts";
import type { BackupDownload, BackupSource, BackupStore, PutOptions, SyncEvent } from "../../../src/domain/ports.ts";
import type { UnmsBackup } from "../../../src/domain/backup.ts";
import { SyncError } from "../../../src/domain/errors.ts";

const ID = "3f1c2a9e-0000-4000-8000-0000000000b1";

/** `breaks` downloads break off half-way (a source-interrupted SyncError, as the UNMS source throws). */
function source(items: { backup: UnmsBackup; bytes: Uint8Array }[], breaks = 0): BackupSource & { opened: number } {
  const counter = {
    opened: 0,
    list: async () => items.map((i) => i.backup),
    timeZone: async () => "UTC",
    open: async (id: string): Promise<BackupDownload> => {
      counter.opened += 1;
      const bytes = items.find((i) => i.backup.id === id)!.bytes;
      const breaking = breaks > 0;
      if (breaking) breaks -= 1;
      return {
        stream: (async function* () {
          yield bytes.subarray(0, bytes.length >> 1);
          if (breaking) throw new SyncError("the download broke off", { kind: "source-interrupted", code: "test.reset" });
          yield bytes.subarray(bytes.length >> 1);
        })(),
        length: bytes.length,
      };
    },
  };
  return counter;
}

/** Records the options of each put. */
class RecordingStore extends MemoryBackupStore {
  readonly puts: { name: string; options: PutOptions }[] = [];
  override put(folder: string, name: string, content: BackupDownload, options: PutOptions = {}) {
    this.puts.push({ name, options });
    return super.put(folder, name, content, options);
  }
}

test("an encrypted upload: .unms.age, decryptable, the ledger keeps the plaintext count, no resumable state", async () => {
  const identity = await generateIdentity();
  const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
  const backup: UnmsBackup = { id: ID, createdAt: "2026-11-30T02:00:00Z", state: "success", size: bytes.length };
  const store = new RecordingStore();
  const ledger = new MemoryDownloadLedger();
  const events: SyncEvent[] = [];
  const sync = new SyncBackups(source([{ backup, bytes }]), store, { report: (e) => events.push(e) }, { now: () => 0 }, "memory", ledger,
    new AgeBackupEncryptor([await identityToRecipient(identity)]));
  const report = await sync.run({ folder: "f" });
  const name = `unms-backup-20261130-0200_${ID}.unms.age`;
  assert.deepEqual(report.uploaded, [name]);
  assert.equal(store.puts[0]!.options.backupId, undefined, "no resumable state for an encrypted upload");
  assert.equal(store.puts[0]!.options.shouldPause, undefined, "an encrypted upload is not paused part-way");
  assert.deepEqual([...(await ledger.read())], [[ID, { bytes: 100_000, verified: true }]]);
  const stored = store.read("f", name)!;
  assert.equal(report.bytesUploaded, stored.length);
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  assert.deepEqual(await decrypter.decrypt(stored), bytes);
  assert.ok(events.some((e) => e.type === "info" && /^New copies are encrypted \(age, to age1/.test(e.message)));
  assert.equal(events.filter((e) => e.type === "warning").length, 0, JSON.stringify(events));

  const again = await sync.run({ folder: "f" });
  assert.deepEqual(again.uploaded, []);
  assert.deepEqual(again.skipped, [name]);
});

test("retained copies are reported as events and in the report, with their reasons", async () => {
  const listed: UnmsBackup = { id: ID, createdAt: "2026-11-30T02:00:00Z", state: "success" };
  const store: BackupStore = new MemoryBackupStore();
  const gone = ["3f1c2a9e-0000-4000-8000-0000000000c1", "3f1c2a9e-0000-4000-8000-0000000000c2"];
  const put = (name: string) => store.put("", name, { stream: (async function* () { yield new Uint8Array([1]); })() });
  await put(`unms-backup-20261130-0200_${ID}.unms`);
  await put(`unms-backup-20261020-0200_${gone[0]}.unms`);
  await put(`unms-backup-20261001-0200_${gone[1]}.unms.age`);
  const events: SyncEvent[] = [];
  const sync = new SyncBackups(source([{ backup: listed, bytes: new Uint8Array([1]) }]), store, { report: (e) => events.push(e) }, { now: () => 0 }, "memory");
  const report = await sync.run({ folder: "", dryRun: true, policy: { retention: { keepMonthly: 6 } } });
  assert.deepEqual(report.retained, [{ name: `unms-backup-20261020-0200_${gone[0]}.unms`, why: "kept: newest of 2026-10 (monthly)", reasons: [{ rule: "monthly", period: "2026-10" }] }]);
  assert.deepEqual(report.deleted, [`unms-backup-20261001-0200_${gone[1]}.unms.age`]);
  assert.deepEqual(events.filter((e) => e.type === "retained").map((e) => e.type === "retained" && e.backupId), [gone[0]]);
});

test("an encrypted upload whose download breaks off starts over (never continued) and stores a whole, decryptable copy", async () => {
  const identity = await generateIdentity();
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 7) % 256);
  const backup: UnmsBackup = { id: ID, createdAt: "2026-11-30T02:00:00Z", state: "success", size: bytes.length };
  const unms = source([{ backup, bytes }], 2);
  // A store that could continue a saved upload (of a plain copy, say): never asked for an encrypted one.
  let asked = 0;
  const store = Object.assign(new RecordingStore(), { resumePoint: async () => ({ offset: 150_000 + 0 * ++asked }) });
  const events: SyncEvent[] = [];
  const sync = new SyncBackups(unms, store, { report: (e) => events.push(e) }, { now: () => 0 }, "memory", undefined,
    new AgeBackupEncryptor([await identityToRecipient(identity)]));
  const report = await sync.run({ folder: "" });
  assert.deepEqual(report.failed, []);
  assert.equal(unms.opened, 3);
  assert.equal(asked, 0, "an encrypted upload never asks where to continue");
  const retries = events.filter((e) => e.type === "retrying").map((e) => e.type === "retrying" && e.reason);
  assert.equal(retries.length, 2);
  for (const reason of retries) assert.match(String(reason), /starting this backup over$/);
  const decrypter = new Decrypter();
  decrypter.addIdentity(identity);
  assert.deepEqual(await decrypter.decrypt(store.read("", `unms-backup-20261130-0200_${ID}.unms.age`)!), bytes);
});
