/**
 * Issue 13 end to end, in process through main(): ENCRYPT_TO stores `.unms.age` copies that the real
 * `age` command decrypts to the exact backup bytes; reruns and switching encryption on upload
 * nothing; KEEP_MONTHLY keeps the newest copy of each month after UNMS deleted the backups.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { contentHashOf } from "../../src/adapters/content-hash/content-hash.ts";
import { guid } from "../../src/testing/fakes/unms.ts";
import { explain, inFolder, lastJsonLine, MiB, startHarness, type Harness } from "./helpers.ts";

const FOLDER = "Backups";

async function syncHarness(t: TestContext): Promise<Harness> {
  const h = await startHarness();
  t.after(() => h.close());
  h.baseEnv.DROPBOX_REFRESH_TOKEN = h.dropbox.issueRefreshToken();
  return h;
}

/** A fresh age key pair made by the real age-keygen: its identity file and its recipient. */
export function ageKeyPair(t: TestContext): { keyFile: string; recipient: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "backup-sync-age-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, "key.txt");
  execFileSync("age-keygen", ["-o", keyFile], { stdio: "pipe" });
  const recipient = execFileSync("age-keygen", ["-y", keyFile], { encoding: "utf8" }).trim();
  assert.match(recipient, /^age1[0-9a-z]{58}$/);
  return { keyFile, recipient, dir };
}

/** The real `age -d -i keyFile` on a file's bytes. */
function ageDecrypt(keyFile: string, ciphertext: Uint8Array, dir: string): Buffer {
  const file = join(dir, "copy.unms.age");
  writeFileSync(file, ciphertext);
  return execFileSync("age", ["-d", "-i", keyFile, file], { maxBuffer: 64 * MiB });
}

function storedNames(h: Harness): string[] {
  const prefix = `/${FOLDER}/`.toLowerCase();
  return h.dropbox.listFiles().filter((f) => f.path.toLowerCase().startsWith(prefix)).map((f) => f.path.slice(prefix.length)).sort();
}

function uploadRequests(h: Harness): number {
  return ["files/upload", "files/upload_session/start", "files/upload_session/append_v2", "files/upload_session/finish"]
    .reduce((n, route) => n + h.dropbox.requestCount(route), 0);
}

test("ENCRYPT_TO stores .unms.age copies that `age -d` turns back into the exact bytes; a rerun uploads nothing", async (t) => {
  const h = await syncHarness(t);
  const key = ageKeyPair(t);
  const other = ageKeyPair(t);
  // 5 MiB + 3 goes through an upload session (4 MiB chunks) and ends in a partial age chunk.
  const big = h.unms.addBackup({ id: guid("13a-big"), createdAt: "2026-11-30T01:00:00Z", size: 5 * MiB + 3 });
  const small = h.unms.addBackup({ id: guid("13a-small"), createdAt: "2026-11-29T01:00:00Z", size: 1000 });
  const env = { ENCRYPT_TO: `${key.recipient}, ${other.recipient}` };

  const first = await h.run(["sync"], env);
  assert.equal(first.code, 0, explain(first));
  const bigName = `unms-backup-20261130-0200_${big.id}.unms.age`;
  const smallName = `unms-backup-20261129-0200_${small.id}.unms.age`;
  assert.deepEqual(storedNames(h), [smallName, bigName].sort());
  assert.match(first.stderr, new RegExp(`New copies are encrypted \\(age, to ${key.recipient}, ${other.recipient}\\)`));

  for (const backup of [big, small]) {
    const name = backup === big ? bigName : smallName;
    const ciphertext = Buffer.from(h.dropbox.readFile(inFolder(FOLDER, name))!);
    const plaintext = h.unms.expectedBytes(backup.id);
    // Exact size: header + 16-byte nonce + the plaintext + 16 bytes per started 64 KiB chunk.
    const chunks = Math.max(1, Math.ceil(plaintext.length / 65536));
    const header = ciphertext.indexOf(0x0a, ciphertext.indexOf(Buffer.from("\n---")) + 1) + 1;
    assert.equal(ciphertext.length, header + 16 + plaintext.length + 16 * chunks, `${name}: ciphertext size`);
    assert.equal(first.stdout.includes(`Uploaded ${name} (`), true, explain(first));
    // Dropbox's content hash covers what was sent: the ciphertext.
    assert.equal(h.dropbox.fileMetadata(inFolder(FOLDER, name))?.content_hash, contentHashOf(ciphertext));
    assert.notEqual(contentHashOf(ciphertext), h.unms.expectedContentHash(backup.id));
    // Either recipient's identity decrypts it, with the real age command.
    assert.ok(ageDecrypt(key.keyFile, ciphertext, key.dir).equals(Buffer.from(plaintext)), `${name}: age -d with the first key`);
    assert.ok(ageDecrypt(other.keyFile, ciphertext, other.dir).equals(Buffer.from(plaintext)), `${name}: age -d with the second key`);
  }

  const before = uploadRequests(h);
  const rerun = await h.run(["sync", "--json"], env);
  assert.equal(rerun.code, 0, explain(rerun));
  assert.equal(uploadRequests(h), before, "a rerun must upload nothing");
  const summary = lastJsonLine(rerun);
  assert.deepEqual(summary.uploaded, []);
  assert.deepEqual([...summary.skipped].sort(), [smallName, bigName].sort());
  assert.doesNotMatch(rerun.output, /WARNING|bytes UNMS lists/, "ciphertext sizes must not read as a size mismatch");
});

