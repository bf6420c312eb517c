/**
 * BackupSource over the UNMS NMS API v2.1 (`openapi/unms.yaml`), with openapi-fetch typed by the
 * generated schema. Backups are streamed, never held whole; every failure becomes a SyncError
 * that names the endpoint and never the API token.
 */
import createClient from "openapi-fetch";
import type { Client } from "openapi-fetch";
import type { UnmsBackup } from "../../domain/backup.ts";
import { configError, SyncError } from "../../domain/errors.ts";
import type { BackupDownload, BackupSource, OpenOptions, Redactor } from "../../domain/ports.ts";
import { SecretRedactor } from "../../domain/redactor.ts";
import { announcedLength, guardedDownload, readOrAbort, refuseNonBackup } from "./download-stream.ts";
import { realTimeout, RequestDeadline } from "./request-deadline.ts";
import { contentRangeProblem, rangeHeader } from "./resume-range.ts";
import { skipBytes } from "../../domain/skip-bytes.ts";
import type { ScheduleTimeout } from "./request-deadline.ts";
import type { paths } from "./schema.gen.ts";
import { unmsApiRoot } from "./unms-api-root.ts";
import { isTooLargeToRead, unmsHttpError, unmsMalformedResponse, unmsNetworkError, unmsResponseTooLarge } from "./unms-errors.ts";
import type { UnmsCallContext } from "./unms-errors.ts";
import { BackupListReader, parseJsonBody, parseSettingsTimeZone } from "./unms-parse.ts";
import type { Parsed } from "./unms-parse.ts";

/**
 * Options of UnmsBackupSource.
 *
 * @example
 * ```ts
 * import type { UnmsBackupSourceOptions } from "unms-dropbox-backup-sync";
 *
 * const options: UnmsBackupSourceOptions = { baseUrl: "https://uisp.example.com/nms", apiToken: process.env.UNMS_API_TOKEN!, timeoutMs: 120_000 };
 * ```
 */
export interface UnmsBackupSourceOptions {
  /** The NMS base, like `https://uisp.example.com/nms` or `http://unms:8081/nms/`; the API is under `${baseUrl}/api/v2.1/`. */
  baseUrl: string;
  apiToken: string;
  /** Defaults to `globalThis.fetch`, looked up at each call. */
  fetch?: typeof fetch;
  /** How long to wait for an answer, and for each next piece of a download. Default 60 s. */
  timeoutMs?: number;
  /** Timer used for `timeoutMs`; tests inject one to avoid real waiting. */
  scheduleTimeout?: ScheduleTimeout;
  /** The run's redactor, for UNMS's text in errors (the API token is registered with it); default a new one. */
  redactor?: Redactor;
}

const DEFAULT_UNMS_TIMEOUT_MS = 60_000;

interface Sent<R> {
  result: R;
  deadline: RequestDeadline;
}

/**
 * The UNMS/UISP BackupSource (NMS API v2.1, streamed downloads, timeouts, specific errors).
 *
 * @example
 * ```ts
 * import { UnmsBackupSource } from "unms-dropbox-backup-sync";
 *
 * const source = new UnmsBackupSource({ baseUrl: "https://uisp.example.com/nms", apiToken: process.env.UNMS_API_TOKEN! });
 * ```
 */
export class UnmsBackupSource implements BackupSource {
  private readonly client: Client<paths>;
  private readonly apiRoot: string;
  private readonly apiToken: string;
  private readonly timeoutMs: number;
  private readonly schedule: ScheduleTimeout;
  private readonly redactor: Redactor;

