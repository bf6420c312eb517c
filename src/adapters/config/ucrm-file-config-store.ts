/**
 * Settings of the UCRM plugin: `ucrm.json` (written by UCRM: `unmsLocalUrl`) and `data/config.json`
 * (the admin's form, keyed as the original PHP plugin's manifest, plus our optional keys).
 *
 * Write-back changes only the keys in the patch and keeps every other key and value, atomically
 * (temp file + rename, the original's file mode kept). A file that cannot be parsed is reported by
 * name and never overwritten. Private state (PKCE verifier) lives in `data/dropbox-authorization.json`
 * because UCRM drops unknown keys from config.json whenever the admin saves the form.
 */
import { stat } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { SyncError, describeError } from "../../domain/errors.ts";
import type { SettingLabels } from "../../domain/legacy-migration.ts";
import type { Settings } from "../../domain/settings.ts";
import { parseJsonObject, readTextOrFail, writeFileAtomic } from "./atomic-file.ts";
import type { ConfigPatch, ConfigStore, PrivateState, SaveOutcome } from "../../app/ports.ts";
import { labelsFrom, parseSettings, recipientCheckFor, type RawSettings, type SettingField } from "./parse-settings.ts";
import { PrivateStateFile } from "./private-state-file.ts";
import { SETTINGS_CATALOGUE, type SettingEntry } from "./settings-catalogue.ts";

/**
 * The config.json key behind each setting (unmsUrl comes from ucrm.json), from the settings catalogue:
 * the setting's field name unless its entry names another key.
 */
export const UCRM_CONFIG_KEYS = Object.fromEntries(
  (Object.entries(SETTINGS_CATALOGUE) as [SettingField, SettingEntry][]).flatMap(([field, entry]) => (entry.configKey === null ? [] : [[field, entry.configKey ?? field]])),
) as Record<Exclude<SettingField, "unmsUrl">, string>;

/**
 * How messages name each setting in the plugin log: the label of the UCRM form, which is what the
 * admin sees, with its config.json key for support ("Dropbox Access Code" (dropboxAccessCode)); only
 * the key for the few keys not on the form.
 */
export const UCRM_MESSAGE_NAMES = Object.fromEntries(
  Object.entries(UCRM_CONFIG_KEYS).map(([field, key]) => {
    const label = SETTINGS_CATALOGUE[field as SettingField].label;
    return [field, label ? `"${label}" (${key})` : key];
  }),
) as Record<Exclude<SettingField, "unmsUrl">, string>;

/** How messages name the Dropbox settings of this store: their form labels. */
export const UCRM_LABELS: SettingLabels = labelsFrom(UCRM_MESSAGE_NAMES);

/** UCRM kills a plugin run after 60 minutes; 55 leaves time to save the state and report. */
const UCRM_DEFAULT_MAX_RUN_MINUTES = 55;

export interface UcrmFileConfigStoreOptions {
  /** Test only: replaces Dropbox's API hosts (DROPBOX_BASE_URL) when config.json has none. */
  dropboxBaseUrl?: string;
}

/**
 * The UCRM plugin's ConfigStore.
 *
 * @example
 * ```ts
 * import { UcrmFileConfigStore } from "unms-dropbox-backup-sync";
 *
 * declare const pluginDir: string;
 *
 * const settings = await new UcrmFileConfigStore(pluginDir).load();
 * ```
 */
export class UcrmFileConfigStore implements ConfigStore {
  readonly labels: SettingLabels = UCRM_LABELS;
  readonly folderNames: { targetDir: string; stateDir: string } = { targetDir: UCRM_MESSAGE_NAMES.targetDir, stateDir: "The plugin's data folder" };
  readonly configPath: string;
  readonly ucrmJsonPath: string;
  readonly stateDir: string;
  private readonly state: PrivateStateFile;

  constructor(
    readonly pluginDir: string,
    private readonly options: UcrmFileConfigStoreOptions = {},
  ) {
    this.stateDir = join(pluginDir, "data");
    this.configPath = join(this.stateDir, "config.json");
    this.ucrmJsonPath = join(pluginDir, "ucrm.json");
    this.state = new PrivateStateFile(this.stateDir);
  }

  get location(): string {
    return this.configPath;
  }

