/**
 * Settings from environment variables (the command line, containers, cron).
 *
 * The environment cannot be written back, so what a run obtains (refresh token, PKCE verifier) is
 * kept in STATE_DIR (default `${XDG_CONFIG_HOME:-~/.config}/unms-dropbox-backup-sync`, folder 0700,
 * files 0600), and what only the admin can do (remove a used DROPBOX_ACCESS_CODE or a migrated
 * DROPBOX_ACCESS_TOKEN) comes back as notes. A refresh token from the environment wins over the
 * persisted one; a code already exchanged is recognised by its fingerprint and not exchanged again.
 */
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import type { SettingLabels } from "../../domain/legacy-migration.ts";
import type { Settings } from "../../domain/settings.ts";
import type { ConfigPatch, ConfigStore, PrivateState, SaveOutcome } from "../../app/ports.ts";
import { labelsFrom, parseSettings, recipientCheckFor, text, type RawSettings, type SettingField } from "./parse-settings.ts";
import { PrivateStateFile } from "./private-state-file.ts";
import { tableOf } from "./settings-catalogue.ts";
import { refuseFileAsFolder } from "../local-dir/writable-folder.ts";

const APP_DIR_NAME = "unms-dropbox-backup-sync";

/** The environment variable behind each setting (from the settings catalogue). */
export const ENV_NAMES = tableOf("env") as Record<SettingField, string>;

/** How messages name the Dropbox settings of this store, from ENV_NAMES. */
export const ENV_LABELS: SettingLabels = labelsFrom(ENV_NAMES);

export interface EnvConfigStoreOptions {
  /** State folder when STATE_DIR is not set; default `${XDG_CONFIG_HOME or ~/.config}/unms-dropbox-backup-sync`. */
  defaultStateDir?: string;
}

function sha256Hex(value: string): string {
  return createHash("sha256").update(value, "utf8").digest("hex");
}

/**
 * The CLI's ConfigStore: settings from the environment, the private state (refresh token, PKCE verifier) in the state dir.
 *
 * @example
 * ```ts
 * import { EnvConfigStore } from "unms-dropbox-backup-sync";
 *
 * const settings = await new EnvConfigStore(process.env).load();
 * ```
 */
export class EnvConfigStore implements ConfigStore {
  readonly location = "the environment";
  readonly labels: SettingLabels = ENV_LABELS;
  readonly stateDir: string;
  private readonly state: PrivateStateFile;

  constructor(
    private readonly env: Record<string, string | undefined>,
    options: EnvConfigStoreOptions = {},
  ) {
    this.stateDir = text(env.STATE_DIR) ?? options.defaultStateDir ?? defaultStateDir(env);
    this.state = new PrivateStateFile(this.stateDir);
  }

  /** The file holding the persisted refresh token and PKCE verifier. */
  get stateFile(): string {
    return this.state.path;
  }

  async load(): Promise<Settings> {
    const raw: RawSettings = {};
    for (const [field, variable] of Object.entries(ENV_NAMES) as [SettingField, string][]) {
      raw[field] = this.env[variable];
    }
    const settings = parseSettings(raw, {
      names: ENV_NAMES,
      location: this.location,
      howToFix: "Set or correct these environment variables and run again.",
      stateDir: this.stateDir,
      ...(await recipientCheckFor(raw)),
    });
    await refuseFileAsFolder(this.stateDir, "STATE_DIR");
    const stored = await this.state.read();
    if (!settings.dropboxRefreshToken && stored.refreshToken) settings.dropboxRefreshToken = stored.refreshToken;
    if (settings.dropboxAccessCode && stored.usedAccessCodeSha256 === sha256Hex(settings.dropboxAccessCode)) {
      delete settings.dropboxAccessCode;
    }
    return settings;
  }

  async save(patch: ConfigPatch): Promise<SaveOutcome> {
    const notes: string[] = [];
    const stored = await this.state.read();
    const envRefresh = text(this.env[ENV_NAMES.dropboxRefreshToken]);
    if (typeof patch.dropboxRefreshToken === "string") {
      stored.refreshToken = patch.dropboxRefreshToken;
      if (envRefresh) {
        notes.push(
          `Remove ${ENV_NAMES.dropboxRefreshToken} from the environment: the new refresh token is stored in ${this.state.path}, and the variable would take precedence over it.`,
        );
      }
    } else if (patch.dropboxRefreshToken === null) {
      delete stored.refreshToken;
      if (envRefresh) notes.push(`Remove ${ENV_NAMES.dropboxRefreshToken} from the environment: Dropbox no longer accepts that refresh token.`);
    }
    if (patch.dropboxAccessCode === null) {
      const code = text(this.env[ENV_NAMES.dropboxAccessCode]);
      if (code) {
        stored.usedAccessCodeSha256 = sha256Hex(code);
        // A refused code gets one message (the rejection, with what to do), not a second note.
        if (!patch.accessCodeRejected) notes.push(`Remove ${ENV_NAMES.dropboxAccessCode} from the environment: the code has been used (it is ignored from now on).`);
      }
    }
    if (patch.dropboxAccessToken === null && text(this.env[ENV_NAMES.dropboxAccessToken])) {
      notes.push(
        `Remove ${ENV_NAMES.dropboxAccessToken} from the environment: the legacy token is replaced by the refresh token stored in ${this.state.path}.`,
      );
    }
    await this.state.write(stored);
    return { notes };
  }

  async readPrivateState(): Promise<PrivateState> {
    const { refreshToken: _ignored, ...rest } = await this.state.read();
    return rest;
  }

  async writePrivateState(state: PrivateState): Promise<void> {
    const { refreshToken } = await this.state.read();
    await this.state.write(refreshToken ? { ...onlyPrivate(state), refreshToken } : onlyPrivate(state));
  }
}

function onlyPrivate(state: PrivateState): PrivateState {
  const out: PrivateState = {};
  if (state.pkceVerifier) out.pkceVerifier = state.pkceVerifier;
  if (state.pkceClientId) out.pkceClientId = state.pkceClientId;
  if (state.usedAccessCodeSha256) out.usedAccessCodeSha256 = state.usedAccessCodeSha256;
  if (state.lastRun) out.lastRun = state.lastRun;
  return out;
}

/** `${XDG_CONFIG_HOME or ~/.config}/unms-dropbox-backup-sync`. */
export function defaultStateDir(env: Record<string, string | undefined>): string {
  const configHome = text(env.XDG_CONFIG_HOME) ?? join(text(env.HOME) ?? homedir(), ".config");
  return join(configHome, APP_DIR_NAME);
}
