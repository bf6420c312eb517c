import { createReadStream } from "node:fs";
import { DropboxContentHasher } from "../../src/adapters/content-hash/content-hash.ts";

/** The Dropbox content hash of a file on disk, streamed. */
export async function contentHashOfFile(path: string): Promise<string> {
  const hasher = new DropboxContentHasher();
  for await (const chunk of createReadStream(path)) hasher.update(chunk as Buffer);
  return hasher.digest();
}