test("switching ENCRYPT_TO on over plain copies re-uploads nothing, encrypts new backups, and deletes either name when UNMS deletes the backup", async (t) => {
  const h = await syncHarness(t);
  const key = ageKeyPair(t);
  const old = [1, 2, 3].map((day) => h.unms.addBackup({ id: guid(`13b-old-${day}`), createdAt: `2026-11-0${day}T01:00:00Z`, size: MiB }));
  const plain = await h.run(["sync"]);
  assert.equal(plain.code, 0, explain(plain));
  const plainNames = old.map((b, i) => `unms-backup-2026110${i + 1}-0200_${b.id}.unms`);
  assert.deepEqual(storedNames(h), plainNames);

  const env = { ENCRYPT_TO: key.recipient };
  const before = uploadRequests(h);
  const switched = await h.run(["sync", "--json"], env);
  assert.equal(switched.code, 0, explain(switched));
  assert.equal(uploadRequests(h), before, "switching encryption on must not re-upload plain copies");
  assert.deepEqual([...lastJsonLine(switched).skipped].sort(), plainNames);

  const fresh = h.unms.addBackup({ id: guid("13b-new"), createdAt: "2026-11-04T01:00:00Z", size: MiB });
  const next = await h.run(["sync"], env);
  assert.equal(next.code, 0, explain(next));
  const freshName = `unms-backup-20261104-0200_${fresh.id}.unms.age`;
  assert.deepEqual(storedNames(h), [...plainNames, freshName].sort());
  assert.ok(ageDecrypt(key.keyFile, h.dropbox.readFile(inFolder(FOLDER, freshName))!, key.dir).equals(Buffer.from(h.unms.expectedBytes(fresh.id))));

  // UNMS deletes one plain-copied and the encrypted backup: both names go (one at a time: within the guard).
  h.unms.removeBackup(old[0]!.id);
  const gonePlain = await h.run(["sync"], env);
  assert.equal(gonePlain.code, 0, explain(gonePlain));
  h.unms.removeBackup(fresh.id);
  const goneEncrypted = await h.run(["sync"], env);
  assert.equal(goneEncrypted.code, 0, explain(goneEncrypted));
  assert.match(goneEncrypted.stdout, new RegExp(`Deleted ${freshName}`));
  assert.deepEqual(storedNames(h), plainNames.slice(1));
});

test("the mass-deletion and empty-list guards hold .unms.age copies back like plain ones", async (t) => {
  const h = await syncHarness(t);
  const key = ageKeyPair(t);
  const env = { ENCRYPT_TO: key.recipient };
  const ids = [1, 2, 3, 4].map((day) => h.unms.addBackup({ id: guid(`13c-${day}`), createdAt: `2026-10-0${day}T01:00:00Z`, size: 2048 }).id);
  assert.equal((await h.run(["sync"], env)).code, 0);
  const names = storedNames(h);
  assert.equal(names.filter((n) => n.endsWith(".unms.age")).length, 4);

  for (const id of ids.slice(0, 3)) h.unms.removeBackup(id);
  const mass = await h.run(["sync"], env);
  assert.equal(mass.code, 0, explain(mass));
  assert.match(mass.output, /3 of 4 backup file\(s\) would be deleted, more than the allowed 2, so none were deleted/);
  assert.deepEqual(storedNames(h), names);

  h.unms.removeBackup(ids[3]!);
  const empty = await h.run(["sync"], env);
  assert.match(empty.output, /UNMS lists no successful backup, so none of the 4 backup file\(s\) in the folder were deleted/);
  assert.deepEqual(storedNames(h), names);
});

test("a malformed ENCRYPT_TO entry is a configuration error (exit 2) naming the setting and the entry; nothing is uploaded", async (t) => {
  const h = await syncHarness(t);
  const key = ageKeyPair(t);
  h.unms.addBackup({ id: guid("13d"), size: 1000 });
  const broken = `${key.recipient.slice(0, -1)}${key.recipient.endsWith("q") ? "p" : "q"}`;
  const run = await h.run(["sync"], { ENCRYPT_TO: `${key.recipient} ${broken}` });
  assert.equal(run.code, 2, explain(run));
  assert.match(run.output, new RegExp(`ENCRYPT_TO entry 2 of 2 \\("${broken}"\\) is not a valid age recipient`));
  assert.equal(uploadRequests(h), 0);

  const secret = readFileSync(key.keyFile, "utf8").split("\n").find((line) => line.startsWith("AGE-SECRET-KEY-1"))!;
  const identity = await h.run(["sync"], { ENCRYPT_TO: secret });
  assert.equal(identity.code, 2, explain(identity));
  assert.match(identity.output, /ENCRYPT_TO entry 1 of 1 \(value not shown\) is an age identity \(a secret key\), not a recipient/);
  // Secret keys are never echoed, not even partly.
  for (let at = 16; at + 12 <= secret.length; at += 6) {
    assert.equal(identity.output.includes(secret.slice(at, at + 12)), false, `part of the identity (characters ${at}..${at + 12}) was shown`);
  }
});

