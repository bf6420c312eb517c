/**
 * Real certificates for a loopback HTTPS UNMS, made at test time with the system's `openssl`
 * (Debian package `openssl`; `.ci/run` installs it): a test CA, and leaf certificates for
 * 127.0.0.1/localhost that are CA-signed, self-signed, for the wrong host, or expired.
 * Nothing of TLS is mocked: the client under test does a real handshake against these.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface KeyAndCertificate {
  key: string;
  cert: string;
}

export interface TestCertificates {
  /** Folder holding every file below (removed by `remove`). */
  readonly dir: string;
  /** PEM of the test CA, and its path: what UNMS_CA_FILE points at. */
  readonly caPem: string;
  readonly caFile: string;
  /** Signed by the CA, valid for 127.0.0.1 and localhost. */
  readonly trusted: KeyAndCertificate;
  /** Signed by itself, valid for 127.0.0.1 and localhost. */
  readonly selfSigned: KeyAndCertificate;
  /** Signed by the CA, valid only for wrong-host.example. */
  readonly wrongHost: KeyAndCertificate;
  /** Signed by the CA for 127.0.0.1, valid only during 2020-01-01. */
  readonly expired: KeyAndCertificate;
  remove(): void;
}

const SUBJECT_ALT_NAMES = "IP:127.0.0.1,DNS:localhost";

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), "backup-sync-tls-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  const newKey = (name: string) => openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", at(name));

  newKey("ca.key");
  openssl("req", "-x509", "-new", "-key", at("ca.key"), "-out", at("ca.pem"), "-days", "2", "-subj", "/CN=backup-sync test UISP CA");

  const leafRequest = (name: string, commonName: string) => {
    newKey(`${name}.key`);
    openssl("req", "-new", "-key", at(`${name}.key`), "-out", at(`${name}.csr`), "-subj", `/CN=${commonName}`);
  };
  const signByCa = (name: string, altNames: string, serial: number) => {
    writeFileSync(at(`${name}.ext`), `subjectAltName=${altNames}\n`);
    openssl("x509", "-req", "-in", at(`${name}.csr`), "-CA", at("ca.pem"), "-CAkey", at("ca.key"), "-set_serial", String(serial), "-days", "2", "-extfile", at(`${name}.ext`), "-out", at(`${name}.pem`));
  };

  leafRequest("trusted", "127.0.0.1");
  signByCa("trusted", SUBJECT_ALT_NAMES, 2);
  leafRequest("wrong-host", "wrong-host.example");
  signByCa("wrong-host", "DNS:wrong-host.example", 3);

  newKey("self-signed.key");
  openssl("req", "-x509", "-new", "-key", at("self-signed.key"), "-out", at("self-signed.pem"), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", `subjectAltName=${SUBJECT_ALT_NAMES}`);

  // `openssl x509 -days` cannot go into the past; `openssl ca` takes explicit start and end dates.
  leafRequest("expired", "127.0.0.1");
  mkdirSync(at("ca-db"));
  writeFileSync(at("ca-db/index.txt"), "");
  writeFileSync(at("ca-db/serial"), "10\n");
  writeFileSync(
    at("ca.cnf"),
    [
      "[ca]", "default_ca = test", "[test]", "database = ca-db/index.txt", "new_certs_dir = ca-db", "serial = ca-db/serial",
      "default_md = sha256", "policy = any", "unique_subject = no", "[any]", "commonName = supplied", "[leaf]", `subjectAltName = ${SUBJECT_ALT_NAMES}`, "",
    ].join("\n"),
  );
  openssl("ca", "-batch", "-config", at("ca.cnf"), "-cert", at("ca.pem"), "-keyfile", at("ca.key"), "-in", at("expired.csr"), "-out", at("expired.pem"),
    "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-extensions", "leaf", "-notext");

  const pair = (name: string): KeyAndCertificate => ({ key: readFileSync(at(`${name}.key`), "utf8"), cert: readFileSync(at(`${name}.pem`), "utf8") });
  return {
    dir,
    caPem: readFileSync(at("ca.pem"), "utf8"),
    caFile: at("ca.pem"),
    trusted: pair("trusted"),
    selfSigned: pair("self-signed"),
    wrongHost: pair("wrong-host"),
    expired: pair("expired"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
