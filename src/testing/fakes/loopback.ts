/**
 * Serves msw request handlers on a real HTTP port (127.0.0.1), so code under test can talk to a fake
 * over a socket: real streaming, real backpressure, real connection resets.
 *
 * Bodies stream both ways in constant memory (a 1 GiB upload or download never sits in memory).
 * Handlers must match on the path only (`http.post("*\/2/files/upload", …)`) so the same handlers work
 * under msw interception (https://api.dropboxapi.com/…) and here (http://127.0.0.1:PORT/…).
 */
import { createServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getResponse } from "msw";
import type { RequestHandler } from "msw";

/**
 * A running loopback server (see `startLoopbackServer`).
 *
 * @example
 * ```ts
 * import { startLoopbackServer, type LoopbackOptions, type LoopbackServer } from "unms-dropbox-backup-sync/testing";
 * import type { RequestHandler } from "msw";
 *
 * declare const handlers: RequestHandler[];
 *
 * const server: LoopbackServer = await startLoopbackServer(handlers, { port: 0 } satisfies LoopbackOptions);
 * ```
 */
export interface LoopbackServer {
  /** "http://127.0.0.1:PORT" (https with `tls`), no trailing slash. */
  readonly url: string;
  /** Requests received so far (handled or not). */
  readonly requestCount: number;
  /** TCP connections accepted so far (a refused TLS handshake counts, but makes no request). */
  readonly connectionCount: number;
  close(): Promise<void>;
}

export interface LoopbackOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** Serve HTTPS with this key and certificate (PEM), e.g. from test/fakes/tls-certificates.ts. */
  tls?: { key: string; cert: string };
  /** Make the loopback behave like a WAN link (the bench's model, BENCHMARKS.md). */
  shape?: LinkShape;
}

/**
 * A WAN model: every request waits `latencyMs` before the server sees it and again before its answer
 * leaves, plus `workMs(path)` of server work; request bodies flow no faster than
 * `connectionBytesPerSecond` per TCP connection and `aggregateBytesPerSecond` over all of them.
 */
export interface LinkShape {
  latencyMs: number;
  workMs?: (path: string) => number;
  connectionBytesPerSecond?: number;
  aggregateBytesPerSecond?: number;
}

/**
 * Lets bytes pass at `bytesPerSecond`, each reservation queued behind the earlier ones: a token bucket
 * `burstMs` deep. The depth is what keeps the rate a rate: a piece's wait ends a little late (a timer
 * fires 1-2 ms after its time), and without it that lateness was lost on every 64 KiB piece, so an
 * "8 MiB/s" connection moved ~7.2 MiB/s (BENCHMARKS.md, issue 14 session 10).
 */
export class Pacer {
  #freeAt = -Infinity;
  constructor(readonly bytesPerSecond: number, readonly burstMs = 20) {}

