/**
 * A BackupStore held in memory: for embedders' tests and dry experiments, and the reference adapter
 * the store contract suite runs against without any I/O.
 *
 * It keeps the promises every store makes: a file appears whole or not at all (bytes are gathered
 * first, committed only after the stream ended cleanly and at the announced length), an existing
 * name is never clobbered without `overwrite`, and a broken stream fails as `source-interrupted`.
 */
import { SyncError } from "../../domain/errors.ts";
import { checkFileName, readSource } from "../store-input.ts";
import type { BackupDownload, BackupStore, PutOptions, StoredCopyDownload } from "../../domain/ports.ts";
import type { StoredFile } from "../../domain/reconcile.ts";
import { DropboxContentHasher } from "../content-hash/content-hash.ts";
import { checkedFolder } from "../store-input.ts";
import { concatBytes } from "../bytes.ts";

/**
 * Options of MemoryBackupStore.
 *
 * @example
 * ```ts
 * import { MemoryBackupStore, type MemoryBackupStoreOptions } from "unms-dropbox-backup-sync";
 *
 * new MemoryBackupStore({ caseInsensitive: true } satisfies MemoryBackupStoreOptions); // folds case like Dropbox
 * ```
 */
export interface MemoryBackupStoreOptions {
  /** Names (and folders) differing only in case are the same, as on Dropbox. Default false. */
  caseInsensitive?: boolean;
}

interface MemoryFile {
  name: string;
  bytes: Uint8Array;
  contentHash: string;
}

/**
 * An in-memory BackupStore. Lists report size and Dropbox content hash.
 *
 * @example
 * ```ts
 * import { createBackupSync, MemoryBackupStore, type UnmsConnection } from "unms-dropbox-backup-sync";
 *
 * declare const unms: UnmsConnection;
 *
 * const store = new MemoryBackupStore();
 * await createBackupSync({ unms, store }).sync();
 * console.log(store.paths());
 * store.read("", "unms-backup-20240101-0100_x.unms"); // the copied bytes
 * ```
 */
export class MemoryBackupStore implements BackupStore {
  readonly #folders = new Map<string, Map<string, MemoryFile>>();
  readonly #caseInsensitive: boolean;

  constructor(options: MemoryBackupStoreOptions = {}) {
    this.#caseInsensitive = options.caseInsensitive === true;
  }

  async list(folder: string, signal?: AbortSignal): Promise<StoredFile[]> {
    signal?.throwIfAborted();
    const files = this.#folders.get(this.#folderKey(folder));
    return [...(files?.values() ?? [])].map(({ name, bytes, contentHash }) => ({ name, size: bytes.length, contentHash }));
  }

  async put(folder: string, name: string, content: BackupDownload, options: PutOptions = {}): Promise<StoredFile> {
    const folderKey = this.#folderKey(folder);
    const nameKey = this.#key(checkFileName(name));
    const overwrite = options.overwrite === true;
    // Checked before reading too, so a conflict costs no download; checked again at commit below.
    if (!overwrite) this.#refuseExisting(folderKey, nameKey, name, folder);

    const pieces: Uint8Array[] = [];
    const hasher = new DropboxContentHasher();
    let size = 0;
    for await (const piece of readSource(content, name)) {
      options.signal?.throwIfAborted();
      // Copied: the producer may reuse its buffer for the next piece.
      pieces.push(piece.slice());
      hasher.update(piece);
      size += piece.length;
      options.onProgress?.(size);
    }
    if (size === 0) options.onProgress?.(0);
    if (content.length !== undefined && size !== content.length) {
      throw new SyncError(`The backup stream for ${name} ended after ${size} of ${content.length} bytes; nothing was stored`, {
        kind: "source-interrupted",
        code: "source.short_stream",
      });
    }

    if (!overwrite) this.#refuseExisting(folderKey, nameKey, name, folder);
    const file: MemoryFile = { name, bytes: concatBytes(pieces), contentHash: hasher.digest() };
    let files = this.#folders.get(folderKey);
    if (!files) this.#folders.set(folderKey, (files = new Map()));
    files.set(nameKey, file);
    return { name, size, contentHash: file.contentHash };
  }

  async remove(folder: string, name: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const folderKey = this.#folderKey(folder);
    const files = this.#folders.get(folderKey);
    files?.delete(this.#key(checkFileName(name)));
    if (files?.size === 0) this.#folders.delete(folderKey);
  }

  /** Streams the copy in 64 KiB pieces (views, not copies), with its size and content hash. */
  async openCopy(folder: string, name: string, signal?: AbortSignal): Promise<StoredCopyDownload> {
    signal?.throwIfAborted();
    const file = this.#folders.get(this.#folderKey(folder))?.get(this.#key(checkFileName(name)));
    if (!file) {
      throw new SyncError(`Cannot read ${name}: the memory store folder "${folder}" holds no file of that name`, { kind: "not-found", code: "store.not_found" });
    }
    const { bytes } = file;
    async function* pieces(): AsyncGenerator<Uint8Array> {
      for (let at = 0; at < bytes.length; at += 64 * 1024) yield bytes.subarray(at, Math.min(bytes.length, at + 64 * 1024));
    }
    return { stream: pieces(), size: bytes.length, contentHash: file.contentHash };
  }

  /** The bytes stored under `folder/name`, or undefined. For tests and embedders' checks. */
  read(folder: string, name: string): Uint8Array | undefined {
    return this.#folders.get(this.#folderKey(folder))?.get(this.#key(name))?.bytes;
  }

  /** Every stored file as `folder/name` paths ("name" at the root), sorted. */
  paths(): string[] {
    return [...this.#folders.entries()]
      .flatMap(([folder, files]) => [...files.values()].map((file) => (folder ? `${folder}/${file.name}` : file.name)))
      .sort();
  }

  #refuseExisting(folderKey: string, nameKey: string, name: string, folder: string): void {
    if (this.#folders.get(folderKey)?.has(nameKey)) {
      throw new SyncError(`Cannot store ${name}: a file of that name already exists in the memory store folder "${folder}"; it was left as it is`, {
        kind: "permanent",
        code: "store.conflict",
      });
    }
  }

  /** "" for the root, else the segments joined by "/" (leading and trailing "/" ignored). */
  #folderKey(folder: string): string {
    return this.#key(checkedFolder(folder));
  }

  #key(text: string): string {
    return this.#caseInsensitive ? text.toLowerCase() : text;
  }
}



