/**
 * The age adapter against the real `age` command line (Debian package `age`): our ciphertext
 * decrypts with `age -d`, `age -r` output decrypts with ours; identity files, damaged files and
 * wrong keys fail with messages that name the file and line but never show a key.
 */
import { test } from "node:test";
import type { TestContext } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgeBackupEncryptor } from "../../../src/adapters/age/age-encryptor.ts";
import { parseAgeRecipients } from "../../../src/adapters/age/age-recipients.ts";
import {
  decryptAgeStream, noIdentityNote, parseAgeIdentities, readAgeIdentityFile, restoreContent, restoreDecryption, type AgeIdentities,
} from "../../../src/adapters/age/age-decryptor.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import { installMissingCrypto } from "../../../src/app/missing-globals.ts";
import { SecretRedactor } from "../../../src/domain/redactor.ts";
import type { ByteStream } from "../../../src/domain/ports.ts";

function keyPair(t: TestContext): { dir: string; keyFile: string; recipient: string; secret: string } {
  const dir = mkdtempSync(join(tmpdir(), "age-adapter-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, "key.txt");
  execFileSync("age-keygen", ["-o", keyFile], { stdio: "pipe" });
  const recipient = execFileSync("age-keygen", ["-y", keyFile], { encoding: "utf8" }).trim();
  const secret = readFileSync(keyFile, "utf8").split("\n").find((line) => line.startsWith("AGE-SECRET-KEY-1"))!;
  return { dir, keyFile, recipient, secret };
}

function pattern(size: number, seed = 7): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * seed + (i >> 8)) & 255;
  return bytes;
}

async function* inChunks(bytes: Uint8Array, chunk = 10_000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
}

async function collect(stream: ByteStream): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

test("our ciphertext has exactly the announced length and decrypts with the real `age -d` to the same bytes", async (t) => {
  const keys = [keyPair(t), keyPair(t), keyPair(t)];
  for (const recipients of [keys.slice(0, 1), keys]) {
    const encryptor = new AgeBackupEncryptor(recipients.map((k) => k.recipient));
    for (const [index, size] of [0, 1, 65535, 65536, 65537, 3 * 65536, 300_001].entries()) {
      const plaintext = pattern(size);
      const { download, plaintextBytes } = await encryptor.encrypt({ stream: inChunks(plaintext), length: size });
      const ciphertext = await collect(download.stream);
      assert.equal(ciphertext.length, download.length, `${size} bytes to ${recipients.length} recipient(s): announced length`);
      assert.equal(plaintextBytes(), size);
      const file = join(keys[0]!.dir, "out.age");
      writeFileSync(file, ciphertext);
      // Each size is decrypted once, by the recipients in turn, so every recipient's stanza is shown
      // to open the file: a real `age -d` per recipient and size cost 28 processes (issue 10).
      const key = recipients[index % recipients.length]!;
      assert.ok(execFileSync("age", ["-d", "-i", key.keyFile, file], { maxBuffer: 16 << 20 }).equals(Buffer.from(plaintext)), `${size} bytes, age -d -i key ${index % recipients.length + 1}`);
    }
  }
});

test("a download without a length gives a ciphertext without one; encrypting twice gives different files", async (t) => {
  const { recipient } = keyPair(t);
  const encryptor = new AgeBackupEncryptor([recipient]);
  const a = await encryptor.encrypt({ stream: inChunks(pattern(1000)) });
  assert.equal(a.download.length, undefined);
  const b = await encryptor.encrypt({ stream: inChunks(pattern(1000)) });
  assert.notDeepEqual(await collect(a.download.stream), await collect(b.download.stream));
});

test("encryption pulls the source only as fast as the ciphertext is read (constant memory)", async (t) => {
  const { recipient } = keyPair(t);
  let pulled = 0;
  async function* endless(): AsyncGenerator<Uint8Array> {
    for (;;) {
      pulled += 1;
      yield new Uint8Array(65536);
    }
  }
  const { download } = await new AgeBackupEncryptor([recipient]).encrypt({ stream: endless() });
  const iterator = download.stream[Symbol.asyncIterator]();
  for (let i = 0; i < 10; i++) await iterator.next();
  assert.ok(pulled <= 16, `read 10 ciphertext chunks but pulled ${pulled} source chunks`);
  await iterator.return?.();
});

