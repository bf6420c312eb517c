/**
 * Web globals the bundle relies on that older runtimes lack, installed only where missing, before
 * anything else runs. Node 20+, Deno and Bun have them all and pass through untouched.
 *
 * - Node 16 (the UCRM containers' own Node) has no fetch API classes (Headers, Request, Response),
 *   no global web streams, Blob or DOMException, no `Readable.toWeb`: they come from
 *   ./node16-globals.ts (undici 5 plus Node's own stream/web and buffer.Blob).
 * - Node 16 and Node 18 before 18.17 lack `AbortSignal.any`; Node 16 before 16.17 lacks
 *   `signal.throwIfAborted()`: small polyfills below. * - Node 16 and 18 have no global `crypto` (age encryption needs `crypto.getRandomValues`): see
 *   installMissingCrypto below.
 */

export async function installMissingGlobals(): Promise<void> {
  // `in`, not `typeof`: reading Node 18+'s lazy global makes it load its fetch implementation
  // (undici, ~9 MiB of RSS), which --version, or a run that never builds a Response, does not need.
  if (!("Response" in globalThis)) {
    const { installNode16Globals } = await import("./node16-globals.ts");
    await installNode16Globals();
  }
  installAbortSignalHelpers();
  await installMissingCrypto();
}

/**
 * Node 16 and 18 only: a global `crypto` with Node's own `getRandomValues`. Its `subtle` answers
 * NotSupportedError: X25519 in their WebCrypto is experimental (a warning on every run), and the
 * age package then does X25519 with its own (noble) implementation, as it does wherever
 * WebCrypto lacks it.
 */
export async function installMissingCrypto(): Promise<void> {
  if (typeof globalThis.crypto !== "undefined") return;
  const { webcrypto } = await import("node:crypto");
  const notSupported = () => Promise.reject(new DOMException("X25519 is left to the age package's own implementation on this runtime", "NotSupportedError"));
  const crypto = {
    getRandomValues: <T extends ArrayBufferView | null>(array: T): T => webcrypto.getRandomValues(array as never) as T,
    randomUUID: () => webcrypto.randomUUID(),
    subtle: { importKey: notSupported, deriveBits: notSupported, generateKey: notSupported, exportKey: notSupported },
  };
  define(globalThis, "crypto", crypto);
}

export function installAbortSignalHelpers(): void {
  const proto = AbortSignal.prototype as AbortSignal & { throwIfAborted?: () => void };
  if (typeof proto.throwIfAborted !== "function") {
    Object.defineProperty(proto, "throwIfAborted", {
      configurable: true,
      writable: true,
      value(this: AbortSignal) {
        if (this.aborted) throw this.reason ?? abortError("This operation was aborted");
      },
    });
  }
  const statics = AbortSignal as unknown as Record<string, unknown>;
  if (typeof statics.timeout !== "function") {
    define(statics, "timeout", (ms: number) => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(abortError("The operation was aborted due to timeout", "TimeoutError")), ms).unref?.();
      return controller.signal;
    });
  }
  if (typeof statics.any !== "function") define(statics, "any", abortSignalAny);
}

/** Aborts as soon as one of `signals` does, with its reason; listeners go when that happens. */
export function abortSignalAny(signals: Iterable<AbortSignal>): AbortSignal {
  const controller = new AbortController();
  const list = [...signals];
  const already = list.find((signal) => signal.aborted);
  if (already) {
    controller.abort(already.reason);
    return controller.signal;
  }
  const onAbort = (event: Event) => {
    for (const signal of list) signal.removeEventListener("abort", onAbort);
    controller.abort((event.target as AbortSignal).reason);
  };
  for (const signal of list) signal.addEventListener("abort", onAbort);
  return controller.signal;
}

function abortError(message: string, name = "AbortError"): Error {
  if (typeof globalThis.DOMException === "function") return new DOMException(message, name);
  return Object.assign(new Error(message), { name });
}

function define(target: object, name: string, value: unknown): void {
  Object.defineProperty(target, name, { configurable: true, writable: true, value });
}
