import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { chmod, readFile, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { configError, ucrmPlugin as plugin } from "./config-fixtures.ts";

describe("UcrmFileConfigStore", () => {
  test("reads unmsLocalUrl from ucrm.json and the original plugin's keys from data/config.json", async () => {
    const { dir, store } = await plugin({
      unmsApiToken: " tok-123456 ",
      dropboxAppKey: "key",
      dropboxAppSecret: null,
      dropboxAccessCode: "",
      dropboxRefreshToken: "refresh-xyz",
      dropboxAccessToken: null,
    });
    const s = await store.load();
    assert.equal(s.unmsUrl, "http://unms:8081/nms");
    assert.equal(s.unmsApiToken, "tok-123456");
    assert.equal(s.dropboxAppKey, "key");
    assert.equal(s.dropboxAppSecret, undefined);
    assert.equal(s.dropboxAccessCode, undefined);
    assert.equal(s.dropboxRefreshToken, "refresh-xyz");
    assert.equal(s.stateDir, join(dir, "data"));
    assert.equal(s.dropboxFolder, "");
    await rm(dir, { recursive: true });
  });

  for (const [value, expected] of [["1", true], ["0", false], [true, true], [false, false], [1, true], [0, false], [null, undefined]] as const) {
    test(`allowMassDelete checkbox value ${JSON.stringify(value)} reads as ${expected}`, async () => {
      const { dir, store } = await plugin({ unmsApiToken: "t-123456", allowMassDelete: value, maxDeletes: 5, chunkMiB: "8" });
      const s = await store.load();
      assert.equal(s.allowMassDelete, expected);
      assert.equal(s.maxDeletes, 5);
      assert.equal(s.chunkMiB, 8);
      await rm(dir, { recursive: true });
    });
  }

  test("write-back changes only the patched keys, keeps every other key, value and the layout", async () => {
    const original = {
      unmsApiToken: "t-123456",
      dropboxAppKey: "key",
      dropboxAppSecret: "secret-1",
      dropboxAccessCode: "code-1",
      dropboxRefreshToken: null,
      dropboxAccessToken: "legacy-1",
      someFutureKey: { nested: [1, "two", null] },
      number: 3.5,
    };
    const { dir, configPath, store } = await plugin(JSON.stringify(original, null, 4) + "\n");
    await chmod(configPath, 0o640);
    await store.save({ dropboxRefreshToken: "refresh-1", dropboxAccessCode: null, dropboxAccessToken: null });
    const text = await readFile(configPath, "utf8");
    assert.deepEqual(JSON.parse(text), { ...original, dropboxRefreshToken: "refresh-1", dropboxAccessCode: null, dropboxAccessToken: null });
    assert.deepEqual(Object.keys(JSON.parse(text)), Object.keys(original), "key order kept");
    assert.match(text, /^\{\n {4}"unmsApiToken"/, "indentation kept");
    assert.equal((await stat(configPath)).mode & 0o777, 0o640, "file mode kept");
    assert.deepEqual((await readdir(join(dir, "data"))).sort(), ["config.json"], "no temp file left behind");
    await rm(dir, { recursive: true });
  });

  test("save({ allowMassDelete: false }) unticks the one-shot checkbox and touches nothing else", async () => {
    const original = { unmsApiToken: "tok-123456", allowMassDelete: "1", dropboxRefreshToken: "r-1", other: [1] };
    const { dir, configPath, store } = await plugin(JSON.stringify(original, null, 2));
    await store.save({ allowMassDelete: false });
    assert.deepEqual(JSON.parse(await readFile(configPath, "utf8")), { ...original, allowMassDelete: false });
    assert.equal((await store.load()).allowMassDelete, false);
    await rm(dir, { recursive: true });
  });

  test("a malformed config.json is named with the problem, never echoed and never overwritten", async () => {
    const content = '{"unmsApiToken": "super-secret-value", "dropboxAppKey": key}';
    const { dir, configPath, store } = await plugin(content);
    const error = await configError(store.load());
    assert.ok(error.message.includes(configPath));
    // The stray `key` starts at column 57: the true position, not "line 1, column 1".
    assert.match(error.message, /not valid JSON \(syntax error at line 1, column 57\)/);
    assert.doesNotMatch(error.message, /super-secret-value/);
    await configError(store.save({ dropboxRefreshToken: "r" }));
    assert.equal(await readFile(configPath, "utf8"), content);
    await rm(dir, { recursive: true });
  });

  test("a config.json that is not an object, a malformed or missing ucrm.json: specific errors", async () => {
    let p = await plugin("[1,2]");
    assert.match((await configError(p.store.load())).message, /config\.json is malformed: it must hold a JSON object \(\{\.\.\.\}\), not an array/);
    await rm(p.dir, { recursive: true });

    p = await plugin({ unmsApiToken: "t-123456" }, "{oops");
    const error = await configError(p.store.load());
    assert.ok(error.message.includes(join(p.dir, "ucrm.json")));
    assert.equal(error.code, "config.file_malformed");
    await rm(p.dir, { recursive: true });

    p = await plugin({ unmsApiToken: "t-123456" }, {});
    assert.match((await configError(p.store.load())).message, /unmsLocalUrl in .*ucrm\.json is not set/);
    await rm(p.dir, { recursive: true });

    p = await plugin({ unmsApiToken: "t-123456" });
    await rm(p.configPath);
    assert.match((await configError(p.store.load())).message, /config\.json does not exist\. Open the plugin's configuration in UCRM and save it/);
    await rm(p.dir, { recursive: true });
  });
});

describe("UcrmFileConfigStore: maxBackupAgeHours and healthcheckUrl", () => {
  test("read from config.json keys; bad values are refused naming the key, the URL never shown", async () => {
    const set = await plugin({ unmsApiToken: "t-123456", maxBackupAgeHours: "24", healthcheckUrl: "https://hc.example.net/ping/abc-def-0123456789" });
    const settings = await set.store.load();
    assert.equal(settings.maxBackupAgeHours, 24);
    assert.equal(settings.healthcheckUrl, "https://hc.example.net/ping/abc-def-0123456789");
    const bad = await plugin({ unmsApiToken: "t-123456", maxBackupAgeHours: "a week", healthcheckUrl: "not a url-0123456789" });
    const error = await configError(bad.store.load());
    assert.match(error.message, /\(maxBackupAgeHours\) is "a week": it must be a whole number of hours/);
    assert.match(error.message, /\(healthcheckUrl\) \(value not shown\) is not an absolute URL/);
    assert.ok(!error.message.includes("0123456789"));
    await rm(set.dir, { recursive: true });
    await rm(bad.dir, { recursive: true });
  });
});

describe("UcrmFileConfigStore: maximum run minutes", () => {
  test("defaults to 55 (UCRM ends plugin runs after an hour); a set value wins", async () => {
    const unset = await plugin({ unmsApiToken: "t-123456" });
    assert.equal((await unset.store.load()).maxRunMinutes, 55);
    const set = await plugin({ unmsApiToken: "t-123456", maxRunMinutes: "30" });
    assert.equal((await set.store.load()).maxRunMinutes, 30);
    await rm(unset.dir, { recursive: true });
    await rm(set.dir, { recursive: true });
  });

  test("a value that is not a positive number of minutes is refused, naming the field", async () => {
    const { dir, store } = await plugin({ unmsApiToken: "t-123456", maxRunMinutes: "soon" });
    const error = await configError(store.load());
    assert.match(error.message, /"Maximum run minutes" \(maxRunMinutes\) is "soon": it must be a number of minutes above 0/);
    await rm(dir, { recursive: true });
  });
});
