/**
 * An in-memory Dropbox API v2 for tests, as msw handlers, faithful to /work/shared/docs/dropbox-api.md:
 * hosts, argument transport, exact error shapes (400 text, 401/409/429 JSON with `.tag`), content hash,
 * upload sessions, OAuth token endpoint. Serve it with msw `setupServer(...fake.handlers)` or on a real
 * port with `startLoopbackServer(fake.handlers)`.
 *
 * Handlers match on the path only (`*\/2/files/upload`) so both transports work.
 * Upload bodies are consumed as streams and hashed incrementally; file bytes are kept only up to
 * `keepBytesLimit`, so gigabyte uploads cost no memory (their bytes cannot be downloaded back).
 */
import { Buffer } from "node:buffer";
import { randomBytes, createHash } from "node:crypto";
import { http, HttpResponse } from "msw";
import type { RequestHandler } from "msw";
import { CONTENT_HASH_BLOCK_SIZE, RefContentHasher } from "./content-hash-ref.ts";
import { concatBytes } from "../../adapters/bytes.ts";

// ---------------------------------------------------------------------------------------------------
// Public types and documented bodies

export type Fault =
  | { type: "status"; status: number; body?: unknown; headers?: Record<string, string> }
  | { type: "network-error" }
  | { type: "apply-then-network-error" }
  | { type: "expired-token" }
  | { type: "corrupt-hash" }
  /** files/download: one byte in the middle of the body flipped; headers (size, content_hash) as stored. */
  | { type: "corrupt-download" }
  /** files/download: the body ends cleanly after half of the bytes (no Content-Length), as a cut proxy would. */
  | { type: "truncate-download" };

/**
 * Options of FakeDropbox.
 *
 * @example
 * ```ts
 * import { FakeDropbox, type FakeDropboxOptions } from "unms-dropbox-backup-sync/testing";
 *
 * const fake = new FakeDropbox({ listLimitMax: 2 } satisfies FakeDropboxOptions);
 * ```
 */
export interface FakeDropboxOptions {
  appKey?: string;
  appSecret?: string;
  /** Lifetime of short-lived access tokens (default 14400, as Dropbox). */
  accessTokenTtlSeconds?: number;
  /** Upper bound for list_folder page sizes, whatever `limit` asks (forces paging in tests). */
  listLimitMax?: number;
  /** Milliseconds since the epoch; inject to control token expiry and timestamps. */
  now?: () => number;
  /** Bytes kept per file (and per session) for download/readFile; larger files keep only size and hash. Default 16 MiB. */
  keepBytesLimit?: number;
  /** Request body limit of upload endpoints (default 150 MiB, as Dropbox). */
  maxRequestBodyBytes?: number;
  /** Total bytes the account may hold; writes beyond fail with insufficient_space. Default unlimited. */
  quotaBytes?: number;
}

export interface DropboxErrorBody {
  error_summary: string;
  error: Record<string, unknown>;
}

const MAX_REQUEST_BODY_BYTES = 150 * 1024 * 1024;
const DEFAULT_KEEP_BYTES_LIMIT = 16 * 1024 * 1024;
const SESSION_LIFETIME_MS = 7 * 24 * 3600 * 1000;
const CODE_LIFETIME_MS = 10 * 60 * 1000;
const LIST_LIMIT_MAX = 2000;
const GRANTED_SCOPE = "account_info.read files.content.read files.content.write files.metadata.read files.metadata.write";

/** `{error_summary, error}` with the summary built from the tags, as Dropbox does (trailing dots vary in reality). */
function errorBody(error: Record<string, unknown>, summaryTags?: string[]): DropboxErrorBody {
  const tags = summaryTags ?? tagPath(error);
  return { error_summary: `${tags.join("/")}/..`, error };
}

function rateLimitedBody(
  reason: "too_many_requests" | "too_many_write_operations" = "too_many_requests",
  retryAfterSeconds?: number,
): DropboxErrorBody {
  const error: Record<string, unknown> = { reason: { ".tag": reason } };
  if (retryAfterSeconds !== undefined) error.retry_after = retryAfterSeconds;
  return { error_summary: `${reason}/.`, error };
}

/** A 429 with `Retry-After` and the RateLimitError body, ready for `injectFault`. */
export function rateLimitedFault(
  reason: "too_many_requests" | "too_many_write_operations" = "too_many_requests",
  retryAfterSeconds = 1,
): Fault {
  return {
    type: "status",
    status: 429,
    body: rateLimitedBody(reason, retryAfterSeconds),
    headers: { "Retry-After": String(retryAfterSeconds) },
  };
}

export function serverErrorFault(status: 500 | 502 | 503 | 504 = 503): Fault {
  return { type: "status", status, body: "Service temporarily unavailable. Please try again later." };
}

/** A 409 with the given endpoint error, e.g. `endpointErrorFault({ ".tag": "too_many_write_operations" })` on finish. */
export function endpointErrorFault(error: Record<string, unknown>): Fault {
  return { type: "status", status: 409, body: errorBody(error) };
}

export const invalidAccessTokenBody = (): DropboxErrorBody => ({
  error_summary: "invalid_access_token/..",
  error: { ".tag": "invalid_access_token" },
});
const expiredAccessTokenBody = (): DropboxErrorBody => ({
  error_summary: "expired_access_token/.",
  error: { ".tag": "expired_access_token" },
});
const pathNotFoundBody = (): DropboxErrorBody => errorBody({ ".tag": "path", path: { ".tag": "not_found" } });
export const incorrectOffsetBody = (correctOffset: number): DropboxErrorBody => ({
  error_summary: "incorrect_offset/.",
  error: { ".tag": "incorrect_offset", correct_offset: correctOffset },
});
export const finishIncorrectOffsetBody = (correctOffset: number): DropboxErrorBody =>
  errorBody(
    { ".tag": "lookup_failed", lookup_failed: { ".tag": "incorrect_offset", correct_offset: correctOffset } },
    ["lookup_failed", "incorrect_offset"],
  );
const sessionClosedBody = (): DropboxErrorBody => errorBody({ ".tag": "closed" });
const sessionNotFoundBody = (): DropboxErrorBody => errorBody({ ".tag": "not_found" });
const contentHashMismatchBody = (): DropboxErrorBody => errorBody({ ".tag": "content_hash_mismatch" });
const payloadTooLargeBody = (): DropboxErrorBody => errorBody({ ".tag": "payload_too_large" });
/** files/upload: UploadWriteFailed is a struct, so `reason` and `upload_session_id` are inlined. */
const uploadWriteFailedBody = (writeError: Record<string, unknown>, uploadSessionId: string): DropboxErrorBody =>
  errorBody({ ".tag": "path", reason: writeError, upload_session_id: uploadSessionId }, ["path", ...tagPath(writeError)]);
/** upload_session/finish and create_folder_v2: WriteError is a union, so it nests under `path`. */
export const pathWriteErrorBody = (writeError: Record<string, unknown>): DropboxErrorBody =>
  errorBody({ ".tag": "path", path: writeError });
const conflictError = (what: "file" | "folder" | "file_ancestor"): Record<string, unknown> => ({
  ".tag": "conflict",
  conflict: { ".tag": what },
});
const insufficientSpaceError = (): Record<string, unknown> => ({ ".tag": "insufficient_space" });

/** Dropbox's header-safe JSON: 0x7F and every non-ASCII UTF-16 unit as a lowercase \uXXXX escape. */
export function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

function tagPath(error: Record<string, unknown>): string[] {
  const tag = error[".tag"];
  if (typeof tag !== "string") return [];
  const nested = error[tag];
  if (nested && typeof nested === "object" && !Array.isArray(nested)) {
    return [tag, ...tagPath(nested as Record<string, unknown>)];
  }
  return [tag];
}

// ---------------------------------------------------------------------------------------------------
// State

interface FileEntry {
  kind: "file";
  pathDisplay: string;
  id: string;
  rev: string;
  size: number;
  contentHash: string;
  clientModified: string;
  serverModified: string;
  /** Undefined when the file was larger than keepBytesLimit. */
  bytes: Uint8Array | undefined;
}

interface FolderEntry {
  kind: "folder";
  pathDisplay: string;
  id: string;
}

type Entry = FileEntry | FolderEntry;

interface Session {
  hasher: RefContentHasher;
  closed: boolean;
  createdAt: number;
  /** Null once the session outgrew keepBytesLimit. */
  chunks: Uint8Array[] | null;
  /** A concurrent session (`session_type: concurrent`): its pieces by offset, in whatever order they came. */
  parts?: Map<number, Part>;
}

