/**
 * What `restore` plugs in to turn an encrypted copy (`.unms.age`) back into the backup: age
 * identities read from an identity file (AGE_IDENTITY_FILE / --identity), and a decrypting stream.
 * Without an identity the encrypted file is kept as it is, with the command that decrypts it.
 *
 * Identities are secrets: no message here shows one, not even part of one.
 */
import { readFile } from "node:fs/promises";
import { Decrypter } from "age-encryption";
import { ENCRYPTED_FILE_EXTENSION } from "../../domain/backup.ts";
import { SyncError, describeError } from "../../domain/errors.ts";
import type { ByteStream, Redactor } from "../../domain/ports.ts";
import { AGE_IDENTITY_FILE_ENV } from "../../domain/age-identity-file.ts";
import type { RestoreDecryption } from "../../app/ports.ts";
import { fromReadableStream, toReadableStream } from "../web-streams.ts";

// Defined in the domain (the command line names it too); exported from here as before.
export { AGE_IDENTITY_FILE_ENV };

/**
 * The identities of an age identity file, as `age-keygen` writes it.
 *
 * @example
 * ```ts
 * import type { AgeIdentities } from "unms-dropbox-backup-sync";
 *
 * const identities: AgeIdentities = { file: "/root/backup-key.txt", keys: [] };
 * ```
 */
export interface AgeIdentities {
  /** The file they came from, for messages. */
  file: string;
  /** `AGE-SECRET-KEY-1...` strings: secrets, to be registered with the redactor, never shown. */
  keys: string[];
}

/**
 * Parses an identity file's text: one `AGE-SECRET-KEY-1...` per line; blank lines and `#` comments
 * are skipped. Throws a config SyncError naming `label`, the file and the line, never the line's text.
 *
 * @example
 * ```ts
 * import { parseAgeIdentities } from "unms-dropbox-backup-sync";
 *
 * declare const text: string;
 *
 * const identities = parseAgeIdentities(text, "/root/backup-key.txt", "AGE_IDENTITY_FILE");
 * ```
 */
export function parseAgeIdentities(text: string, file: string, label: string): AgeIdentities {
  const keys: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `${label} ${file} line ${index + 1}`;
    if (!line.startsWith("AGE-SECRET-KEY-1")) {
      const what = line.startsWith("age1") ? "is a recipient (a public key), not an identity" : "is not an age identity";
      throw identityError(`${where} ${what}: an identity file holds AGE-SECRET-KEY-1... lines (age-keygen -o key.txt makes one); the line is not shown`);
    }
    const decrypter = new Decrypter();
    try {
      decrypter.addIdentity(line);
    } catch {
      throw identityError(`${where} is not a valid age identity (a wrong length or a typo: its checksum does not match); the line is not shown`);
    }
    keys.push(line);
  });
  if (keys.length === 0) throw identityError(`${label} ${file} holds no identity: expected AGE-SECRET-KEY-1... lines (age-keygen -o key.txt makes one)`);
  return { file, keys };
}

/**
 * Reads and parses an identity file (see `parseAgeIdentities`); a file that cannot be read is a
 * config SyncError naming `label` and the file.
 *
 * @example
 * ```ts
 * import { readAgeIdentityFile } from "unms-dropbox-backup-sync";
 *
 * const identities = await readAgeIdentityFile("/root/backup-key.txt", "AGE_IDENTITY_FILE");
 * ```
 */
export async function readAgeIdentityFile(file: string, label: string): Promise<AgeIdentities> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "does not exist" : code === "EACCES" ? "cannot be read (permission denied)" : `cannot be read (${describeError(error)})`;
    throw identityError(`${label} ${file} ${why}: give the identity file the copies were encrypted to (age-keygen -o key.txt made it)`);
  }
  return parseAgeIdentities(text, file, label);
}

/**
 * The plaintext of an age-encrypted stream, decrypted as it is read (constant memory). Fails with
 * a SyncError naming `name` when no identity fits or the ciphertext is damaged (integrity).
 *
 * @example
 * ```ts
 * import { decryptAgeStream, type AgeIdentities, type ByteStream } from "unms-dropbox-backup-sync";
 *
 * declare const ciphertext: ByteStream;
 * declare const identities: AgeIdentities;
 *
 * for await (const chunk of decryptAgeStream(ciphertext, identities, "unms-backup-20261130-0200_x.unms.age")) console.log(chunk.length);
 * ```
 */
