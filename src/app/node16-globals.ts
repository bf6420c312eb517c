/**
 * The fetch API and web-stream globals for Node 16, which has none of them as globals. Imported
 * (lazily, by ./missing-globals.ts) only when `Response` is missing, so newer runtimes never load it.
 *
 * Why undici 5's classes: they are the Headers, Request and Response Node 18+ itself ships, and its
 * 5.x line still supports Node 14/16. They must be real, spec-following classes (openapi-fetch builds
 * Requests, our node:http fetch builds Responses); writing our own would be a second, less tested
 * implementation. Web streams and Blob are Node 16's own (node:stream/web, node:buffer); the global
 * fetch is our node:http one.
 */
import process from "node:process";
import { Readable } from "node:stream";
import { createNodeHttpFetch } from "../adapters/http/node-http-fetch.ts";
import { toReadableStream } from "../adapters/web-streams.ts";

export async function installNode16Globals(): Promise<void> {
  // Node 16 calls stream/web experimental and says so on stderr at first load; the admin reading
  // the plugin's output can do nothing about it.
  const restoreWarnings = muteExperimentalWarnings();
  try {
    const web = await import("node:stream/web");
    const { Blob } = await import("node:buffer");
    defineMissing("ReadableStream", web.ReadableStream);
    defineMissing("WritableStream", web.WritableStream);
    defineMissing("TransformStream", web.TransformStream);
    defineMissing("Blob", Blob);
    defineMissing("DOMException", domExceptionClass());
    // Only the classes: undici's own client (and its 500 KB of HTTP parser) stays out of the bundle.
    defineMissing("Headers", (await import("undici/lib/fetch/headers.js")).Headers);
    defineMissing("Request", (await import("undici/lib/fetch/request.js")).Request);
    defineMissing("Response", (await import("undici/lib/fetch/response.js")).Response);
    defineMissing("FormData", (await import("undici/lib/fetch/formdata.js")).FormData);
    // Everything we call goes through node:http anyway; a global fetch is there for what calls it.
    defineMissing("fetch", createNodeHttpFetch());
  } finally {
    restoreWarnings();
  }
  const readable = Readable as unknown as { toWeb?: unknown };
  if (typeof readable.toWeb !== "function") {
    Object.defineProperty(Readable, "toWeb", { configurable: true, writable: true, value: readableToWeb });
  }
}

/** `Readable.toWeb` as Node 17+ has it: pulls on demand, so a slow reader holds the socket back. */
export function readableToWeb(readable: Readable): ReadableStream<Uint8Array> {
  async function* bytes(): AsyncGenerator<Uint8Array> {
    for await (const chunk of readable as AsyncIterable<Uint8Array | string>) {
      yield typeof chunk === "string" ? new TextEncoder().encode(chunk) : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    }
  }
  return toReadableStream(bytes(), { onCancel: (reason) => readable.destroy(reason instanceof Error ? reason : undefined) });
}

function defineMissing(name: string, value: unknown): void {
  if (typeof (globalThis as Record<string, unknown>)[name] !== "undefined") return;
  Object.defineProperty(globalThis, name, { configurable: true, writable: true, value });
}

/** Node 16 has DOMException but not as a global; its atob() throws one. */
function domExceptionClass(): unknown {
  try {
    atob("~");
  } catch (error) {
    return (error as object).constructor;
  }
  return class DOMException extends Error {
    constructor(message = "", override name = "Error") {
      super(message);
    }
  };
}

function muteExperimentalWarnings(): () => void {
  const original = process.emitWarning;
  process.emitWarning = function (this: unknown, warning: string | Error, ...rest: unknown[]) {
    const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === "ExperimentalWarning" || (warning instanceof Error && warning.name === "ExperimentalWarning")) return;
    return (original as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  return () => {
    process.emitWarning = original;
  };
}