/** One append of a concurrent session: the SHA-256 of each 4 MiB block it holds (all whole but the last). */
interface Part {
  size: number;
  blockDigests: Buffer[];
  bytes: Uint8Array | undefined;
}

interface Cursor {
  folderLower: string;
  recursive: boolean;
  pageSize: number;
  pending: Record<string, unknown>[];
  /** What the caller has been told so far: path_lower → rev (files) or "folder". */
  seen: Map<string, string>;
  /** Invalidated by resetCursors(): continue answers 409 reset. */
  reset: boolean;
}

interface AccessTokenRecord {
  expiresAt: number | null;
  revoked: boolean;
}

interface CodeRecord {
  codeChallenge: string | undefined;
  clientId: string | undefined;
  redirectUri: string | undefined;
  expiresAt: number;
  used: boolean;
}

interface RefreshTokenRecord {
  revoked: boolean;
  /** Issued through PKCE: refreshing needs no client secret. */
  pkce: boolean;
}

/** Thrown inside a route to answer with this response. */
class Answer {
  constructor(readonly response: Response) {}
}

type RouteStyle = "rpc" | "upload" | "download";

interface RouteContext {
  route: string;
  args: Record<string, unknown>;
  request: Request;
  corruptHash: boolean;
}

interface RouteDef {
  style: RouteStyle;
  run: (ctx: RouteContext) => Promise<Response>;
}

// ---------------------------------------------------------------------------------------------------

/**
 * An in-memory Dropbox API v2 (files, upload sessions, content hash, OAuth) as msw handlers.
 *
 * @example
 * ```ts
 * import { createBackupSync, type UnmsConnection } from "unms-dropbox-backup-sync";
 * import { FakeDropbox } from "unms-dropbox-backup-sync/testing";
 *
 * declare const unms: UnmsConnection;
 *
 * const dropbox = new FakeDropbox();
 * const refreshToken = dropbox.issueRefreshToken();
 * createBackupSync({ unms, dropbox: { appKey: dropbox.appKey, appSecret: dropbox.appSecret, refreshToken } });
 * ```
 */
export class FakeDropbox {
  readonly appKey: string;
  readonly appSecret: string;
  readonly handlers: RequestHandler[];
  readonly requests: { route: string; status: number }[] = [];
  readonly tokenRequests: { grantType: string; secretsInQuery: boolean; basicAuth: boolean }[] = [];
  /** Body bytes received by the upload routes (upload, upload_session/*), accepted or refused. */
  uploadBytesReceived = 0;

  private readonly accessTokenTtlSeconds: number;
  private readonly listLimitMax: number;
  private readonly now: () => number;
  private readonly keepBytesLimit: number;
  private readonly maxRequestBodyBytes: number;
  private quotaBytes: number | undefined;
  private endlessListing: "same-cursor" | "fresh-cursor" | undefined;

  private readonly entries = new Map<string, Entry>();
  private readonly deleted = new Map<string, { name: string; pathDisplay: string }>();
  private readonly sessions = new Map<string, Session>();
  private repeatedPieces = 0;
  /** delete_batch jobs: their entries' results, and how many checks still answer in_progress. */
  private readonly deleteJobs = new Map<string, { entries: Record<string, unknown>[]; checksInProgress: number }>();
  private readonly cursors = new Map<string, Cursor>();
  private readonly faults = new Map<string, Fault[]>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();
  private readonly codes = new Map<string, CodeRecord>();
  private readonly issued: string[] = [];
  private readonly accountId = `dbid:${randomToken(30)}`;
  private readonly uid = String(100000 + (randomBytes(4).readUInt32BE(0) % 900000000));

  constructor(options: FakeDropboxOptions = {}) {
    this.appKey = options.appKey ?? randomToken(15).toLowerCase();
    this.appSecret = options.appSecret ?? randomToken(15).toLowerCase();
    this.issued.push(this.appSecret);
    this.accessTokenTtlSeconds = options.accessTokenTtlSeconds ?? 14400;
    this.listLimitMax = options.listLimitMax ?? LIST_LIMIT_MAX;
    this.now = options.now ?? Date.now;
    this.keepBytesLimit = options.keepBytesLimit ?? DEFAULT_KEEP_BYTES_LIMIT;
    this.maxRequestBodyBytes = options.maxRequestBodyBytes ?? MAX_REQUEST_BODY_BYTES;
    this.quotaBytes = options.quotaBytes;

    // Each route once, under its endpoint style (where its arguments travel, which host serves it).
    const routesByStyle: Record<RouteStyle, Record<string, RouteDef["run"]>> = {
      rpc: {
        "files/list_folder": (c) => this.listFolder(c),
        "files/list_folder/continue": (c) => this.listFolderContinue(c),
        "files/get_metadata": (c) => this.getMetadata(c),
        "files/delete_v2": (c) => this.deleteV2(c),
        "files/delete_batch": (c) => this.deleteBatch(c),
        "files/delete_batch/check": (c) => this.deleteBatchCheck(c),
        "files/create_folder_v2": (c) => this.createFolderV2(c),
      },
      upload: {
        "files/upload": (c) => this.upload(c),
        "files/upload_session/start": (c) => this.sessionStart(c),
        "files/upload_session/append_v2": (c) => this.sessionAppend(c),
        "files/upload_session/finish": (c) => this.sessionFinish(c),
      },
      download: {
        "files/download": (c) => this.download(c),
      },
    };
    const handlers: RequestHandler[] = [];
    for (const [style, routes] of Object.entries(routesByStyle) as [RouteStyle, Record<string, RouteDef["run"]>][]) {
      for (const [route, run] of Object.entries(routes)) {
        const def: RouteDef = { style, run };
        handlers.push(http.post(`*/2/${route}`, ({ request }) => this.serveApi(route, def, request)));
        // Download-style endpoints also take GET (arguments in the query string).
        if (style === "download") handlers.push(http.get(`*/2/${route}`, ({ request }) => this.serveApi(route, def, request)));
      }
    }
    handlers.push(http.post("*/oauth2/token", ({ request }) => this.serveToken(request)));
    this.handlers = handlers;
  }

  // ------------------------------------------------------------------------------------------------
  // Test helpers

  issueAuthorizationCode(options: { codeChallenge?: string; clientId?: string; redirectUri?: string } = {}): string {
    const code = randomToken(43);
    this.codes.set(code, {
      codeChallenge: options.codeChallenge,
      clientId: options.clientId,
      redirectUri: options.redirectUri,
      expiresAt: this.now() + CODE_LIFETIME_MS,
      used: false,
    });
    this.issued.push(code);
    return code;
  }

  issueRefreshToken(options: { pkce?: boolean } = {}): string {
    const token = randomToken(64);
    this.refreshTokens.set(token, { revoked: false, pkce: options.pkce ?? false });
    this.issued.push(token);
    return token;
  }

  /** A short-lived token ("sl.u.…") valid for accessTokenTtlSeconds. */
  issueAccessToken(): string {
    const token = `sl.u.${randomToken(140)}`;
    this.accessTokens.set(token, { expiresAt: this.now() + this.accessTokenTtlSeconds * 1000, revoked: false });
    this.issued.push(token);
    return token;
  }

  /** A legacy long-lived token: never expires unless revoked. */
  issueLongLivedToken(): string {
    const token = randomToken(64);
    this.accessTokens.set(token, { expiresAt: null, revoked: false });
    this.issued.push(token);
    return token;
  }

  revokeRefreshToken(token: string): void {
    const record = this.refreshTokens.get(token);
    if (record) record.revoked = true;
  }

  revokeAccessToken(token: string): void {
    const record = this.accessTokens.get(token);
    if (record) record.revoked = true;
  }

  /** Every short-lived access token issued so far is now expired. */
  expireAccessTokens(): void {
    const past = this.now() - 1;
    for (const record of this.accessTokens.values()) {
      if (record.expiresAt !== null) record.expiresAt = past;
    }
  }

  /** Every code and token ever issued, plus the app secret: grep test output for these. */
  secretsIssued(): string[] {
    return [...this.issued];
  }

  putFile(path: string, bytes: Uint8Array | string, options: { clientModified?: string } = {}): void {
    const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
    const hasher = new RefContentHasher().update(data);
    const result = this.commitFile({
      path,
      mode: { kind: "overwrite" },
      autorename: false,
      strictConflict: false,
      clientModified: options.clientModified,
      hasher,
      bytes: data.length <= this.keepBytesLimit ? data.slice() : undefined,
      ignoreQuota: true,
    });
    if ("error" in result) throw new Error(`FakeDropbox.putFile(${path}) failed: ${JSON.stringify(result.error)}`);
  }

