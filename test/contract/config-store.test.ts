import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { EnvConfigStore } from "../../src/adapters/config/env-config-store.ts";
import { UcrmFileConfigStore } from "../../src/adapters/config/ucrm-file-config-store.ts";
import { configStoreContract, type ContractValues } from "../../src/testing/contract/config-store.ts";

const ENV: Record<keyof ContractValues, string> = {
  unmsUrl: "UNMS_URL",
  unmsApiToken: "UNMS_API_TOKEN",
  dropboxAppKey: "DROPBOX_APP_KEY",
  dropboxAppSecret: "DROPBOX_APP_SECRET",
  dropboxAccessCode: "DROPBOX_ACCESS_CODE",
  dropboxRefreshToken: "DROPBOX_REFRESH_TOKEN",
  dropboxAccessToken: "DROPBOX_ACCESS_TOKEN",
  dropboxFolder: "DROPBOX_FOLDER",
  maxDeletes: "MAX_DELETES",
  allowMassDelete: "ALLOW_MASS_DELETE",
  chunkMiB: "DROPBOX_CHUNK_MIB",
};

configStoreContract("EnvConfigStore", async (initial) => {
  const dir = await mkdtemp(join(tmpdir(), "contract-env-"));
  const env: Record<string, string> = { STATE_DIR: join(dir, "state") };
  for (const [field, value] of Object.entries(initial)) if (value !== undefined) env[ENV[field as keyof ContractValues]] = value;
  return {
    store: new EnvConfigStore(env),
    reopen: () => new EnvConfigStore(env),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

configStoreContract("UcrmFileConfigStore", async (initial) => {
  const dir = await mkdtemp(join(tmpdir(), "contract-ucrm-"));
  await mkdir(join(dir, "data"));
  const { unmsUrl, ...config } = initial;
  await writeFile(join(dir, "ucrm.json"), JSON.stringify({ ucrmPublicUrl: "https://crm.example.com/", unmsLocalUrl: unmsUrl, pluginId: 7 }));
  await writeFile(join(dir, "data", "config.json"), JSON.stringify(config));
  return {
    store: new UcrmFileConfigStore(dir),
    reopen: () => new UcrmFileConfigStore(dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});
