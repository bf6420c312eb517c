/**
 * Service identifiers for the inversify container: one typed `Symbol.for` constant per role.
 * Wiring uses `toResolvedValue(factory, [ids])`, so nothing relies on emitted decorator metadata.
 */
import type { ServiceIdentifier } from "inversify";
import type { AccessTokenProvider, BackupSource, BackupStore, Clock, DownloadLedger, Reporter } from "../domain/ports.ts";
import type { Settings } from "../domain/settings.ts";
import type { SyncBackups } from "./sync-backups.ts";
import type { ConfigStore, RunLockAcquirer, UploadSessionStore } from "./ports.ts";
import type { ContentHasherFactory, HealthcheckNotifierFactory, RestoreDecryptionFactory, RestoreFileOutput, WritableFolderCheck } from "./ports.ts";
import type { PluginLog } from "../adapters/report/plugin-log.ts";
import type { Redactor } from "../domain/ports.ts";
import type { TokenSession } from "./token-session.ts";

/** The one table of roles: what the identifier of each resolves to. */
export interface Services {
  Settings: Settings;
  Reporter: Reporter;
  Clock: Clock;
  /** `fetch` for UNMS calls. */
  UnmsFetch: typeof fetch;
  AccessTokenProvider: AccessTokenProvider;
  BackupSource: BackupSource;
  BackupStore: BackupStore;
  /** Unfinished uploads kept between runs (upload-sessions.json in the state folder). */
  UploadSessionStore: UploadSessionStore;
  /** Where copies go, for people: "Dropbox app folder /backups" or "local folder /srv/x". */
  TargetDescription: string;
  SyncBackups: SyncBackups;
  /** Bytes downloaded per backup in earlier runs (`downloads.json` in the state folder). */
  DownloadLedger: DownloadLedger;

  // Bound by the entry profiles of compose.ts:
  /** Every secret of the run is registered here; every output path redacts through it. */
  Redactor: Redactor;
  ConfigStore: ConfigStore;
  /** Where the entry's lines go; the run module binds Reporter to the same object. */
  EntryReporter: Reporter;
  RunLock: RunLockAcquirer;
  /** The plugin's data/plugin.log (UCRM profile only). */
  PluginLog: PluginLog;
  /** The run's one driver of the token lifecycle (loaded with tokenSessionModule). */
  TokenSession: TokenSession;
  /** The TARGET_DIR / STATE_DIR check before a run takes its lock. */
  WritableFolderCheck: WritableFolderCheck;
  /** Health-check pings for HEALTHCHECK_URL / healthcheckUrl. */
  HealthcheckNotifier: HealthcheckNotifierFactory;
  /** Dropbox content hashers (restore verifies a copy with one). */
  ContentHasher: ContentHasherFactory;
  /** restore's decryption of encrypted copies (command line only). */
  RestoreDecryption: RestoreDecryptionFactory;
  /** Where restore writes the copy (command line only). */
  RestoreFileOutput: RestoreFileOutput;
}

/**
 * Every role of the table, for building the identifiers. A Record, so that a role added to Services
 * and not here (or named here and not there) fails to compile instead of lacking an `ids` entry.
 */
const ROLES: Record<keyof Services, true> = {
  Settings: true, Reporter: true, Clock: true, UnmsFetch: true, AccessTokenProvider: true, BackupSource: true,
  BackupStore: true, UploadSessionStore: true, TargetDescription: true, SyncBackups: true, DownloadLedger: true,
  Redactor: true, ConfigStore: true, EntryReporter: true, RunLock: true, PluginLog: true, TokenSession: true,
  WritableFolderCheck: true, HealthcheckNotifier: true, ContentHasher: true, RestoreDecryption: true,
  RestoreFileOutput: true,
};

/** The identifiers' type: `ids.Reporter` resolves to a Reporter. */
type ServiceIds = { readonly [Role in keyof Services]: ServiceIdentifier<Services[Role]> };

/** One typed `Symbol.for` identifier per role: `ids.Reporter` resolves to a Reporter. */
export const ids: ServiceIds = Object.freeze(
  Object.fromEntries(Object.keys(ROLES).map((role) => [role, Symbol.for(`unms-dropbox-backup-sync.${role}`)])),
) as ServiceIds;
