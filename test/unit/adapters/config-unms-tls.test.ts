/**
 * UNMS_CA_FILE / unmsCaFile and UNMS_TLS_INSECURE / unmsTlsInsecure in both config stores: the CA
 * file is read and checked when the settings load, and every way it can be unusable is named with
 * the setting and the path (exit 2 before any network call).
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { EnvConfigStore } from "../../../src/adapters/config/env-config-store.ts";
import { UcrmFileConfigStore } from "../../../src/adapters/config/ucrm-file-config-store.ts";
import { SyncError } from "../../../src/domain/errors.ts";
import { makeTestCertificates, type TestCertificates } from "../../fakes/tls-certificates.ts";

const TOKEN = "unms-secret-token-tls-0001";
const BASE = { UNMS_URL: "https://10.0.0.5/nms", UNMS_API_TOKEN: TOKEN, TARGET_DIR: "/tmp/never-used" };

let certs: TestCertificates;
let dir: string;
before(async () => {
  certs = makeTestCertificates();
  dir = await mkdtemp(join(tmpdir(), "config-unms-tls-"));
});
after(async () => {
  certs.remove();
  await rm(dir, { recursive: true, force: true });
});

function envStore(env: Record<string, string>): EnvConfigStore {
  return new EnvConfigStore({ ...BASE, STATE_DIR: join(dir, "state"), ...env });
}

async function loadError(load: () => Promise<unknown>): Promise<SyncError> {
  try {
    await load();
  } catch (error) {
    assert.ok(SyncError.is(error), `expected a SyncError, got ${String(error)}`);
    assert.equal(error.kind, "config", "exit 2");
    assert.ok(!error.message.includes(TOKEN.slice(0, 8)), "no token in the message");
    return error;
  }
  assert.fail("expected load() to fail");
}

describe("EnvConfigStore: UNMS_CA_FILE and UNMS_TLS_INSECURE", () => {
  test("a PEM file with two certificates is read whole; insecure is off unless set", async () => {
    const bundle = join(dir, "bundle.pem");
    await writeFile(bundle, `# UISP trust\n${certs.caPem}\n${certs.selfSigned.cert}`);
    const settings = await envStore({ UNMS_CA_FILE: ` ${bundle} ` }).load();
    assert.equal(settings.unmsCaFile, bundle);
    assert.equal(settings.unmsCaCertificates?.length, 2);
    assert.ok(settings.unmsCaCertificates?.[0]?.startsWith("-----BEGIN CERTIFICATE-----"));
    assert.equal(settings.unmsTlsInsecure, undefined);
  });

  for (const [value, expected] of [["true", true], ["1", true], ["no", false]] as const) {
    test(`UNMS_TLS_INSECURE=${value} reads as ${expected}`, async () => {
      assert.equal((await envStore({ UNMS_TLS_INSECURE: value }).load()).unmsTlsInsecure, expected);
    });
  }

  test("UNMS_TLS_INSECURE with a value that is not a yes or no is named", async () => {
    const error = await loadError(() => envStore({ UNMS_TLS_INSECURE: "maybe" }).load());
    assert.match(error.message, /UNMS_TLS_INSECURE is "maybe": use true or false/);
  });

  test("a missing CA file is named with the setting and the path", async () => {
    const missing = join(dir, "nope", "ca.pem");
    const error = await loadError(() => envStore({ UNMS_CA_FILE: missing }).load());
    assert.ok(error.message.includes(`UNMS_CA_FILE names ${missing}, which does not exist`), error.message);
  });

  test("a folder, or a path through a file, cannot be read: named with the setting and the path", async () => {
    const folderError = await loadError(() => envStore({ UNMS_CA_FILE: dir }).load());
    assert.ok(folderError.message.includes(`UNMS_CA_FILE names ${dir}, which is a folder, not a PEM file`), folderError.message);
    const throughFile = join(certs.caFile, "x.pem");
    const fileError = await loadError(() => envStore({ UNMS_CA_FILE: throughFile }).load());
    assert.ok(fileError.message.includes(`UNMS_CA_FILE names ${throughFile}, which cannot be read: `), fileError.message);
  });

  test("a private key instead of a certificate is refused, and the key is not echoed", async () => {
    const keyFile = join(dir, "uisp.key");
    await writeFile(keyFile, certs.selfSigned.key);
    const error = await loadError(() => envStore({ UNMS_CA_FILE: keyFile }).load());
    assert.ok(error.message.includes(`UNMS_CA_FILE names ${keyFile}, which holds no PEM certificate`), error.message);
    assert.match(error.message, /it holds a private key; give the certificate, never the key/);
    const keyBody = certs.selfSigned.key.split("\n")[1]!;
    assert.ok(!error.message.includes(keyBody.slice(0, 16)));
  });

  test("a certificate block that does not parse is named by its position", async () => {
    const broken = join(dir, "broken.pem");
    await writeFile(broken, `${certs.caPem}-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n`);
    const error = await loadError(() => envStore({ UNMS_CA_FILE: broken }).load());
    assert.ok(error.message.includes(`UNMS_CA_FILE names ${broken}, but certificate 2 of 2 cannot be parsed (`), error.message);
  });

  test("a bad CA file is listed with the other configuration problems", async () => {
    const error = await loadError(() => envStore({ UNMS_CA_FILE: join(dir, "absent.pem"), MAX_DELETES: "many" }).load());
    assert.match(error.message, /has 2 problems/);
    assert.match(error.message, /UNMS_CA_FILE names .*absent\.pem, which does not exist/);
  });
});

describe("UcrmFileConfigStore: unmsCaFile and unmsTlsInsecure", () => {
  async function plugin(config: Record<string, unknown>): Promise<UcrmFileConfigStore> {
    const pluginDir = await mkdtemp(join(dir, "plugin-"));
    await mkdir(join(pluginDir, "data"));
    await writeFile(join(pluginDir, "ucrm.json"), JSON.stringify({ unmsLocalUrl: "https://unms.internal/nms/" }));
    await writeFile(join(pluginDir, "data", "config.json"), JSON.stringify({ unmsApiToken: TOKEN, targetDir: "/tmp/x", ...config }));
    return new UcrmFileConfigStore(pluginDir);
  }

  test("a relative unmsCaFile is read from the plugin's data folder; the checkbox turns insecure mode on", async () => {
    const store = await plugin({ unmsCaFile: "uisp-ca.pem", unmsTlsInsecure: true });
    await writeFile(join(store.stateDir, "uisp-ca.pem"), certs.caPem);
    const settings = await store.load();
    assert.equal(settings.unmsCaFile, join(store.stateDir, "uisp-ca.pem"));
    assert.equal(settings.unmsCaCertificates?.length, 1);
    assert.equal(settings.unmsTlsInsecure, true);
  });

  test("an unchecked checkbox is off; a missing unmsCaFile is named with the key and the full path", async () => {
    const store = await plugin({ unmsCaFile: "missing.pem", unmsTlsInsecure: false });
    const error = await loadError(() => store.load());
    assert.ok(error.message.includes(`"UNMS CA certificate file" (unmsCaFile) names ${join(store.stateDir, "missing.pem")}, which does not exist`), error.message);
    const off = await plugin({ unmsTlsInsecure: false });
    assert.equal((await off.load()).unmsTlsInsecure, false);
  });
});

describe("where an admin finds the two settings", () => {
  test("the UCRM form offers unmsCaFile as text and unmsTlsInsecure as an optional checkbox; --help lists both variables", async () => {
    const { readFile } = await import("node:fs/promises");
    const { HELP } = await import("../../../src/app/cli-main.ts");
    const manifest = JSON.parse(await readFile(new URL("../../../plugin/manifest.json", import.meta.url), "utf8")) as {
      configuration: { key: string; type?: string; required: number }[];
    };
    const field = (key: string) => manifest.configuration.find((f) => f.key === key);
    assert.deepEqual([field("unmsCaFile")?.type, field("unmsCaFile")?.required], ["text", 0]);
    assert.deepEqual([field("unmsTlsInsecure")?.type, field("unmsTlsInsecure")?.required], ["checkbox", 0]);
    assert.match(HELP, /^ {2}UNMS_CA_FILE {10}\S/m);
    assert.match(HELP, /^ {2}UNMS_TLS_INSECURE {5}\S/m);
  });
});
