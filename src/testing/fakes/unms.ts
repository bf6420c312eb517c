/**
 * An in-memory UNMS (NMS API v2.1) as msw handlers: backups, settings, faithful errors, and faults
 * injected on demand. Handlers match the path below the host only (`*\/nms/api/v2.1/...`, the
 * prefix real UISP answers under), so the same instance works behind msw's `setupServer` and behind
 * a loopback HTTP server, and a base URL that lacks `/nms` fails here as it would in the field.
 *
 * The list items have exactly the shape of the official swagger's `UnmsBackup` (id, state,
 * createdAt, size, origin, compatible, unmsVersion; no name, no type); errors are
 * `{statusCode, error, message?}`.
 *
 * Backup bytes are generated on the fly from the id, chunk by chunk, so a 1 GiB backup costs
 * one 64 KiB block of memory and streams at memcpy speed.
 */
import { createHash } from "node:crypto";
import { http, HttpResponse } from "msw";
import type { RequestHandler } from "msw";
import type { SetupServerApi } from "msw/node";
import type { UnmsBackup } from "../../domain/backup.ts";

export type UnmsRoute = "list" | "download" | "settings";

/**
 * A fault FakeUnms answers with on one route (see `injectFault`).
 *
 * @example
 * ```ts
 * import { FakeUnms, type UnmsFault } from "unms-dropbox-backup-sync/testing";
 *
 * const unms = new FakeUnms({ apiToken: "test-token" });
 * const fault: UnmsFault = { type: "reset-after", bytes: 65536 };
 * unms.injectFault("download", fault);
 * ```
 */