export async function* decryptAgeStream(ciphertext: ByteStream, identities: AgeIdentities, name: string): AsyncGenerator<Uint8Array> {
  const decrypter = new Decrypter();
  for (const key of identities.keys) decrypter.addIdentity(key);
  let plaintext: ReadableStream<Uint8Array>;
  try {
    plaintext = await decrypter.decrypt(toReadableStream(ciphertext));
  } catch (error) {
    if (SyncError.is(error)) throw error;
    throw decryptError(name, identities, error, true);
  }
  try {
    yield* fromReadableStream(plaintext);
  } catch (error) {
    if (SyncError.is(error)) throw error;
    throw decryptError(name, identities, error, false);
  }
}

function decryptError(name: string, identities: AgeIdentities, error: unknown, header: boolean): SyncError {
  const text = describeError(error);
  if (header && /no identity matched/i.test(text)) {
    return new SyncError(`None of the identities in ${identities.file} can decrypt ${name}: it was encrypted to other recipients (ENCRYPT_TO at the time)`, {
      kind: "config",
      code: "age.no_identity_matched",
    });
  }
  return new SyncError(
    `${name} could not be decrypted: ${header ? "its age header is damaged or not an age file" : "its content is damaged (an age chunk failed authentication)"} (${text}); nothing decrypted from it can be trusted`,
    { kind: "integrity", code: "age.damaged", cause: error },
  );
}

function identityError(message: string): SyncError {
  return new SyncError(message, { kind: "config", code: "config.age_identity" });
}

/**
 * What `restore` does with one stored copy: an encrypted copy with identities is decrypted (and
 * loses its `.age`); one without identities is stored as it is, with `note` saying how to decrypt
 * it by hand; a plain copy passes through.
 *
 * @example
 * ```ts
 * import { restoreContent, type ByteStream } from "unms-dropbox-backup-sync";
 *
 * declare const stream: ByteStream;
 *
 * const out = restoreContent({ name: "unms-backup-20261130-0200_x.unms.age", stream });
 * if (out.note) console.log(out.note);
 * ```
 */
export function restoreContent(input: { name: string; stream: ByteStream; identities?: AgeIdentities }): { name: string; stream: ByteStream; note?: string } {
  const { name, stream, identities } = input;
  if (!name.toLowerCase().endsWith(ENCRYPTED_FILE_EXTENSION)) return { name, stream };
  if (identities) return { name: name.slice(0, -ENCRYPTED_FILE_EXTENSION.length), stream: decryptAgeStream(stream, identities, name) };
  return { name, stream, note: noIdentityNote(name) };
}

/** The line for an encrypted copy restored without an identity. */
export function noIdentityNote(name: string): string {
  const plain = name.toLowerCase().endsWith(ENCRYPTED_FILE_EXTENSION) ? name.slice(0, -ENCRYPTED_FILE_EXTENSION.length) : `${name}.decrypted`;
  return `No identity (${AGE_IDENTITY_FILE_ENV} or --identity): stored the encrypted file as is; decrypt with \`age -d -i key.txt ${name} > ${plain}\``;
}

// The port restore calls (src/app/ports.ts), implemented by `restoreContent`; exported from here as before.
export type { RestoreDecryption };

/**
 * The one call `restore` makes: reads the identity file when one is given (`--identity <file>` or
 * AGE_IDENTITY_FILE; `label` names where it came from in errors), registers its keys with the
 * run's redactor, and returns what to do with each copy.
 *
 * @example
 * ```ts
 * import { restoreDecryption, type ByteStream } from "unms-dropbox-backup-sync";
 *
 * declare const stream: ByteStream;
 *
 * const decryption = await restoreDecryption({ identityFile: process.env.AGE_IDENTITY_FILE, label: "AGE_IDENTITY_FILE" });
 * const out = decryption({ name: "unms-backup-20261130-0200_x.unms.age", stream });
 * ```
 */
export async function restoreDecryption(options: { identityFile?: string | undefined; label: string; redactor?: Redactor }): Promise<RestoreDecryption> {
  const identities = options.identityFile ? await readAgeIdentityFile(options.identityFile, options.label) : undefined;
  if (identities) options.redactor?.register(identities.keys);
  return ({ name, stream }) => restoreContent({ name, stream, ...(identities ? { identities } : {}) });
}