  /** Milliseconds from `now` until `bytes` reserved now have passed (0: at once). */
  reserve(bytes: number, now: number): number {
    const start = Math.max(now - this.burstMs, this.#freeAt);
    this.#freeAt = start + (bytes / this.bytesPerSecond) * 1000;
    return Math.max(0, this.#freeAt - now);
  }
}

/** Request bodies are queued up to this many bytes before the socket is paused. */
const REQUEST_QUEUE_BYTES = 1024 * 1024;

/**
 * Serves msw handlers on a real port of 127.0.0.1 (real sockets, streaming, connection resets).
 * Do not use it in a process where msw's `setupServer` is listening: msw would intercept its requests.
 *
 * @example
 * ```ts
 * import { createBackupSync } from "unms-dropbox-backup-sync";
 * import { FakeDropbox, FakeUnms, startLoopbackServer } from "unms-dropbox-backup-sync/testing";
 *
 * const apiToken = "test-token";
 * const unms = new FakeUnms({ apiToken });
 * const dropbox = new FakeDropbox();
 * const server = await startLoopbackServer([...unms.handlers, ...dropbox.handlers]);
 * const credentials = { appKey: dropbox.appKey, appSecret: dropbox.appSecret, refreshToken: dropbox.issueRefreshToken() };
 * await createBackupSync({ unms: { url: `${server.url}/nms`, apiToken }, dropbox: { ...credentials, baseUrl: server.url } }).sync();
 * await server.close();
 * ```
 */
export async function startLoopbackServer(
  handlers: RequestHandler[] | (() => RequestHandler[]),
  options: LoopbackOptions = {},
): Promise<LoopbackServer> {
  const currentHandlers = typeof handlers === "function" ? handlers : () => handlers;
  let requestCount = 0;
  let origin = "";

  let connectionCount = 0;
  const shaping = options.shape ? linkShaping(options.shape) : undefined;
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    requestCount += 1;
    handle(req, res, origin, currentHandlers(), shaping).catch((error: unknown) => {
      // A failure after the headers went out can only be signalled by breaking the connection.
      if (res.headersSent) res.destroy();
      else sendText(res, 500, `Loopback server: handler for ${req.method} ${pathOf(req)} threw: ${describe(error)}`);
    });
  };
  const server = options.tls ? createHttpsServer(options.tls, onRequest) : createServer(onRequest);
  server.on("connection", () => (connectionCount += 1));
  // Benchmarks push large bodies; do not let Node's default timeouts cut them off.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  // Node closes a connection idle for 5 s; on a busy machine a client in the same process may
  // reuse it just then and read ECONNRESET (a test failed so under load, issue 10). close() ends
  // every connection anyway.
  server.keepAliveTimeout = 10 * 60_000;

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  origin = `${options.tls ? "https" : "http"}://127.0.0.1:${port}`;

  return {
    url: origin,
    get requestCount() {
      return requestCount;
    },
    get connectionCount() {
      return connectionCount;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

interface LinkShaping {
  shape: LinkShape;
  pace(req: IncomingMessage, stream: ReadableStream<Uint8Array>): ReadableStream<Uint8Array>;
}

function linkShaping(shape: LinkShape): LinkShaping {
  const aggregate = shape.aggregateBytesPerSecond ? new Pacer(shape.aggregateBytesPerSecond) : undefined;
  const perConnection = new WeakMap<object, Pacer>();
  return {
    shape,
    pace(req, stream) {
      if (!aggregate && !shape.connectionBytesPerSecond) return stream;
      let connection = perConnection.get(req.socket);
      if (!connection && shape.connectionBytesPerSecond) perConnection.set(req.socket, (connection = new Pacer(shape.connectionBytesPerSecond)));
      // Backpressure does the rest: while a piece waits its turn, the socket is paused.
      return stream.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({
        async transform(piece, controller) {
          const now = performance.now();
          const wait = Math.max(connection?.reserve(piece.length, now) ?? 0, aggregate?.reserve(piece.length, now) ?? 0);
          if (wait >= 1) await delay(wait);
          controller.enqueue(piece);
        },
      }));
    },
  };
}

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function handle(
  req: IncomingMessage, res: ServerResponse, origin: string, handlers: RequestHandler[], shaping?: LinkShaping,
): Promise<void> {
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  const body = hasBody ? requestBodyStream(req) : undefined;
  const request = new LoopbackRequest(origin + (req.url ?? "/"), {
    method,
    headers: headersOf(req),
    body: body ? (shaping ? shaping.pace(req, body.stream) : body.stream) : null,
    duplex: "half",
  } as RequestInit);

  let response: Response | undefined;
  try {
    if (shaping) await delay(shaping.shape.latencyMs);
    response = await getResponse(handlers, request);
    if (shaping) await delay((shaping.shape.workMs?.(pathOf(req)) ?? 0) + shaping.shape.latencyMs);
  } catch (error) {
    body?.discardRest();
    throw error;
  }

  if (!response) {
    body?.discardRest();
    sendText(res, 404, `Loopback server: no handler for ${method} ${pathOf(req)}`);
    return;
  }
  if (response.type === "error") {
    // HttpResponse.error(): the client must see a broken connection, not an HTTP answer.
    req.socket.destroy();
    return;
  }
  await sendResponse(res, response, method === "HEAD");
  // Keep-alive needs the whole request read even if the handler answered without looking at it.
  body?.discardRest();
}

/**
 * msw clones every request "for logging" before running the first handler; cloning a streamed body tees
 * it, and the never-read branch would buffer the whole upload. getResponse never reads that clone, so
 * the first clone is body-less; clones a handler asks for later are real.
 */
class LoopbackRequest extends Request {
  private loggingCloneTaken = false;

  override clone(): Request {
    if (this.loggingCloneTaken) return super.clone();
    this.loggingCloneTaken = true;
    return new Request(this.url, { method: this.method, headers: this.headers });
  }
}

/**
 * Like `Readable.toWeb(req)` (pull-driven, paused while the consumer lags), but lets us drop the unread
 * remainder after answering without buffering it or resetting the connection.
 */
function requestBodyStream(req: IncomingMessage): { stream: ReadableStream<Uint8Array>; discardRest(): void } {
  let discarding = false;
  let finished = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        req.on("data", (chunk: Buffer) => {
          if (discarding) return;
          controller.enqueue(chunk);
          if ((controller.desiredSize ?? 0) <= 0) req.pause();
        });
        req.once("end", () => {
          finished = true;
          if (!discarding) controller.close();
        });
        req.once("error", (error) => {
          finished = true;
          if (!discarding) controller.error(error);
        });
        req.once("close", () => {
          if (finished || discarding) return;
          finished = true;
          controller.error(new Error("client closed the connection before the request body was complete"));
        });
        req.pause();
      },
      pull() {
        req.resume();
      },
      cancel() {
        discarding = true;
        req.resume();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: REQUEST_QUEUE_BYTES }),
  );

  return {
    stream,
    discardRest() {
      if (finished || discarding) return;
      discarding = true;
      req.resume();
    },
  };
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.startsWith(":")) continue;
    headers.append(name, raw[i + 1]!);
  }
  return headers;
}

async function sendResponse(res: ServerResponse, response: Response, headOnly: boolean): Promise<void> {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  const cookies = response.headers.getSetCookie();
  for (const [name, value] of response.headers) {
    if (name === "set-cookie") continue;
    res.setHeader(name, value);
  }
  if (cookies.length > 0) res.setHeader("set-cookie", cookies);

  if (!response.body || headOnly) {
    await response.body?.cancel();
    res.end();
    return;
  }

  const reader = response.body.getReader();
  let clientGone = false;
  const onClose = () => {
    clientGone = true;
  };
  res.once("close", onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (clientGone) {
        await reader.cancel();
        return;
      }
      if (!res.write(value)) await drained(res);
    }
    res.end();
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    // The body broke off mid-stream: the client must see a truncated, failed transfer.
    res.destroy(error instanceof Error ? error : undefined);
  } finally {
    res.off("close", onClose);
  }
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.once("drain", done);
    res.once("close", done);
  });
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.statusCode = status;
  res.setHeader("content-type", "text/plain; charset=utf-8");
  res.end(text);
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? "/").split("?")[0]!;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message || error.name : String(error);
}