test("a source that breaks off fails the ciphertext stream with the source's own error", async (t) => {
  const { recipient } = keyPair(t);
  const broke = new SyncError("the download broke off", { kind: "source-interrupted", code: "unms.read" });
  async function* breaking(): AsyncGenerator<Uint8Array> {
    yield new Uint8Array(100_000);
    throw broke;
  }
  const { download } = await new AgeBackupEncryptor([recipient]).encrypt({ stream: breaking(), length: 200_000 });
  await assert.rejects(collect(download.stream), (error) => error === broke);
});

test("an encrypted copy is never continued from the middle", async (t) => {
  const { recipient } = keyPair(t);
  await assert.rejects(new AgeBackupEncryptor([recipient]).encrypt({ stream: inChunks(pattern(10)), offset: 5 }), /cannot start at byte 5/);
});

test("recipients: commas or whitespace separate them; each bad entry is named with its position", (t) => {
  const [a, b] = [keyPair(t), keyPair(t)];
  assert.deepEqual(parseAgeRecipients(` ${a.recipient},${b.recipient}\n`, "ENCRYPT_TO"), [a.recipient, b.recipient]);
  assert.deepEqual(parseAgeRecipients(`${a.recipient} ,  ${b.recipient}`, "encryptTo"), [a.recipient, b.recipient]);
  assert.throws(() => parseAgeRecipients(`${a.recipient}, ssh-ed25519, age1abc`, "ENCRYPT_TO"), (error: SyncError) => {
    assert.equal(error.kind, "config");
    assert.match(error.message, /ENCRYPT_TO entry 2 of 3 \("ssh-ed25519"\) is not an age recipient: recipients start with age1/);
    assert.match(error.message, /ENCRYPT_TO entry 3 of 3 \("age1abc"\) is not a valid age recipient/);
    return true;
  });
  assert.throws(() => parseAgeRecipients(" , ", "ENCRYPT_TO"), /ENCRYPT_TO holds no recipient/);
  assert.throws(() => parseAgeRecipients(a.secret, "ENCRYPT_TO"), (error: Error) => !error.message.includes(a.secret.slice(16, 40)) && /value not shown/.test(error.message));
});

test("the real `age -r` output decrypts with our streaming decryptor to the exact bytes", async (t) => {
  const key = keyPair(t);
  const plaintext = pattern(200_003, 13);
  const plainFile = join(key.dir, "backup.unms");
  writeFileSync(plainFile, plaintext);
  const encrypted = execFileSync("age", ["-r", key.recipient, plainFile]);
  const identities = await readAgeIdentityFile(key.keyFile, "AGE_IDENTITY_FILE");
  const out = await collect(decryptAgeStream(inChunks(encrypted, 7000), identities, "backup.unms.age"));
  assert.ok(out.equals(Buffer.from(plaintext)));
});

test("a file encrypted to someone else: a config error naming the identity file and the copy", async (t) => {
  const [mine, theirs] = [keyPair(t), keyPair(t)];
  const file = join(mine.dir, "x");
  writeFileSync(file, "secret backup");
  const encrypted = execFileSync("age", ["-r", theirs.recipient, file]);
  const identities = await readAgeIdentityFile(mine.keyFile, "AGE_IDENTITY_FILE");
  await assert.rejects(collect(decryptAgeStream(inChunks(encrypted), identities, "copy.unms.age")), (error: SyncError) => {
    assert.equal(error.code, "age.no_identity_matched");
    assert.equal(error.message, `None of the identities in ${mine.keyFile} can decrypt copy.unms.age: it was encrypted to other recipients (ENCRYPT_TO at the time)`);
    return true;
  });
});