test("KEEP_MONTHLY=12 keeps copies of deleted backups that are the newest of their month and deletes the others; --dry-run says why", async (t) => {
  const h = await syncHarness(t);
  // Three months of backups; Prague time (UTC+1 in winter, UTC+2 in summer).
  const made = [
    ["13e-sep-a", "2026-09-10T01:00:00Z"], ["13e-sep-b", "2026-09-30T21:30:00Z"], // 23:30 on the 30th in Prague: September
    ["13e-oct-a", "2026-10-05T01:00:00Z"], ["13e-oct-b", "2026-10-31T23:30:00Z"], // 00:30 on 1 November in Prague
    ["13e-nov-a", "2026-11-02T01:00:00Z"], ["13e-nov-b", "2026-11-20T01:00:00Z"],
  ].map(([seed, createdAt]) => h.unms.addBackup({ id: guid(seed!), createdAt: createdAt!, size: 1024 }));
  const env = { KEEP_MONTHLY: "12", MAX_DELETES: "10" };
  assert.equal((await h.run(["sync"], env)).code, 0);
  const all = storedNames(h);
  assert.equal(all.length, 6);
  const nameOf = (i: number) => all.find((n) => n.includes(made[i]!.id))!;

  // UNMS keeps only the newest backup.
  for (const backup of made.slice(0, 5)) h.unms.removeBackup(backup.id);
  const dry = await h.run(["sync", "--dry-run", "--json"], env);
  assert.equal(dry.code, 0, explain(dry));
  // September: sep-b is the newest; October: oct-a (oct-b belongs to November in Prague); November:
  // nov-b is still listed and the newest, so nov-a and oct-b go.
  assert.match(dry.stderr, new RegExp(`Kept by the retention policy: ${nameOf(1)} \\(UNMS no longer lists its backup; kept: newest of 2026-09 \\(monthly\\)\\)`));
  assert.match(dry.stderr, new RegExp(`Kept by the retention policy: ${nameOf(2)} \\(UNMS no longer lists its backup; kept: newest of 2026-10 \\(monthly\\)\\)`));
  const summary = lastJsonLine(dry);
  assert.deepEqual([...summary.deleted].sort(), [nameOf(0), nameOf(3), nameOf(4)].sort());
  const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : 1);
  assert.deepEqual([...(summary.retained as { name: string }[])].sort(byName), [
    { name: nameOf(1), why: "kept: newest of 2026-09 (monthly)", reasons: [{ rule: "monthly", period: "2026-09" }] },
    { name: nameOf(2), why: "kept: newest of 2026-10 (monthly)", reasons: [{ rule: "monthly", period: "2026-10" }] },
  ].sort(byName));
  assert.deepEqual(storedNames(h), all, "a dry run changes nothing");
  // status plans with the same policy: what it says a sync would delete and keep is the dry run's.
  const status = await h.run(["status", "--json"], env);
  const report = JSON.parse(status.stdout) as { pending: { delete: string[] }; retained: { name: string; why: string }[] };
  assert.deepEqual([...report.pending.delete].sort(), [...summary.deleted].sort(), explain(status));
  assert.deepEqual([...report.retained].sort(byName), [
    { name: nameOf(1), why: "kept: newest of 2026-09 (monthly)" },
    { name: nameOf(2), why: "kept: newest of 2026-10 (monthly)" },
  ].sort(byName));
  assert.match((await h.run(["status"], env)).stdout, new RegExp(`^Kept by the retention policy: ${nameOf(1)} \\(kept: newest of 2026-09 \\(monthly\\)\\)$`, "m"));

  const real = await h.run(["sync"], env);
  assert.equal(real.code, 0, explain(real));
  assert.deepEqual(storedNames(h), [nameOf(1), nameOf(2), nameOf(5)].sort());
  const again = await h.run(["sync", "--json"], env);
  assert.deepEqual(lastJsonLine(again).deleted, [], "a rerun converges: nothing more to delete");

  // Without KEEP_*, UNMS is mirrored again.
  const mirror = await h.run(["sync"], { MAX_DELETES: "10" });
  assert.equal(mirror.code, 0, explain(mirror));
  assert.deepEqual(storedNames(h), [nameOf(5)]);
});