  /** @throws SyncError of kind `config` when the URL or token cannot be used. */
  constructor(options: UnmsBackupSourceOptions) {
    this.apiRoot = unmsApiRoot(options.baseUrl);
    this.apiToken = checkedToken(options.apiToken);
    this.redactor = options.redactor ?? new SecretRedactor();
    this.redactor.register([this.apiToken]);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_UNMS_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) {
      throw configError(`The UNMS timeout must be a positive number of milliseconds, got ${options.timeoutMs}.`, "config.unms_timeout");
    }
    this.schedule = options.scheduleTimeout ?? realTimeout;
    const customFetch = options.fetch;
    this.client = createClient<paths>({
      baseUrl: this.apiRoot,
      // Resolved per call so a fetch patched after construction (msw) is still used.
      fetch: (request) => (customFetch ?? globalThis.fetch)(request),
      headers: { "x-auth-token": this.apiToken },
      // Not followed: the token header would travel along to wherever a redirect points.
      redirect: "manual",
    });
  }

  async list(signal?: AbortSignal): Promise<UnmsBackup[]> {
    const call = this.context("GET nms/backups", "/nms/backups");
    // Streamed and parsed item by item: a list of a million backups is 200 MiB of JSON, never held whole.
    const { result, deadline } = await this.send(
      call, signal, (s) => this.client.GET("/nms/backups", { parseAs: "stream", signal: s }), { keepDeadline: true },
    );
    const list = new BackupListReader(result.response.headers.get("content-type"));
    const body = result.data as ReadableStream<Uint8Array> | null | undefined;
    const pieces = body?.getReader();
    let done = pieces === undefined;
    try {
      const decoder = new TextDecoder();
      while (!done) {
        let next: ReadableStreamReadResult<Uint8Array>;
        deadline.arm(); // each piece within the timeout, as for a download
        try {
          next = await readOrAbort(pieces!, deadline.signal);
        } catch (error) {
          if (deadline.callerAborted) throw deadline.callerReason;
          if (isTooLargeToRead(error)) throw unmsResponseTooLarge(call, error);
          throw unmsNetworkError(call, error, deadline.timedOut ? this.timeoutMs : undefined);
        } finally {
          deadline.disarm();
        }
        done = next.done;
        pushOrTooLarge(call, () => list.push(next.done ? decoder.decode() : decoder.decode(next.value, { stream: true })));
      }
    } finally {
      deadline.dispose();
      if (!done) pieces?.cancel().catch(() => {});
    }
    const parsed = pushOrTooLarge(call, () => list.end());
    if (!parsed.ok) throw unmsMalformedResponse(call, parsed.problem);
    return parsed.value;
  }

  /** The NMS time zone, or undefined when UNMS names none. Throws when it cannot be read. */
  async timeZone(signal?: AbortSignal): Promise<string | undefined> {
    const call = this.context("GET nms/settings", "/nms/settings");
    const { result } = await this.send(call, signal, (s) => this.client.GET("/nms/settings", { parseAs: "text", signal: s }));
    return this.orMalformed(call, parseJsonBody(result.data, result.response.headers.get("content-type")), parseSettingsTimeZone);
  }

  async open(id: string, signal?: AbortSignal, options: OpenOptions = {}): Promise<BackupDownload> {
    if (id.trim() === "" || id === "." || id === "..") {
      // Such an id would address another endpoint once put into the path.
      throw new SyncError(`Cannot download UNMS backup "${id}": the id is empty or a dot segment.`, {
        kind: "permanent",
        code: "unms.invalid_backup_id",
      });
    }
    const offset = options.offset ?? 0;
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new SyncError(`Cannot download UNMS backup "${id}" from byte ${offset}: not a byte offset.`, { kind: "permanent", code: "unms.invalid_offset" });
    }
    const call = { ...this.context(`GET nms/backups/${id}`, `/nms/backups/${encodeURIComponent(id)}`), backupId: id };
    const { result, deadline } = await this.send(
      call,
      signal,
      (s) =>
        this.client.GET("/nms/backups/{id}", {
          params: { path: { id } },
          parseAs: "stream",
          signal: s,
          ...(offset > 0 ? { headers: { range: rangeHeader(offset) } } : {}),
        }),
      { keepDeadline: true },
    );
    const length = announcedLength(result.response.headers);
    const body = result.data as ReadableStream<Uint8Array> | null | undefined;
    try {
      deadline.arm(); // a stalled page must not hang the run either
      await refuseNonBackup(result.response, body, call);
      deadline.disarm();
    } catch (error) {
      deadline.dispose();
      throw error;
    }
    const stream = guardedDownload(body, call, length, deadline);
    if (offset === 0) return length === undefined ? { stream } : { stream, length };
    return this.fromOffset(call, result.response, stream, length, offset);
  }

  /** A download asked for from `offset`: 206 as it came, 200 with the first bytes dropped. */
  private fromOffset(
    call: UnmsCallContext & { backupId: string }, response: Response, stream: AsyncIterable<Uint8Array>, length: number | undefined,
    offset: number,
  ): BackupDownload {
    if (response.status === 206) {
      const problem = contentRangeProblem(response.headers.get("content-range"), offset);
      if (problem) {
        void stream[Symbol.asyncIterator]().return?.();
        throw new SyncError(
          `UNMS answered the resumed download of backup "${call.backupId}" (${call.endpoint}, Range ${rangeHeader(offset)}) with 206, but ${problem}. The upload starts over.`,
          { kind: "source-interrupted", code: "unms.bad_content_range" },
        );
      }
      return { stream, offset, ...(length === undefined ? {} : { length }) };
    }
    const rest = skipBytes(stream, offset, `The download of UNMS backup "${call.backupId}" (${call.endpoint})`);
    return { stream: rest, offset, ...(length === undefined ? {} : { length: Math.max(0, length - offset) }) };
  }

  /** Runs one request under a deadline and turns network failures and non-2xx answers into SyncErrors. */
  private async send<R extends { response: Response; error?: unknown }>(
    call: UnmsCallContext,
    signal: AbortSignal | undefined,
    run: (signal: AbortSignal) => Promise<R>,
    options: { keepDeadline?: boolean } = {},
  ): Promise<Sent<R>> {
    const deadline = new RequestDeadline(signal, this.timeoutMs, this.schedule);
    deadline.arm();
    let result: R;
    try {
      result = await run(deadline.signal);
    } catch (error) {
      deadline.dispose();
      if (deadline.callerAborted) throw deadline.callerReason;
      if (isTooLargeToRead(error)) throw unmsResponseTooLarge(call, error);
      throw unmsNetworkError(call, error, deadline.timedOut ? this.timeoutMs : undefined);
    }
    if (!result.response.ok) {
      deadline.dispose();
      // Leave nothing of an unexpected body hanging on the connection.
      await result.response.body?.cancel().catch(() => {});
      throw unmsHttpError(call, result.response, result.error);
    }
    if (options.keepDeadline) deadline.disarm();
    else deadline.dispose();
    return { result, deadline };
  }

  private orMalformed<T>(call: UnmsCallContext, body: Parsed<unknown>, parse: (value: unknown) => Parsed<T>): T {
    const parsed = body.ok ? parse(body.value) : body;
    if (!parsed.ok) throw unmsMalformedResponse(call, parsed.problem);
    return parsed.value;
  }

  private context(endpoint: string, path: string): UnmsCallContext {
    const url = `${this.apiRoot}${path}`;
    const parsed = new URL(url);
    return {
      endpoint,
      url,
      location: `${parsed.host}${parsed.pathname}`,
      redact: (text) => this.redactor.redact(text),
    };
  }
}

/** A token that can go into a header; a bad one is refused without ever echoing it. */
function checkedToken(token: string): string {
  const trimmed = token.trim();
  if (trimmed === "") {
    throw configError(
      "The UNMS API token setting (unmsApiToken / UNMS_API_TOKEN) is empty: create a token in UNMS under Network -> Settings -> Users and set it.",
      "config.unms_api_token",
    );
  }
  if (!/^[\x21-\x7e]+$/.test(trimmed)) {
    throw configError(
      `The UNMS API token setting (unmsApiToken / UNMS_API_TOKEN) contains spaces or characters a token cannot have (${trimmed.length} characters): paste the token again exactly as UNMS shows it.`,
      "config.unms_api_token",
    );
  }
  return trimmed;
}

/** Runs one step of the list parse; the runtime's own size limits (one item past V8's string limit, memory) name the list, not the network. */
function pushOrTooLarge<T>(call: UnmsCallContext, step: () => T): T {
  try {
    return step();
  } catch (error) {
    if (isTooLargeToRead(error)) throw unmsResponseTooLarge(call, error);
    throw error;
  }
}
