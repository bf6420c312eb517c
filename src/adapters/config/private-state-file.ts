/**
 * The private state file (`dropbox-authorization.json` in the state folder): PKCE verifier, the
 * fingerprint of the last used access code and, for the environment store, the refresh token it
 * obtained. Mode 0600 in a 0700 folder; written atomically.
 */
import { join } from "node:path";
import { SyncError, describeError } from "../../domain/errors.ts";
import type { PrivateState, RunRecord } from "../../app/ports.ts";
import { ensurePrivateDir, parseJsonObject, readTextOrFail, writeFileAtomic } from "./atomic-file.ts";

export const PRIVATE_STATE_FILE = "dropbox-authorization.json";

export interface StoredState extends PrivateState {
  /** Only the environment store keeps its refresh token here; UCRM keeps it in config.json. */
  refreshToken?: string;
}

const STRING_KEYS = ["pkceVerifier", "pkceClientId", "usedAccessCodeSha256", "refreshToken"] as const;

export class PrivateStateFile {
  readonly path: string;

  constructor(readonly dir: string) {
    this.path = join(dir, PRIVATE_STATE_FILE);
  }

  async read(): Promise<StoredState> {
    const content = await readTextOrFail(this.path, { what: "the private state file", kind: "config", code: "config.state_unreadable", advice: "Check its permissions." });
    if (content === undefined || content.trim() === "") return {};
    const parsed = parseJsonObject(content);
    if ("problem" in parsed) throw malformed(this.path, parsed.problem);
    const state: StoredState = {};
    for (const key of STRING_KEYS) {
      const value = parsed.value[key];
      if (typeof value === "string" && value.trim() !== "") state[key] = value.trim();
    }
    const lastRun = runRecordFrom(parsed.value.lastRun);
    if (lastRun) state.lastRun = lastRun;
    return state;
  }

  async write(state: StoredState): Promise<void> {
    const clean: Record<string, unknown> = {};
    for (const key of STRING_KEYS) {
      const value = state[key];
      if (typeof value === "string" && value !== "") clean[key] = value;
    }
    if (state.lastRun) clean.lastRun = state.lastRun;
    try {
      await ensurePrivateDir(this.dir);
      await writeFileAtomic(this.path, `${JSON.stringify(clean, null, 2)}\n`, 0o600);
    } catch (error) {
      throw new SyncError(
        `Cannot write the private state file ${this.path}: ${describeError(error)}. Check that the folder is writable.`,
        { kind: "config", code: "config.state_unwritable", cause: error },
      );
    }
  }
}

function malformed(path: string, why: string): SyncError {
  return new SyncError(
    `The private state file ${path} is malformed: ${why}. It was left untouched; delete it to start the Dropbox authorization over.`,
    { kind: "config", code: "config.state_malformed" },
  );
}

/** A kept run record, or undefined when it is missing or not one (an older version's file, a hand edit). */
function runRecordFrom(value: unknown): RunRecord | undefined {
  if (typeof value !== "object" || value === null) return undefined;
  const r = value as Record<string, unknown>;
  const counts = r.counts as Record<string, unknown> | undefined;
  if (typeof r.finishedAt !== "string" || Number.isNaN(Date.parse(r.finishedAt)) || typeof r.exitCode !== "number") return undefined;
  const count = (key: string) => (typeof counts?.[key] === "number" ? (counts[key] as number) : 0);
  return {
    finishedAt: r.finishedAt,
    exitCode: r.exitCode,
    summary: typeof r.summary === "string" ? r.summary : "",
    counts: { uploaded: count("uploaded"), skipped: count("skipped"), deleted: count("deleted"), failed: count("failed") },
    failures: Array.isArray(r.failures) ? r.failures.filter((f): f is string => typeof f === "string") : [],
    ...(typeof r.lastSuccessAt === "string" && !Number.isNaN(Date.parse(r.lastSuccessAt)) ? { lastSuccessAt: r.lastSuccessAt } : {}),
  };
}