export type UnmsFault =
  /** Answer with this status; the body defaults to UNMS's `{statusCode, error, message}`. */
  | { type: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  /** Announce the full content-length but end the body cleanly after `bytes`. */
  | { type: "truncate-after"; bytes: number }
  /** Error the body stream after `bytes`, like a connection reset. */
  | { type: "reset-after"; bytes: number }
  /** 200 with an HTML page instead of JSON, like a proxy's error page. */
  | { type: "non-json" }
  /** Download: 200 with a proxy's HTML login page instead of the backup. */
  | { type: "login-page" }
  /** Download: 200 with an empty body (no content-type, no content-length). */
  | { type: "empty-body" }
  /** Download: the body ends cleanly after `bytes`, with no content-length announced. */
  | { type: "cut-short-unannounced"; bytes: number };

export interface FakeUnmsOptions {
  apiToken: string;
  /**
   * Whether downloads honour `Range: bytes=N-` (206 + Content-Range). Whether real UNMS does is
   * unknown, so both answers are modelled; false answers 200 with the whole body. Default true.
   */
  honourRange?: boolean;
  /** The NMS time zone; null makes `GET nms/settings` fail with 500. Default `Europe/Prague`. */
  timezone?: string | null;
  /** Send a content-length with downloads (default true; UNMS's own behaviour is undocumented). */
  downloadContentLength?: boolean;
}

export interface AddBackupOptions {
  id?: string;
  createdAt?: string;
  state?: string;
  /** Bytes the download sends; default 1 MiB. */
  size?: number;
  /** The `size` the list claims; default `size`. Set it to play a UNMS whose listed size is wrong. */
  listedSize?: number;
  /** `auto` (default) or `manual`. */
  origin?: string;
}

/** Chunk size of generated backup bodies. A divisor of 4 MiB, so Dropbox hash blocks align. */
const FAKE_CHUNK_BYTES = 64 * 1024;
const DEFAULT_SIZE = 1024 * 1024;
const EXPECTED_BYTES_LIMIT = 64 * 1024 * 1024;
const DROPBOX_BLOCK_BYTES = 4 * 1024 * 1024;

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

interface StoredBackup {
  id: string;
  createdAt: string;
  state: string;
  size: number;
  listedSize: number;
  origin: string;
}

/** The version the fake claims in `unmsVersion`. */
const FAKE_UNMS_VERSION = { major: 2, minor: 4, patch: 211 };

/**
 * An in-memory UNMS (NMS API v2.1) as msw handlers: backups generated on the fly, faults on demand.
 *
 * @example
 * ```ts
 * import { setupServer } from "msw/node";
 * import { createBackupSync, MemoryBackupStore } from "unms-dropbox-backup-sync";
 * import { FakeUnms } from "unms-dropbox-backup-sync/testing";
 *
 * const unms = new FakeUnms({ apiToken: "test-token" });
 * unms.addBackup({ size: 1024 });
 * const server = setupServer(...unms.handlers);
 * server.listen();
 * const store = new MemoryBackupStore();
 * await createBackupSync({ unms: { url: "https://uisp.test/nms", apiToken: "test-token" }, store }).sync();
 * server.close();
 * ```
 */
export class FakeUnms {
  readonly handlers: RequestHandler[];
  /** Every request that reached a handler, authorized or not. */
  requestCount = 0;
  readonly requestCounts: Record<UnmsRoute, number> = { list: 0, download: 0, settings: 0 };
  /** Body bytes of backup downloads sent (or started to be sent) so far. */
  downloadBytesSent = 0;
  /** The Range header of every download request (null when none was sent), in order. */
  readonly downloadRanges: (string | null)[] = [];
  /** See FakeUnmsOptions.honourRange; tests may flip it between runs. */
  honourRange: boolean;

  readonly apiToken: string;
  private timezone: string | null;
  private readonly stored = new Map<string, StoredBackup>();
  private readonly faults: Record<UnmsRoute, { fault: UnmsFault; remaining: number }[]> = {
    list: [],
    download: [],
    settings: [],
  };
  private sequence = 0;
  private readonly extraItems: unknown[] = [];
  private readonly downloadContentLength: boolean;

  constructor(options: FakeUnmsOptions) {
    this.apiToken = options.apiToken;
    this.downloadContentLength = options.downloadContentLength ?? true;
    this.timezone = options.timezone === undefined ? "Europe/Prague" : options.timezone;
    this.honourRange = options.honourRange ?? true;
    this.handlers = [
      http.get("*/nms/api/v2.1/nms/backups", ({ request }) =>
        this.handle("list", request, (fault) => this.listResponse(cutOf(fault))),
      ),
      http.get("*/nms/api/v2.1/nms/backups/:id", ({ request, params }) =>
        this.handle("download", request, (fault) => this.downloadResponse(String(params.id), fault, request.headers.get("range"))),
      ),
      http.get("*/nms/api/v2.1/nms/settings", ({ request }) =>
        this.handle("settings", request, (fault) => this.settingsResponse(cutOf(fault))),
      ),
    ];
  }

  /** Adds a backup; ids, dates and states default to deterministic values. */
  addBackup(options: AddBackupOptions = {}): UnmsBackup {
    this.sequence += 1;
    const backup: StoredBackup = {
      id: options.id ?? `00000000-0000-4000-8000-${this.sequence.toString(16).padStart(12, "0")}`,
      createdAt: options.createdAt ?? new Date(Date.UTC(2024, 0, 1, this.sequence)).toISOString(),
      state: options.state ?? "success",
      size: options.size ?? DEFAULT_SIZE,
      listedSize: options.listedSize ?? options.size ?? DEFAULT_SIZE,
      origin: options.origin ?? "auto",
    };
    if (!Number.isSafeInteger(backup.size) || backup.size < 0) {
      throw new RangeError(`FakeUnms.addBackup: size ${backup.size} of backup ${backup.id} is not a byte count`);
    }
    this.stored.set(backup.id, backup);
    return this.describe(backup);
  }

  /**
   * Appends a raw item to the list as is (no download behind it), to play what a real UNMS may
   * send: a `failed` backup with `createdAt: null`, an item with a broken field.
   */
  addListItem(item: unknown): void {
    this.extraItems.push(item);
  }

  /** A backup as the domain sees it: `size` is what the list claims. */
  private describe(b: StoredBackup): UnmsBackup {
    return { id: b.id, createdAt: b.createdAt, state: b.state, size: b.listedSize, origin: b.origin };
  }

  removeBackup(id: string): void {
    this.stored.delete(id);
  }

  backups(): UnmsBackup[] {
    return [...this.stored.values()].map((b) => this.describe(b));
  }

  /** Bytes backup `id`'s download sends (which may differ from its listed size). */
  downloadSize(id: string): number {
    return this.require(id).size;
  }

  /** Changes the NMS time zone; null makes the settings endpoint fail with 500. */
  setTimezone(timezone: string | null): void {
    this.timezone = timezone;
  }

  /** The next `times` requests to `route` get `fault` (queued after faults already injected). */
  injectFault(route: UnmsRoute, fault: UnmsFault, times = 1): void {
    this.faults[route].push({ fault, remaining: times });
  }

  /** The whole content of a small backup (up to 64 MiB). */
  expectedBytes(id: string): Uint8Array {
    const backup = this.require(id);
    if (backup.size > EXPECTED_BYTES_LIMIT) {
      throw new RangeError(`FakeUnms.expectedBytes: backup ${id} has ${backup.size} bytes; use expectedSha256 for large ones`);
    }
    const out = new Uint8Array(backup.size);
    let offset = 0;
    for (const chunk of backupChunks(id, backup.size)) {
      out.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return out;
  }

  /** Hex SHA-256 of a backup's content, computed without holding it. */
  expectedSha256(id: string): string {
    const hash = createHash("sha256");
    for (const chunk of backupChunks(id, this.require(id).size)) hash.update(chunk);
    return hash.digest("hex");
  }

  /** Dropbox's content hash (SHA-256 of the SHA-256s of 4 MiB blocks), hex. */
  expectedContentHash(id: string): string {
    const overall = createHash("sha256");
    let block = createHash("sha256");
    let inBlock = 0;
    for (const chunk of backupChunks(id, this.require(id).size)) {
      block.update(chunk);
      inBlock += chunk.byteLength;
      if (inBlock === DROPBOX_BLOCK_BYTES) {
        overall.update(block.digest());
        block = createHash("sha256");
        inBlock = 0;
      }
    }
    if (inBlock > 0) overall.update(block.digest());
    return overall.digest("hex");
  }

  private require(id: string): StoredBackup {
    const backup = this.stored.get(id);
    if (!backup) throw new RangeError(`FakeUnms: no backup ${id}`);
    return backup;
  }

  private handle(route: UnmsRoute, request: Request, respond: (fault: UnmsFault | undefined) => Response): Response {
    this.requestCount += 1;
    this.requestCounts[route] += 1;
    if (request.headers.get("x-auth-token") !== this.apiToken) {
      // UNMS's 401 carries no message; only statusCode and error are required.
      return unmsError(401);
    }
    const fault = this.takeFault(route);
    if (fault?.type === "status") {
      const headers = fault.headers ?? {};
      return fault.body === undefined
        ? unmsError(fault.status, `Injected failure ${fault.status}`, headers)
        : HttpResponse.json(fault.body as never, { status: fault.status, headers });
    }
    if (fault?.type === "non-json") {
      return new HttpResponse("<html><body><h1>502 Bad Gateway</h1></body></html>", {
        status: 200,
        headers: { "content-type": "text/html" },
      });
    }
    return respond(fault);
  }

  private takeFault(route: UnmsRoute): UnmsFault | undefined {
    const queue = this.faults[route];
    const head = queue[0];
    if (!head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return head.fault;
  }

  private listResponse(cut: Cut | undefined): Response {
    // The swagger's UnmsBackup, field for field.
    const items: unknown[] = [...this.stored.values()].map((b) => ({
      id: b.id,
      state: b.state,
      createdAt: b.createdAt,
      size: b.listedSize,
      origin: b.origin,
      compatible: true,
      unmsVersion: FAKE_UNMS_VERSION,
    }));
    return jsonResponse([...items, ...this.extraItems], cut);
  }

  private settingsResponse(cut: Cut | undefined): Response {
    if (this.timezone === null) return unmsError(500, "Settings could not be loaded.");
    return jsonResponse({ timezone: this.timezone, hostname: "unms.example.test", language: "en" }, cut);
  }

  private downloadResponse(id: string, fault: UnmsFault | undefined, range: string | null): Response {
    const backup = this.stored.get(id);
    if (!backup) return unmsError(404, `Backup ${id} not found.`);
    if (fault?.type === "login-page") {
      const page = `<!DOCTYPE html><html><head><title>Sign in</title></head><body><form action="/login">${"<!-- -->".repeat(200)}</form></body></html>`;
      return new HttpResponse(page, { status: 200, headers: { "content-type": "text/html; charset=utf-8" } });
    }
    if (fault?.type === "empty-body") return new HttpResponse(null, { status: 200 });
    this.downloadRanges.push(range);
    const unannounced = fault?.type === "cut-short-unannounced";
    const cut: Cut | undefined = unannounced ? { type: "truncate-after", bytes: fault.bytes } : cutOf(fault);
    const count = (bytes: number) => (this.downloadBytesSent += bytes);
    const from = this.honourRange ? rangeStart(range) : undefined;
    if (from !== undefined && from > 0) {
      // RFC 9110 14.1.2: a first byte past the end cannot be satisfied.
      if (from >= backup.size) {
        return new HttpResponse(null, { status: 416, headers: { "content-range": `bytes */${backup.size}` } });
      }
      return new HttpResponse(chunkStream(chunksFrom(backupChunks(id, backup.size), from), cut, count), {
        status: 206,
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(backup.size - from),
          "content-range": `bytes ${from}-${backup.size - 1}/${backup.size}`,
          "content-disposition": `attachment; filename="${id}.unms"`,
          ...closeAfter(cut),
        },
      });
    }
    return new HttpResponse(chunkStream(backupChunks(id, backup.size), cut, count), {
      status: 200,
      headers: {
        "content-type": "application/octet-stream",
        ...(this.downloadContentLength && !unannounced ? { "content-length": String(backup.size) } : {}),
        "content-disposition": `attachment; filename="${id}.unms"`,
        ...closeAfter(cut),
      },
    });
  }
}

/**
 * A guid made from a readable label, the same for the same label: tests name backups "summer" or
 * "seed-0" and still get the guid ids real UNMS uses (only guid-named files are the tool's own).
 */
export function guid(label: string): string {
  const hex = createHash("sha256").update(label).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * msw hands a tee'd copy of every mocked response to its `response:mocked` listeners; unread, that
 * copy buffers the whole body (1 GiB for a 1 GiB backup). Call once after `setupServer()` when
 * streaming large bodies through msw; the loopback server does not need it.
 *
 * @example
 * ```ts
 * import { setupServer } from "msw/node";
 * import { discardMockedResponseCopies, FakeUnms } from "unms-dropbox-backup-sync/testing";
 *
 * const unms = new FakeUnms({ apiToken: "test-token" });
 * const server = setupServer(...unms.handlers);
 * discardMockedResponseCopies(server);
 * ```
 */
export function discardMockedResponseCopies(server: Pick<SetupServerApi, "events">): void {
  server.events.on("response:mocked", ({ response }) => {
    response.body?.cancel().catch(() => {});
  });
}

type Cut = Extract<UnmsFault, { type: "truncate-after" | "reset-after" }>;

function cutOf(fault: UnmsFault | undefined): Cut | undefined {
  return fault?.type === "truncate-after" || fault?.type === "reset-after" ? fault : undefined;
}

/** Over a real socket a short body only shows once the server closes the connection. */
function closeAfter(cut: Cut | undefined): Record<string, string> {
  return cut?.type === "truncate-after" ? { connection: "close" } : {};
}

function jsonResponse(value: unknown, cut: Cut | undefined): Response {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return new HttpResponse(chunkStream([bytes][Symbol.iterator](), cut), {
    status: 200,
    headers: { "content-type": "application/json", "content-length": String(bytes.byteLength), ...closeAfter(cut) },
  });
}

/** UNMS's error body: `{statusCode, error, message?}` (message is optional in its swagger). */
function unmsError(status: number, message?: string, headers: Record<string, string> = {}): Response {
  const error = REASONS[status] ?? "Error";
  return HttpResponse.json({ statusCode: status, error, ...(message === undefined ? {} : { message }) }, { status, headers });
}

/** The N of `bytes=N-` (the only form clients here send); undefined for anything else. */
function rangeStart(range: string | null): number | undefined {
  const match = range === null ? null : /^bytes=(\d+)-$/.exec(range.trim());
  return match ? Number(match[1]) : undefined;
}

/** `chunks` without their first `from` bytes. */
function* chunksFrom(chunks: Iterator<Uint8Array>, from: number): Generator<Uint8Array> {
  let skipped = 0;
  for (let next = chunks.next(); !next.done; next = chunks.next()) {
    const chunk = next.value;
    if (skipped + chunk.byteLength <= from) {
      skipped += chunk.byteLength;
      continue;
    }
    yield skipped >= from ? chunk : chunk.subarray(from - skipped);
    skipped = Math.max(skipped, from);
  }
}

/** A stream over chunks that can end early (`truncate-after`) or break (`reset-after`). */
function chunkStream(chunks: Iterator<Uint8Array>, cut?: Cut, onSent?: (bytes: number) => void): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (cut && sent >= cut.bytes) {
        if (cut.type === "truncate-after") controller.close();
        else controller.error(new Error(`fake UNMS reset the connection after ${sent} bytes`));
        return;
      }
      const next = chunks.next();
      if (next.done) {
        controller.close();
        return;
      }
      let chunk = next.value;
      if (cut && sent + chunk.byteLength > cut.bytes) chunk = chunk.subarray(0, cut.bytes - sent);
      sent += chunk.byteLength;
      onSent?.(chunk.byteLength);
      controller.enqueue(chunk);
    },
  });
}

/**
 * The content of backup `id`: a 64 KiB xorshift block seeded from the id, copied per chunk with
 * the chunk index stamped into its first 8 bytes, so reordered or repeated chunks change the hash.
 */
export function* backupChunks(id: string, size: number): Generator<Uint8Array> {
  const seed = fnv1a(id);
  const base = new Uint8Array(FAKE_CHUNK_BYTES);
  const words = new Uint32Array(base.buffer);
  let x = seed || 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let index = 0, offset = 0; offset < size; index++, offset += FAKE_CHUNK_BYTES) {
    const length = Math.min(FAKE_CHUNK_BYTES, size - offset);
    const chunk = base.slice(0, length);
    const stamp = new DataView(chunk.buffer, 0, Math.min(8, length));
    for (let b = 0; b < stamp.byteLength; b++) stamp.setUint8(b, ((b < 4 ? index : index ^ seed) >>> ((b % 4) * 8)) & 0xff);
    yield chunk;
  }
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