  createFolder(path: string): void {
    const result = this.makeFolder(path, false);
    if ("error" in result) throw new Error(`FakeDropbox.createFolder(${path}) failed: ${JSON.stringify(result.error)}`);
  }

  listFiles(): { path: string; size: number; contentHash: string }[] {
    return [...this.entries.entries()]
      .filter((pair): pair is [string, FileEntry] => pair[1].kind === "file")
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, file]) => ({ path: file.pathDisplay, size: file.size, contentHash: file.contentHash }));
  }

  readFile(path: string): Uint8Array | undefined {
    const entry = this.entries.get(path.toLowerCase());
    return entry?.kind === "file" && entry.bytes ? entry.bytes.slice() : undefined;
  }

  hasFile(path: string): boolean {
    return this.entries.get(path.toLowerCase())?.kind === "file";
  }

  hasFolder(path: string): boolean {
    return this.entries.get(path.toLowerCase())?.kind === "folder";
  }

  /** FileMetadata (without ".tag") as the API would report it, or undefined. */
  fileMetadata(path: string): Record<string, unknown> | undefined {
    const entry = this.entries.get(path.toLowerCase());
    return entry?.kind === "file" ? this.fileMetadataOf(entry, false) : undefined;
  }

  /** Upload sessions started and not yet finished. */
  openSessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Pieces of concurrent sessions that arrived at an offset the session already held. What Dropbox
   * does with one is not documented (the fake keeps the later), so a client must never send one:
   * tests assert this stays 0.
   */
  repeatedPieceCount(): number {
    return this.repeatedPieces;
  }

  requestCount(route?: string): number {
    return route === undefined ? this.requests.length : this.requests.filter((r) => r.route === route).length;
  }

  /** The next `times` requests to `route` (e.g. "files/upload_session/append_v2", "oauth2/token") get `fault`. */
  injectFault(route: string, fault: Fault, times = 1): void {
    const key = route.replace(/^\/?2\//, "").replace(/^\//, "");
    const queue = this.faults.get(key) ?? [];
    for (let i = 0; i < times; i++) queue.push(fault);
    this.faults.set(key, queue);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Writes that would take the account beyond `bytes` in total fail with insufficient_space. */
  failWhenFull(bytes: number): void {
    this.quotaBytes = bytes;
  }

  usedBytes(): number {
    let used = 0;
    for (const entry of this.entries.values()) if (entry.kind === "file") used += entry.size;
    return used;
  }

  /**
   * Plays a listing that never ends: every page says `has_more`, with the cursor it was given
   * (`same-cursor`) or a new one each time (`fresh-cursor`); undefined ends it again.
   */
  makeListingEndless(mode: "same-cursor" | "fresh-cursor" | undefined): void {
    this.endlessListing = mode;
  }

  /** Invalidates every list_folder cursor: continue answers 409 reset. */
  resetCursors(): void {
    for (const cursor of this.cursors.values()) cursor.reset = true;
  }

  // ------------------------------------------------------------------------------------------------
  // Dispatch

  private async serveApi(route: string, def: RouteDef, request: Request): Promise<Response> {
    let response: Response;
    try {
      response = await this.dispatch(route, def, request);
    } catch (error) {
      if (!(error instanceof Answer)) throw error;
      response = error.response;
    }
    // An answer given before the body was read (a wrong offset, a closed session) still cost its transfer.
    if (def.style === "upload" && request.body && !request.bodyUsed) await this.countUnreadBody(request.body);
    this.requests.push({ route, status: response.type === "error" ? 0 : response.status });
    return response;
  }

  private async countUnreadBody(body: ReadableStream<Uint8Array>): Promise<void> {
    try {
      for await (const piece of body as unknown as AsyncIterable<Uint8Array>) this.uploadBytesReceived += piece.length;
    } catch {
      // The client went away; what arrived is counted.
    }
  }

  private async dispatch(route: string, def: RouteDef, request: Request): Promise<Response> {
    const fault = this.takeFault(route);
    if (fault?.type === "network-error") return HttpResponse.error();
    if (fault?.type === "status") return faultResponse(fault);
    if (fault?.type === "expired-token") return jsonResponse(401, expiredAccessTokenBody());

    const url = new URL(request.url);
    const expectedHost = def.style === "rpc" ? "api.dropboxapi.com" : "content.dropboxapi.com";
    if (url.hostname.endsWith("dropboxapi.com") && url.hostname !== expectedHost) {
      throw badInput(route, `This endpoint is served by ${expectedHost}, not ${url.hostname}.`);
    }

    this.authorize(route, request, url);
    const args = await this.readArgs(route, def.style, request, url);
    const response = await def.run({ route, args, request, corruptHash: fault?.type === "corrupt-hash" });
    if ((fault?.type === "corrupt-download" || fault?.type === "truncate-download") && response.ok) return damagedDownload(response, fault.type);
    if (fault?.type === "apply-then-network-error") {
      void response.body?.cancel().catch(() => undefined);
      return HttpResponse.error();
    }
    return response;
  }

  private takeFault(route: string): Fault | undefined {
    const queue = this.faults.get(route);
    const fault = queue?.shift();
    if (queue && queue.length === 0) this.faults.delete(route);
    return fault;
  }

  private authorize(route: string, request: Request, url: URL): void {
    const header = request.headers.get("authorization") ?? url.searchParams.get("authorization");
    if (header === null) {
      throw badInput(route, `Must provide HTTP header "Authorization" or URL parameter "authorization".`);
    }
    const match = /^Bearer (.*)$/.exec(header);
    if (!match || match[1] === "") {
      throw badInput(
        route,
        `Invalid authorization value in HTTP header "Authorization": "${header}".  Expecting "Bearer <oauth2-access-token>".`,
      );
    }
    const token = match[1]!;
    if (!/^[A-Za-z0-9._~+/=-]+$/.test(token)) {
      throw new Answer(textResponse(400, "The given OAuth 2 access token is malformed."));
    }
    const record = this.accessTokens.get(token);
    if (!record || record.revoked) throw new Answer(jsonResponse(401, invalidAccessTokenBody()));
    if (record.expiresAt !== null && this.now() >= record.expiresAt) {
      throw new Answer(jsonResponse(401, expiredAccessTokenBody()));
    }
  }

  private async readArgs(route: string, style: RouteStyle, request: Request, url: URL): Promise<Record<string, unknown>> {
    const contentType = request.headers.get("content-type");
    if (style === "rpc") {
      if (contentType !== null && !isRpcContentType(contentType)) {
        throw badInput(
          route,
          `Bad HTTP "Content-Type" header: "${contentType}".  Expecting one of "application/json", "application/json; charset=utf-8", "text/plain; charset=dropbox-cors-hack".`,
        );
      }
      const text = await request.text();
      return parseArgs(route, "request body", text);
    }
    if (style === "upload" && !isUploadContentType(contentType)) {
      throw badInput(
        route,
        `Bad HTTP "Content-Type" header: "${contentType ?? ""}".  Expecting one of "application/octet-stream", "text/plain; charset=dropbox-cors-hack".`,
      );
    }
    const header = request.headers.get("dropbox-api-arg");
    if (header !== null) {
      // Header values must be ASCII; non-ASCII has to travel as \uXXXX escapes.
      if (/[^\u0020-\u007e]/.test(header)) {
        throw badInput(route, `HTTP header "Dropbox-API-Arg": could not decode input as JSON`);
      }
      return parseArgs(route, `HTTP header "Dropbox-API-Arg"`, header);
    }
    const query = url.searchParams.get("arg");
    if (query !== null) return parseArgs(route, `URL parameter "arg"`, query);
    throw badInput(route, `Must provide HTTP header "Dropbox-API-Arg" or URL parameter "arg".`);
  }

  // ------------------------------------------------------------------------------------------------
  // RPC routes

  private async listFolder({ route, args }: RouteContext): Promise<Response> {
    const where = "request body";
    const path = stringField(route, where, args, "path");
    if (path === "/") {
      throw badInput(route, `${where}: path: Specify the root folder as an empty string rather than as "/".`);
    }
    if (!/^((\/[\s\S]*)?|id:.*|ns:[0-9]+(\/[\s\S]*)?)$/.test(path)) {
      throw badInput(route, `${where}: path: '${path}' did not match pattern '(/(.|[\\r\\n])*)?|id:.*|(ns:[0-9]+(/(.|[\\r\\n])*)?)'`);
    }
    const recursive = boolField(route, where, args, "recursive", false);
    const limit = optionalIntField(route, where, args, "limit");
    if (limit !== undefined && (limit < 1 || limit > LIST_LIMIT_MAX)) {
      throw badInput(route, `${where}: limit: ${limit} is not within range [1, ${LIST_LIMIT_MAX}]`);
    }
    const folderLower = this.resolveFolder(path);
    const listing = this.listing(folderLower, recursive);
    const cursor: Cursor = {
      folderLower,
      recursive,
      pageSize: Math.min(limit ?? LIST_LIMIT_MAX, this.listLimitMax),
      pending: listing.map(([, entry]) => this.metadataOf(entry)),
      seen: new Map(listing.map(([lower, entry]) => [lower, entry.kind === "file" ? entry.rev : "folder"])),
      reset: false,
    };
    return this.nextPage(cursor);
  }

  private async listFolderContinue({ route, args }: RouteContext): Promise<Response> {
    const token = stringField(route, "request body", args, "cursor");
    const cursor = this.cursors.get(token);
    if (!cursor) throw badInput(route, `Invalid "cursor" parameter: the cursor was not issued by this server.`);
    if (cursor.reset) throw new Answer(jsonResponse(409, errorBody({ ".tag": "reset" })));
    if (this.endlessListing === "same-cursor") return jsonResponse(200, { entries: [], cursor: token, has_more: true });
    if (this.endlessListing === "fresh-cursor") return this.nextPage({ ...cursor, pending: [] });
    if (cursor.pending.length === 0) {
      if (cursor.folderLower !== "" && this.entries.get(cursor.folderLower)?.kind !== "folder") {
        throw new Answer(jsonResponse(409, pathNotFoundBody()));
      }
      cursor.pending = this.changesSince(cursor);
    }
    return this.nextPage(cursor);
  }

  private nextPage(cursor: Cursor): Response {
    const entries = cursor.pending.slice(0, cursor.pageSize);
    const next: Cursor = { ...cursor, pending: cursor.pending.slice(cursor.pageSize) };
    const token = randomToken(120);
    this.cursors.set(token, next);
    return jsonResponse(200, { entries, cursor: token, has_more: next.pending.length > 0 || this.endlessListing !== undefined });
  }

  /** Entries changed since the cursor's snapshot (deletions as DeletedMetadata); updates the snapshot. */
  private changesSince(cursor: Cursor): Record<string, unknown>[] {
    const now = new Map(this.listing(cursor.folderLower, cursor.recursive));
    const changes: Record<string, unknown>[] = [];
    for (const [lower, entry] of now) {
      const version = entry.kind === "file" ? entry.rev : "folder";
      if (cursor.seen.get(lower) !== version) changes.push(this.metadataOf(entry));
    }
    for (const lower of cursor.seen.keys()) {
      if (!now.has(lower)) {
        const gone = this.deleted.get(lower);
        const display = gone?.pathDisplay ?? lower;
        changes.push({ ".tag": "deleted", name: baseName(display), path_lower: lower, path_display: display });
      }
    }
    cursor.seen = new Map([...now].map(([lower, entry]) => [lower, entry.kind === "file" ? entry.rev : "folder"]));
    return changes;
  }

  private async getMetadata({ route, args }: RouteContext): Promise<Response> {
    const where = "request body";
    const path = stringField(route, where, args, "path");
    if (path === "" || path === "/") throw badInput(route, `${where}: path: The root folder is unsupported.`);
    this.checkPathPattern(route, where, path);
    const lower = this.lookupLower(path);
    const entry = lower === undefined ? undefined : this.entries.get(lower);
    if (entry) return jsonResponse(200, this.metadataOf(entry));
    const gone = this.deleted.get(path.toLowerCase());
    if (gone && boolField(route, where, args, "include_deleted", false)) {
      return jsonResponse(200, { ".tag": "deleted", name: gone.name, path_lower: path.toLowerCase(), path_display: gone.pathDisplay });
    }
    throw new Answer(jsonResponse(409, pathNotFoundBody()));
  }

  private async deleteV2({ route, args }: RouteContext): Promise<Response> {
    const where = "request body";
    const path = stringField(route, where, args, "path");
    this.checkPathPattern(route, where, path);
    const result = this.deletePath(path, args.parent_rev);
    if ("error" in result) throw new Answer(jsonResponse(409, errorBody(result.error)));
    return jsonResponse(200, { metadata: result.metadata });
  }

  /** Deletes a file or folder (with everything under it); DeleteError on failure. */
  private deletePath(path: string, parentRev: unknown): { metadata: Record<string, unknown> } | { error: Record<string, unknown> } {
    const lower = this.lookupLower(path);
    const entry = lower === undefined ? undefined : this.entries.get(lower);
    if (lower === undefined || !entry) return { error: { ".tag": "path_lookup", path_lookup: { ".tag": "not_found" } } };
    if (typeof parentRev === "string" && entry.kind === "file" && entry.rev !== parentRev) {
      return { error: { ".tag": "path_write", path_write: conflictError("file") } };
    }
    const metadata = this.metadataOf(entry);
    // A file is one entry; only a folder takes what lies below it (scanning every entry for each
    // file made 2,500 deletions cost a second).
    const keys = entry.kind === "file" ? [lower] : [...this.entries.keys()];
    for (const key of keys) {
      if (key === lower || key.startsWith(lower + "/")) {
        const gone = this.entries.get(key)!;
        this.deleted.set(key, { name: baseName(gone.pathDisplay), pathDisplay: gone.pathDisplay });
        this.entries.delete(key);
      }
    }
    return { metadata };
  }

  /**
   * files/delete_batch: at most 1000 DeleteArg entries; always answered with an async job id here
   * (Dropbox may also answer `complete` at once), whose first check says in_progress.
   */
  private async deleteBatch({ route, args }: RouteContext): Promise<Response> {
    const where = "request body";
    const entries = args.entries;
    if (!Array.isArray(entries)) throw badInput(route, `${where}: missing required field 'entries'`);
    if (entries.length > 1000) throw badInput(route, `${where}: entries: list has more than 1000 items`);
    const results = entries.map((entry, index) => {
      if (!isRecord(entry)) throw badInput(route, `${where}: entries: item ${index}: expected object`);
      const path = stringField(route, `${where}: entries: item ${index}`, entry, "path");
      this.checkPathPattern(route, `${where}: entries: item ${index}`, path);
      const result = this.deletePath(path, entry.parent_rev);
      return "error" in result ? { ".tag": "failure", failure: result.error } : { ".tag": "success", metadata: result.metadata };
    });
    const id = `dbjid:${randomToken(40)}`;
    this.deleteJobs.set(id, { entries: results, checksInProgress: 1 });
    return jsonResponse(200, { ".tag": "async_job_id", async_job_id: id });
  }

  private async deleteBatchCheck({ route, args }: RouteContext): Promise<Response> {
    const id = stringField(route, "request body", args, "async_job_id");
    const job = this.deleteJobs.get(id);
    if (!job) throw new Answer(jsonResponse(409, errorBody({ ".tag": "invalid_async_job_id" })));
    if (job.checksInProgress > 0) {
      job.checksInProgress -= 1;
      return jsonResponse(200, { ".tag": "in_progress" });
    }
    return jsonResponse(200, { ".tag": "complete", entries: job.entries });
  }

  private async createFolderV2({ route, args }: RouteContext): Promise<Response> {
    const where = "request body";
    const path = stringField(route, where, args, "path");
    this.checkWritePath(route, where, path);
    const result = this.makeFolder(path, boolField(route, where, args, "autorename", false));
    if ("error" in result) throw new Answer(jsonResponse(409, pathWriteErrorBody(result.error)));
    return jsonResponse(200, { metadata: { name: baseName(result.folder.pathDisplay), ...this.folderFields(result.folder) } });
  }

  // ------------------------------------------------------------------------------------------------
  // Content routes

  private async upload({ route, args, request, corruptHash }: RouteContext): Promise<Response> {
    const where = `HTTP header "Dropbox-API-Arg"`;
    const commit = this.parseCommitInfo(route, where, args);
    const expectedHash = optionalStringField(route, where, args, "content_hash");
    const body = await this.consumeBody(request, new RefContentHasher(), true, expectedHash !== undefined);
    if (body === "too-large") throw new Answer(jsonResponse(409, payloadTooLargeBody()));
    if (expectedHash !== undefined && body.requestHash !== expectedHash) {
      throw new Answer(jsonResponse(409, contentHashMismatchBody()));
    }
    const result = this.commitFile({ ...commit, hasher: body.hasher, bytes: body.bytes, ignoreQuota: false });
    if ("error" in result) {
      throw new Answer(jsonResponse(409, uploadWriteFailedBody(result.error, sessionId())));
    }
    return jsonResponse(200, this.reportedFile(result.file, corruptHash));
  }

  private async sessionStart({ route, args, request }: RouteContext): Promise<Response> {
    const where = `HTTP header "Dropbox-API-Arg"`;
    const close = boolField(route, where, args, "close", false);
    const sessionType = args.session_type;
    const typeTag = typeof sessionType === "string" ? sessionType : (sessionType as { ".tag"?: string } | undefined)?.[".tag"];
    if (typeTag !== undefined && typeTag !== "sequential" && typeTag !== "concurrent") {
      throw badInput(route, `${where}: session_type: unknown union tag '${typeTag}'.`);
    }
    const expectedHash = optionalStringField(route, where, args, "content_hash");
    if (typeTag === "concurrent") return this.concurrentSessionStart(route, request, close);
    const body = await this.consumeBody(request, new RefContentHasher(), true, expectedHash !== undefined);
    if (body === "too-large") throw new Answer(jsonResponse(409, payloadTooLargeBody()));
    if (expectedHash !== undefined && body.requestHash !== expectedHash) {
      throw new Answer(jsonResponse(409, contentHashMismatchBody()));
    }
    const id = sessionId();
    this.sessions.set(id, {
      hasher: body.hasher,
      closed: close,
      createdAt: this.now(),
      chunks: body.bytes ? [body.bytes] : null,
    });
    return jsonResponse(200, { session_id: id });
  }

  private async sessionAppend({ route, args, request }: RouteContext): Promise<Response> {
    const where = `HTTP header "Dropbox-API-Arg"`;
    const cursor = this.parseCursor(route, where, args);
    const close = boolField(route, where, args, "close", false);
    const expectedHash = optionalStringField(route, where, args, "content_hash");
    const session = this.liveSession(cursor.sessionId);
    if (!session) throw new Answer(jsonResponse(409, sessionNotFoundBody()));
    // Checked before the offset: a closed session accepts nothing, whatever offset is claimed.
    if (session.closed) throw new Answer(jsonResponse(409, sessionClosedBody()));
    if (session.parts) return this.concurrentAppend(session, cursor.offset, close, request);
    if (cursor.offset !== session.hasher.size) {
      throw new Answer(jsonResponse(409, incorrectOffsetBody(session.hasher.size)));
    }
    const body = await this.consumeBody(request, session.hasher.fork(), session.chunks !== null, expectedHash !== undefined);
    if (body === "too-large") throw new Answer(jsonResponse(409, payloadTooLargeBody()));
    if (expectedHash !== undefined && body.requestHash !== expectedHash) {
      throw new Answer(jsonResponse(409, contentHashMismatchBody()));
    }
    this.applyToSession(session, body);
    if (close) session.closed = true;
    return jsonResponse(200, null);
  }

  private async sessionFinish({ route, args, request, corruptHash }: RouteContext): Promise<Response> {
    const where = `HTTP header "Dropbox-API-Arg"`;
    const cursor = this.parseCursor(route, where, args);
    const commitArgs = args.commit;
    if (!isRecord(commitArgs)) throw badInput(route, `${where}: missing required field 'commit'`);
    const commit = this.parseCommitInfo(route, `${where}: commit`, commitArgs);
    const expectedHash = optionalStringField(route, where, args, "content_hash");
    const session = this.liveSession(cursor.sessionId);
    if (!session) {
      throw new Answer(jsonResponse(409, errorBody({ ".tag": "lookup_failed", lookup_failed: { ".tag": "not_found" } })));
    }
    if (session.parts) return this.concurrentFinish(session, cursor, commit, request, corruptHash);
    if (cursor.offset !== session.hasher.size) {
      throw new Answer(jsonResponse(409, finishIncorrectOffsetBody(session.hasher.size)));
    }
    const body = await this.consumeBody(request, session.hasher.fork(), session.chunks !== null, expectedHash !== undefined);
    if (body === "too-large") throw new Answer(jsonResponse(409, payloadTooLargeBody()));
    if (session.closed && body.size > 0) {
      throw new Answer(jsonResponse(409, errorBody({ ".tag": "lookup_failed", lookup_failed: { ".tag": "closed" } })));
    }
    if (expectedHash !== undefined && body.requestHash !== expectedHash) {
      throw new Answer(jsonResponse(409, contentHashMismatchBody()));
    }
    this.applyToSession(session, body);
    const bytes = session.chunks ? concatBytes(session.chunks) : undefined;
    const result = this.commitFile({ ...commit, hasher: session.hasher, bytes, ignoreQuota: false });
    if ("error" in result) throw new Answer(jsonResponse(409, pathWriteErrorBody(result.error)));
    this.sessions.delete(cursor.sessionId);
    return jsonResponse(200, this.reportedFile(result.file, corruptHash));
  }

  // Concurrent upload sessions (dropbox-api.md section 5): no data on start or finish; appends at
  // explicit offsets, in any order, each a multiple of 4 MiB in length except the closing one; finish
  // needs the session closed and every byte up to its offset present. A piece sent again at the same
  // offset replaces the earlier one here, but the docs say nothing either way: repeatedPieceCount()
  // lets tests check that the client never relies on it.

  private async concurrentSessionStart(route: string, request: Request, close: boolean): Promise<Response> {
    const body = await this.consumeBody(request, new RefContentHasher(), false, false);
    if (body === "too-large") throw new Answer(jsonResponse(409, payloadTooLargeBody()));
    if (body.size > 0) throw new Answer(jsonResponse(409, errorBody({ ".tag": "concurrent_session_data_not_allowed" })));
    if (close) throw new Answer(jsonResponse(409, errorBody({ ".tag": "concurrent_session_close_not_allowed" })));
    void route;
    const id = sessionId();
    this.sessions.set(id, { hasher: new RefContentHasher(), closed: false, createdAt: this.now(), chunks: null, parts: new Map() });
    return jsonResponse(200, { session_id: id });
  }

  private async concurrentAppend(session: Session, offset: number, close: boolean, request: Request): Promise<Response> {
    if (offset % CONTENT_HASH_BLOCK_SIZE !== 0) {
      throw new Answer(jsonResponse(409, errorBody({ ".tag": "concurrent_session_invalid_offset" })));
    }
    const part = await this.consumePart(request, offset < this.keepBytesLimit);
    if (part === "too-large") throw new Answer(jsonResponse(409, payloadTooLargeBody()));
    if (!close && part.size % CONTENT_HASH_BLOCK_SIZE !== 0) {
      throw new Answer(jsonResponse(409, errorBody({ ".tag": "concurrent_session_invalid_data_size" })));
    }
    // The session may have been closed by another lane while this body was arriving.
    if (session.closed) throw new Answer(jsonResponse(409, sessionClosedBody()));
    if (session.parts!.has(offset)) this.repeatedPieces += 1;
    if (part.size > 0) session.parts!.set(offset, part);
    if (close) session.closed = true;
    return jsonResponse(200, null);
  }

  private async concurrentFinish(
    session: Session, cursor: { sessionId: string; offset: number }, commit: ReturnType<FakeDropbox["parseCommitInfo"]>,
    request: Request, corruptHash: boolean,
  ): Promise<Response> {
    const body = await this.consumeBody(request, new RefContentHasher(), false, false);
    if (body === "too-large") throw new Answer(jsonResponse(409, payloadTooLargeBody()));
    if (body.size > 0) throw new Answer(jsonResponse(409, errorBody({ ".tag": "concurrent_session_data_not_allowed" })));
    if (!session.closed) throw new Answer(jsonResponse(409, errorBody({ ".tag": "concurrent_session_not_closed" })));
    const overall = createHash("sha256");
    const pieces: Uint8Array[] = [];
    let keep = true;
    let next = 0;
    for (const offset of [...session.parts!.keys()].sort((a, b) => a - b)) {
      const part = session.parts!.get(offset)!;
      if (offset !== next) throw new Answer(jsonResponse(409, errorBody({ ".tag": "concurrent_session_missing_data" })));
      for (const digest of part.blockDigests) overall.update(digest);
      if (part.bytes) pieces.push(part.bytes);
      else keep = false;
      next += part.size;
    }
    if (next !== cursor.offset) {
      throw new Answer(jsonResponse(409, next < cursor.offset
        ? errorBody({ ".tag": "concurrent_session_missing_data" })
        : finishIncorrectOffsetBody(next)));
    }
    const hasher = new RefContentHasher({ overall, block: createHash("sha256"), blockFill: 0, total: next });
    const bytes = keep && next <= this.keepBytesLimit ? concatBytes(pieces.length > 0 ? pieces : [new Uint8Array(0)]) : undefined;
    const result = this.commitFile({ ...commit, hasher, bytes, ignoreQuota: false });
    if ("error" in result) throw new Answer(jsonResponse(409, pathWriteErrorBody(result.error)));
    this.sessions.delete(cursor.sessionId);
    return jsonResponse(200, this.reportedFile(result.file, corruptHash));
  }

  /** A concurrent append's body: its 4 MiB block digests (the last block may be short), bytes only when small. */
  private async consumePart(request: Request, keep: boolean): Promise<Part | "too-large"> {
    const blockDigests: Buffer[] = [];
    let block = createHash("sha256");
    let blockFill = 0;
    let size = 0;
    let chunks: Uint8Array[] | null = keep ? [] : null;
    const read = await this.readBody(request, (value) => {
      size += value.length;
      for (let at = 0; at < value.length;) {
        const take = Math.min(CONTENT_HASH_BLOCK_SIZE - blockFill, value.length - at);
        block.update(value.subarray(at, at + take));
        blockFill += take;
        at += take;
        if (blockFill === CONTENT_HASH_BLOCK_SIZE) {
          blockDigests.push(block.digest());
          block = createHash("sha256");
          blockFill = 0;
        }
      }
      if (chunks) {
        if (size <= this.keepBytesLimit) chunks.push(value.slice());
        else chunks = null;
      }
    });
    if (read === "too-large") return read;
    if (blockFill > 0) blockDigests.push(block.digest());
    return { size, blockDigests, bytes: chunks ? concatBytes(chunks.length > 0 ? chunks : [new Uint8Array(0)]) : undefined };
  }

  private async download({ route, args }: RouteContext): Promise<Response> {
    const where = `HTTP header "Dropbox-API-Arg"`;
    const path = stringField(route, where, args, "path");
    this.checkPathPattern(route, where, path);
    const lower = this.lookupLower(path);
    const entry = lower === undefined ? undefined : this.entries.get(lower);
    if (!entry) throw new Answer(jsonResponse(409, pathNotFoundBody()));
    if (entry.kind === "folder") throw new Answer(jsonResponse(409, errorBody({ ".tag": "path", path: { ".tag": "not_file" } })));
    if (!entry.bytes) {
      return textResponse(
        500,
        `FakeDropbox: ${entry.pathDisplay} (${entry.size} bytes) is larger than keepBytesLimit (${this.keepBytesLimit}), so its bytes were not kept and cannot be downloaded. Raise keepBytesLimit in the test.`,
      );
    }
    return new HttpResponse(entry.bytes.slice(), {
      status: 200,
      headers: {
        "Content-Type": "application/octet-stream",
        "Content-Length": String(entry.size),
        "Dropbox-API-Result": headerSafeJson(this.fileMetadataOf(entry, false)),
      },
    });
  }

  // ------------------------------------------------------------------------------------------------
  // OAuth

  private async serveToken(request: Request): Promise<Response> {
    let response: Response;
    const fault = this.takeFault("oauth2/token");
    if (fault?.type === "network-error") response = HttpResponse.error();
    else if (fault?.type === "status") response = faultResponse(fault);
    else {
      response = await this.token(request);
      if (fault?.type === "apply-then-network-error") response = HttpResponse.error();
    }
    this.requests.push({ route: "oauth2/token", status: response.type === "error" ? 0 : response.status });
    return response;
  }

  private async token(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const params = new Map<string, string>();
    for (const [key, value] of url.searchParams) params.set(key, value);
    const secretsInQuery = ["client_secret", "code", "refresh_token", "code_verifier"].some((k) => url.searchParams.has(k));
    const contentType = request.headers.get("content-type") ?? "";
    const bodyText = await request.text();
    if (contentType.toLowerCase().startsWith("application/x-www-form-urlencoded") && bodyText !== "") {
      for (const [key, value] of new URLSearchParams(bodyText)) params.set(key, value);
    }

    let clientId = params.get("client_id");
    let clientSecret = params.get("client_secret");
    const authorization = request.headers.get("authorization");
    const basicAuth = authorization !== null && /^Basic /i.test(authorization);
    if (basicAuth) {
      const decoded = Buffer.from(authorization.slice(6).trim(), "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0) return oauthError(400, "invalid_client: Invalid client_id or client_secret");
      clientId = decoded.slice(0, colon);
      clientSecret = decoded.slice(colon + 1);
    }
    const grantType = params.get("grant_type") ?? "";
    this.tokenRequests.push({ grantType, secretsInQuery, basicAuth });

    if (clientId !== this.appKey) return oauthError(400, "invalid_client: Invalid client_id or client_secret");
    if (clientSecret !== undefined && clientSecret !== this.appSecret) {
      return oauthError(400, "invalid_client: Invalid client_id or client_secret");
    }

    if (grantType === "authorization_code") return this.exchangeCode(params, clientId, clientSecret !== undefined);
    if (grantType === "refresh_token") return this.refresh(params, clientSecret !== undefined);
    if (grantType === "") return oauthError(400, "invalid_request", 'missing required field "grant_type"');
    return oauthError(400, "unsupported_grant_type", `grant_type "${grantType}" is not supported`);
  }

  private exchangeCode(params: Map<string, string>, clientId: string, authenticated: boolean): Response {
    const code = params.get("code");
    if (!code) return oauthError(400, "invalid_request", 'missing required field "code"');
    const record = this.codes.get(code);
    if (!record || record.used || this.now() >= record.expiresAt) {
      if (record) record.used = true;
      return oauthError(400, "invalid_grant", "code doesn't exist or has expired");
    }
    const verifier = params.get("code_verifier");
    if (!authenticated && verifier === undefined) {
      return oauthError(400, "invalid_request", "No auth function available for given request");
    }
    if (record.codeChallenge !== undefined && !authenticated) {
      if (verifier === undefined || s256(verifier) !== record.codeChallenge) {
        record.used = true;
        return oauthError(400, "invalid_grant", "invalid code verifier");
      }
    }
    if (record.clientId !== undefined && record.clientId !== clientId) {
      return oauthError(400, "invalid_grant", "code was issued to a different client");
    }
    if (record.redirectUri !== undefined && params.get("redirect_uri") !== record.redirectUri) {
      return oauthError(400, "invalid_grant", "redirect_uri mismatch");
    }
    record.used = true;
    const refreshToken = this.issueRefreshToken({ pkce: record.codeChallenge !== undefined });
    return oauthJson({
      access_token: this.issueAccessToken(),
      token_type: "bearer",
      expires_in: this.accessTokenTtlSeconds,
      refresh_token: refreshToken,
      scope: GRANTED_SCOPE,
      uid: this.uid,
      account_id: this.accountId,
    });
  }

  private refresh(params: Map<string, string>, authenticated: boolean): Response {
    const token = params.get("refresh_token");
    if (!token) return oauthError(400, "invalid_request", 'missing required field "refresh_token"');
    const record = this.refreshTokens.get(token);
    if (!record || record.revoked) return oauthError(400, "invalid_grant", "refresh token is invalid or revoked");
    if (!authenticated && !record.pkce) {
      return oauthError(400, "invalid_request", "No auth function available for given request");
    }
    return oauthJson({ access_token: this.issueAccessToken(), token_type: "bearer", expires_in: this.accessTokenTtlSeconds });
  }

  // ------------------------------------------------------------------------------------------------
  // Files

  private commitFile(input: {
    path: string;
    mode: WriteMode;
    autorename: boolean;
    strictConflict: boolean;
    clientModified: string | undefined;
    hasher: RefContentHasher;
    bytes: Uint8Array | undefined;
    ignoreQuota: boolean;
  }): { file: FileEntry } | { error: Record<string, unknown> } {
    const contentHash = input.hasher.hex();
    const size = input.hasher.size;
    let lower = input.path.toLowerCase();
    if (this.malformed(input.path)) return { error: { ".tag": "malformed_path" } };
    const ancestorFile = this.fileAncestor(lower);
    if (ancestorFile) return { error: conflictError("file_ancestor") };

    let existing = this.entries.get(lower);
    let displayPath = this.displayFor(input.path);
    if (existing?.kind === "file") {
      // WriteMode: identical contents at the target means nothing is written and nothing conflicts.
      const sameContent = existing.contentHash === contentHash && existing.size === size;
      if (sameContent && !input.strictConflict) return { file: existing };
    }
    const replaceable =
      existing?.kind === "file" &&
      (input.mode.kind === "overwrite" || (input.mode.kind === "update" && input.mode.rev === existing.rev));
    if (existing && !replaceable) {
      if (!input.autorename) return { error: conflictError(existing.kind) };
      displayPath = this.freeName(displayPath);
      lower = displayPath.toLowerCase();
      existing = undefined;
    }
    if (existing) displayPath = existing.pathDisplay;

    if (!input.ignoreQuota && this.quotaBytes !== undefined) {
      const freed = existing?.kind === "file" ? existing.size : 0;
      if (this.usedBytes() - freed + size > this.quotaBytes) return { error: insufficientSpaceError() };
    }

    this.ensureParents(displayPath);
    const stamp = timestamp(this.now());
    const file: FileEntry = {
      kind: "file",
      pathDisplay: displayPath,
      id: existing?.id ?? newId(),
      rev: newRev(),
      size,
      contentHash,
      clientModified: input.clientModified ?? stamp,
      serverModified: stamp,
      bytes: input.bytes !== undefined && input.bytes.length === size && size <= this.keepBytesLimit ? input.bytes : undefined,
    };
    this.entries.set(lower, file);
    this.deleted.delete(lower);
    return { file };
  }

  private makeFolder(path: string, autorename: boolean): { folder: FolderEntry } | { error: Record<string, unknown> } {
    if (this.malformed(path)) return { error: { ".tag": "malformed_path" } };
    let lower = path.toLowerCase();
    if (this.fileAncestor(lower)) return { error: conflictError("file_ancestor") };
    let display = this.displayFor(path);
    const existing = this.entries.get(lower);
    if (existing) {
      if (!autorename) return { error: conflictError(existing.kind) };
      display = this.freeName(display);
      lower = display.toLowerCase();
    }
    this.ensureParents(display);
    const folder: FolderEntry = { kind: "folder", pathDisplay: display, id: newId() };
    this.entries.set(lower, folder);
    this.deleted.delete(lower);
    return { folder };
  }

  private malformed(path: string): boolean {
    if (!path.startsWith("/") || path === "/" || path.endsWith("/") || path.includes("//")) return true;
    return path.split("/").some((part) => part.length > 255 || part === "." || part === "..");
  }

  private fileAncestor(lower: string): boolean {
    for (let i = lower.indexOf("/", 1); i > 0; i = lower.indexOf("/", i + 1)) {
      if (this.entries.get(lower.slice(0, i))?.kind === "file") return true;
    }
    return false;
  }

  /** Existing folders keep their casing; the new last component keeps the caller's. */
  private displayFor(path: string): string {
    const parts = path.split("/").slice(1);
    let display = "";
    for (let i = 0; i < parts.length; i++) {
      const candidate = `${display}/${parts[i]}`;
      const existing = i < parts.length - 1 ? this.entries.get(candidate.toLowerCase()) : undefined;
      display = existing ? existing.pathDisplay : candidate;
    }
    return display;
  }

  private ensureParents(display: string): void {
    const parts = display.split("/").slice(1, -1);
    let current = "";
    for (const part of parts) {
      current = `${current}/${part}`;
      const lower = current.toLowerCase();
      if (!this.entries.has(lower)) {
        this.entries.set(lower, { kind: "folder", pathDisplay: current, id: newId() });
        this.deleted.delete(lower);
      }
    }
  }

  private freeName(display: string): string {
    const slash = display.lastIndexOf("/");
    const dir = display.slice(0, slash);
    const name = display.slice(slash + 1);
    const dot = name.lastIndexOf(".");
    const stem = dot > 0 ? name.slice(0, dot) : name;
    const ext = dot > 0 ? name.slice(dot) : "";
    for (let n = 1; ; n++) {
      const candidate = `${dir}/${stem} (${n})${ext}`;
      if (!this.entries.has(candidate.toLowerCase())) return candidate;
    }
  }

  private resolveFolder(path: string): string {
    if (path === "") return "";
    const lower = this.lookupLower(path);
    const entry = lower === undefined ? undefined : this.entries.get(lower);
    if (lower === undefined || !entry) throw new Answer(jsonResponse(409, pathNotFoundBody()));
    if (entry.kind !== "folder") throw new Answer(jsonResponse(409, errorBody({ ".tag": "path", path: { ".tag": "not_folder" } })));
    return lower;
  }

  /** path_lower for "/a/b" or "id:…"; undefined if an id is unknown. */
  private lookupLower(path: string): string | undefined {
    if (path.startsWith("id:")) {
      for (const [lower, entry] of this.entries) if (entry.id === path) return lower;
      return undefined;
    }
    return path.toLowerCase();
  }

  private listing(folderLower: string, recursive: boolean): [string, Entry][] {
    const prefix = folderLower + "/";
    return [...this.entries.entries()]
      .filter(([lower]) => lower.startsWith(prefix) && (recursive || !lower.slice(prefix.length).includes("/")))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  private checkPathPattern(route: string, where: string, path: string): void {
    if (!/^(\/[\s\S]*|id:.*|rev:[0-9a-f]{9,}|ns:[0-9]+(\/[\s\S]*)?)$/.test(path)) {
      throw badInput(route, `${where}: path: '${path}' did not match pattern '(/(.|[\\r\\n])*|id:.*)|(rev:[0-9a-f]{9,})|(ns:[0-9]+(/(.|[\\r\\n])*)?)'`);
    }
  }

  private checkWritePath(route: string, where: string, path: string): void {
    if (!/^(\/[\s\S]*|ns:[0-9]+(\/[\s\S]*)?|id:.*)$/.test(path)) {
      throw badInput(route, `${where}: path: '${path}' did not match pattern '(/(.|[\\r\\n])*)|(ns:[0-9]+(/(.|[\\r\\n])*)?)|(id:.*)'`);
    }
  }

  private parseCommitInfo(route: string, where: string, args: Record<string, unknown>) {
    const path = stringField(route, where, args, "path");
    this.checkWritePath(route, where, path);
    const clientModified = optionalStringField(route, where, args, "client_modified");
    if (clientModified !== undefined && !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(clientModified)) {
      throw badInput(route, `${where}: client_modified: time data '${clientModified}' does not match format '%Y-%m-%dT%H:%M:%SZ'`);
    }
    return {
      path,
      mode: parseWriteMode(route, where, args.mode),
      autorename: boolField(route, where, args, "autorename", false),
      strictConflict: boolField(route, where, args, "strict_conflict", false),
      clientModified,
    };
  }

  private parseCursor(route: string, where: string, args: Record<string, unknown>): { sessionId: string; offset: number } {
    const cursor = args.cursor;
    if (!isRecord(cursor)) throw badInput(route, `${where}: missing required field 'cursor'`);
    const sessionIdValue = stringField(route, `${where}: cursor`, cursor, "session_id");
    const offset = optionalIntField(route, `${where}: cursor`, cursor, "offset");
    if (offset === undefined || offset < 0) throw badInput(route, `${where}: cursor: missing required field 'offset'`);
    return { sessionId: sessionIdValue, offset };
  }

  private liveSession(id: string): Session | undefined {
    const session = this.sessions.get(id);
    if (session && this.now() - session.createdAt > SESSION_LIFETIME_MS) {
      this.sessions.delete(id);
      return undefined;
    }
    return session;
  }

  private applyToSession(session: Session, body: ConsumedBody): void {
    session.hasher = body.hasher;
    if (session.chunks && body.bytes && session.hasher.size <= this.keepBytesLimit) {
      if (body.bytes.length > 0) session.chunks.push(body.bytes);
    } else {
      session.chunks = null;
    }
  }

  /**
   * Streams the request body into `hasher` (a fresh one or a fork of a session's), keeping the bytes only
   * while they fit keepBytesLimit. The caller commits the hasher only if the whole request succeeds.
   */
  private async consumeBody(
    request: Request,
    hasher: RefContentHasher,
    keep: boolean,
    hashRequest: boolean,
  ): Promise<ConsumedBody | "too-large"> {
    const requestHasher = hashRequest ? new RefContentHasher() : undefined;
    let chunks: Uint8Array[] | null = keep ? [] : null;
    let size = 0;
    const startSize = hasher.size;
    const read = await this.readBody(request, (value) => {
      size += value.length;
      hasher.update(value);
      requestHasher?.update(value);
      if (chunks) {
        if (startSize + size <= this.keepBytesLimit) chunks.push(value.slice());
        else chunks = null;
      }
    });
    if (read === "too-large") return read;
    return {
      hasher,
      size,
      bytes: chunks ? concatBytes(chunks) : undefined,
      requestHash: requestHasher?.hex(),
    };
  }

  /**
   * Reads a request body piece by piece, counting what arrives; stops at maxRequestBodyBytes as
   * Dropbox refuses bodies over 150 MiB.
   */
  private async readBody(request: Request, onPiece: (piece: Uint8Array) => void): Promise<"read" | "too-large"> {
    if (!request.body) return "read";
    const reader = request.body.getReader();
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return "read";
      size += value.length;
      this.uploadBytesReceived += value.length;
      if (size > this.maxRequestBodyBytes) {
        // Not awaited: under msw interception cancelling the request body never settles.
        void reader.cancel().catch(() => undefined);
        return "too-large";
      }
      onPiece(value);
    }
  }

  private metadataOf(entry: Entry): Record<string, unknown> {
    if (entry.kind === "folder") return { ".tag": "folder", name: baseName(entry.pathDisplay), ...this.folderFields(entry) };
    return this.fileMetadataOf(entry, true);
  }

  private folderFields(folder: FolderEntry): Record<string, unknown> {
    return { path_lower: folder.pathDisplay.toLowerCase(), path_display: folder.pathDisplay, id: folder.id };
  }

  private fileMetadataOf(file: FileEntry, tagged: boolean): Record<string, unknown> {
    return {
      ...(tagged ? { ".tag": "file" } : {}),
      name: baseName(file.pathDisplay),
      path_lower: file.pathDisplay.toLowerCase(),
      path_display: file.pathDisplay,
      id: file.id,
      client_modified: file.clientModified,
      server_modified: file.serverModified,
      rev: file.rev,
      size: file.size,
      is_downloadable: true,
      content_hash: file.contentHash,
    };
  }

  private reportedFile(file: FileEntry, corruptHash: boolean): Record<string, unknown> {
    const metadata = this.fileMetadataOf(file, false);
    if (corruptHash) metadata.content_hash = createHash("sha256").update(`corrupt:${file.contentHash}`).digest("hex");
    return metadata;
  }
}

// ---------------------------------------------------------------------------------------------------
// Helpers

interface ConsumedBody {
  hasher: RefContentHasher;
  size: number;
  bytes: Uint8Array | undefined;
  requestHash: string | undefined;
}

type WriteMode = { kind: "add" } | { kind: "overwrite" } | { kind: "update"; rev: string };

function parseWriteMode(route: string, where: string, mode: unknown): WriteMode {
  if (mode === undefined || mode === "add") return { kind: "add" };
  if (mode === "overwrite") return { kind: "overwrite" };
  if (isRecord(mode)) {
    const tag = mode[".tag"];
    if (tag === "add") return { kind: "add" };
    if (tag === "overwrite") return { kind: "overwrite" };
    if (tag === "update" && typeof mode.update === "string") return { kind: "update", rev: mode.update };
  }
  throw badInput(route, `${where}: mode: unknown or incomplete tag ${JSON.stringify(mode)}`);
}

function parseArgs(route: string, where: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badInput(route, `${where}: could not decode input as JSON`);
  }
  if (!isRecord(value)) throw badInput(route, `${where}: expected object, got ${value === null ? "null" : typeof value}`);
  return value;
}

function stringField(route: string, where: string, args: Record<string, unknown>, name: string): string {
  const value = args[name];
  if (value === undefined) throw badInput(route, `${where}: missing required field '${name}'`);
  if (typeof value !== "string") throw badInput(route, `${where}: ${name}: expected string, got ${typeof value}`);
  return value;
}

function optionalStringField(route: string, where: string, args: Record<string, unknown>, name: string): string | undefined {
  const value = args[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw badInput(route, `${where}: ${name}: expected string, got ${typeof value}`);
  return value;
}

function boolField(route: string, where: string, args: Record<string, unknown>, name: string, fallback: boolean): boolean {
  const value = args[name];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "boolean") throw badInput(route, `${where}: ${name}: expected boolean, got ${typeof value}`);
  return value;
}

function optionalIntField(route: string, where: string, args: Record<string, unknown>, name: string): number | undefined {
  const value = args[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw badInput(route, `${where}: ${name}: expected integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isRpcContentType(value: string): boolean {
  const normalized = value.toLowerCase().replace(/\s+/g, "");
  return (
    normalized === "application/json" ||
    normalized === "application/json;charset=utf-8" ||
    normalized === "text/plain;charset=dropbox-cors-hack"
  );
}

function isUploadContentType(value: string | null): boolean {
  return value === "application/octet-stream" || value === "text/plain; charset=dropbox-cors-hack";
}

/** The spec spelling used in server messages: files/delete_v2 → files/delete:2. */
function specName(route: string): string {
  return route.replace(/_v(\d+)$/, ":$1");
}

function badInput(route: string, message: string): Answer {
  return new Answer(textResponse(400, `Error in call to API function "${specName(route)}": ${message}`));
}

function textResponse(status: number, text: string): Response {
  return new HttpResponse(text, { status, headers: { "Content-Type": "text/plain; charset=utf-8" } });
}

/** Dropbox answers with Python-style separators; the 4xx reason phrase carries the error summary. */
function jsonResponse(status: number, body: unknown): Response {
  const summary = isRecord(body) && typeof body.error_summary === "string" ? body.error_summary : undefined;
  return new HttpResponse(pythonJson(body), {
    status,
    ...(summary ? { statusText: summary } : {}),
    headers: { "Content-Type": "application/json" },
  });
}

/** A download answer with its body damaged as `how` says; Dropbox-API-Result still describes the stored file. */
async function damagedDownload(response: Response, how: "corrupt-download" | "truncate-download"): Promise<Response> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  const headers = new Headers(response.headers);
  if (how === "corrupt-download") {
    if (bytes.length > 0) bytes[bytes.length >> 1] ^= 0xff;
    return new HttpResponse(bytes, { status: response.status, headers });
  }
  headers.delete("content-length");
  const half = bytes.slice(0, bytes.length >> 1);
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (half.length > 0) controller.enqueue(half);
      controller.close();
    },
  });
  return new HttpResponse(body, { status: response.status, headers });
}

function faultResponse(fault: Extract<Fault, { type: "status" }>): Response {
  const headers = new Headers(fault.headers);
  if (fault.body === undefined) return new HttpResponse(null, { status: fault.status, headers });
  if (typeof fault.body === "string") {
    if (!headers.has("content-type")) headers.set("Content-Type", "text/plain; charset=utf-8");
    return new HttpResponse(fault.body, { status: fault.status, headers });
  }
  if (!headers.has("content-type")) headers.set("Content-Type", "application/json");
  const summary = isRecord(fault.body) && typeof fault.body.error_summary === "string" ? fault.body.error_summary : undefined;
  return new HttpResponse(pythonJson(fault.body), { status: fault.status, headers, ...(summary ? { statusText: summary } : {}) });
}

function oauthJson(body: Record<string, unknown>): Response {
  return new HttpResponse(pythonJson(body), { status: 200, headers: { "Content-Type": "application/json" } });
}

function oauthError(status: number, error: string, description?: string): Response {
  const body: Record<string, unknown> = { error };
  if (description !== undefined) body.error_description = description;
  return new HttpResponse(pythonJson(body), { status, headers: { "Content-Type": "application/json" } });
}

function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(", ")}]`;
  if (isRecord(value)) {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}: ${pythonJson(v)}`)
      .join(", ")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (let i = 0; i < length; i++) out += ALPHABET[bytes[i]! & 63];
  return out;
}

function newId(): string {
  return `id:${randomToken(22)}`;
}

function sessionId(): string {
  return `AAAAAAAA${randomToken(14)}`;
}

function newRev(): string {
  return randomBytes(11).toString("hex").slice(0, 21);
}

function s256(verifier: string): string {
  return createHash("sha256").update(verifier).digest("base64url");
}
