/**
 * UploadSessionStore as `upload-sessions.json` in the private state folder: mode 0600, replaced
 * atomically on every save, so a kill at any moment leaves the previous state or the next one.
 * Saves are serialised; a record that does not hold together is dropped with a note, never trusted.
 */
import { join } from "node:path";
import { SyncError, describeError } from "../../domain/errors.ts";
import type { UploadSessionRecord, UploadSessionStore } from "../../app/ports.ts";
import { ensurePrivateDir, parseJsonObject, readTextOrFail, writeFileAtomic } from "../config/atomic-file.ts";
import { checkRecord } from "./upload-session-records.ts";

export const UPLOAD_SESSIONS_FILE = "upload-sessions.json";

export class FileUploadSessionStore implements UploadSessionStore {
  readonly path: string;
  /** Why records were dropped on the last read, for the run's warnings. */
  readonly dropped: string[] = [];
  #queue: Promise<unknown> = Promise.resolve();

  /** @param onDropped told once per reason a saved record or the whole file could not be used. */
  constructor(
    readonly dir: string,
    private readonly onDropped?: (why: string) => void,
  ) {
    this.path = join(dir, UPLOAD_SESSIONS_FILE);
  }

  async get(backupId: string): Promise<UploadSessionRecord | undefined> {
    return (await this.all()).find((r) => r.backupId === backupId);
  }

  async all(): Promise<UploadSessionRecord[]> {
    await this.#queue;
    return this.#read();
  }

  save(record: UploadSessionRecord): Promise<void> {
    return this.#update((records) => [...records.filter((r) => r.backupId !== record.backupId), record]);
  }

  remove(backupId: string): Promise<void> {
    return this.#update((records) => records.filter((r) => r.backupId !== backupId));
  }

  #update(change: (records: UploadSessionRecord[]) => UploadSessionRecord[]): Promise<void> {
    const next = this.#queue.then(async () => {
      const records = change(await this.#read());
      try {
        await ensurePrivateDir(this.dir);
        await writeFileAtomic(this.path, `${JSON.stringify({ version: 1, sessions: records }, null, 1)}\n`, 0o600);
      } catch (error) {
        throw new SyncError(
          `Cannot save the upload state file ${this.path}: ${describeError(error)}. Check that the state folder is writable.`,
          { kind: "permanent", code: "state.upload_sessions_unwritable", cause: error },
        );
      }
    });
    this.#queue = next.catch(() => undefined);
    return next;
  }

  async #read(): Promise<UploadSessionRecord[]> {
    const content = await readTextOrFail(this.path, { what: "the upload state file", kind: "permanent", code: "state.upload_sessions_unreadable", advice: "Check its permissions." });
    if (content === undefined || content.trim() === "") return [];
    const parsed = parseJsonObject(content);
    if ("problem" in parsed) {
      this.#drop(`the upload state file ${this.path} is unusable (${parsed.problem}); unfinished uploads start over`);
      return [];
    }
    const sessions = parsed.value.sessions;
    if (!Array.isArray(sessions)) {
      this.#drop(`the upload state file ${this.path} has no "sessions" list; unfinished uploads start over`);
      return [];
    }
    const records: UploadSessionRecord[] = [];
    sessions.forEach((value, index) => {
      const checked = checkRecord(value);
      if ("problem" in checked) this.#drop(`saved upload #${index + 1} in ${this.path} is unusable (${checked.problem}); it starts over`);
      else records.push(checked);
    });
    return records;
  }

  #drop(why: string): void {
    if (this.dropped.includes(why)) return;
    this.dropped.push(why);
    this.onDropped?.(why);
  }
}
