/**
 * A BackupStore in a local directory: the demo's target, NAS users' target, and the second adapter
 * under the store contract suite.
 *
 * Files appear whole or not at all: bytes go to a hidden temporary file beside the target, which is
 * fsynced and renamed into place only after the stream ended cleanly.
 */
import { createWriteStream } from "node:fs";
import { mkdir, readdir, rename, rm, stat, link, unlink } from "node:fs/promises";
import { join, resolve, sep } from "node:path";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { SyncError, describeError } from "../../domain/errors.ts";
import { checkFileName, readSource } from "../store-input.ts";
import type { BackupDownload, BackupStore, PutOptions } from "../../domain/ports.ts";
import type { StoredFile } from "../../domain/reconcile.ts";
import { DropboxContentHasher } from "../dropbox/content-hash.ts";

const PARTIAL_PREFIX = ".backup-sync-partial-";

export class LocalDirBackupStore implements BackupStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  async list(folder: string): Promise<StoredFile[]> {
    const dir = this.#folderPath(folder);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw this.#fsError(`list the folder ${dir}`, error);
    }
    const files: StoredFile[] = [];
    for (const entry of entries) {
      if (!entry.isFile() || entry.name.startsWith(PARTIAL_PREFIX)) continue;
      const info = await stat(join(dir, entry.name));
      files.push({ name: entry.name, size: info.size });
    }
    return files;
  }

  async put(folder: string, name: string, content: BackupDownload, options: PutOptions = {}): Promise<StoredFile> {
    const dir = this.#folderPath(folder);
    const target = join(dir, checkFileName(name));
    await mkdir(dir, { recursive: true }).catch((error) => {
      throw this.#fsError(`create the folder ${dir}`, error);
    });
    const partial = join(dir, `${PARTIAL_PREFIX}${randomBytes(6).toString("hex")}`);
    const hasher = new DropboxContentHasher();
    let size = 0;
    try {
      const out = createWriteStream(partial, { flags: "wx" });
      const closed = once(out, "close");
      try {
        for await (const chunk of readSource(content, name)) {
          options.signal?.throwIfAborted();
          hasher.update(chunk);
          size += chunk.length;
          if (!out.write(chunk)) await once(out, "drain");
          options.onProgress?.(size);
        }
        if (size === 0) options.onProgress?.(0);
      } finally {
        out.end();
        await closed;
      }
      if (content.length !== undefined && size !== content.length) {
        throw new SyncError(`The backup stream for ${name} ended after ${size} of ${content.length} bytes`, {
          kind: "source-interrupted",
          code: "source.short_stream",
        });
      }
      await this.#commit(partial, target, name, options.overwrite === true);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
    return { name, size, contentHash: hasher.digest() };
  }

  async remove(folder: string, name: string): Promise<void> {
    const target = join(this.#folderPath(folder), checkFileName(name));
    await rm(target, { force: true }).catch((error) => {
      throw this.#fsError(`delete ${target}`, error);
    });
  }

  /** Moves the finished temp file into place; without overwrite an existing file wins. */
  async #commit(partial: string, target: string, name: string, overwrite: boolean): Promise<void> {
    try {
      if (overwrite) {
        await rename(partial, target);
      } else {
        // link() fails when the target exists, so two writers can never clobber each other.
        await link(partial, target);
        await unlink(partial);
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") {
        throw new SyncError(`Cannot store ${name}: a file of that name already exists in ${this.root}; it was left as it is`, {
          kind: "permanent",
          code: "store.conflict",
        });
      }
      throw this.#fsError(`move ${name} into place`, error);
    }
  }

  #folderPath(folder: string): string {
    const parts = folder.split("/").filter((p) => p !== "");
    if (parts.some((p) => p === "." || p === "..")) {
      throw new SyncError(`The target folder "${folder}" must not contain "." or ".." segments`, { kind: "config", code: "config.folder" });
    }
    const path = resolve(this.root, ...parts);
    if (path !== this.root && !path.startsWith(this.root + sep)) {
      throw new SyncError(`The target folder "${folder}" lies outside ${this.root}`, { kind: "config", code: "config.folder" });
    }
    return path;
  }

  #fsError(action: string, error: unknown): SyncError {
    const code = (error as NodeJS.ErrnoException).code;
    const kind = code === "ENOSPC" || code === "EACCES" || code === "EPERM" || code === "EROFS" ? "permanent" : "transient";
    return new SyncError(`Could not ${action}: ${describeError(error)}`, { kind, code: `local.${code ?? "io"}`, cause: error });
  }
}


