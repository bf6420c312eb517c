/**
 * The fetch for UNMS calls when UNMS's certificate needs special trust, so the CA file and the
 * insecure switch apply to UNMS only, never to Dropbox (nor to anything else in the process):
 * - the node:http fetch with its own https agent (`ca`, `rejectUnauthorized`), under Node, and under
 *   Deno for the insecure switch;
 * - under Deno with a CA file, Deno's own fetch with a `Deno.createHttpClient({ caCerts })` client:
 *   Deno's node:https reports an expired or wrong-host certificate only as "unable to verify the
 *   first certificate", its fetch names the real problem.
 */
import { rootCertificates } from "node:tls";
import { createNodeHttpFetch } from "../http/node-http-fetch.ts";

export interface UnmsTlsOptions {
  /** PEM certificates trusted for UNMS besides the public CAs. */
  caCertificates?: string[];
  /** Skip certificate verification for UNMS. */
  insecure?: boolean;
}

/** True when the options change anything, i.e. the default fetch will not do. */
export function needsUnmsTlsFetch(options: UnmsTlsOptions): boolean {
  return options.insecure === true || (options.caCertificates?.length ?? 0) > 0;
}

/** The part of the Deno namespace used here (absent under Node). */
interface DenoHttpClients {
  createHttpClient(options: { caCerts: string[] }): unknown;
}

export function createUnmsTlsFetch(options: UnmsTlsOptions): typeof fetch {
  const deno = (globalThis as { Deno?: Partial<DenoHttpClients> }).Deno;
  if (!options.insecure && options.caCertificates?.length && typeof deno?.createHttpClient === "function") {
    // Deno adds caCerts to its default roots.
    const client = deno.createHttpClient({ caCerts: options.caCertificates });
    return ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, { ...init, client } as RequestInit)) as typeof fetch;
  }
  return createNodeHttpFetch({
    tls: {
      // Added to the public CAs, not instead of them: a CA file never breaks a publicly signed UISP.
      ...(options.caCertificates?.length ? { ca: [...rootCertificates, ...options.caCertificates] } : {}),
      ...(options.insecure ? { rejectUnauthorized: false } : {}),
    },
  });
}