test("a damaged copy fails as an integrity error, whether the header or a chunk was hit", async (t) => {
  const key = keyPair(t);
  const file = join(key.dir, "x");
  writeFileSync(file, pattern(150_000));
  const encrypted = execFileSync("age", ["-r", key.recipient, file]);
  const identities = parseAgeIdentities(readFileSync(key.keyFile, "utf8"), key.keyFile, "--identity");
  const chunkHit = Buffer.from(encrypted);
  chunkHit[chunkHit.length - 100]! ^= 1;
  await assert.rejects(collect(decryptAgeStream(inChunks(chunkHit), identities, "c.unms.age")), (error: SyncError) => {
    assert.equal(error.kind, "integrity");
    assert.match(error.message, /^c\.unms\.age could not be decrypted: its content is damaged \(an age chunk failed authentication\)/);
    return true;
  });
  const headerHit = Buffer.from(encrypted);
  headerHit[40]! ^= 1;
  await assert.rejects(collect(decryptAgeStream(inChunks(headerHit), identities, "h.unms.age")), (error: SyncError) => error.code === "age.damaged" || error.code === "age.no_identity_matched");
  await assert.rejects(collect(decryptAgeStream(inChunks(Buffer.from("not an age file at all\n")), identities, "n.unms.age")), /n\.unms\.age could not be decrypted: its age header is damaged or not an age file/);
});

test("identity files: comments and blank lines are skipped; a bad line is named by file and number, never shown", (t) => {
  const [a, b] = [keyPair(t), keyPair(t)];
  const good = `# created: 2026-11-30\r\n# public key: ${a.recipient}\r\n${a.secret}\r\n\n   \n${b.secret}\n`;
  assert.deepEqual(parseAgeIdentities(good, "/keys/k.txt", "AGE_IDENTITY_FILE").keys, [a.secret, b.secret]);

  const typo = `${a.secret.slice(0, -1)}${a.secret.endsWith("Q") ? "P" : "Q"}`;
  const cases: [string, RegExp][] = [
    [`# key\n${typo}\n`, /^AGE_IDENTITY_FILE \/keys\/k\.txt line 2 is not a valid age identity \(a wrong length or a typo: its checksum does not match\); the line is not shown$/],
    [`${a.secret}\n${a.recipient}\n`, /^AGE_IDENTITY_FILE \/keys\/k\.txt line 2 is a recipient \(a public key\), not an identity: /],
    [`hello ${a.secret}\n`, /^AGE_IDENTITY_FILE \/keys\/k\.txt line 1 is not an age identity: /],
    [`# only a comment\n\n`, /^AGE_IDENTITY_FILE \/keys\/k\.txt holds no identity: expected AGE-SECRET-KEY-1\.\.\. lines/],
  ];
  for (const [text, expected] of cases) {
    assert.throws(() => parseAgeIdentities(text, "/keys/k.txt", "AGE_IDENTITY_FILE"), (error: SyncError) => {
      assert.equal(error.kind, "config");
      assert.match(error.message, expected);
      for (let at = 16; at + 12 <= a.secret.length; at += 6) assert.equal(error.message.includes(a.secret.slice(at, at + 12)), false, "no part of a key is shown");
      return true;
    });
  }
});

test("an identity file that is missing is named with the setting", async () => {
  await assert.rejects(readAgeIdentityFile("/nonexistent/key.txt", "--identity"), (error: SyncError) => {
    assert.equal(error.kind, "config");
    assert.match(error.message, /^--identity \/nonexistent\/key\.txt does not exist: give the identity file the copies were encrypted to/);
    return true;
  });
});

