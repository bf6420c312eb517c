/** UploadSessionStore in memory: for embedders without a state folder, and the contract suite's reference. */
import type { UploadSessionRecord, UploadSessionStore } from "../../app/ports.ts";

export class MemoryUploadSessionStore implements UploadSessionStore {
  readonly #records = new Map<string, UploadSessionRecord>();

  async get(backupId: string): Promise<UploadSessionRecord | undefined> {
    const record = this.#records.get(backupId);
    return record ? copy(record) : undefined;
  }

  async all(): Promise<UploadSessionRecord[]> {
    return [...this.#records.values()].map((r) => copy(r));
  }

  async save(record: UploadSessionRecord): Promise<void> {
    this.#records.set(record.backupId, copy(record));
  }

  async remove(backupId: string): Promise<void> {
    this.#records.delete(backupId);
  }
}

/** Records hold only plain data; a copy keeps callers from changing what is saved. */
function copy(record: UploadSessionRecord): UploadSessionRecord {
  const { concurrent } = record;
  return { ...record, blockHashes: [...record.blockHashes], ...(concurrent ? { concurrent: { ...concurrent, chunksAhead: [...concurrent.chunksAhead], ...(concurrent.chunksInFlight ? { chunksInFlight: [...concurrent.chunksInFlight] } : {}) } } : {}) };
}
