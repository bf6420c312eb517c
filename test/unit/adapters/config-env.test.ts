import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvConfigStore, defaultStateDir } from "../../../src/adapters/config/env-config-store.ts";
import { SyncError } from "../../../src/domain/errors.ts";

const BASE = { UNMS_URL: "https://uisp.example.com/nms/", UNMS_API_TOKEN: "unms-secret-token-0001" };

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), "env-store-"));
}

async function loadError(env: Record<string, string | undefined>): Promise<SyncError> {
  const store = new EnvConfigStore(env, { defaultStateDir: join(tmpdir(), "never-created-state") });
  try {
    await store.load();
  } catch (error) {
    assert.ok(SyncError.is(error), "a SyncError");
    return error;
  }
  assert.fail("load() should have failed");
}

describe("EnvConfigStore.load()", () => {
  test("trims values, treats empty as absent and strips the NMS URL's trailing slash", async () => {
    const dir = await tempDir();
    const settings = await new EnvConfigStore({
      ...BASE,
      UNMS_URL: "  https://uisp.example.com/nms/ ",
      DROPBOX_APP_KEY: "  appkey123 \n",
      DROPBOX_APP_SECRET: "",
      DROPBOX_FOLDER: "/Backups/UISP Ünïcode/",
      STATE_DIR: dir,
      DROPBOX_CHUNK_MIB: "8",
      MAX_DELETES: "0",
      ALLOW_MASS_DELETE: "Yes",
    }).load();
    assert.equal(settings.unmsUrl, "https://uisp.example.com/nms");
    assert.equal(settings.unmsApiToken, BASE.UNMS_API_TOKEN);
    assert.equal(settings.dropboxAppKey, "appkey123");
    assert.equal("dropboxAppSecret" in settings, false);
    assert.equal(settings.dropboxFolder, "Backups/UISP Ünïcode");
    assert.equal(settings.stateDir, dir);
    assert.equal(settings.chunkMiB, 8);
    assert.equal(settings.maxDeletes, 0);
    assert.equal(settings.allowMassDelete, true);
    await rm(dir, { recursive: true, force: true });
  });

  test("defaults: app folder root, state dir under XDG_CONFIG_HOME or ~/.config", async () => {
    const settings = await new EnvConfigStore({ ...BASE, XDG_CONFIG_HOME: "/nonexistent-xdg" }).load();
    assert.equal(settings.dropboxFolder, "");
    assert.equal(settings.stateDir, "/nonexistent-xdg/unms-dropbox-backup-sync");
    assert.equal(defaultStateDir({ HOME: "/home/ann" }), "/home/ann/.config/unms-dropbox-backup-sync");
    assert.equal(settings.chunkMiB, undefined);
    assert.equal(settings.allowMassDelete, undefined);
  });

  test("lists every problem at once, naming each variable, with kind config", async () => {
    const error = await loadError({
      UNMS_URL: "ftp://uisp.example.com",
      UNMS_API_TOKEN: " ",
      DROPBOX_CHUNK_MIB: "6",
      MAX_DELETES: "-1",
      ALLOW_MASS_DELETE: "maybe",
      DROPBOX_BASE_URL: "not a url",
    });
    assert.equal(error.kind, "config");
    assert.equal(error.code, "config.invalid");
    for (const name of ["UNMS_URL", "UNMS_API_TOKEN", "DROPBOX_CHUNK_MIB", "MAX_DELETES", "ALLOW_MASS_DELETE", "DROPBOX_BASE_URL"]) {
      assert.match(error.message, new RegExp(`\\b${name}\\b`), `mentions ${name}`);
    }
    // No Dropbox app key either: named in the same list, not in a later run.
    assert.match(error.message, /7 problems/);
    assert.match(error.message, /Dropbox is not configured: set DROPBOX_APP_KEY/);
  });

  test("missing UNMS_URL and token are reported", async () => {
    const error = await loadError({});
    assert.match(error.message, /UNMS_URL is not set/);
    assert.match(error.message, /UNMS_API_TOKEN is not set/);
  });

  for (const [value, ok] of [
    ["4", true],
    ["148", true],
    ["152", false],
    ["0", false],
    ["4.0", false],
    ["abc", false],
    ["-4", false],
  ] as const) {
    test(`DROPBOX_CHUNK_MIB=${value} is ${ok ? "accepted" : "rejected"}`, async () => {
      const env = { ...BASE, DROPBOX_CHUNK_MIB: value, STATE_DIR: "/nonexistent-state" };
      if (ok) assert.equal((await new EnvConfigStore(env).load()).chunkMiB, Number(value));
      else assert.match((await loadError(env)).message, /DROPBOX_CHUNK_MIB .*multiple of 4/);
    });
  }

  for (const [value, ok] of [["1", true], ["4", true], ["16", true], ["0", false], ["17", false], ["2.5", false], ["many", false]] as const) {
    test(`DROPBOX_CONNECTIONS=${value} is ${ok ? "accepted" : "rejected"}`, async () => {
      const env = { ...BASE, DROPBOX_CONNECTIONS: value, STATE_DIR: "/nonexistent-state" };
      if (ok) assert.equal((await new EnvConfigStore(env).load()).dropboxConnections, Number(value));
      else assert.match((await loadError(env)).message, new RegExp(`DROPBOX_CONNECTIONS .*"?${value.replace(".", "\\.")}"?.*whole number from 1 .* to 16`));
    });
  }

  test("never echoes a secret's value, even a malformed one", async () => {
    const error = await loadError({ UNMS_URL: "https://user:pa55word@host@@", UNMS_API_TOKEN: "" });
    assert.doesNotMatch(error.message, /pa55word/);
  });

  test("a refresh token persisted in STATE_DIR is used when the environment has none", async () => {
    const dir = await tempDir();
    const env = { ...BASE, STATE_DIR: join(dir, "state"), DROPBOX_APP_KEY: "key", DROPBOX_ACCESS_CODE: "code-1" };
    const store = new EnvConfigStore(env);
    const outcome = await store.save({ dropboxRefreshToken: "persisted-refresh", dropboxAccessCode: null });
    assert.match(outcome.notes.join("\n"), /Remove DROPBOX_ACCESS_CODE/);
    const later = await new EnvConfigStore(env).load();
    assert.equal(later.dropboxRefreshToken, "persisted-refresh");
    assert.equal(later.dropboxAccessCode, undefined, "a used code is not offered again");
    const fresh = await new EnvConfigStore({ ...env, DROPBOX_ACCESS_CODE: "code-2" }).load();
    assert.equal(fresh.dropboxAccessCode, "code-2", "a new code is");
    const fromEnv = await new EnvConfigStore({ ...env, DROPBOX_REFRESH_TOKEN: "env-refresh" }).load();
    assert.equal(fromEnv.dropboxRefreshToken, "env-refresh", "the environment wins");
    await rm(dir, { recursive: true, force: true });
  });

  test("state folder is 0700 and the state file 0600", async () => {
    const dir = await tempDir();
    const stateDir = join(dir, "nested", "state");
    const store = new EnvConfigStore({ ...BASE, STATE_DIR: stateDir });
    await store.writePrivateState({ pkceVerifier: "v".repeat(64), pkceClientId: "key" });
    assert.equal((await stat(stateDir)).mode & 0o777, 0o700);
    assert.equal((await stat(store.stateFile)).mode & 0o777, 0o600);
    assert.deepEqual(await store.readPrivateState(), { pkceVerifier: "v".repeat(64), pkceClientId: "key" });
    await rm(dir, { recursive: true, force: true });
  });

  test("clearing the legacy token tells which variable to remove", async () => {
    const dir = await tempDir();
    const store = new EnvConfigStore({ ...BASE, STATE_DIR: dir, DROPBOX_ACCESS_TOKEN: "legacy" });
    const { notes } = await store.save({ dropboxRefreshToken: "r", dropboxAccessToken: null });
    assert.match(notes.join("\n"), /Remove DROPBOX_ACCESS_TOKEN from the environment/);
    await rm(dir, { recursive: true, force: true });
  });

  test("a malformed state file is named, never echoed and never overwritten", async () => {
    const dir = await tempDir();
    await mkdir(dir, { recursive: true });
    const file = join(dir, "dropbox-authorization.json");
    const content = '{"refreshToken": secret-refresh-value';
    await writeFile(file, content);
    const store = new EnvConfigStore({ ...BASE, STATE_DIR: dir });
    await assert.rejects(store.load(), (error: unknown) => {
      assert.ok(SyncError.is(error));
      assert.equal(error.kind, "config");
      assert.ok(error.message.includes(file));
      assert.doesNotMatch(error.message, /secret-refresh-value/);
      return true;
    });
    await assert.rejects(store.save({ dropboxRefreshToken: "x" }));
    assert.equal(await readFile(file, "utf8"), content);
    await rm(dir, { recursive: true, force: true });
  });
});

