/**
 * Reads the UNMS CA file (UNMS_CA_FILE / unmsCaFile / unms.caFile): a PEM file with one or more
 * certificates that UNMS calls trust besides the usual public CAs. Read and checked when the
 * settings are loaded, so a wrong path or a key file fails the run at once, naming the setting and
 * the path, rather than as a certificate error later.
 */
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The certificates (PEM blocks) in `path`, each one parsed once to prove it is a certificate.
 * @returns the problem in words ("… does not exist") when the file cannot be used.
 */
export function readUnmsCaFile(path: string): { certificates: string[] } | { problem: string } {
  let content: string;
  try {
    content = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ENOENT") return { problem: `names ${path}, which does not exist` };
    if (code === "EISDIR") return { problem: `names ${path}, which is a folder, not a PEM file` };
    if (code === "EACCES" || code === "EPERM") return { problem: `names ${path}, which this user may not read (permission denied)` };
    return { problem: `names ${path}, which cannot be read: ${error instanceof Error ? error.message : String(error)}` };
  }
  return certificatesIn(content, `names ${path}, which`, `names ${path}, but`);
}

/**
 * The PEM certificates in `content`, each one parsed once to prove it is a certificate.
 * `which` and `but` start the problem text: "names /x.pem, which" / "names /x.pem, but".
 */
export function certificatesIn(content: string, which = "is text that", but = "is PEM text, but"): { certificates: string[] } | { problem: string } {
  const certificates = content.match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0) {
    const hint = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(content) ? " (it holds a private key; give the certificate, never the key)" : "";
    return { problem: `${which} holds no PEM certificate ("-----BEGIN CERTIFICATE-----" block)${hint}` };
  }
  for (const [index, pem] of certificates.entries()) {
    try {
      new X509Certificate(pem);
    } catch (error) {
      const one = certificates.length === 1 ? "its certificate" : `certificate ${index + 1} of ${certificates.length}`;
      return { problem: `${but} ${one} cannot be parsed (${error instanceof Error ? error.message : String(error)})` };
    }
  }
  return { certificates: certificates.map((pem) => `${pem}\n`) };
}