test("restoreContent: decrypts .unms.age with identities, keeps it as is (saying how to decrypt) without, passes plain copies", async (t) => {
  const key = keyPair(t);
  const plaintext = pattern(70_000);
  const { download } = await new AgeBackupEncryptor([key.recipient]).encrypt({ stream: inChunks(plaintext), length: plaintext.length });
  const ciphertext = await collect(download.stream);
  const identities: AgeIdentities = await readAgeIdentityFile(key.keyFile, "AGE_IDENTITY_FILE");
  const name = "unms-backup-20261130-0200_3f1c2a9e-0000-4000-8000-0000000000b1.unms.age";

  const decrypted = restoreContent({ name, stream: inChunks(ciphertext), identities });
  assert.equal(decrypted.name, name.slice(0, -4));
  assert.equal(decrypted.note, undefined);
  assert.ok((await collect(decrypted.stream)).equals(Buffer.from(plaintext)));

  const asIs = restoreContent({ name, stream: inChunks(ciphertext) });
  assert.equal(asIs.name, name);
  assert.equal(
    asIs.note,
    `No identity (AGE_IDENTITY_FILE or --identity): stored the encrypted file as is; decrypt with \`age -d -i key.txt ${name} > ${name.slice(0, -4)}\``,
  );
  assert.ok((await collect(asIs.stream)).equals(ciphertext));
  assert.equal(noIdentityNote(name), asIs.note);

  const plain = restoreContent({ name: name.slice(0, -4), stream: inChunks(plaintext), identities });
  assert.equal(plain.name, name.slice(0, -4));
  assert.ok((await collect(plain.stream)).equals(Buffer.from(plaintext)));
});

test("on a runtime without a global crypto (Node 16/18), the installed one lets age encrypt with its own X25519", async (t) => {
  const key = keyPair(t);
  const original = Object.getOwnPropertyDescriptor(globalThis, "crypto");
  Object.defineProperty(globalThis, "crypto", { configurable: true, writable: true, value: undefined });
  try {
    await installMissingCrypto();
    assert.equal(typeof globalThis.crypto.getRandomValues, "function");
    await assert.rejects(globalThis.crypto.subtle.importKey("raw", new Uint8Array(32), { name: "X25519" }, false, []), { name: "NotSupportedError" });
    const { download } = await new AgeBackupEncryptor([key.recipient]).encrypt({ stream: inChunks(pattern(5000)), length: 5000 });
    const file = join(key.dir, "old-runtime.age");
    writeFileSync(file, await collect(download.stream));
    assert.ok(execFileSync("age", ["-d", "-i", key.keyFile, file]).equals(Buffer.from(pattern(5000))));
    const identities = await readAgeIdentityFile(key.keyFile, "AGE_IDENTITY_FILE");
    assert.ok((await collect(decryptAgeStream(inChunks(readFileSync(file)), identities, "x.age"))).equals(Buffer.from(pattern(5000))));
  } finally {
    Object.defineProperty(globalThis, "crypto", original!);
  }
  const before = globalThis.crypto;
  await installMissingCrypto();
  assert.equal(globalThis.crypto, before, "a runtime's own crypto is left alone");
});

test("restoreDecryption: one call reads the identity file, hides its keys from every line, and decrypts each copy", async (t) => {
  const key = keyPair(t);
  const plaintext = pattern(5000);
  const { download } = await new AgeBackupEncryptor([key.recipient]).encrypt({ stream: inChunks(plaintext), length: plaintext.length });
  const ciphertext = await collect(download.stream);
  const redactor = new SecretRedactor();
  const decrypt = await restoreDecryption({ identityFile: key.keyFile, label: "--identity", redactor });
  const out = decrypt({ name: "b.unms.age", stream: inChunks(ciphertext) });
  assert.equal(out.name, "b.unms");
  assert.ok((await collect(out.stream)).equals(Buffer.from(plaintext)));
  assert.equal(redactor.redact(`oops ${key.secret}`).includes(key.secret.slice(16, 40)), false, "the identity is registered as a secret");

  const without = await restoreDecryption({ identityFile: undefined, label: "AGE_IDENTITY_FILE" });
  assert.match(without({ name: "b.unms.age", stream: inChunks(ciphertext) }).note ?? "", /^No identity \(AGE_IDENTITY_FILE or --identity\): stored the encrypted file as is/);
  await assert.rejects(restoreDecryption({ identityFile: join(key.dir, "missing.txt"), label: "AGE_IDENTITY_FILE" }), /^SyncError: AGE_IDENTITY_FILE .*missing\.txt does not exist/);
});
