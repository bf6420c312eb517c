/**
 * Checks UNMS JSON bodies against what the rest of the tool relies on. Each function returns the
 * parsed value or a `problem` phrase ("item 3 of 5 has no id ...") for the caller's error message.
 */
import type { UnmsBackup } from "../../domain/backup.ts";
import { JsonArraySplitter, JsonArraySyntaxError } from "./json-array-splitter.ts";
import type { components } from "./schema.gen.ts";

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** JSON text, or a problem describing what came instead. */
export function parseJsonBody(text: string | undefined, contentType: string | null): Parsed<unknown> {
  if (text === undefined || text.trim() === "") return { ok: false, problem: "an empty body where JSON was expected" };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return notJson(text, contentType);
  }
}

function notJson(text: string, contentType: string | null): { ok: false; problem: string } {
  const start = text.trim().slice(0, 60).replace(/\s+/g, " ");
  return { ok: false, problem: `a body that is not JSON (content-type ${contentType ?? "absent"}, starting "${start}")` };
}

/**
 * The backups of `GET nms/backups`. Only the list itself must be well formed: one odd item never
 * blocks the run. An item's `state` is read first, and an item that is not `success` is passed on
 * as it is (its other fields unchecked: a failed backup may have `createdAt: null`). A `success`
 * item with an unusable field comes back marked `unusable` with the reason, so it is reported by id
 * and skipped while the rest sync. A `size` that is not a byte count is dropped with a `warning`.
 */
export function parseBackupList(body: unknown): Parsed<UnmsBackup[]> {
  if (!Array.isArray(body)) return { ok: false, problem: `${describeJson(body)} where a list of backups was expected` };
  return { ok: true, value: body.map((item: unknown, index) => toBackup(item, `item ${index + 1} of ${body.length}`)) };
}

/** Stands for the item count in an item's `where` until the list has ended. */
const COUNT_LATER = "\u0000count\u0000";

/**
 * parseBackupList for a body that arrives in pieces (a list of a million backups is 200 MiB of
 * JSON): each item is parsed and checked as soon as its text is complete, and only the fields the
 * domain uses are kept, so the body is never held whole. Same results and problems as
 * parseJsonBody + parseBackupList on the whole text.
 */
export class BackupListReader {
  readonly #backups: UnmsBackup[] = [];
  readonly #splitter = new JsonArraySplitter((text) => this.#item(text));
  /** The body's start, quoted when it is not JSON. */
  #head = "";
  /** The text before the list's "[" (blank, or the whole body when it is not a list: parseBackupList words that problem). */
  #beforeList = "";
  #notAList = false;
  #broken = false;

  constructor(private readonly contentType: string | null) {}

  push(text: string): void {
    if (this.#head.length < 200) this.#head += text.slice(0, 200);
    if (this.#notAList || !this.#splitter.started) this.#beforeList += text;
    if (this.#notAList || this.#broken) return;
    try {
      this.#splitter.push(text);
      if (this.#splitter.started) this.#beforeList = "";
    } catch (error) {
      if (!(error instanceof JsonArraySyntaxError) && !(error instanceof SyntaxError)) throw error;
      this.#notAList = this.#splitter.notAnArray;
      this.#broken = true;
    }
  }

  /** The body ended: the backups, or the problem with the body. */
  end(): Parsed<UnmsBackup[]> {
    if (this.#notAList || this.#head.trim() === "") {
      const body = parseJsonBody(this.#beforeList, this.contentType);
      return body.ok ? parseBackupList(body.value) : body;
    }
    let count: number;
    try {
      if (this.#broken) return notJson(this.#head, this.contentType);
      count = this.#splitter.end();
    } catch (error) {
      if (!(error instanceof JsonArraySyntaxError)) throw error;
      return notJson(this.#head, this.contentType);
    }
    const total = String(count);
    for (const backup of this.#backups) {
      if (backup.id.includes(COUNT_LATER)) backup.id = backup.id.replace(COUNT_LATER, total);
      if (backup.unusable?.includes(COUNT_LATER)) backup.unusable = backup.unusable.replace(COUNT_LATER, total);
      if (backup.warning?.includes(COUNT_LATER)) backup.warning = backup.warning.replace(COUNT_LATER, total);
    }
    return { ok: true, value: this.#backups };
  }

  #item(text: string): void {
    const item: unknown = JSON.parse(text);
    this.#backups.push(toBackup(item, `item ${this.#backups.length + 1} of ${COUNT_LATER}`));
  }
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

function toBackup(item: unknown, where: string): UnmsBackup {
  if (typeof item !== "object" || item === null || Array.isArray(item)) {
    return { id: `(${where})`, createdAt: "", state: "", unusable: `UNMS listed ${where} as ${describeJson(item)}, not a backup object` };
  }
  const { id, createdAt, state, size, origin } = item as Partial<components["schemas"]["UnmsBackup"]> & Record<string, unknown>;
  const label = typeof id === "string" && id.trim() !== "" ? id : `(${where})`;
  if (typeof state !== "string") {
    return { id: label, createdAt: "", state: "", unusable: `${where} has ${state === undefined ? "no state" : `state ${describeJson(state)}, not a string`}` };
  }
  const backup: UnmsBackup = { id: label, createdAt: typeof createdAt === "string" ? createdAt : "", state };
  if (typeof origin === "string") backup.origin = origin;
  if (state !== "success") return backup;

  const unusable = successProblem(id, createdAt);
  if (unusable) return { ...backup, unusable };
  if (typeof size === "number" && Number.isSafeInteger(size) && size >= 0) {
    // One literal with every field, so the record's fields sit in the object itself (no second,
    // growable property store): ~40 bytes less per backup, a million of them in a big list.
    return typeof origin === "string" ? { id: label, createdAt: backup.createdAt, state, origin, size } : { id: label, createdAt: backup.createdAt, state, size };
  }
  if (size !== undefined && size !== null) {
    backup.warning = `UNMS lists backup ${label} with size ${describeJson(size)}, not a byte count; its size is treated as unknown`;
  }
  return backup;
}

/** Why a `success` item cannot be copied, or undefined. The guid rule itself is the domain's. */
function successProblem(id: unknown, createdAt: unknown): string | undefined {
  if (id === undefined || id === null) return "it has no id";
  if (typeof id !== "string" || id.trim() === "") return `its id is ${describeJson(id)}, expected a guid`;
  if (createdAt === undefined || createdAt === null) return "it has no createdAt";
  if (typeof createdAt !== "string" || Number.isNaN(Date.parse(createdAt))) {
    return `its createdAt ${describeJson(createdAt)} is not an ISO-8601 date`;
  }
  return undefined;
}

function describeJson(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a JSON array";
  if (typeof value === "object") return "a JSON object";
  if (typeof value === "string") return `"${value.slice(0, 40)}"`;
  return String(value);
}
