/**
 * Recognises a refused UNMS certificate in a network failure and says what is wrong with it in
 * plain words. A certificate does not fix itself between attempts, so the failure is of kind
 * `config` (exit 2, never retried) and names the two settings that fix it.
 *
 * Node reports the problem as an OpenSSL `code` on the error (or its cause, under undici); Deno's
 * own fetch (rustls) only in the message: "invalid peer certificate: UnknownIssuer".
 */
import { SyncError } from "../../domain/errors.ts";
import type { UnmsCallContext } from "./unms-errors.ts";

export type CertificateProblemKind = "self-signed" | "untrusted-chain" | "unknown-issuer" | "wrong-host" | "expired" | "not-yet-valid" | "revoked" | "refused";

export interface CertificateProblem {
  kind: CertificateProblemKind;
  /** What the TLS layer said: an OpenSSL code such as `CERT_HAS_EXPIRED`, or Deno's reason. */
  detail: string;
}

/** The settings that fix a refused certificate, as the CLI, the UCRM plugin and the library name them. */
const CA_FILE_SETTING = "UNMS_CA_FILE (UCRM plugin: unmsCaFile, library: unms.caFile)";
const TLS_INSECURE_SETTING = "UNMS_TLS_INSECURE=true (UCRM plugin: unmsTlsInsecure, library: unms.tlsInsecure)";

const NODE_CODES: Record<string, CertificateProblemKind> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed",
  SELF_SIGNED_CERT_IN_CHAIN: "untrusted-chain",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unknown-issuer",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unknown-issuer",
  UNABLE_TO_GET_ISSUER_CERT: "unknown-issuer",
  CERT_UNTRUSTED: "unknown-issuer",
  ERR_TLS_CERT_ALTNAME_INVALID: "wrong-host",
  HOSTNAME_MISMATCH: "wrong-host",
  CERT_HAS_EXPIRED: "expired",
  CERT_NOT_YET_VALID: "not-yet-valid",
  CERT_REVOKED: "revoked",
};

/** Deno (rustls) reasons after "invalid peer certificate: ", checked in this order. */
const DENO_REASONS: [RegExp, CertificateProblemKind][] = [
  [/CaUsedAsEndEntity|SelfSigned/i, "self-signed"],
  [/UnknownIssuer/i, "unknown-issuer"],
  [/NotValidForName|not valid for name/i, "wrong-host"],
  [/expired/i, "expired"],
  [/NotValidYet|not valid before|not yet valid/i, "not-yet-valid"],
  [/Revoked/i, "revoked"],
];

/** The certificate problem behind `error` (searched along its cause chain), if that is what it is. */
export function certificateProblem(error: unknown): CertificateProblem | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && code in NODE_CODES) return { kind: NODE_CODES[code]!, detail: code };
    const denoReason = /invalid peer certificate: ([^\n]+)/i.exec(current.message)?.[1]?.trim();
    if (denoReason) {
      const kind = DENO_REASONS.find(([pattern]) => pattern.test(denoReason))?.[1] ?? "refused";
      return { kind, detail: denoReason.slice(0, 200) };
    }
    current = current.cause;
  }
  return undefined;
}

/** The refused certificate as a SyncError of kind `config`; `cause` keeps the TLS layer's error. */
export function unmsCertificateError(call: UnmsCallContext, problem: CertificateProblem, cause: unknown): SyncError {
  const host = hostOf(call.url);
  const fix = FIXES[problem.kind](host);
  return new SyncError(
    `UNMS's HTTPS certificate was refused for ${call.endpoint} at ${call.url}: ${PLAIN_WORDS[problem.kind](host)} (${call.redact(problem.detail)}). ` +
      `This is not retried. ${fix} ` +
      `Or, on a network you trust, set ${TLS_INSECURE_SETTING} to skip the check for UNMS only.`,
    { kind: "config", code: `unms.tls_${problem.kind.replace(/-/g, "_")}`, cause },
  );
}

const PLAIN_WORDS: Record<CertificateProblemKind, (host: string) => string> = {
  "self-signed": () => "the certificate is self-signed and not trusted here",
  "untrusted-chain": () => "the certificate chain ends in a self-signed CA that is not trusted here",
  "unknown-issuer": () => "the certificate was issued by a CA that is not trusted here (unknown issuer)",
  "wrong-host": (host) => `the certificate is not valid for the host name ${host} (wrong host name)`,
  expired: () => "the certificate has expired",
  "not-yet-valid": () => "the certificate is not valid yet (check this machine's clock)",
  revoked: () => "the certificate has been revoked",
  refused: () => "the certificate could not be verified",
};

const TRUST_IT = `To trust it, set ${CA_FILE_SETTING} to a PEM file holding the UISP certificate or the CA that issued it.`;

const FIXES: Record<CertificateProblemKind, (host: string) => string> = {
  "self-signed": () => TRUST_IT,
  "untrusted-chain": () => TRUST_IT,
  "unknown-issuer": () => TRUST_IT,
  "wrong-host": (host) =>
    `Set the UNMS URL setting (unmsUrl / UNMS_URL) to a host name the certificate names instead of ${host}, or give UISP a certificate for ${host} (a CA file in ${CA_FILE_SETTING} does not change which host names a certificate is valid for).`,
  expired: () => `Renew the UISP certificate; a CA file in ${CA_FILE_SETTING} does not make an expired certificate valid.`,
  "not-yet-valid": () => `Correct this machine's clock or the UISP certificate; a CA file in ${CA_FILE_SETTING} does not help here.`,
  revoked: () => `Give UISP a new certificate; ${CA_FILE_SETTING} trusts a CA, not a revoked certificate.`,
  refused: () => TRUST_IT,
};

function hostOf(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return "the UNMS host";
  }
}
