/**
 * A `fetch` on node:http / node:https, for injection into the Dropbox SDK.
 *
 * Why not the global fetch: undici copies every request body it is handed, and with large chunks
 * those copies pile up faster than they are collected. Measured with scripts/measure-chunk-size.ts
 * (256 MiB upload to the loopback fake, Node 20.20, peak RSS of the uploading process):
 *   chunk MiB        4    8   16   32   64
 *   global fetch   173  203  275  324  482 MiB RSS, 169-225 MiB/s
 *   this function  113  125  137  170  234 MiB RSS, 283-397 MiB/s
 * Here a Uint8Array body goes to the socket as a view of the caller's buffer (no copy), sockets are
 * reused (keep-alive agents), and responses stream.
 *
 * It also rewrites Dropbox's https hosts to `baseUrl` (the SDK always builds https URLs), so the
 * same code talks to a plain-HTTP fake on loopback.
 */
import http from "node:http";
import https from "node:https";
import { Readable } from "node:stream";
import { checkHttpUrl } from "../../domain/http-url.ts";

export interface NodeHttpFetchOptions {
  /**
   * Replaces scheme and host (and prefixes the path, if it has one) of requests to
   * api.dropboxapi.com, content.dropboxapi.com and api.dropbox.com, e.g. `http://127.0.0.1:8080`.
   */
  baseUrl?: string;
  /** Per-request socket inactivity timeout in ms (default 120 000; 0 = none). */
  timeoutMs?: number;
  /**
   * TLS settings of this fetch's https agent only (the process-wide trust is left alone): `ca`
   * replaces the default CAs, `rejectUnauthorized: false` skips certificate checks.
   */
  tls?: { ca?: string | string[]; rejectUnauthorized?: boolean };
}

/**
 * Marks a streamed request body whose length is known in advance: this fetch sends it with a
 * Content-Length (not chunked), reading its pieces only as the socket takes them. The upload spool
 * (adapters/dropbox/chunk-slots.ts) hands file slices to the Dropbox SDK this way.
 */
export const BODY_LENGTH: unique symbol = Symbol("unms-dropbox-backup-sync.bodyLength");

/** A body for this fetch: an async iterable of bytes, iterable again for every attempt, of a known length. */
export interface SizedBody extends AsyncIterable<Uint8Array> {
  readonly [BODY_LENGTH]: number;
}

/** Hosts the Dropbox SDK and OAuth clients talk to; `baseUrl` stands in for all of them. */
const DROPBOX_HOSTS: readonly string[] = ["api.dropboxapi.com", "content.dropboxapi.com", "api.dropbox.com"];

