/**
 * Copies encrypted with age (https://age-encryption.org/v1) to the ENCRYPT_TO recipients, on the
 * fly, by the `age-encryption` package: nothing of the cryptography is ours. Any age implementation
 * (the `age` command, rage) decrypts the result with one of the recipients' identities.
 *
 * The age package is loaded by the first `encrypt`, not with this module: evaluating it costs a run
 * ~70 ms and several MiB, and a nightly run that uploads nothing never needs it.
 */
import { SyncError } from "../../domain/errors.ts";
import type { BackupDownload, BackupEncryptor, EncryptedDownload } from "../../domain/ports.ts";
import { fromReadableStream, toReadableStream } from "../web-streams.ts";

/**
 * Encrypts each copy to the recipients, in constant memory, and tells the ciphertext's exact size
 * up front (header + 16-byte nonce + the plaintext + 16 bytes per 64 KiB chunk), so the store
 * can send it like any other stream.
 *
 * @example
 * ```ts
 * import { AgeBackupEncryptor, type BackupDownload } from "unms-dropbox-backup-sync";
 *
 * declare const download: BackupDownload;
 *
 * const encryptor = new AgeBackupEncryptor(["age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"]);
 * const { download: ciphertext } = await encryptor.encrypt(download);
 * ```
 */
export class AgeBackupEncryptor implements BackupEncryptor {
  readonly #recipients: readonly string[];

  constructor(recipients: readonly string[]) {
    if (recipients.length === 0) throw new SyncError("age encryption needs at least one recipient", { kind: "config", code: "config.encrypt_to" });
    this.#recipients = [...recipients];
  }

  get description(): string {
    return `age, to ${this.#recipients.join(", ")}`;
  }

  async encrypt(download: BackupDownload): Promise<EncryptedDownload> {
    if ((download.offset ?? 0) !== 0) {
      throw new SyncError(`An encrypted copy cannot start at byte ${download.offset} of the backup: it is always encrypted whole`, {
        kind: "permanent",
        code: "age.offset",
      });
    }
    const { Encrypter } = await import("age-encryption");
    const encrypter = new Encrypter();
    for (const recipient of this.#recipients) encrypter.addRecipient(recipient);
    let plaintextBytes = 0;
    const ciphertext = await encrypter.encrypt(toReadableStream(download.stream, { onChunk: (chunk) => (plaintextBytes += chunk.length) }));
    return {
      download: {
        stream: fromReadableStream(ciphertext),
        ...(download.length === undefined ? {} : { length: ciphertext.size(download.length) }),
      },
      plaintextBytes: () => plaintextBytes,
    };
  }
}
