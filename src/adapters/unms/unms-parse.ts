/**
 * Checks UNMS JSON bodies against what the rest of the tool relies on. Each function returns the
 * parsed value or a `problem` phrase ("item 3 of 5 has no id ...") for the caller's error message.
 */
import type { UnmsBackup } from "../../domain/backup.ts";
import type { components } from "./schema.gen.ts";

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** JSON text, or a problem describing what came instead. */
export function parseJsonBody(text: string | undefined, contentType: string | null): Parsed<unknown> {
  if (text === undefined || text.trim() === "") return { ok: false, problem: "an empty body where JSON was expected" };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    const start = text.trim().slice(0, 60).replace(/\s+/g, " ");
    return {
      ok: false,
      problem: `a body that is not JSON (content-type ${contentType ?? "absent"}, starting "${start}")`,
    };
  }
}

/** The backups of `GET nms/backups`; every item must carry a usable id, createdAt and state. */
export function parseBackupList(body: unknown): Parsed<UnmsBackup[]> {
  if (!Array.isArray(body)) return { ok: false, problem: `${describeJson(body)} where a list of backups was expected` };
  const backups: UnmsBackup[] = [];
  const problems: string[] = [];
  body.forEach((item: unknown, index) => {
    const where = `item ${index + 1} of ${body.length}`;
    const problem = backupProblem(item);
    if (problem) problems.push(`${where} ${problem}`);
    else backups.push(toBackup(item as components["schemas"]["Backup"]));
  });
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more malformed item${problems.length > 2 ? "s" : ""})` : "";
    return { ok: false, problem: `a malformed list of backups: ${problems[0]}${more}` };
  }
  return { ok: true, value: backups };
}

/** The `timezone` of `GET nms/settings`, undefined when UNMS offers none. */
export function parseSettingsTimeZone(body: unknown): Parsed<string | undefined> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, problem: `${describeJson(body)} where the settings object was expected` };
  }
  const { timezone } = body as components["schemas"]["NmsSettings"];
  if (timezone === undefined || timezone === null) return { ok: true, value: undefined };
  if (typeof timezone !== "string") return { ok: false, problem: `settings whose timezone is ${describeJson(timezone)}, not a string` };
  return { ok: true, value: timezone.trim() || undefined };
}

function backupProblem(item: unknown): string | undefined {
  if (typeof item !== "object" || item === null || Array.isArray(item)) return `is ${describeJson(item)}, not an object`;
  const { id, createdAt, state } = item as Record<string, unknown>;
  if (id === undefined) return "has no id";
  if (typeof id !== "string" || id.trim() === "") return `has id ${describeJson(id)}, expected a non-empty string`;
  const named = `(id "${id.slice(0, 80)}")`;
  if (createdAt === undefined) return `${named} has no createdAt`;
  if (typeof createdAt !== "string" || Number.isNaN(Date.parse(createdAt))) {
    return `${named} has createdAt ${describeJson(createdAt)}, expected an ISO-8601 date`;
  }
  if (state === undefined) return `${named} has no state`;
  if (typeof state !== "string") return `${named} has state ${describeJson(state)}, expected a string`;
  return undefined;
}

function toBackup(item: components["schemas"]["Backup"]): UnmsBackup {
  const backup: UnmsBackup = { id: item.id, createdAt: item.createdAt, state: item.state };
  if (typeof item.size === "number" && Number.isSafeInteger(item.size) && item.size >= 0) backup.size = item.size;
  return backup;
}

function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a JSON array";
  if (typeof value === "object") return "a JSON object";
  if (typeof value === "string") return `"${value.slice(0, 40)}"`;
  return String(value);
}
