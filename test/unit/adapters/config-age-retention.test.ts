/**
 * ENCRYPT_TO / encryptTo and KEEP_DAILY/WEEKLY/MONTHLY / keepDaily/Weekly/Monthly in both config
 * stores: parsed, and named precisely when wrong.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvConfigStore } from "../../../src/adapters/config/env-config-store.ts";
import { UcrmFileConfigStore } from "../../../src/adapters/config/ucrm-file-config-store.ts";
import { configError, ucrmPlugin } from "./config-fixtures.ts";

// Public keys from the age specification's test vectors and `age-keygen` runs: not secrets.
const R1 = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const R2 = "age1k398rzf3fxlt7y2w9y3ztaz0gg89fgt7576klrxq02qdkcrvjvkql43jxc";
const BASE = { UNMS_URL: "https://uisp.example.com/nms", UNMS_API_TOKEN: "unms-secret-token-0001" };

function envStore(env: Record<string, string>): EnvConfigStore {
  return new EnvConfigStore({ ...BASE, ...env }, { defaultStateDir: join(tmpdir(), "never-created-state") });
}

async function ucrmStore(config: Record<string, unknown>): Promise<UcrmFileConfigStore> {
  return (await ucrmPlugin({ unmsApiToken: "tok-123456", ...config })).store;
}

test("the environment: ENCRYPT_TO takes recipients separated by commas or whitespace; KEEP_* whole numbers", async () => {
  const settings = await envStore({ ENCRYPT_TO: ` ${R1},\n ${R2} `, KEEP_DAILY: "7", KEEP_WEEKLY: "0", KEEP_MONTHLY: " 12 " }).load();
  assert.deepEqual(settings.encryptTo, [R1, R2]);
  assert.equal(settings.keepDaily, 7);
  assert.equal(settings.keepWeekly, 0);
  assert.equal(settings.keepMonthly, 12);
  const none = await envStore({}).load();
  assert.equal("encryptTo" in none || "keepDaily" in none || "keepWeekly" in none || "keepMonthly" in none, false, "absent settings stay absent");
});

test("the environment: bad values are named with the variable, every problem at once", async () => {
  const message = (await configError(envStore({ ENCRYPT_TO: `${R1} age1nope`, KEEP_DAILY: "-1", KEEP_MONTHLY: "twelve" }).load())).message;
  assert.match(message, /ENCRYPT_TO entry 2 of 2 \("age1nope"\) is not a valid age recipient/);
  assert.match(message, /KEEP_DAILY is "-1": it must be a whole number of 0 or more \(how many daily periods keep their newest copy\), e.g\. 12/);
  assert.match(message, /KEEP_MONTHLY is "twelve": it must be a whole number of 0 or more \(how many monthly periods/);
  assert.match(message, /has 4 problems/);
});

test("UCRM config.json: encryptTo and keepDaily/keepWeekly/keepMonthly, numbers or text", async () => {
  const settings = await (await ucrmStore({ encryptTo: R1, keepDaily: 3, keepWeekly: "4", keepMonthly: null })).load();
  assert.deepEqual(settings.encryptTo, [R1]);
  assert.equal(settings.keepDaily, 3);
  assert.equal(settings.keepWeekly, 4);
  assert.equal(settings.keepMonthly, undefined);
  const message = (await configError((await ucrmStore({ encryptTo: "ssh-rsa AAAA", keepWeekly: 1.5 })).load())).message;
  assert.match(message, /\(encryptTo\) entry 1 of 2 \("ssh-rsa"\) is not an age recipient/);
  assert.match(message, /\(keepWeekly\) is "1\.5": it must be a whole number/);
});
