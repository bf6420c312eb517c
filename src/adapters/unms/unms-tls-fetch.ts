/**
 * The fetch for UNMS calls when UNMS's certificate needs special trust: the node:http fetch with its
 * own https agent, so the CA file and the insecure switch apply to UNMS only, never to Dropbox
 * (nor to anything else in the process). Works under Node and Deno (node:https with `ca` and
 * `rejectUnauthorized`).
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

export function createUnmsTlsFetch(options: UnmsTlsOptions): typeof fetch {
  return createNodeHttpFetch({
    tls: {
      // Added to the public CAs, not instead of them: a CA file never breaks a publicly signed UISP.
      ...(options.caCertificates?.length ? { ca: [...rootCertificates, ...options.caCertificates] } : {}),
      ...(options.insecure ? { rejectUnauthorized: false } : {}),
    },
  });
}

/** The warning every run with verification off gets, naming the setting. */
export function insecureTlsWarning(setting: string): string {
  return `${setting} is on: the UNMS certificate is not verified, so anyone between here and UNMS could read the API token and the backups. Set a CA file instead (UNMS_CA_FILE / unmsCaFile / unms.caFile) and turn ${setting} off.`;
}
