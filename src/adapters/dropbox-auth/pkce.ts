/**
 * PKCE (RFC 7636) for Dropbox: lets the app authorize and refresh without an app secret in the
 * admin's configuration. The verifier stays in private state between the run that printed the URL
 * and the run that exchanges the code.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Pkce } from "../../app/ports.ts";

/** 128 characters of [A-Za-z0-9-_] (96 random bytes, base64url), the length Dropbox's SDKs use. */
export function createCodeVerifier(): string {
  return randomBytes(96).toString("base64url");
}

/** base64url(SHA-256(verifier)) without padding: the S256 challenge. */
export function codeChallengeS256(verifier: string): string {
  return createHash("sha256").update(verifier, "ascii").digest("base64url");
}

/** Verifiers are 43..128 characters of the unreserved set. */
export function isValidCodeVerifier(value: string): boolean {
  return /^[A-Za-z0-9\-._~]{43,128}$/.test(value);
}

/** The Pkce port on node:crypto, for the token session. */
export const nodePkce: Pkce = { createCodeVerifier, codeChallengeS256 };
