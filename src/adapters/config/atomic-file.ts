/**
 * Small file helpers for the config stores: atomic replacement (temp file + rename in the same
 * folder, so a crash leaves the old file or the new one, never half of either) and private folders.
 */
import { chmod, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join, basename } from "node:path";
import { randomBytes } from "node:crypto";
import { SyncError, describeError, type FailureKind } from "../../domain/errors.ts";

/** Replaces `path` with `content`; `mode` applies to the new file (e.g. 0o600 for private state). */
export async function writeFileAtomic(path: string, content: string, mode?: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(temp, content, mode === undefined ? { encoding: "utf8" } : { encoding: "utf8", mode });
    // writeFile's mode is filtered by the umask; make it exact.
    if (mode !== undefined) await chmod(temp, mode);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true }).catch(() => undefined);
    throw error;
  }
}

/** Creates `dir` (and missing parents) with mode 0700 when it does not exist yet. */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
}

/** The file's text, or undefined when it does not exist. */
async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * The text of a state or config file, or undefined when it does not exist. A file that exists but
 * cannot be read is a SyncError naming the file (`Cannot read <what>path: why.<advice>`).
 */
export async function readTextOrFail(
  path: string,
  failure: { what?: string; kind: FailureKind; code: string; advice?: string },
): Promise<string | undefined> {
  try {
    return await readTextIfExists(path);
  } catch (error) {
    throw new SyncError(`Cannot read ${failure.what ? `${failure.what} ` : ""}${path}: ${describeError(error)}.${failure.advice ? ` ${failure.advice}` : ""}`, {
      kind: failure.kind,
      code: failure.code,
      cause: error,
    });
  }
}

/**
 * Parses JSON text that must hold an object. On failure returns why, by line and column only:
 * JSON.parse's own message quotes the text, and these files hold secrets.
 */
export function parseJsonObject(content: string): { value: Record<string, unknown> } | { problem: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (error) {
    if (endsEarly(error, content.length)) {
      return { problem: "it is not valid JSON (the text ends early: a closing bracket or quote is missing)" };
    }
    const offset = firstBadOffset(content);
    const before = content.slice(0, offset);
    const line = before.split("\n").length;
    const column = offset - before.lastIndexOf("\n");
    return { problem: `it is not valid JSON (syntax error at line ${line}, column ${column})` };
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return { problem: `it must hold a JSON object ({...}), not ${Array.isArray(parsed) ? "an array" : parsed === null ? "null" : `a ${typeof parsed}`}` };
  }
  return { value: parsed as Record<string, unknown> };
}

/**
 * Offset of the first character that makes `content` invalid JSON, found by bisecting prefixes
 * (a prefix is fine while parsing it only runs out of input); Node's own message may lack it.
 */
function firstBadOffset(content: string): number {
  const fine = (length: number) => {
    try {
      JSON.parse(content.slice(0, length));
      return true;
    } catch (error) {
      return endsEarly(error, length);
    }
  };
  let low = 0; // fine(low) holds
  let high = content.length; // fine(high) fails
  while (high - low > 1) {
    const mid = (low + high) >> 1;
    if (fine(mid)) low = mid;
    else high = mid;
  }
  return high - 1;
}

/**
 * Whether JSON.parse failed only because the text of `length` characters ran out. Older V8 says
 * "Unexpected end of JSON input" for every such case; current V8 often names the position instead
 * ("Expected ',' or '}' after property value in JSON at position 7"), which is the end when it
 * equals the length. Without this every prefix looked bad and every error was "line 1, column 1".
 */
function endsEarly(error: unknown, length: number): boolean {
  const message = error instanceof Error ? error.message : "";
  if (/end of JSON input/i.test(message)) return true;
  const position = /at position (\d+)/.exec(message);
  return position !== null && Number(position[1]) >= length;
}
