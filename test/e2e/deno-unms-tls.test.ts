/**
 * `deno run src/app/cli.ts sync` against FakeUnms over real loopback HTTPS (openssl-made
 * certificates): Deno words certificate failures its own way (rustls: "invalid peer certificate:
 * UnknownIssuer"), and UNMS_CA_FILE / UNMS_TLS_INSECURE go through other code there
 * (Deno.createHttpClient, node:https), so they are proven under Deno itself.
 *
 * Needs `npm run build` first (the harness checks dist/cli.mjs) and the npm package `deno`.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { TestContext } from "node:test";
import { makeTestCertificates, type KeyAndCertificate, type TestCertificates } from "../fakes/tls-certificates.ts";
import { assertNoSecrets, MiB, repoRoot, startHarness, type Harness } from "./helpers.ts";
import { runProcess, type ProcessRun } from "./process.ts";

const denoBin = join(repoRoot, "node_modules", ".bin", process.platform === "win32" ? "deno.cmd" : "deno");
const BACKUP_IDS = ["8c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f", "9d4e5f6a-7b8c-4d9e-8f0a-2b3c4d5e6f7a"];

let certs: TestCertificates;
/**
 * One DENO_DIR for the file, empty at its start (with --cached-only, nothing can be downloaded into
 * it): the first run transpiles the sources, the other five reuse that instead of each doing it again.
 */
let denoDir: string;
before(() => {
  assert.ok(existsSync(denoBin), `${denoBin} is missing: the npm package "deno" (a devDependency) must be installed with \`npm ci\`.`);
  certs = makeTestCertificates();
  denoDir = mkdtempSync(join(tmpdir(), "deno-unms-tls-"));
});
after(() => {
  certs.remove();
  rmSync(denoDir, { recursive: true, force: true });
});

async function tlsHarness(t: TestContext, pair: KeyAndCertificate): Promise<Harness> {
  const h = await startHarness({ unmsTls: pair });
  t.after(() => h.close());
  h.baseEnv.DROPBOX_REFRESH_TOKEN = h.dropbox.issueRefreshToken();
  h.unms.addBackup({ id: BACKUP_IDS[0], createdAt: "2024-03-01T10:00:00Z", size: MiB + 7 });
  h.unms.addBackup({ id: BACKUP_IDS[1], createdAt: "2024-03-02T10:00:00Z", size: 300 * 1024 });
  return h;
}

/** `deno run --cached-only -A src/app/cli.ts sync --json` with the harness's environment plus `env`. */
async function denoSync(h: Harness, env: Record<string, string> = {}): Promise<ProcessRun & { output: string }> {
  const merged = { ...h.baseEnv, DENO_DIR: denoDir, NO_COLOR: "1", ...env };
  const run = await runProcess(denoBin, ["run", "--cached-only", "-A", join(repoRoot, "src", "app", "cli.ts"), "sync", "--json"], {
    env: merged,
    cwd: h.root,
    timeoutMs: 60_000,
  });
  assertNoSecrets(run, [h.unmsApiToken, h.dropbox.appSecret, ...h.dropbox.secretsIssued()], "deno run src/app/cli.ts sync");
  return { ...run, output: `${run.stdout}${run.stderr}` };
}

function line(run: { output: string }, prefix: string): string {
  const found = run.output.split("\n").find((l) => l.startsWith(prefix));
  assert.ok(found, `a line starting with "${prefix}"\n${run.output}`);
  return found;
}

function explain(run: ProcessRun & { output: string }): string {
  return `exit ${run.code}\n${run.output}`;
}

function assertRefused(h: Harness, run: ProcessRun & { output: string }, words: RegExp): void {
  assert.equal(run.code, 2, explain(run));
  const error = line(run, "ERROR: ");
  assert.match(error, words);
  assert.ok(error.includes(`${h.unmsServer.url}/nms/api/v2.1/nms/backups`), error);
  assert.match(error, /UNMS_CA_FILE .*UNMS_TLS_INSECURE=true/);
  assert.doesNotMatch(run.output, /Retrying/);
  assert.equal(h.unmsServer.requestCount, 0);
}

test("Deno: a self-signed UNMS fails at once (exit 2, one connection), then syncs with UNMS_TLS_INSECURE=true and a WARNING", { timeout: 120_000 }, async (t) => {
  const h = await tlsHarness(t, certs.selfSigned);
  const refused = await denoSync(h);
  assertRefused(h, refused, /certificate is self-signed and not trusted here \(Other\(OtherError\(CaUsedAsEndEntity\)\)\)/);
  assert.equal(h.unmsServer.connectionCount, 1);

  const run = await denoSync(h, { UNMS_TLS_INSECURE: "true" });
  assert.equal(run.code, 0, explain(run));
  assert.match(line(run, "WARNING: UNMS_TLS_INSECURE"), /the UNMS certificate is not verified/);
  const summary = JSON.parse(run.stdout.trimEnd().split("\n").at(-1)!) as { uploaded: string[] };
  assert.equal(summary.uploaded.length, 2);
  for (const id of BACKUP_IDS) {
    assert.equal(h.dropbox.listFiles().find((f) => f.path.includes(id))?.contentHash, h.unms.expectedContentHash(id));
  }
});

test("Deno: an internal-CA UNMS is refused as unknown issuer, then syncs with UNMS_CA_FILE", { timeout: 120_000 }, async (t) => {
  const h = await tlsHarness(t, certs.trusted);
  assertRefused(h, await denoSync(h), /issued by a CA that is not trusted here \(unknown issuer\) \(UnknownIssuer\)/);
  const run = await denoSync(h, { UNMS_CA_FILE: certs.caFile });
  assert.equal(run.code, 0, explain(run));
  assert.doesNotMatch(run.output, /WARNING: /);
  assert.equal(h.dropbox.listFiles().filter((f) => f.path.startsWith("/Backups/")).length, 2);
});

test("Deno with UNMS_CA_FILE: expired and wrong-host certificates get their own messages", { timeout: 120_000 }, async (t) => {
  const expired = await tlsHarness(t, certs.expired);
  assertRefused(expired, await denoSync(expired, { UNMS_CA_FILE: certs.caFile }), /the certificate has expired \(certificate expired: /);
  const wrongHost = await tlsHarness(t, certs.wrongHost);
  assertRefused(wrongHost, await denoSync(wrongHost, { UNMS_CA_FILE: certs.caFile }), /not valid for the host name 127\.0\.0\.1 \(wrong host name\) \(certificate not valid for name/);
});
