/** What the config store tests share: a UCRM plugin folder on disk, and the config error a load must fail with. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UcrmFileConfigStore } from "../../../src/adapters/config/ucrm-file-config-store.ts";
import { SyncError } from "../../../src/domain/errors.ts";

/** A plugin folder as UCRM lays it out: `ucrm.json` beside `data/config.json` (objects are written as JSON, strings as they are). */
export async function ucrmPlugin(
  config: string | Record<string, unknown>,
  ucrm: string | Record<string, unknown> = { unmsLocalUrl: "http://unms:8081/nms/" },
): Promise<{ dir: string; configPath: string; store: UcrmFileConfigStore }> {
  const dir = await mkdtemp(join(tmpdir(), "ucrm-store-"));
  await mkdir(join(dir, "data"));
  await writeFile(join(dir, "ucrm.json"), typeof ucrm === "string" ? ucrm : JSON.stringify(ucrm));
  await writeFile(join(dir, "data", "config.json"), typeof config === "string" ? config : JSON.stringify(config));
  return { dir, configPath: join(dir, "data", "config.json"), store: new UcrmFileConfigStore(dir) };
}

/** The SyncError of kind "config" that `promise` rejects with; fails the test when it resolves or fails otherwise. */
export async function configError(promise: Promise<unknown>): Promise<SyncError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(SyncError.is(error));
    assert.equal(error.kind, "config");
    return error;
  }
  assert.fail("expected a config error");
}