  async load(): Promise<Settings> {
    const ucrm = await this.readObject(this.ucrmJsonPath, "UCRM writes it when it runs the plugin; reinstall the plugin if it is missing.");
    const config = await this.readObject(this.configPath, "Open the plugin's configuration in UCRM and save it.");
    const raw: RawSettings = { unmsUrl: rawValue(ucrm.unmsLocalUrl) };
    for (const [field, key] of Object.entries(UCRM_CONFIG_KEYS) as [Exclude<SettingField, "unmsUrl">, string][]) {
      raw[field] = rawValue(config[key]);
    }
    if (raw.dropboxBaseUrl === undefined && this.options.dropboxBaseUrl) raw.dropboxBaseUrl = this.options.dropboxBaseUrl;
    // The admin can only place files under the plugin's data folder; a relative CA file path means there.
    if (typeof raw.unmsCaFile === "string" && raw.unmsCaFile.trim() !== "" && !isAbsolute(raw.unmsCaFile.trim())) {
      raw.unmsCaFile = join(this.stateDir, raw.unmsCaFile.trim());
    }
    const settings = parseSettings(raw, {
      names: { ...UCRM_MESSAGE_NAMES, unmsUrl: `unmsLocalUrl in ${this.ucrmJsonPath}` },
      location: this.configPath,
      howToFix: "Correct these values in the plugin's configuration in UCRM and run again.",
      stateDir: this.stateDir,
      ...(await recipientCheckFor(raw)),
    });
    // UCRM ends a plugin run after an hour: stop in time to save the upload state.
    settings.maxRunMinutes ??= UCRM_DEFAULT_MAX_RUN_MINUTES;
    return settings;
  }

  async save(patch: ConfigPatch): Promise<SaveOutcome> {
    const content = await this.readText(this.configPath, "Open the plugin's configuration in UCRM and save it.");
    const parsed = parseJsonObject(content);
    if ("problem" in parsed) throw this.malformed(this.configPath, parsed.problem);
    const config = parsed.value;
    if (typeof patch.dropboxRefreshToken === "string") config.dropboxRefreshToken = patch.dropboxRefreshToken;
    else if (patch.dropboxRefreshToken === null) config.dropboxRefreshToken = null;
    if (patch.dropboxAccessCode === null) config.dropboxAccessCode = null;
    if (patch.dropboxAccessToken === null) config.dropboxAccessToken = null;
    if (patch.allowMassDelete === false) config.allowMassDelete = false;
    let mode: number | undefined;
    try {
      mode = (await stat(this.configPath)).mode & 0o777;
      await writeFileAtomic(this.configPath, serializeLike(content, config), mode);
    } catch (error) {
      throw new SyncError(
        `Cannot write ${this.configPath}: ${describeError(error)}. The Dropbox authorization could not be saved; check that the plugin's data folder is writable.`,
        { kind: "config", code: "config.file_unwritable", cause: error },
      );
    }
    return { notes: [] };
  }

  async readPrivateState(): Promise<PrivateState> {
    const { refreshToken: _ignored, ...rest } = await this.state.read();
    return rest;
  }

  async writePrivateState(state: PrivateState): Promise<void> {
    await this.state.write(state);
  }

  private async readText(path: string, ifMissing: string): Promise<string> {
    const content = await readTextOrFail(path, { kind: "config", code: "config.file_unreadable" });
    if (content === undefined) throw new SyncError(`${path} does not exist. ${ifMissing}`, { kind: "config", code: "config.file_missing" });
    return content;
  }

  private async readObject(path: string, ifMissing: string): Promise<Record<string, unknown>> {
    const parsed = parseJsonObject(await this.readText(path, ifMissing));
    if ("problem" in parsed) throw this.malformed(path, parsed.problem);
    return parsed.value;
  }

  private malformed(path: string, problem: string): SyncError {
    return new SyncError(`${path} is malformed: ${problem}. It was left untouched; fix it (or save the plugin configuration in UCRM again) and run again.`, {
      kind: "config",
      code: "config.file_malformed",
    });
  }
}

function rawValue(value: unknown): RawSettings[SettingField] {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") return value;
  return JSON.stringify(value); // an object or array where text belongs: let validation name it
}

/** Same layout as the original: compact stays compact, indented keeps its indent. */
function serializeLike(original: string, value: Record<string, unknown>): string {
  const indent = /\n([ \t]+)"/.exec(original)?.[1];
  const body = indent ? JSON.stringify(value, null, indent) : JSON.stringify(value);
  return original.endsWith("\n") ? `${body}\n` : body;
}
