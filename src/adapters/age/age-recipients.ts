/**
 * ENCRYPT_TO's recipients, checked by the `age-encryption` package itself (each is added to an
 * Encrypter). Its own module so that only a run with ENCRYPT_TO set loads the age package (see
 * `recipientCheckFor` in ../config/parse-settings.ts).
 */
import { Encrypter } from "age-encryption";
import { SyncError } from "../../domain/errors.ts";

/**
 * The recipients in `value` (separated by commas or whitespace), each checked by the age package
 * itself. Throws a config SyncError naming `setting` and every entry that is not a recipient
 * (recipients are public keys, so showing them is safe).
 *
 * @example
 * ```ts
 * import { parseAgeRecipients } from "unms-dropbox-backup-sync";
 *
 * const recipients = parseAgeRecipients("age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", "ENCRYPT_TO");
 * ```
 */
export function parseAgeRecipients(value: string, setting: string): string[] {
  const problems = ageRecipientProblems(value, setting);
  if (problems.length > 0) {
    throw new SyncError(problems.join("; "), { kind: "config", code: "config.encrypt_to" });
  }
  return splitRecipients(value);
}

/** What is wrong with each entry of `value`, one text per bad entry (empty when all are fine). */
export function ageRecipientProblems(value: string, setting: string): string[] {
  const entries = splitRecipients(value);
  if (entries.length === 0) return [`${setting} holds no recipient: give one or more age public keys (age1...), separated by commas or spaces`];
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    const why = recipientProblem(entry);
    if (why) {
      // Recipients are public; a secret key pasted by mistake is not shown, not even in part.
      const shown = /^AGE-SECRET-KEY-/i.test(entry) ? "value not shown" : JSON.stringify(entry.length > 80 ? `${entry.slice(0, 80)}…` : entry);
      problems.push(`${setting} entry ${index + 1} of ${entries.length} (${shown}) ${why}`);
    }
  });
  return problems;
}

function splitRecipients(value: string): string[] {
  return value.split(/[\s,]+/).filter((entry) => entry !== "");
}

function recipientProblem(entry: string): string | undefined {
  if (/^AGE-SECRET-KEY-/i.test(entry)) {
    return "is an age identity (a secret key), not a recipient: give its public key (age-keygen -y key.txt prints it) and keep the identity off this machine";
  }
  if (!entry.startsWith("age1")) return "is not an age recipient: recipients start with age1 (age-keygen prints one as \"Public key: age1...\")";
  try {
    new Encrypter().addRecipient(entry);
  } catch {
    return "is not a valid age recipient (a wrong length or a typo: its checksum does not match)";
  }
  return undefined;
}