const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** Creates a fetch-compatible function; each call of this factory owns its keep-alive agents. */
export function createNodeHttpFetch(options: NodeHttpFetchOptions = {}): typeof fetch {
  const base = options.baseUrl === undefined ? undefined : parseBaseUrl(options.baseUrl);
  const timeoutMs = options.timeoutMs ?? 120_000;
  const httpAgent = new http.Agent({ keepAlive: true });
  const httpsAgent = new https.Agent({ keepAlive: true, ...options.tls });

  const nodeHttpFetch = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const url = onDropboxBase(new URL(request ? request.url : String(input)), base);
    const method = (init.method ?? request?.method ?? "GET").toUpperCase();
    const headers = new Headers(init.headers ?? request?.headers);
    const signal = init.signal ?? request?.signal ?? undefined;
    let body = await requestBody(init.body !== undefined ? init.body : request?.body ?? null, headers);
    if (body === undefined && !["GET", "HEAD"].includes(method)) body = new Uint8Array(0);
    if (body instanceof Uint8Array) headers.set("content-length", String(body.byteLength));
    signal?.throwIfAborted();

    const secure = url.protocol === "https:";
    if (!secure && url.protocol !== "http:") {
      throw new TypeError(`fetch failed: unsupported protocol "${url.protocol}" in ${url.origin} (only http and https)`);
    }
    return new Promise<Response>((resolve, reject) => {
      const outgoing = (secure ? https : http).request(url, {
        method,
        headers: Object.fromEntries(headers),
        agent: secure ? httpsAgent : httpAgent,
        ...(signal ? { signal } : {}),
        ...(timeoutMs > 0 ? { timeout: timeoutMs } : {}),
      });
      outgoing.on("timeout", () => outgoing.destroy(new Error(`no answer from ${url.origin} within ${timeoutMs} ms`)));
      outgoing.on("error", (error) => {
        if (signal?.aborted) reject(signal.reason ?? new DOMException("The operation was aborted", "AbortError"));
        else reject(new TypeError(`fetch failed: ${method} ${url.origin}${url.pathname}: ${error.message}`, { cause: error }));
      });
      outgoing.on("response", (incoming) => {
        const status = incoming.statusCode ?? 0;
        const responseHeaders = new Headers();
        for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
          responseHeaders.append(incoming.rawHeaders[i]!, incoming.rawHeaders[i + 1]!);
        }
        const nullBody = method === "HEAD" || NULL_BODY_STATUSES.has(status);
        if (nullBody) incoming.resume();
        const responseBody = nullBody ? null : (Readable.toWeb(incoming) as ReadableStream<Uint8Array>);
        try {
          const response = new Response(responseBody, { status, statusText: incoming.statusMessage ?? "", headers: responseHeaders });
          Object.defineProperty(response, "url", { value: url.href });
          resolve(response);
        } catch (error) {
          incoming.destroy();
          reject(new TypeError(`fetch failed: ${url.origin} answered with unusable status ${status}`, { cause: error }));
        }
      });
      if (body === undefined || body instanceof Uint8Array) {
        outgoing.end(body === undefined ? undefined : asBufferView(body));
      } else {
        Readable.from(body).on("error", (error) => outgoing.destroy(error)).pipe(outgoing);
      }
    });
  };
  return nodeHttpFetch as typeof fetch;
}

function parseBaseUrl(baseUrl: string): URL {
  const checked = checkHttpUrl(baseUrl);
  if (checked.ok) return checked.url;
  throw new TypeError(
    checked.problem === "not-a-url"
      ? `createNodeHttpFetch: baseUrl "${baseUrl}" is not a URL; expected e.g. http://127.0.0.1:8080`
      : `createNodeHttpFetch: baseUrl "${baseUrl}" must start with http:// or https://`,
  );
}

/** `url` moved onto `base` (scheme, host, path prefix) when it is one of Dropbox's hosts; else `url` itself. */
export function onDropboxBase(url: URL, base: URL | undefined): URL {
  if (!base || !DROPBOX_HOSTS.includes(url.hostname)) return url;
  const prefix = base.pathname.replace(/\/+$/, "");
  return new URL(`${base.origin}${prefix}${url.pathname}${url.search}`);
}

/** The body as bytes (sent as they are) or as an async iterable (streamed); undefined for none. */
async function requestBody(body: BodyInit | null, headers: Headers): Promise<Uint8Array | AsyncIterable<Uint8Array> | undefined> {
  if (body === null || body === undefined) return undefined;
  if (typeof body === "string") {
    if (!headers.has("content-type")) headers.set("content-type", "text/plain;charset=UTF-8");
    return new TextEncoder().encode(body);
  }
  if (body instanceof Uint8Array) return body;
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (body instanceof URLSearchParams) {
    if (!headers.has("content-type")) headers.set("content-type", "application/x-www-form-urlencoded;charset=UTF-8");
    return new TextEncoder().encode(body.toString());
  }
  if (body instanceof Blob) {
    if (!headers.has("content-type") && body.type) headers.set("content-type", body.type);
    return new Uint8Array(await body.arrayBuffer());
  }
  if (isSizedBody(body)) {
    headers.set("content-length", String(body[BODY_LENGTH]));
    return body;
  }
  if (body instanceof ReadableStream || Symbol.asyncIterator in Object(body)) return body as unknown as AsyncIterable<Uint8Array>;
  throw new TypeError(`fetch: unsupported request body type ${Object.prototype.toString.call(body)}`);
}

/** A Buffer over the same memory: node:http takes it without copying. */
function asBufferView(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function isSizedBody(body: unknown): body is SizedBody {
  return typeof body === "object" && body !== null && typeof (body as Partial<SizedBody>)[BODY_LENGTH] === "number";
}
