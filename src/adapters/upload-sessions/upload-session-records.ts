/**
 * Checks one saved upload record read back from disk: a record that does not hold together is
 * dropped (its upload starts over), never trusted.
 */
import type { UploadSessionRecord } from "../../app/ports.ts";

const HASH_BLOCK_BYTES = 4 * 1024 * 1024;

/** The record, or why it cannot be used. */
export function checkRecord(value: unknown): UploadSessionRecord | { problem: string } {
  if (typeof value !== "object" || value === null) return { problem: "it is not an object" };
  const r = value as Record<string, unknown>;
  for (const key of ["backupId", "sessionId", "folder", "name", "startedAt"] as const) {
    if (typeof r[key] !== "string") return { problem: `"${key}" is not text` };
  }
  if (r.backupId === "" || r.name === "") return { problem: "the backup id or file name is empty" };
  const committed = r.bytesCommitted;
  if (typeof committed !== "number" || !Number.isSafeInteger(committed) || committed < 0) {
    return { problem: `"bytesCommitted" is not a byte count` };
  }
  const hashes = r.blockHashes;
  if (!Array.isArray(hashes) || !hashes.every((h) => typeof h === "string" && /^[0-9a-f]{64}$/.test(h))) {
    return { problem: `"blockHashes" is not a list of hex SHA-256 digests` };
  }
  if (committed !== hashes.length * HASH_BLOCK_BYTES) {
    return { problem: `${committed} bytes committed do not match ${hashes.length} saved 4 MiB block hashes` };
  }
  if (Number.isNaN(Date.parse(r.startedAt as string))) return { problem: `"startedAt" is not a time` };
  const concurrent = checkConcurrent(r.concurrent, committed);
  if (concurrent !== undefined && "problem" in concurrent) return concurrent;
  return {
    backupId: r.backupId as string,
    sessionId: r.sessionId as string,
    folder: r.folder as string,
    name: r.name as string,
    bytesCommitted: committed,
    blockHashes: [...(hashes as string[])],
    startedAt: r.startedAt as string,
    ...(concurrent ? { concurrent } : {}),
  };
}

/** A concurrent session's chunk layout: chunks of a whole number of 4 MiB blocks, acknowledged ones past the prefix. */
function checkConcurrent(value: unknown, committed: number): UploadSessionRecord["concurrent"] | { problem: string } {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null) return { problem: `"concurrent" is not an object` };
  const { chunkBytes, chunksAhead, chunksInFlight } = value as Record<string, unknown>;
  if (typeof chunkBytes !== "number" || !Number.isSafeInteger(chunkBytes) || chunkBytes <= 0 || chunkBytes % HASH_BLOCK_BYTES !== 0) {
    return { problem: `"concurrent.chunkBytes" is not a multiple of 4 MiB` };
  }
  if (committed % chunkBytes !== 0) return { problem: `${committed} bytes committed are not a whole number of ${chunkBytes}-byte chunks` };
  if (!Array.isArray(chunksAhead) || !chunksAhead.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o > committed && o % chunkBytes === 0)) {
    return { problem: `"concurrent.chunksAhead" is not a list of chunk offsets past the ${committed} bytes committed` };
  }
  if (chunksInFlight !== undefined && (!Array.isArray(chunksInFlight) || !chunksInFlight.every((o) => typeof o === "number" && Number.isSafeInteger(o) && o >= committed && o % chunkBytes === 0))) {
    return { problem: `"concurrent.chunksInFlight" is not a list of chunk offsets from the ${committed} bytes committed` };
  }
  return { chunkBytes, chunksAhead: [...(chunksAhead as number[])], ...(chunksInFlight === undefined ? {} : { chunksInFlight: [...(chunksInFlight as number[])] }) };
}
