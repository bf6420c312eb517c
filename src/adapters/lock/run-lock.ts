/**
 * Keeps two sync runs from working on the same state (and the same Dropbox folder) at once.
 *
 * The lock is a file created exclusively, holding who took it (pid, host, start time and, where
 * /proc exists, the process's command line). It is taken over when its process is gone, when its
 * pid now runs another command line (a restarted container soon reuses a dead run's pid), when it
 * is dated in the future (a clock set back), or once older than `staleAfterMs`.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { SyncError, describeError } from "../../domain/errors.ts";
import type { RunLock } from "../../app/ports.ts";

export const RUN_LOCK_FILE = ".backup-sync.lock";

/** UCRM kills a plugin run after an hour; a CLI run over a slow link may take longer, but not this. */
const DEFAULT_STALE_AFTER_MS = 12 * 60 * 60 * 1000;

/** Clocks of one host may disagree a little (NTP steps); beyond this a start time is in the future. */
const FUTURE_TOLERANCE_MS = 5 * 60 * 1000;

export interface RunLockOptions {
  now?: () => Date;
  /** The pid written into the lock (default: this process). */
  pid?: number;
  hostname?: string;
  /** Whether a process on this host is running (default: `process.kill(pid, 0)`). */
  isAlive?: (pid: number) => boolean;
  staleAfterMs?: number;
  /** The command line of a process on this host, or undefined where it cannot be read (default: /proc). */
  commandOf?: (pid: number) => string | undefined;
  /** Told, in words fit for a log, when a stale lock was taken over. */
  onStaleLock?: (message: string) => void;
}

interface LockOwner {
  pid: number;
  startedAt: string;
  hostname: string;
  token: string;
  /** The holder's command line, to tell its pid from a reused one (absent without /proc). */
  command?: string;
}

export async function acquireRunLock(dir: string, options: RunLockOptions = {}): Promise<RunLock> {
  const path = join(dir, RUN_LOCK_FILE);
  const now = options.now ?? (() => new Date());
  const host = options.hostname ?? osHostname();
  const isAlive = options.isAlive ?? isProcessAlive;
  const staleAfterMs = options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS;
  const commandOf = options.commandOf ?? procCommandLine;
  const pid = options.pid ?? process.pid;
  const command = commandOf(pid);
  const owner: LockOwner = {
    pid,
    startedAt: now().toISOString(),
    hostname: host,
    token: randomUUID(),
    ...(command === undefined ? {} : { command }),
  };
  const content = `${JSON.stringify(owner)}\n`;

  // 0700: the state folder also holds the refresh token (an existing folder keeps its mode).
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((error: unknown) => {
    throw unwritable(path, error);
  });

  // A few rounds: each lost race against another starter means re-reading what it wrote.
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      await writeFile(path, content, { flag: "wx" });
      return { path, release: () => releaseIfOurs(path, owner.token) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw unwritable(path, error);
    }

    const existing = await readText(path);
    if (existing === undefined) continue; // removed meanwhile: try again
    const holder = parseOwner(existing);
    const staleReason = holder ? whyStale(holder, host, now(), staleAfterMs, isAlive, commandOf) : "is unreadable";
    if (holder && staleReason === undefined) throw busy(path, holder, host, staleAfterMs);

    if (await takeAway(path, existing)) {
      options.onStaleLock?.(
        `Took over a stale run lock ${path}${holder ? ` left by pid ${holder.pid} (started ${holder.startedAt})` : ""}: it ${staleReason}.`,
      );
    }
  }
  throw new SyncError(
    `Could not take the run lock ${path}: other runs kept creating it at the same moment; this run did nothing. Try again.`,
    { kind: "transient", code: "lock.contended" },
  );
}

function whyStale(
  holder: LockOwner,
  host: string,
  now: Date,
  staleAfterMs: number,
  isAlive: (pid: number) => boolean,
  commandOf: (pid: number) => string | undefined,
): string | undefined {
  const ageMs = now.getTime() - Date.parse(holder.startedAt);
  if (ageMs < -FUTURE_TOLERANCE_MS) return "is dated in the future (the clock was set back?)";
  if (!(ageMs <= staleAfterMs)) return `is older than ${Math.round(staleAfterMs / 60_000)} minutes`;
  if (holder.hostname !== host) return undefined;
  if (!isAlive(holder.pid)) return "belongs to a process that is no longer running";
  if (holder.command !== undefined) {
    const live = commandOf(holder.pid);
    // Never quoted: another program's command line is none of the log's business.
    if (live !== undefined && live !== holder.command) return `names pid ${holder.pid}, which now runs another program (the pid was reused)`;
  }
  return undefined;
}

/** The command line of a local process from /proc (Linux), or undefined where there is none. */
function procCommandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((part) => part !== "").join(" ") || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Moves the lock aside and removes it, but only if it still holds what we judged stale: if another
 * run replaced it in between, that run's lock is put back (a hard link cannot overwrite anything).
 */
async function takeAway(path: string, judged: string): Promise<boolean> {
  const aside = `${path}.${randomUUID()}.stale`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw unwritable(path, error);
  }
  const moved = await readText(aside);
  if (moved !== judged) {
    await link(aside, path).catch(() => undefined);
    await rm(aside, { force: true });
    return false;
  }
  await rm(aside, { force: true });
  return true;
}

async function releaseIfOurs(path: string, token: string): Promise<void> {
  const text = await readText(path);
  if (text !== undefined && parseOwner(text)?.token === token) await rm(path, { force: true });
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw unwritable(path, error);
  }
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner> | null;
    if (
      value &&
      Number.isSafeInteger(value.pid) &&
      typeof value.startedAt === "string" &&
      !Number.isNaN(Date.parse(value.startedAt)) &&
      typeof value.hostname === "string" &&
      typeof value.token === "string" &&
      (value.command === undefined || typeof value.command === "string")
    ) {
      return value as LockOwner;
    }
  } catch {
    // garbage: treated as stale by the caller
  }
  return undefined;
}

function busy(path: string, holder: LockOwner, host: string, staleAfterMs: number): SyncError {
  const where = holder.hostname === host ? "" : ` on host ${holder.hostname}`;
  return new SyncError(
    `Another sync run is in progress${where} (pid ${holder.pid}, started ${holder.startedAt}); this run did nothing. ` +
      `The lock is taken over by itself once that process is gone, its pid runs another program, or it is ${ageText(staleAfterMs)} old; ` +
      `if you are sure no sync is running${where ? ` on ${holder.hostname}` : ""}, delete ${path}.`,
    { kind: "permanent", code: "lock.busy" },
  );
}

function ageText(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} hours` : `${Math.round(ms / 60_000)} minutes`;
}

function unwritable(path: string, error: unknown): SyncError {
  return new SyncError(
    `Cannot use the run lock ${path}: ${describeError(error)}. Check that its directory exists and is writable by the user running the sync.`,
    { kind: "config", code: "lock.unwritable", cause: error },
  );
}
