/**
 * The settings catalogue is the one source of the setting names: the env table, the UCRM keys, the
 * help text, the plugin form and the README table must all agree with it.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ENV_NAMES } from "../../../src/adapters/config/env-config-store.ts";
import { UCRM_CONFIG_KEYS } from "../../../src/adapters/config/ucrm-file-config-store.ts";
import { ENV_ONLY_SETTINGS, SETTINGS_CATALOGUE } from "../../../src/adapters/config/settings-catalogue.ts";
import { HELP } from "../../../src/app/cli-main.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
const manifest = JSON.parse(readFileSync(join(repoRoot, "plugin", "manifest.json"), "utf8")) as {
  configuration: { key: string; label: string; required: number }[];
};

/** The README's configuration table: variable name -> meaning cell. */
function readmeSettingsTable(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const match of readme.matchAll(/^\| `([A-Z_]+)` \| (.*) \|$/gm)) rows.set(match[1]!, match[2]!);
  return rows;
}

const allEnvNames = [...Object.values(ENV_NAMES), ...ENV_ONLY_SETTINGS.map((s) => s.env)];

test("every setting in the env name table is in --help with its marks, and in the README table", () => {
  const table = readmeSettingsTable();
  for (const name of allEnvNames) {
    assert.match(HELP, new RegExp(`^  ${name}\\b`, "m"), `${name} is listed in --help`);
    assert.ok(table.has(name), `${name} has a row in the README's configuration table`);
  }
  for (const entry of [...Object.values(SETTINGS_CATALOGUE), ...ENV_ONLY_SETTINGS]) {
    const block = HELP.slice(HELP.indexOf(`  ${entry.env} `)).split(/\n  [A-Z]/)[0]!.replace(/\s+/g, " ");
    if (entry.default !== undefined) assert.ok(block.includes(`default: ${entry.default}`), `${entry.env}: --help shows its default`);
    if (entry.required === true) {
      assert.ok(block.includes("[required]"), `${entry.env}: --help marks it required`);
      assert.match(table.get(entry.env)!, /Required/, `${entry.env}: the README says it is required`);
    }
  }
  assert.match(HELP.replace(/\s+/g, " "), /ALLOW_MASS_DELETE true lifts the mass-deletion guard on every run \(not recommended\) \[default: false\]/);
  assert.match(HELP.replace(/\s+/g, " "), /DROPBOX_CHUNK_MIB upload chunk size in MiB, a multiple of 4, at most 148 \[default: with several connections chosen per file, at most 8 at 4 connections; 8 with one\]/);
});

test("the README table lists no setting the tool does not read", () => {
  for (const name of readmeSettingsTable().keys()) assert.ok(allEnvNames.includes(name), `${name} in the README is a known setting`);
});

test("every form field of the plugin has its catalogue label, and every catalogue label is on the form", () => {
  const runtimeKeys = new Set(["runtimePath", "runtimeProvisioning", "runtimeMirrorUrl"]); // read by main.php, not by the sync
  const byKey = new Map(Object.entries(UCRM_CONFIG_KEYS).map(([field, key]) => [key, SETTINGS_CATALOGUE[field as keyof typeof UCRM_CONFIG_KEYS]]));
  for (const field of manifest.configuration) {
    if (runtimeKeys.has(field.key)) continue;
    const entry = byKey.get(field.key);
    assert.ok(entry, `manifest key ${field.key} is in the catalogue`);
    assert.equal(entry.label, field.label, `${field.key}: the catalogue's label is the form's`);
  }
  for (const [field, entry] of Object.entries(SETTINGS_CATALOGUE)) {
    if (entry.label) assert.ok(manifest.configuration.some((f) => f.key === UCRM_CONFIG_KEYS[field as keyof typeof UCRM_CONFIG_KEYS]), `${field} has a form field`);
  }
});

test("the UCRM key table and the env table cover every catalogue entry", () => {
  for (const [field, entry] of Object.entries(SETTINGS_CATALOGUE)) {
    assert.equal(ENV_NAMES[field as keyof typeof ENV_NAMES], entry.env);
    // The config.json key is the field name unless the entry names another; unmsUrl comes from ucrm.json.
    const key = UCRM_CONFIG_KEYS[field as keyof typeof UCRM_CONFIG_KEYS];
    if (entry.configKey === null) assert.equal(key, undefined, `${field} is not read from config.json`);
    else assert.equal(key, entry.configKey ?? field);
  }
});