describe("EnvConfigStore: MAX_RUN_MINUTES", () => {
  test("absent means no budget on the command line; a number is read as minutes", async () => {
    assert.equal((await new EnvConfigStore({ ...BASE, STATE_DIR: "/nonexistent-state" }).load()).maxRunMinutes, undefined);
    assert.equal((await new EnvConfigStore({ ...BASE, STATE_DIR: "/nonexistent-state", MAX_RUN_MINUTES: "90" }).load()).maxRunMinutes, 90);
  });

  test("zero, negative or words are refused, naming the variable", async () => {
    for (const value of ["0", "-5", "an hour"]) {
      await assert.rejects(
        new EnvConfigStore({ ...BASE, STATE_DIR: "/nonexistent-state", MAX_RUN_MINUTES: value }).load(),
        new RegExp(`MAX_RUN_MINUTES is ${JSON.stringify(value)}: it must be a number of minutes above 0`),
      );
    }
  });
});

describe("EnvConfigStore: MAX_BACKUP_AGE_HOURS and HEALTHCHECK_URL", () => {
  const load = (extra: Record<string, string>) => new EnvConfigStore({ ...BASE, STATE_DIR: "/nonexistent-state", ...extra }).load();

  test("absent: no value (the run uses 48); set: read as hours and as the URL without a trailing /", async () => {
    const unset = await load({});
    assert.equal(unset.maxBackupAgeHours, undefined);
    assert.equal(unset.healthcheckUrl, undefined);
    const set = await load({ MAX_BACKUP_AGE_HOURS: "72", HEALTHCHECK_URL: "https://hc.example.net/ping/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab/" });
    assert.equal(set.maxBackupAgeHours, 72);
    assert.equal(set.healthcheckUrl, "https://hc.example.net/ping/0f1e2d3c-aaaa-bbbb-cccc-0123456789ab");
  });

  test("bad values are refused naming the variable; the URL's value is never shown", async () => {
    for (const value of ["0", "1.5", "two days", "87601"]) {
      await assert.rejects(load({ MAX_BACKUP_AGE_HOURS: value }), new RegExp(`MAX_BACKUP_AGE_HOURS is ${JSON.stringify(value)}: it must be a whole number of hours from 1 to 87600`));
    }
    const secret = "ftp://hc.example.net/ping/secret-token-0123456789";
    const error = await load({ HEALTHCHECK_URL: secret }).then(() => assert.fail("expected a config error"), (e: Error) => e);
    assert.match(error.message, /HEALTHCHECK_URL \(value not shown\) must start with http:\/\/ or https:\/\//);
    assert.ok(!error.message.includes("secret-token"), "the URL carries a token");
    const notUrl = await load({ HEALTHCHECK_URL: "hc-token-0123456789" }).then(() => assert.fail("expected a config error"), (e: Error) => e);
    assert.match(notUrl.message, /HEALTHCHECK_URL \(value not shown\) is not an absolute URL/);
    assert.ok(!notUrl.message.includes("hc-token"));
  });
});

test("each store's labels come from its one name table", async () => {
  const { ENV_LABELS, ENV_NAMES } = await import("../../../src/adapters/config/env-config-store.ts");
  const { UCRM_LABELS, UCRM_MESSAGE_NAMES } = await import("../../../src/adapters/config/ucrm-file-config-store.ts");
  assert.deepEqual(ENV_LABELS, {
    appKey: ENV_NAMES.dropboxAppKey, appSecret: ENV_NAMES.dropboxAppSecret, accessCode: ENV_NAMES.dropboxAccessCode,
    refreshToken: ENV_NAMES.dropboxRefreshToken, legacyToken: ENV_NAMES.dropboxAccessToken,
  });
  assert.equal(ENV_LABELS.legacyToken, "DROPBOX_ACCESS_TOKEN");
  assert.equal(UCRM_LABELS.refreshToken, UCRM_MESSAGE_NAMES.dropboxRefreshToken);
  // The plugin log names settings as the UCRM form does, not by their config.json keys.
  assert.equal(UCRM_LABELS.accessCode, '"Dropbox Access Code" (dropboxAccessCode)');
  assert.equal(UCRM_MESSAGE_NAMES.targetDir, "targetDir", "a key that is not on the form keeps its key");
});
